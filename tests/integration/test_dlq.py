"""Dead letters on the real embedded broker: a poison message lands in the DLQ with every
header and its bytes untouched, is re-driven once after the fix, and the dead-letter limit
stops a stage (not-ready) instead of draining its topic into the DLQ."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

import services
from services.cli import main
from services.common.deadletters import DeadLetter
from services.common.health import Health, serve
from services.common.kafka import ensure_topics, make_consumer, make_producer
from services.common.messages import Article, MessageError, encode
from services.common.records import Record
from services.common.settings import load
from services.common.stage import Stage, build_stage
from services.common.steps import Processed
from services.ops import dlq
from services.sink.service import decode_articles, make_writer
from services.sink.settings import SinkSettings
from services.sink.sqlite import SqliteStore
from tests.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]


def article(n: int, title: str = "Council passes budget") -> Article:
    return Article(id=f"a{n:03d}", url=f"http://demo.test/{n}", source="demo", title=f"{title} {n}",
                   text=f"Article number {n}. " * 20, extractor_version="v1", content_hash=f"h{n}",
                   fetched_at=datetime.now(UTC))


def read_topic(bootstrap: str, topic: str, idle_ms: int = 1500) -> list[tuple[int, int, bytes | None, bytes, list]]:
    consumer = KafkaConsumer(bootstrap_servers=[bootstrap], enable_auto_commit=False, consumer_timeout_ms=idle_ms)
    try:
        consumer.assign([TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])])
        consumer.seek_to_beginning()
        return [(r.partition, r.offset, r.key, r.value, r.headers) for r in consumer]
    finally:
        consumer.close()


@pytest.fixture
def settings(topic_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SinkSettings:
    for key, value in topic_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NEWSFLOW_DATA_DIR", str(tmp_path / "data"))
    s = load(SinkSettings, batch_max_seconds=0.5)
    ensure_topics(s)
    return s


class BuggySink:
    """The real sink stage (real broker, real SQLite) whose decoding has a bug while ``buggy``:
    it rejects titles containing 'Ω'. Fixing the bug is clearing the flag."""

    def __init__(self, settings: SinkSettings, store: SqliteStore) -> None:
        self.buggy = True
        self.health = Health()
        self.stage: Stage = build_stage(
            name="sink", settings=settings, input_topic=settings.topic_articles, process=self.process,
            write=make_writer(store), health=self.health, consumer=make_consumer(settings, group_id=settings.group_id),
            producer=make_producer(settings))  # type: ignore[arg-type]
        self.thread = threading.Thread(target=self.stage.run, daemon=True)

    def process(self, records: Sequence[Record]) -> Processed[object]:
        out = decode_articles(records)
        if not self.buggy:
            return out  # type: ignore[return-value]
        kept = [(rec, a) for rec, a in out.items if "Ω" not in (a.title or "")]
        failures = [DeadLetter(rec, MessageError("title: cannot encode 'Ω'")) for rec, a in out.items
                    if "Ω" in (a.title or "")]
        return Processed(kept, out.dead + failures)  # type: ignore[arg-type]

    def run(self) -> BuggySink:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stage.stopping.set()
        self.thread.join(30)


def test_poison_message_is_dead_lettered_with_headers_and_redriven_once(
    settings: SinkSettings, tmp_path: Path
) -> None:
    store = SqliteStore(tmp_path / "sink.db")
    poison = encode(article(3, title="Ωmega"))
    producer = KafkaProducer(bootstrap_servers=[settings.kafka_bootstrap_servers], acks="all")
    for n in range(6):
        value = poison if n == 3 else encode(article(n))
        producer.send(settings.topic_articles, key=f"a{n:03d}".encode(), value=value, partition=0,
                      headers=[("trace", b"t-1")] if n == 3 else [])
    producer.flush()

    sink = BuggySink(settings, store).run()
    wait_for("the poison message in the DLQ", lambda: read_topic(settings.kafka_bootstrap_servers, settings.topic_dlq))
    wait_for("the good articles stored", lambda: store.count() == 5)
    sink.stop()

    [(_, dlq_offset, key, value, headers)] = read_topic(settings.kafka_bootstrap_servers, settings.topic_dlq)
    assert value == poison and key == b"a003"
    h = {k: v.decode() for k, v in headers}
    assert h["newsflow.original_topic"] == settings.topic_articles
    assert h["newsflow.original_partition"] == "0" and h["newsflow.original_offset"] == "3"
    assert h["newsflow.original_key"] == "a003" and h["newsflow.stage"] == "sink"
    assert h["newsflow.error_class"] == "MessageError" and "Ω" in h["newsflow.error_message"]
    assert datetime.fromisoformat(h["newsflow.failed_at"]) <= datetime.now(UTC)
    assert h["newsflow.version"] == services.__version__
    assert h["newsflow.original_header.trace"] == "t-1"

    # The CLI shows it.
    runner = CliRunner()
    listed = runner.invoke(main, ["dlq", "list", "--stage", "sink"])
    assert listed.exit_code == 0, listed.output
    assert "MessageError" in listed.output and "a003" in listed.output
    shown = runner.invoke(main, ["dlq", "show", str(dlq_offset)])
    assert shown.exit_code == 0 and "newsflow.original_offset: 3" in shown.output and "Ωmega" in shown.output
    dry = runner.invoke(main, ["dlq", "redrive", "--dry-run"])
    assert "would re-drive 1 dead letter(s)" in dry.output

    # After the fix, re-drive: the article is stored; a second re-drive sends nothing.
    sink = BuggySink(settings, store)
    sink.buggy = False
    sink.run()
    first = runner.invoke(main, ["dlq", "redrive", "--stage", "sink", "--error-class", "MessageError"])
    assert first.exit_code == 0 and "re-drove 1 dead letter(s)" in first.output, first.output
    wait_for("the re-driven article stored", lambda: store.get("a003") is not None)
    second = dlq.redrive(settings, dlq.Filter(stage="sink"))
    assert second.sent == [] and second.already == 1
    sink.stop()
    redriven = [r for r in read_topic(settings.kafka_bootstrap_servers, settings.topic_articles)
                if any(k == dlq.REDRIVE_HEADER for k, _ in r[4])]
    assert len(redriven) == 1 and redriven[0][3] == poison
    assert ("trace", b"t-1") in redriven[0][4], "the original headers travel with the re-drive"
    listed = runner.invoke(main, ["dlq", "list"])
    assert "yes" in listed.output and listed.output.count("a003") == 1
    assert store.count() == 6


def test_dead_letter_limit_stops_the_stage_and_reports_not_ready(settings: SinkSettings, tmp_path: Path) -> None:
    limited = settings.model_copy(update={"dlq_window": 10, "dlq_max_ratio": 0.5, "batch_max_records": 10})
    producer = KafkaProducer(bootstrap_servers=[settings.kafka_bootstrap_servers], acks="all")
    for n in range(40):
        producer.send(settings.topic_articles, key=f"bad{n}".encode(), value=b"not json", partition=0)
    producer.flush()
    health = Health()
    server = serve(health, "127.0.0.1", 0)
    port = server.server_address[1]
    store = SqliteStore(tmp_path / "sink.db")
    stage: Stage = build_stage(
        name="sink", settings=limited, input_topic=settings.topic_articles, process=decode_articles,
        write=make_writer(store), health=health, consumer=make_consumer(limited, group_id=limited.group_id),
        producer=make_producer(limited))  # type: ignore[arg-type]
    thread = threading.Thread(target=stage.run, daemon=True)
    thread.start()
    try:
        wait_for("the dead-letter limit to stop the stage", lambda: stage.stopped_by is not None)
        wait_for("the stage to report not-ready", lambda: health.report()["checks"].get("dlq_limit") is False)
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 503 and ready.json()["checks"]["dlq_limit"] is False
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        assert 'newsflow_stage_stopped{stage="sink"} 1.0' in httpx.get(f"http://127.0.0.1:{port}/metrics").text
        dead = len(read_topic(settings.kafka_bootstrap_servers, settings.topic_dlq))
        assert 10 <= dead < 40, "the stage stopped instead of draining the topic into the DLQ"
        time.sleep(3)
        assert len(read_topic(settings.kafka_bootstrap_servers, settings.topic_dlq)) == dead, "it stays stopped"
        assert thread.is_alive() and not health.ready()
    finally:
        stage.stopping.set()
        thread.join(30)
        server.shutdown()
