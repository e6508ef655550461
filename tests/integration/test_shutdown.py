"""SIGTERM mid-batch loses nothing: a real `newsflow extractor` process is stopped while it
works on a batch; it drains the batch, commits and exits within the bound; every page whose
offset it committed has its article; a restart finishes the rest."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from services.common import offsets as ofs
from services.common.broker import free_port
from services.common.kafka import ensure_topics, make_admin
from services.common.messages import FeedEntry, PageMessage, encode
from services.common.settings import load
from services.common.urls import article_id
from services.extractor.settings import ExtractorSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]

SITE = Path(__file__).resolve().parents[2] / "services" / "demo" / "site"
COPIES = 3  # each demo page three times under different URLs: several batches of work
SHUTDOWN_BOUND = 20.0


def pages() -> list[PageMessage]:
    out = []
    files = [p for p in sorted(SITE.rglob("*.html")) if p.name != "index.html"]
    for copy in range(COPIES):
        for path in files:
            url = f"http://demo{copy}.test/" + path.relative_to(SITE).as_posix()
            now = datetime.now(UTC)
            entry = FeedEntry(feed_url="http://demo.test/f.xml", entry_id=url, link=url, first_seen_at=now)
            out.append(PageMessage(id=article_id(url), url=url, final_url=url, status=200, html=path.read_text(),
                                   fetched_at=now, entry=entry))
    return out


def read_topic(bootstrap: str, topic: str) -> list[tuple[int, int, bytes | None]]:
    consumer = KafkaConsumer(bootstrap_servers=[bootstrap], enable_auto_commit=False, consumer_timeout_ms=1500)
    try:
        consumer.assign([TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])])
        consumer.seek_to_beginning()
        return [(r.partition, r.offset, r.key) for r in consumer]
    finally:
        consumer.close()


def metric(port: int, name: str) -> float:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return 0.0
    found = re.search(rf'^{name}{{stage="extractor"}} ([0-9.e+]+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def start_extractor(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "services.cli", "extractor"], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def test_sigterm_mid_batch_loses_nothing(topic_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env.update(topic_env)
    env.update({"NEWSFLOW_DATA_DIR": str(tmp_path / "data"), "NEWSFLOW_METRICS_PORT": str(port),
                "NEWSFLOW_BATCH_MAX_RECORDS": "8", "NEWSFLOW_LOG_FORMAT": "json",
                "NEWSFLOW_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_BOUND)})
    settings = load(ExtractorSettings, **{k.removeprefix("NEWSFLOW_").lower(): v for k, v in env.items()
                                         if k.startswith("NEWSFLOW_")})
    ensure_topics(settings)
    sent = pages()
    producer = KafkaProducer(bootstrap_servers=[settings.kafka_bootstrap_servers], acks="all")
    offsets: dict[str, tuple[int, int]] = {}
    for page in sent:
        meta = producer.send(settings.topic_pages, key=page.id.encode(), value=encode(page)).get(30)
        offsets[page.id] = (meta.partition, meta.offset)
    producer.close()

    log = tmp_path / "extractor.log"
    proc = start_extractor(env, log)
    try:
        deadline = time.monotonic() + 90
        while metric(port, "newsflow_messages_consumed_total") == 0:  # a batch is in hand
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        produced_before = len(read_topic(settings.kafka_bootstrap_servers, settings.topic_extracted))
        assert produced_before < len(sent), "SIGTERM must land before the work is done"
        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(SHUTDOWN_BOUND + 10)
        took = time.monotonic() - stopped_at
    finally:
        if proc.poll() is None:
            proc.kill()
    output = log.read_text()
    assert code == 0, output[-3000:]
    # exit 0 and "stopped cleanly" mean the drain finished before the watchdog (which exits with 70)
    assert "draining the batch in hand" in output and "stopped cleanly" in output

    admin = make_admin(settings)
    committed = ofs.committed_offsets(admin, settings.group_id, settings.topic_pages)
    admin.close()
    assert sum(committed.values()) > 0, "the batch in hand was finished and committed, not abandoned"
    stored = {key.decode() for *_, key in read_topic(settings.kafka_bootstrap_servers, settings.topic_extracted)
              if key}
    for page_id, (partition, offset) in offsets.items():
        if offset < committed.get(partition, 0):
            assert page_id in stored, f"page {page_id} was committed without its article"
    print(f"\nSIGTERM after {produced_before} article(s); exit in {took:.1f}s; "
          f"committed {sum(committed.values())} of {len(sent)} pages")

    # A restart processes the rest: every page ends up with its article.
    proc = start_extractor(env, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            stored = {k.decode() for *_, k in read_topic(settings.kafka_bootstrap_servers,
                                                          settings.topic_extracted) if k}
            if stored >= set(offsets):
                break
            assert time.monotonic() < deadline, f"missing {len(set(offsets) - stored)} article(s)"
            time.sleep(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(SHUTDOWN_BOUND + 10) == 0
