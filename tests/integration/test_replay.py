"""Replay on the real embedded broker: a fresh group re-extracts every page while the live
extractor keeps running (its offsets untouched); the story stage re-clusters what was extracted
(replay --stage stories, from an empty index); the sink keeps the newest version as a new
revision; the same replay twice changes nothing; a reset of an active live group is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from services.common import offsets as ofs
from services.common.health import Health
from services.common.kafka import ensure_topics, make_admin
from services.common.messages import Article, FeedEntry, PageMessage, decode, encode
from services.common.settings import ConsumerSettings, load
from services.common.stage import Stage
from services.common.steps import StepWrapper
from services.common.urls import article_id
from services.extractor import pipeline as extractor_pipeline
from services.extractor import service as extractor_service
from services.extractor.settings import ExtractorSettings
from services.extractor.task import ArticleRecord
from services.ops.replay import ReplayRefused, StartPoint, plan_replay, run_replay
from services.sink.settings import SinkSettings
from services.sink.sqlite import SqliteStore
from services.stories.settings import StoriesSettings
from tests.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

SITE = Path(extractor_service.__file__).resolve().parents[1] / "demo" / "site"


def demo_pages() -> list[PageMessage]:
    """The demo site's article pages as the fetcher would publish them."""
    pages = []
    for path in sorted(SITE.rglob("*.html")):
        if path.name == "index.html":
            continue
        url = "http://demo.test/" + path.relative_to(SITE).as_posix()
        now = datetime.now(UTC)
        entry = FeedEntry(feed_url="http://demo.test/feeds/x.xml", entry_id=url, link=url, first_seen_at=now)
        pages.append(PageMessage(id=article_id(url), url=url, final_url=url, status=200,
                                 content_type="text/html", html=path.read_text(encoding="utf-8"),
                                 fetched_at=now, entry=entry))
    return pages


def extract_as_v2(value: bytes | None) -> ArticleRecord:
    """The extractor's worker task as a new extractor version runs it ("after an extractor change")."""
    record = extractor_pipeline.extract_record(value)
    article = decode(Article, record.value).model_copy(update={"extractor_version": "replay-test-v2"})
    return replace(record, value=encode(article))


def build_v2(settings: ConsumerSettings, health: Health, steps: Sequence[StepWrapper]) -> Stage:
    """The extractor stage, its workers running :func:`extract_as_v2`."""
    assert isinstance(settings, ExtractorSettings)
    return extractor_service.build(settings, health, steps=steps, task=extract_as_v2)


def read_topic(bootstrap: str, topic: str, idle_ms: int = 1500) -> list[tuple[int, int, bytes | None, bytes]]:
    consumer = KafkaConsumer(bootstrap_servers=[bootstrap], enable_auto_commit=False, consumer_timeout_ms=idle_ms)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(tps)
        consumer.seek_to_beginning()
        return [(r.partition, r.offset, r.key, r.value) for r in consumer]
    finally:
        consumer.close()


@pytest.fixture
def settings(topic_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ExtractorSettings:
    for key, value in topic_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NEWSFLOW_DATA_DIR", str(tmp_path / "data"))
    s = load(ExtractorSettings, batch_max_seconds=0.5, replay_idle_seconds=2)
    ensure_topics(s)
    return s


@pytest.fixture
def pages(settings: ExtractorSettings) -> list[PageMessage]:
    found = demo_pages()
    producer = KafkaProducer(bootstrap_servers=[settings.kafka_bootstrap_servers], acks="all")
    for page in found:
        producer.send(settings.topic_pages, key=page.id.encode(), value=encode(page))
    producer.flush()
    producer.close()
    return found


class LiveStage:
    """The real extractor stage in a thread, as `newsflow extractor` runs it."""

    def __init__(self, settings: ExtractorSettings) -> None:
        self.stage: Stage = extractor_service.build(settings, Health())
        self.thread = threading.Thread(target=self.stage.run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stage.stopping.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the live stage did not stop"

    def __exit__(self, *exc: object) -> None:
        if self.thread.is_alive():
            self.stop()


def committed(settings: ExtractorSettings, group: str) -> dict[int, int]:
    admin = make_admin(settings)
    try:
        return ofs.committed_offsets(admin, group, settings.topic_pages)
    finally:
        admin.close()


def articles(settings: ExtractorSettings, placed: bool = False) -> list[Article]:
    """What the extractor produced (newsflow.extracted) or, ``placed``, the story stage (newsflow.articles)."""
    topic = settings.topic_articles if placed else settings.topic_extracted
    return [decode(Article, v) for *_, v in read_topic(settings.kafka_bootstrap_servers, topic)]


def replay_stories(settings: ExtractorSettings, expected: int) -> None:
    """``newsflow replay --stage stories --from-beginning``: everything extracted, placed again."""
    stories = load(StoriesSettings, batch_max_seconds=0.5, replay_idle_seconds=2)
    probe = KafkaConsumer(bootstrap_servers=[settings.kafka_bootstrap_servers])
    plan = plan_replay(probe, stage="stories", topic=stories.topic_extracted, live_group=stories.group_id,
                       start=StartPoint(from_beginning=True))
    probe.close()
    assert run_replay(plan, stories).replayed == expected


@pytest.fixture
def live(settings: ExtractorSettings, pages: list[PageMessage]) -> Iterator[LiveStage]:
    with LiveStage(settings) as running:
        wait_for("the live group to commit every page",
                 lambda: sum(committed(settings, settings.group_id).values()) >= len(pages), timeout=90)
        yield running


def test_replay_in_fresh_group_reextracts_every_page_and_leaves_live_group_alone(
    settings: ExtractorSettings, pages: list[PageMessage], live: LiveStage, tmp_path: Path,
) -> None:
    live_before = committed(settings, settings.group_id)
    assert [a.extractor_version for a in articles(settings)] == [extractor_pipeline.EXTRACTOR_VERSION] * len(pages)

    probe = KafkaConsumer(bootstrap_servers=[settings.kafka_bootstrap_servers])
    plan = plan_replay(probe, stage="extractor", topic=settings.topic_pages, live_group=settings.group_id,
                       start=StartPoint(from_beginning=True))
    probe.close()
    assert plan.group.startswith(f"{settings.group_id}-replay-")
    result = run_replay(plan, settings, build=build_v2)  # "after an extractor change"

    assert result.replayed == len(pages) and not result.stopped_by_dlq_limit
    assert live.thread.is_alive(), "the live extractor kept running during the replay"
    assert committed(settings, settings.group_id) == live_before
    assert sum(committed(settings, plan.group).values()) == len(pages)
    newest = [a for a in articles(settings) if a.extractor_version == "replay-test-v2"]
    assert sorted(a.id for a in newest) == sorted(p.id for p in pages), "every page re-extracted once"

    # The story stage places both versions (a fresh index: the re-extracted ones keep their stories).
    replay_stories(settings, 2 * len(pages))
    placed = articles(settings, placed=True)
    assert len(placed) == 2 * len(pages) and all(a.story_id and a.story_features for a in placed)
    story = {(a.id, a.extractor_version): a.story_id for a in placed}
    assert all(story[(p.id, "replay-test-v2")] == story[(p.id, extractor_pipeline.EXTRACTOR_VERSION)] for p in pages)
    seeds = {a.story_id for a in placed if "/ctvnews/" in a.url or "/cbc/" in a.url}
    assert len(seeds) == 1, "the seeds share a story"

    # The sink keeps the newest version and records the old one as a revision ...
    sink = load(SinkSettings, sink_url=f"sqlite:///{tmp_path / 'replay.db'}", batch_max_seconds=0.5,
                replay_idle_seconds=2)
    store_path = tmp_path / "replay.db"

    def replay_sink() -> list[tuple[str, str, int]]:
        probe = KafkaConsumer(bootstrap_servers=[settings.kafka_bootstrap_servers])
        sink_plan = plan_replay(probe, stage="sink", topic=sink.topic_articles, live_group=sink.group_id,
                                start=StartPoint(from_beginning=True))
        probe.close()
        assert run_replay(sink_plan, sink).replayed == 2 * len(pages)
        store = SqliteStore(store_path)
        try:
            return store.db.execute(
                "SELECT id, extractor_version, revision FROM articles ORDER BY id").fetchall()
        finally:
            store.close()

    rows = replay_sink()
    assert [v for _, v, _ in rows] == ["replay-test-v2"] * len(pages)
    assert all(revision == 2 for *_, revision in rows)
    # ... and running the same replay again changes nothing.
    time.sleep(1.1)  # fresh replay group names are per second
    assert replay_sink() == rows


def test_reset_live_group_is_refused_while_the_group_is_active(
    settings: ExtractorSettings, pages: list[PageMessage], live: LiveStage,
) -> None:
    live_before = committed(settings, settings.group_id)
    probe = KafkaConsumer(bootstrap_servers=[settings.kafka_bootstrap_servers])
    plan = plan_replay(probe, stage="extractor", topic=settings.topic_pages, live_group=settings.group_id,
                       start=StartPoint(from_beginning=True), reset_live_group=True)
    with pytest.raises(ReplayRefused, match="active member"):
        run_replay(plan, settings)
    assert committed(settings, settings.group_id) == live_before

    # The CLI refuses the same way, with a non-zero exit.
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env.update({"NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
                "NEWSFLOW_TOPIC_PAGES": settings.topic_pages, "NEWSFLOW_TOPIC_ARTICLES": settings.topic_articles,
                "NEWSFLOW_TOPIC_DLQ": settings.topic_dlq, "NEWSFLOW_GROUP_ID": settings.group_id,
                "NEWSFLOW_DATA_DIR": str(settings.data_dir)})
    cli = subprocess.run([sys.executable, "-m", "services.cli", "replay", "--stage", "extractor",
                          "--from-beginning", "--reset-live-group"], env=env, capture_output=True, text=True, check=False,
                         timeout=60)
    assert cli.returncode == 1 and "active member" in cli.stderr, cli.stderr
    dry = subprocess.run([sys.executable, "-m", "services.cli", "replay", "--stage", "extractor",
                          "--offsets", "0:0", "--dry-run"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert dry.returncode == 0, dry.stderr
    assert "partition 0: start 0" in dry.stdout and "approximate" in dry.stdout

    # Once the live extractor is stopped, the reset replay runs and commits under the live group.
    live.stop()
    wait_for("the stopped group to have no members", lambda: not _active(settings), timeout=30)
    probe = KafkaConsumer(bootstrap_servers=[settings.kafka_bootstrap_servers])
    plan = plan_replay(probe, stage="extractor", topic=settings.topic_pages, live_group=settings.group_id,
                       start=StartPoint(from_beginning=True), reset_live_group=True)
    probe.close()
    result = run_replay(plan, settings)
    assert result.replayed == len(pages)
    assert committed(settings, settings.group_id) == live_before


def _active(settings: ExtractorSettings) -> bool:
    admin = make_admin(settings)
    try:
        return ofs.group_state(admin, settings.group_id).active
    finally:
        admin.close()
