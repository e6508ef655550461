"""The story stage on the real broker: two ``newsflow stories-worker`` processes in one group.

One is active (the input topic has one partition), the other a standby. The active one is
killed with -9 while articles flow; the standby takes over by itself (the test waits with a
generous deadline: how fast is a benchmark's business), rebuilds its index from
``newsflow.articles`` and goes on. Every article comes out placed, and every copy of it on the
output carries the story a single member placing the same input in order gives. Then a fresh
process, its index rebuilt from the log, continues the existing stories.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.common.kafka import ensure_topics, make_consumer, make_producer
from services.common.messages import Article, Tags, decode, encode
from services.common.offsets import read_to_end
from services.extractor.features import story_features
from services.stories.index import StoryIndex
from services.stories.placing import place_article
from services.stories.settings import StoriesSettings
from tests.conftest import wait_for
from tests.scale.site import generate

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FETCHED = datetime(2026, 1, 5, 12, tzinfo=UTC)


def site_articles() -> list[Article]:
    """The generated site's 220 articles (20 events, syndicated copies) as the extractor sends them."""
    site = generate(14)
    out = []
    for path, page in site.pages.items():
        text = "\n\n".join(page.paragraphs)
        # no tagging here (entities empty): the terms and the signature carry the stories
        out.append(Article(id=path, url="https://site.example" + path, source=page.outlet.name, text=text,
                           title=page.title, published_at=page.published, extractor_version="test",
                           content_hash=f"h-{path}", fetched_at=FETCHED,
                           story_features=story_features(text, page.title, Tags())))
    return out


def single_member(articles: list[Article]) -> dict[str, tuple[str | None, str | None]]:
    """What one member placing the input in order (offsets 0, 1, ...) gives."""
    index = StoryIndex(window_days=3, max_items=20_000)
    placed = {}
    for offset, article in enumerate(articles):
        got, _ = place_article(index, article, order=offset)
        placed[article.id] = (got.story_id, got.duplicate_of)
    return placed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")} | env
    full["NEWSFLOW_METRICS_PORT"] = str(port)
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "services.cli", "stories-worker"], env=full,
                                stdout=out, stderr=subprocess.STDOUT)


def consumed(port: int) -> float:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return 0.0
    for line in text.splitlines():
        if line.startswith('newsflow_messages_consumed_total{stage="stories"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def output(settings: StoriesSettings) -> list[Article]:
    consumer = make_consumer(settings)
    try:
        return [decode(Article, r.value) for r in read_to_end(consumer, settings.topic_articles, idle_seconds=1.0)]
    finally:
        consumer.close()


def produce(settings: StoriesSettings, articles: list[Article], pause: float = 0.0) -> None:
    producer = make_producer(settings)
    for article in articles:
        producer.send(settings.topic_extracted, key=article.id.encode(), value=encode(article))
        if pause:
            producer.flush()
            time.sleep(pause)
    producer.flush()
    producer.close()


def test_the_standby_takes_over_and_the_stories_are_those_of_one_member(
    topic_env: dict[str, str], tmp_path: Path
) -> None:
    env = topic_env | {"NEWSFLOW_BATCH_MAX_RECORDS": "10", "NEWSFLOW_LOG_FORMAT": "text",
                       "NEWSFLOW_DATA_DIR": str(tmp_path), "NEWSFLOW_GROUP_ID": topic_env["NEWSFLOW_GROUP_ID"] + "-st"}
    settings = StoriesSettings(**{k.removeprefix("NEWSFLOW_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]
    ensure_topics(settings)
    articles = site_articles()
    expected = single_member(articles)
    assert len(set(expected.values())) > 15  # the site's events, not one blob
    ports = [free_port(), free_port()]
    procs = [start(env, port, tmp_path / f"stories-{i}.log") for i, port in enumerate(ports)]
    try:
        wait_for("both members serving metrics", lambda: all(
            _serving(p) for p in ports), timeout=60)
        produce(settings, articles[:80])
        wait_for("the active member placing", lambda: any(consumed(p) > 0 for p in ports), timeout=90)
        active = next(i for i, p in enumerate(ports) if consumed(p) > 0)
        rest = threading.Thread(target=produce, args=(settings, articles[80:], 0.05))
        rest.start()  # articles keep flowing while the active member dies
        time.sleep(1.0)
        procs[active].send_signal(signal.SIGKILL)
        procs[active].wait(10)
        rest.join(120)
        wait_for("every article placed on the output",
                 lambda: {a.id for a in output(settings)} >= set(expected), timeout=240)
        got = output(settings)
        for a in got:
            assert (a.story_id, a.duplicate_of) == expected[a.id], a.id
        assert consumed(ports[1 - active]) > 0, "the standby took over"
        assert sorted({a.id for a in got}) == sorted(expected)
        _continues_after_restart(env, settings, procs, articles, expected, tmp_path)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def _serving(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _continues_after_restart(env: dict[str, str], settings: StoriesSettings, procs: list[subprocess.Popen[bytes]],
                             articles: list[Article], expected: dict[str, tuple[str | None, str | None]],
                             tmp_path: Path) -> None:
    """Stop every member, start a fresh one: its index, rebuilt from the log, continues the stories."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    original = articles[3]
    copy = original.model_copy(update={"id": "/late/copy", "url": "https://late.example/copy",
                                       "content_hash": "h-late"})
    port = free_port()
    procs.append(start(env, port, tmp_path / "stories-restarted.log"))
    produce(settings, [copy])
    wait_for("the late copy placed", lambda: any(a.id == "/late/copy" for a in output(settings)), timeout=120)
    late = next(a for a in output(settings) if a.id == "/late/copy")
    story, duplicate = expected[original.id]
    assert late.story_id == story
    assert late.duplicate_of == (duplicate or original.id)
