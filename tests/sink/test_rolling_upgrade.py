"""The sink stage's processing accepts articles from a newer extractor during a rolling upgrade
(decode level: tests/common/test_message_versions.py)."""

from __future__ import annotations

import json

from services.common.messages import SCHEMA_VERSION, encode
from services.sink.service import decode_articles
from tests.common.fakes import Rec
from tests.common.test_message_versions import ArticleNext, article


def test_the_sink_keeps_a_newer_writers_article_and_dead_letters_one_from_two_versions_ahead() -> None:
    newer = encode(ArticleNext(**article().model_dump(exclude={"schema_version"}), sentiment=0.1))
    too_new = json.loads(encode(article(id="a2")))
    too_new["schema_version"] = SCHEMA_VERSION + 2
    records = [Rec("t", 0, 0, b"a1", newer), Rec("t", 0, 1, b"a2", json.dumps(too_new).encode())]
    processed = decode_articles(records)
    assert [a.id for _, a in processed.items] == ["a1"]
    assert [d.record.offset for d in processed.dead] == [1]
