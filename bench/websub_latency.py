"""WebSub benchmark: how soon pushed content reaches ``newsflow.pages``, against a poll in the same run.

One real ``Fetcher`` (WebSub on) with the embedded broker (tansu), a local site serving one feed
that names a hub, and a small hub (both aiohttp, in this process, on loopback). After the
subscription is verified, ``--pushes`` times: a new entry is added to the feed, the hub POSTs the
feed (signed) to the fetcher's callback, and the time from the POST to the entry's page being
readable on the pages topic is measured (verify signature, parse, lease the feed, fetch the page
through the guarded client, produce with ``acks=all``, consume). Then ``--polls`` times: a new
entry is added and the feed is made due now (as ``newsflow feeds poll`` does), and the time to
its page on the topic is measured the same way (includes the scheduler's wake-up, at most 5 s).

Printed: median and p95 of both, in seconds, the push latency as a fraction of the poll-now
latency, and of the expected wait of a polled feed (half the default poll interval, 300 s) and of
a subscribed feed's safety-net interval (6 h).

``--stored``: push-to-stored latency too. The rest of the pipeline runs as it does under
``newsflow up``: the extractor, the story stage and the sink as their own processes (``python -m
services.cli extractor|stories-worker|sink``, default settings, the sink on a SQLite file in the
run's directory, no API) against the same embedded broker and topics. Each push is then timed to
its page on the pages topic and to its article's row in the store (``Store.get`` of its article id,
looked up every 10 ms through a read connection); the next push waits for the row. Pages carry a
few paragraphs of distinct text, so the extractor keeps them. A consuming stage reads a batch
until ``NEWSFLOW_BATCH_MAX_SECONDS`` (1 s) has passed or the topic is drained with nothing more
arriving within that time, so one lone push waits about that long in each of the three stages;
``--batch-max-seconds`` sets it for the three.

    .venv/bin/python bench/websub_latency.py            # ~1 minute
    .venv/bin/python bench/websub_latency.py --stored   # ~2 minutes (starts three stage processes)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiohttp import web
from kafka import KafkaConsumer, TopicPartition

from services.common import kafka
from services.common.broker import EmbeddedBroker
from services.common.health import Health
from services.common.messages import PageMessage, decode
from services.common.urls import article_id
from services.fetcher.service import Fetcher
from services.fetcher.settings import FetcherSettings
from services.sink.backends import open_store
from services.sink.store import Store

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("sink", "stories-worker", "extractor")  # `newsflow` sub-commands, started in this order
WORDS = ("council", "river", "budget", "harbour", "school", "railway", "festival", "hospital", "library", "market",
         "bridge", "museum", "stadium", "airport", "forest", "orchestra")

FEED = ('<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>B</title>'
        '<atom:link rel="hub" href="{base}/hub"/><atom:link rel="self" href="{base}/feed.xml"/>{items}</channel></rss>')


class SiteAndHub:
    """The feed, its pages and a hub that verifies intents and distributes signed pushes."""

    def __init__(self) -> None:
        self.names: list[str] = ["first"]
        self.base = ""
        self.verified: dict[str, str] | None = None
        self.session: aiohttp.ClientSession | None = None

    def feed(self) -> bytes:
        items = "".join(f'<item><guid isPermaLink="false">{n}</guid><title>{n}</title><link>{self.base}/p/{n}</link>'
                        "</item>" for n in reversed(self.names[-50:]))
        return FEED.format(base=self.base, items=items).encode()

    async def serve_feed(self, _: web.Request) -> web.Response:
        return web.Response(body=self.feed(), content_type="application/rss+xml")

    async def serve_page(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return web.Response(text=article_page(name), content_type="text/html")

    async def hub(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        asyncio.get_running_loop().create_task(self._verify(form))
        return web.Response(status=202)

    async def _verify(self, form: dict[str, str]) -> None:
        assert self.session is not None
        challenge = secrets.token_hex(8)
        params = {"hub.mode": form["hub.mode"], "hub.topic": form["hub.topic"], "hub.challenge": challenge,
                  "hub.lease_seconds": "86400"}
        async with self.session.get(form["hub.callback"], params=params) as resp:
            if resp.status == 200 and await resp.text() == challenge:
                self.verified = form

    async def distribute(self) -> int:
        assert self.session is not None and self.verified is not None
        body = self.feed()
        signature = "sha256=" + hmac.new(self.verified["hub.secret"].encode(), body, hashlib.sha256).hexdigest()
        async with self.session.post(self.verified["hub.callback"], data=body,
                                     headers={"X-Hub-Signature": signature}) as resp:
            return resp.status

    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_get("/feed.xml", self.serve_feed)
        app.router.add_post("/hub", self.hub)
        app.router.add_get("/p/{name}", self.serve_page)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self.session = aiohttp.ClientSession()
        return runner


def article_page(name: str) -> str:
    """A news page with a few paragraphs of text of its own (the extractor keeps it; no two alike)."""
    seed = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    topic = [WORDS[(seed >> (4 * i)) % len(WORDS)] for i in range(6)]
    paragraphs = "".join(
        f"<p>The {topic[i]} project in {name} moved ahead on {['Monday', 'Tuesday', 'Friday'][i % 3]}, "
        f"officials said, after months of debate over the {topic[i + 1]} and its cost to residents. "
        f"Supporters argue the {topic[i]} will bring jobs; critics in the {topic[i + 2]} district want "
        f"a second look at the plans before any contract for {name} is signed.</p>" for i in range(4))
    return (f"<html><head><title>{name}: the {topic[0]} plan</title><meta property='og:title' content='{name}'>"
            f"</head><body><article><h1>{name}: the {topic[0]} plan</h1>{paragraphs}</article></body></html>")


@contextlib.contextmanager
def pipeline(settings: FetcherSettings, tmp: Path, batch_max_seconds: float | None = None) -> Iterator[str]:
    """The extractor, story stage and sink as processes on ``settings``' broker and topics; yields the sink URL."""
    sink_url = f"sqlite:///{tmp / 'newsflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")} | {
        "PYTHONPATH": str(ROOT), "NEWSFLOW_DATA_DIR": str(tmp), "NEWSFLOW_SINK_URL": sink_url,
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers, "NEWSFLOW_API_ENABLED": "false",
        "NEWSFLOW_TOPIC_PAGES": settings.topic_pages, "NEWSFLOW_TOPIC_EXTRACTED": settings.topic_extracted,
        "NEWSFLOW_TOPIC_ARTICLES": settings.topic_articles, "NEWSFLOW_TOPIC_DLQ": settings.topic_dlq,
        "NEWSFLOW_METRICS_PORT": "0", "NEWSFLOW_LOG_LEVEL": "WARNING"}
    if batch_max_seconds is not None:
        env["NEWSFLOW_BATCH_MAX_SECONDS"] = str(batch_max_seconds)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for stage in STAGES:
            log = (tmp / f"{stage}.log").open("ab")
            procs.append(subprocess.Popen([sys.executable, "-m", "services.cli", stage], env=env, stdout=log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT))
        yield sink_url
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def stored(store: Store, url: str, timeout: float = 120.0) -> float:
    """When the article of ``url`` was first seen in the store (monotonic), looked up every 10 ms."""
    aid = article_id(url)
    deadline = time.monotonic() + timeout
    while store.get(aid) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} was never stored (see the stage logs in the run directory)")
        await asyncio.sleep(0.01)
    return time.monotonic()


class Arrivals(threading.Thread):
    """Reads the pages topic continuously; the monotonic time each page URL first arrived."""

    def __init__(self, settings: FetcherSettings) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        consumer = KafkaConsumer(**self.settings.kafka_client_config(), enable_auto_commit=False,
                                 fetch_max_wait_ms=10)  # the default 500 ms would be most of what is measured
        parts = consumer.partitions_for_topic(self.settings.topic_pages) or set()
        consumer.assign([TopicPartition(self.settings.topic_pages, p) for p in parts])
        consumer.seek_to_beginning()
        while not self.stop.is_set():
            for records in consumer.poll(timeout_ms=50).values():
                for rec in records:
                    self.seen.setdefault(decode(PageMessage, rec.value).url, time.monotonic())
        consumer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def arrival(arrivals: Arrivals, url: str, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while url not in arrivals.seen:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} never reached the pages topic")
        await asyncio.sleep(0.005)
    return arrivals.seen[url]


async def measure(args: argparse.Namespace, bootstrap: str, tmp: Path
                  ) -> tuple[list[float], list[float], list[float]]:
    """(push to pages topic, poll-now to pages topic, push to stored row: only with ``--stored``), in seconds."""
    site = SiteAndHub()
    runner = await site.start()
    port = free_port()
    run = secrets.token_hex(3)
    settings = FetcherSettings(
        data_dir=tmp, feeds_file=tmp / "feeds.txt", kafka_bootstrap_servers=bootstrap, allowed_networks="127.0.0.1/32",
        per_host_min_delay_seconds=0, parse_workers=1, log_level="WARNING", poll_interval_seconds=6 * 3600,
        min_poll_interval_seconds=6 * 3600, websub_callback_url=f"http://127.0.0.1:{port}/websub",
        websub_listen=f"127.0.0.1:{port}", topic_pages=f"bench{run}.pages", topic_extracted=f"bench{run}.extracted",
        topic_articles=f"bench{run}.articles", topic_dlq=f"bench{run}.dlq")
    settings.feeds_file.write_text(f"{site.base}/feed.xml\n")
    kafka.ensure_topics(settings)
    arrivals = Arrivals(settings)
    arrivals.start()
    with contextlib.ExitStack() as stack:
        store = (open_store(stack.enter_context(pipeline(settings, tmp, args.batch_max_seconds))) if args.stored
                 else None)
        if store is not None:
            stack.callback(store.close)
        try:
            return await _measure(args, settings, site, arrivals, store)
        finally:
            arrivals.stop.set()
            assert site.session is not None
            await site.session.close()
            await runner.cleanup()


async def _measure(args: argparse.Namespace, settings: FetcherSettings, site: SiteAndHub, arrivals: Arrivals,
                   store: Store | None) -> tuple[list[float], list[float], list[float]]:
    producer = kafka.make_producer(settings)
    fetcher = Fetcher(settings, producer, Health())
    running = asyncio.create_task(fetcher.run())
    pushed: list[float] = []
    polled: list[float] = []
    to_store: list[float] = []
    try:
        await arrival(arrivals, f"{site.base}/p/first")
        if store is not None:  # the stage processes are up and the whole way works (their start is not timed)
            await stored(store, f"{site.base}/p/first", timeout=300)
        while site.verified is None:
            await asyncio.sleep(0.05)
        for i in range(args.pushes):
            site.names.append(f"push{i}")
            started = time.monotonic()
            assert await site.distribute() == 202
            pushed.append(await arrival(arrivals, f"{site.base}/p/push{i}") - started)
            if store is not None:
                to_store.append(await stored(store, f"{site.base}/p/push{i}") - started)
        for i in range(args.polls):
            site.names.append(f"poll{i}")
            started = time.monotonic()
            while not fetcher.state.poll_now([f"{site.base}/feed.xml"], time.time()):
                await asyncio.sleep(0.01)  # the previous poll still holds the feed (its page is out, its row not yet)
            polled.append(await arrival(arrivals, f"{site.base}/p/poll{i}") - started)
    finally:
        fetcher.stopping.set()
        await running
        producer.close(timeout=10)
    return pushed, polled, to_store


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pushes", type=int, default=30)
    parser.add_argument("--polls", type=int, default=5)
    parser.add_argument("--stored", action="store_true",
                        help="run the extractor, story stage and sink too; time each push to its stored row")
    parser.add_argument("--batch-max-seconds", type=float,
                        help="with --stored: NEWSFLOW_BATCH_MAX_SECONDS of the three stages (default: theirs, 1 s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(log_path=Path(tmp) / "broker.log") as broker:
        pushed, polled, to_store = asyncio.run(measure(args, broker.bootstrap, Path(tmp)))
    push_median, poll_median = statistics.median(pushed), statistics.median(polled)
    print(f"push to pages topic ({len(pushed)} pushes): median {push_median:.3f} s, p95 {p95(pushed):.3f} s")
    if to_store:
        print(f"push to stored row ({len(to_store)} pushes; extractor, story stage, sink as processes): "
              f"median {statistics.median(to_store):.3f} s, p95 {p95(to_store):.3f} s")
    print(f"poll now to pages topic ({len(polled)} polls): median {poll_median:.3f} s, p95 {p95(polled):.3f} s")
    print(f"push median / poll-now median: {push_median / poll_median:.3f}")
    print(f"push median / expected wait of a polled feed (150 s, half the 300 s default interval): "
          f"{push_median / 150:.5f}")
    print(f"push median / safety-net poll interval (6 h): {push_median / 21_600:.2e}")


if __name__ == "__main__":
    main()
