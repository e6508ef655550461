"""Fetcher replicas: real `newsflow fetcher` processes share one state store (SQLite file or PostgreSQL).

A local site (127.0.0.1) serves feeds and pages, waits a little before each answer and counts the
requests in flight per host. Checked: every entry is published exactly once (the pages topic,
counted by key) while feeds are polled again and again by whichever replica is free; the host
never sees more requests at once than NEWSFLOW_PER_HOST_CONCURRENCY, whatever the number of
replicas; a replica killed with -9 while it holds leases has its feeds taken over by the others
once the lease ends (a generous deadline: how fast is the benchmark's business).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from services.common.broker import free_port
from services.common.kafka import ensure_topics
from services.common.settings import load
from services.common.urls import article_id
from services.fetcher.settings import FetcherSettings
from tests.conftest import wait_for
from tests.fetcher.test_fetcher_leases import postgres_schema

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

ENTRIES = 4
DELAY = 0.03  # seconds before every answer: requests overlap, so the concurrency limit is tested
HOST_LIMIT = 2


class Site:
    """Feeds ``/feed/<n>.xml`` (ETag "v1": 304 when asked again) and pages; counts requests in flight per host."""

    def __init__(self, hang_first: set[str] | None = None) -> None:
        self.lock = threading.Lock()
        self.in_flight: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.hang_first = hang_first or set()  # feeds whose first request hangs (its poller is killed)
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                host = self.headers.get("Host", "")
                with site.lock:
                    site.in_flight[host] += 1
                    site.most[host] = max(site.most[host], site.in_flight[host])
                    site.requests[self.path] += 1
                    first = site.requests[self.path] == 1
                try:
                    time.sleep(30 if first and self.path in site.hang_first else DELAY)
                finally:
                    # counted until the answer is ready, not until this thread is done writing it: the
                    # client may get the answer, free its slot and start the next request before this
                    # thread runs again, which a busy machine would count as one request too many
                    with site.lock:
                        site.in_flight[host] -= 1
                self._answer()

            def _answer(self) -> None:
                match = re.fullmatch(r"/feed/(\d+)\.xml", self.path)
                if match and self.headers.get("If-None-Match") == '"v1"':
                    self.send_response(304)
                    self.send_header("ETag", '"v1"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if match:
                    body, ctype = feed(site.base, int(match.group(1))), "application/rss+xml"
                else:
                    body, ctype = f"<html><head><title>{self.path}</title></head><body><article><p>Story at " \
                                  f"{self.path}, a paragraph of text.</p></article></body></html>", "text/html"
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("ETag", '"v1"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def feed(base: str, n: int) -> str:
    items = "".join(f'<item><guid isPermaLink="false">{n}-{j}</guid><title>Feed {n} story {j}</title>'
                    f"<link>{base}/page/{n}/{j}</link></item>" for j in range(ENTRIES))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>{items}</channel></rss>'


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The state store the replicas share: "" (SQLite in the shared data dir) or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield ""
        return
    with postgres_schema() as url:
        yield url


class Replicas:
    """`newsflow fetcher` processes with one data directory, feed list and state store."""

    def __init__(self, tmp_path: Path, topic_env: dict[str, str], state_url: str, **extra: str) -> None:
        self.tmp_path = tmp_path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
        self.env.update(topic_env)
        self.env.update({
            "NEWSFLOW_DATA_DIR": str(tmp_path / "data"), "NEWSFLOW_FEEDS_FILE": str(tmp_path / "feeds.txt"),
            "NEWSFLOW_FETCHER_STATE_URL": state_url, "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "true",
            "NEWSFLOW_PARSE_WORKERS": "1", "NEWSFLOW_CONCURRENCY": "8",
            "NEWSFLOW_PER_HOST_CONCURRENCY": str(HOST_LIMIT), "NEWSFLOW_PER_HOST_MIN_DELAY_SECONDS": "0",
            "NEWSFLOW_POLL_INTERVAL_SECONDS": "1", "NEWSFLOW_MIN_POLL_INTERVAL_SECONDS": "1",
            "NEWSFLOW_MAX_POLL_INTERVAL_SECONDS": "2", "NEWSFLOW_FETCHER_LEASE_SECONDS": "4",
            "NEWSFLOW_HTTP_TOTAL_TIMEOUT_SECONDS": "10", "NEWSFLOW_LOG_FORMAT": "json", **extra,
        })
        self.settings = load(FetcherSettings, **{k.removeprefix("NEWSFLOW_").lower(): v for k, v in self.env.items()
                                                 if k.startswith("NEWSFLOW_")})
        ensure_topics(self.settings)
        self.procs: list[tuple[subprocess.Popen[bytes], int, Path]] = []

    def start(self) -> int:
        """Start one more replica; returns its index."""
        port = free_port()
        log = self.tmp_path / f"fetcher{len(self.procs)}.log"
        proc = subprocess.Popen([sys.executable, "-m", "services.cli", "fetcher"],
                                env={**self.env, "NEWSFLOW_METRICS_PORT": str(port)},
                                stdout=log.open("ab"), stderr=subprocess.STDOUT)
        self.procs.append((proc, port, log))
        return len(self.procs) - 1

    def metric(self, i: int, name: str, labels: str = "") -> float:
        try:
            text = httpx.get(f"http://127.0.0.1:{self.procs[i][1]}/metrics", timeout=5).text
        except httpx.HTTPError:
            return 0.0
        line = next((ln for ln in text.splitlines() if ln.startswith(name + (f"{{{labels}}}" if labels else " "))), None)
        return float(line.rsplit(" ", 1)[1]) if line else 0.0

    def up(self, i: int) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.procs[i][1]}/metrics", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def alive(self) -> None:
        for proc, _, log in self.procs:
            if proc.returncode is None and proc.poll() is not None:
                raise AssertionError(f"a fetcher exited: {log.read_text()[-3000:]}")

    def published(self) -> Counter[str]:
        consumer = KafkaConsumer(**self.settings.kafka_client_config(), enable_auto_commit=False,
                                 consumer_timeout_ms=1500)
        try:
            parts = consumer.partitions_for_topic(self.settings.topic_pages) or set()
            consumer.assign([TopicPartition(self.settings.topic_pages, p) for p in parts])
            consumer.seek_to_beginning()
            return Counter(rec.key.decode() for rec in consumer)
        finally:
            consumer.close()

    def stop(self) -> None:
        for proc, _, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _, _ in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_replicas_publish_every_entry_once_within_the_host_limit(
    tmp_path: Path, topic_env: dict[str, str], state_url: str,
) -> None:
    site = Site()
    n_feeds = 24
    (tmp_path / "feeds.txt").write_text("".join(f"{site.base}/feed/{n}.xml\n" for n in range(n_feeds)))
    replicas = Replicas(tmp_path, topic_env, state_url)
    try:
        for _ in range(3):
            replicas.start()

        def all_published() -> bool:
            replicas.alive()
            return len(replicas.published()) >= n_feeds * ENTRIES

        wait_for("every entry published", all_published, timeout=120)
        polls_then = sum(site.requests[f"/feed/{n}.xml"] for n in range(n_feeds))
        wait_for("every feed polled again (304s)",  # feeds due every 1-2 s: polled again by whichever replica is free
                 lambda: sum(site.requests[f"/feed/{n}.xml"] for n in range(n_feeds)) >= polls_then + 2 * n_feeds,
                 timeout=60)
        claims = [replicas.metric(i, "newsflow_fetcher_leases_total", 'event="claimed"') for i in range(3)]
    finally:
        replicas.stop()
        site.close()
    published = replicas.published()
    assert len(published) == n_feeds * ENTRIES
    assert [key for key, n in published.items() if n > 1] == []  # each entry exactly once
    assert site.most["127.0.0.1:" + site.base.rsplit(":", 1)[1]] == HOST_LIMIT, site.most  # reached, never passed
    assert sum(1 for c in claims if c > 0) >= 2, f"the work was not shared: claims per replica {claims}"
    pages_fetched = [path for path in site.requests if path.startswith("/page/")]
    assert all(site.requests[p] == 1 for p in pages_fetched)  # no page fetched twice either


def test_a_killed_replica_s_feeds_are_taken_over_by_the_others(
    tmp_path: Path, topic_env: dict[str, str], state_url: str,
) -> None:
    hung = {f"/feed/{n}.xml" for n in range(3)}
    site = Site(hang_first=hung)
    n_feeds = 8
    (tmp_path / "feeds.txt").write_text("".join(f"{site.base}/feed/{n}.xml\n" for n in range(n_feeds)))
    replicas = Replicas(tmp_path, topic_env, state_url, NEWSFLOW_PER_HOST_CONCURRENCY="8")
    try:
        victim = replicas.start()
        wait_for("the victim polls the hanging feeds", lambda: all(site.requests[p] >= 1 for p in hung) or
                 replicas.alive(), timeout=60)
        others = [replicas.start(), replicas.start()]
        wait_for("the other replicas are up", lambda: all(replicas.up(i) for i in others), timeout=60)
        replicas.procs[victim][0].send_signal(signal.SIGKILL)  # holding the hanging feeds' leases
        replicas.procs[victim][0].wait()

        def taken_over() -> bool:
            replicas.alive()
            return sum(replicas.metric(i, "newsflow_fetcher_leases_total", 'event="taken_over"') for i in others) >= 3

        wait_for("the hanging feeds taken over", taken_over, timeout=90)
        wait_for("every entry published", lambda: len(replicas.published()) >= n_feeds * ENTRIES, timeout=90)
    finally:
        replicas.stop()
        site.close()
    published = replicas.published()
    assert len(published) == n_feeds * ENTRIES
    assert all(site.requests[p] >= 2 for p in hung)  # polled again by another replica
    hung_keys = {article_id(f"{site.base}/page/{n}/{j}") for n in range(3) for j in range(ENTRIES)}
    # the victim hung on these feeds before publishing any of their entries: none may double
    assert all(published[k] == 1 for k in hung_keys), published
