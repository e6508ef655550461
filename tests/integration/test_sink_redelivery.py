"""Exactly-once results: the sink dies between the database commit and the offset commit.

A real ``newsflow sink`` process on the real broker, with the test hook
``NEWSFLOW_TEST_SINK_EXIT_AFTER_DB_COMMIT`` that makes it ``os._exit`` right after the
first batch's transaction committed (as abrupt as SIGKILL: no flush, no offset commit,
no group leave). A second sink gets the batch again; the stored rows must equal those
of writing every message once, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.common.kafka import ensure_topics, make_admin, make_producer
from services.common.messages import Article, encode
from services.common.offsets import committed_offsets
from services.sink.backends import open_store
from services.sink.settings import SinkSettings
from services.sink.store import Filters, Store
from tests.sink.test_store import make, postgres_schema

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CRASH_CODE = 86
BATCH = 10


def topic_messages() -> list[Article]:
    """40 articles, then corrected versions of 5 of them (same key: same partition, in order)."""
    first = [make(f"r{i:02}", f"Report {i} from Kharkiv.", story_id=f"s{i % 7}") for i in range(40)]
    fixes = [make(f"r{i:02}", f"Report {i} from Kharkiv, corrected.", story_id=f"s{i % 7}",
                  fetched_at=datetime(2024, 6, 6, tzinfo=UTC)) for i in range(0, 40, 8)]
    return first + fixes


def snapshot(store: Store) -> list[tuple[str, str, int, list[tuple[int, str]], list[str]]]:
    """Every row that matters: id, current hash and revision, kept revisions, tags."""
    rows = []
    for a in store.iter_articles(Filters(limit=-1)):
        history = [(r, h.content_hash) for r, h, _ in store.history(a.id)]
        tags = sorted(p.name for p in a.places) + sorted(p.name for p in a.people)
        rows.append((a.id, a.content_hash, history[-1][0], history, tags))
    return sorted(rows)


@pytest.fixture(params=["sqlite", "postgresql"])
def sink_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'news.db'}"
    else:
        with postgres_schema() as url:
            yield url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CRASHING_SINK = f"""
from services.common.settings import load
from services.common.steps import exit_after_first_batch
from services.sink import main
from services.sink.settings import SinkSettings
main.run(load(SinkSettings), steps=(exit_after_first_batch({CRASH_CODE}),))
"""


def start_sink(env: dict[str, str], log: Path, *, crash_after_first_batch: bool = False) -> subprocess.Popen[bytes]:
    """The real sink in a process: ``newsflow sink``, or the same run with the crash drill step."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")} | env
    command = ["-c", CRASHING_SINK] if crash_after_first_batch else ["-m", "services.cli", "sink"]
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, *command], env=full, stdout=out, stderr=subprocess.STDOUT)


def rows_written(port: int, result: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(f'newsflow_sink_rows_written_total{{result="{result}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_redelivered_batch_neither_duplicates_nor_loses(
    topic_env: dict[str, str], sink_url: str, tmp_path: Path
) -> None:
    env = topic_env | {"NEWSFLOW_SINK_URL": sink_url, "NEWSFLOW_BATCH_MAX_RECORDS": str(BATCH),
                       "NEWSFLOW_API_ENABLED": "false", "NEWSFLOW_LOG_FORMAT": "text",
                       "NEWSFLOW_DATA_DIR": str(tmp_path / "data")}
    settings = SinkSettings(**{k.removeprefix("NEWSFLOW_").lower(): v for k, v in env.items()})
    ensure_topics(settings)
    messages = topic_messages()
    producer = make_producer(settings)
    for article in messages:
        producer.send(settings.topic_articles, key=article.id.encode(), value=encode(article))
    producer.flush()
    producer.close()
    log = tmp_path / "sink.log"

    # 1. The sink commits the first batch to the database, then dies before committing offsets.
    crashing = start_sink(env | {"NEWSFLOW_METRICS_PORT": "0"}, log, crash_after_first_batch=True)
    assert crashing.wait(timeout=120) == CRASH_CODE, log.read_text()[-3000:]
    store = open_store(sink_url)
    stored_before_restart = store.count()
    assert 0 < stored_before_restart <= BATCH, "the first batch must be in the database"
    admin = make_admin(settings)
    assert committed_offsets(admin, settings.group_id, settings.topic_articles) == {}, "no offset was committed"
    admin.close()

    # 2. A new sink gets the same batch again, then the rest.
    port = free_port()
    sink = start_sink(env | {"NEWSFLOW_METRICS_PORT": str(port)}, log)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if store.count() == 40 and sum(len(store.history(f"r{i:02}")) for i in range(0, 40, 8)) == 10:
                break
            assert sink.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        redelivered = rows_written(port, "unchanged")
    finally:
        sink.send_signal(signal.SIGTERM)
        assert sink.wait(timeout=60) == 0, log.read_text()[-3000:]

    # 3. Exactly the rows of writing every message once: nothing doubled, nothing lost.
    assert redelivered >= stored_before_restart, "the first batch was not redelivered"
    reference = open_store(f"sqlite:///{tmp_path / 'reference.db'}")
    reference.write_batch(messages)
    assert snapshot(store) == snapshot(reference)
    assert store.count() == 40
    store.close()
    reference.close()
