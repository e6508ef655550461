"""A record at or over the size limit cannot stop a stage (real broker, each consumer stage):
a near-limit record that fails processing is dead-lettered cut to fit, with its original size
and hash; an over-limit record is refused before processing; the stage keeps running and its
group's committed offsets reach the end of the topic (lag 0)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

from services.common import offsets as ofs
from services.common.health import Health
from services.common.kafka import ensure_topics, make_admin
from services.common.settings import ConsumerSettings, load
from services.common.stage import Stage
from services.extractor import service as extractor_service
from services.extractor.settings import ExtractorSettings
from services.sink import service as sink_service
from services.sink.settings import SinkSettings
from services.stories import service as stories_service
from services.stories.settings import StoriesSettings
from tests.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]
LIMIT = 64 * 1024

STAGES: dict[str, tuple[type[ConsumerSettings], Callable[[Any, Health], Stage], str]] = {
    "extractor": (ExtractorSettings, extractor_service.build, "topic_pages"),
    "stories": (StoriesSettings, stories_service.build, "topic_extracted"),
    "sink": (SinkSettings, sink_service.build, "topic_articles"),
}


def dead_letters(settings: ConsumerSettings) -> list[Any]:
    consumer = KafkaConsumer(bootstrap_servers=[settings.kafka_bootstrap_servers], enable_auto_commit=False,
                             max_partition_fetch_bytes=4 * LIMIT)
    try:
        return ofs.read_to_end(consumer, settings.topic_dlq)
    finally:
        consumer.close()


@pytest.mark.parametrize("stage_name", list(STAGES))
def test_near_and_over_limit_records_are_dead_lettered_and_the_stage_moves_on(
    stage_name: str, topic_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in topic_env.items():
        monkeypatch.setenv(key, value)
    cls, build, topic_field = STAGES[stage_name]
    settings = load(cls, max_message_bytes=LIMIT, batch_max_seconds=0.5, data_dir=tmp_path / "data")
    ensure_topics(settings)
    topic = getattr(settings, topic_field)
    near = b"{not json " + b"x" * (LIMIT - 200)  # a valid record size; its dead letter would not fit with headers
    over = b"{not json " + b"y" * (LIMIT * 2)  # over the limit (the embedded broker accepts it anyway)
    producer = KafkaProducer(bootstrap_servers=[settings.kafka_bootstrap_servers], max_request_size=8 * LIMIT)
    for key, value in ((b"near", near), (b"over", over)):
        producer.send(topic, key=key, value=value, partition=0)
    producer.flush()
    producer.close()

    stage = build(settings, Health())
    thread = threading.Thread(target=stage.run, daemon=True)
    thread.start()
    try:
        wait_for("both dead letters", lambda: len(dead_letters(settings)) >= 2, timeout=180)
        admin = make_admin(settings)
        try:
            wait_for("the group's offsets at the end of the topic (lag 0)",
                     lambda: ofs.committed_offsets(admin, settings.group_id, topic).get(0) == 2, timeout=60)
        finally:
            admin.close()
        assert thread.is_alive() and stage.stopped_by is None, "the stage keeps running"
    finally:
        stage.stopping.set()
        thread.join(60)
    letters = {rec.key: rec for rec in dead_letters(settings)}
    for key, original, error_class in ((b"near", near, b"MessageError"), (b"over", over, b"RecordTooLarge")):
        headers = dict(letters[key].headers)
        assert headers["newsflow.error_class"] == error_class, headers
        assert headers["newsflow.value_truncated"] == b"true"
        assert headers["newsflow.original_size"] == str(len(original)).encode()
        assert headers["newsflow.original_sha256"] == hashlib.sha256(original).hexdigest().encode()
        assert original.startswith(letters[key].value) and len(letters[key].value) < LIMIT

