"""Rolling upgrades: readers accept the current and the next schema_version, both ways round.

A "v+1" build is simulated by a subclass of today's models with ``SCHEMA_VERSION`` one higher, an
added field (an additive change) and, for a breaking change, an upcaster.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from services.common.messages import SCHEMA_VERSION, Article, MessageError, Upcaster, decode, encode

NOW = datetime(2026, 11, 1, tzinfo=UTC)
CURRENT = SCHEMA_VERSION  # (inside the class bodies below, SCHEMA_VERSION names the class attribute)


def article(**changes: Any) -> Article:
    base: dict[str, Any] = {"id": "a1", "url": "https://example.com/a", "source": "Example", "text": "Text.",
                            "extractor_version": "x", "content_hash": "h", "fetched_at": NOW, "title": "T"}
    return Article(**(base | changes))


class ArticleNext(Article):
    """Tomorrow's Article: version + 1, one added field, v1 messages upcast unchanged (additive)."""

    SCHEMA_VERSION: ClassVar[int] = CURRENT + 1
    UPCASTERS: ClassVar[dict[int, Upcaster]] = {CURRENT: dict}
    schema_version: int = CURRENT + 1
    sentiment: float | None = None


def _rename_title(data: dict[str, Any]) -> dict[str, Any]:
    data["headline"] = data.pop("title", None)
    return data


class ArticleRenamed(Article):
    """A breaking change (title renamed to headline) comes with an upcaster."""

    SCHEMA_VERSION: ClassVar[int] = CURRENT + 1
    UPCASTERS: ClassVar[dict[int, Upcaster]] = {CURRENT: _rename_title}
    schema_version: int = CURRENT + 1
    headline: str | None = None


def test_writers_write_the_current_version() -> None:
    assert json.loads(encode(article()))["schema_version"] == SCHEMA_VERSION


def test_a_current_reader_accepts_a_newer_writer_and_ignores_what_it_added() -> None:
    newer = encode(ArticleNext(**article().model_dump(exclude={"schema_version"}), sentiment=0.5))
    read = decode(Article, newer)
    assert read.title == "T" and read.schema_version == SCHEMA_VERSION
    assert "sentiment" not in json.loads(encode(read)), "re-encoded as what this reader knows"


def test_a_newer_reader_accepts_a_current_writer() -> None:
    read = decode(ArticleNext, encode(article()))
    assert read.title == "T" and read.sentiment is None and read.schema_version == SCHEMA_VERSION + 1


def test_a_breaking_change_reads_old_messages_through_its_upcaster() -> None:
    read = decode(ArticleRenamed, encode(article(title="Old title")))
    assert read.headline == "Old title"


def test_two_versions_ahead_is_refused_with_a_clear_error() -> None:
    data = json.loads(encode(article()))
    data["schema_version"] = SCHEMA_VERSION + 2
    with pytest.raises(MessageError, match="upgrade"):
        decode(Article, json.dumps(data).encode())


def test_an_older_version_without_an_upcaster_is_refused() -> None:
    data = json.loads(encode(article()))
    data["schema_version"] = 0  # before the first version: no upcaster
    with pytest.raises(MessageError, match="no upcaster"):
        decode(Article, json.dumps(data).encode())
