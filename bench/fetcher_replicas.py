"""Fetcher replicas benchmark: polls/s with 1, 2 and 4 replicas, and the cost of one lease round.

(a) Polls per second on the 304 path: ``--feeds`` feeds, all due and all answering 304 after
    ``--latency`` (50 ms) from a server in another process (the one of ``bench/fetcher_polls.py``),
    polled by 1, 2 and 4 replica processes running the real ``Fetcher`` loop (leases, shared host
    slots, state writes) against one state store; only Kafka is replaced by a null producer (a 304
    publishes nothing). Each replica has ``--concurrency`` polls in flight, so one replica is
    latency-bound, as a fetcher polling the internet is; the ratios to one replica are printed.
(b) The cost of one lease round with ``--big`` (100,000) feeds in the database: claim 32 due feeds
    (SELECT on the due index + UPDATE), ``next_due_at`` and renewing the leases held, the same with
    1,000 feeds, to show that the cost does not grow with the feeds.

    .venv/bin/python bench/fetcher_replicas.py                        # SQLite file, ~1-2 minutes
    .venv/bin/python bench/fetcher_replicas.py --state-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench.fetcher_polls import NullProducer, serve
from services.common.health import Health
from services.fetcher.pgstate import open_state
from services.fetcher.service import Fetcher
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FetcherState


def settings_for(tmp: Path, state_url: str, concurrency: int) -> FetcherSettings:
    return FetcherSettings(
        data_dir=tmp, feeds_file=tmp / "feeds.txt", allow_private_networks=True, concurrency=concurrency,
        per_host_concurrency=1024, per_host_min_delay_seconds=0, parse_workers=1, log_level="WARNING",
        fetcher_state_url=state_url, poll_interval_seconds=86_400, min_poll_interval_seconds=86_400,
        max_poll_interval_seconds=86_400,
    )


def replica(tmp: str, state_url: str, concurrency: int, ready: Any, go: Any) -> None:
    """One fetcher process: built, then waits for ``go``, then polls until SIGTERM."""
    settings = settings_for(Path(tmp), state_url, concurrency)

    async def main() -> None:
        fetcher = Fetcher(settings, NullProducer(), Health())  # type: ignore[arg-type]
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, fetcher.stopping.set)
        ready.release()
        await asyncio.to_thread(go.wait)
        await fetcher.run()

    asyncio.run(main())


def polls_per_second(base: str, n_replicas: int, args: argparse.Namespace) -> float:
    """Every feed due with ETag "v1" (the server answers 304): seconds until all are polled."""
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_schema(args.state_url)
        settings = settings_for(Path(tmp), url, args.concurrency)
        urls = [f"{base}/feed/{i}" for i in range(args.feeds)]
        settings.feeds_file.write_text("\n".join(urls) + "\n")
        state = open_state(settings)
        state.replace_feed_list(urls, time.time())
        state.db.execute("UPDATE feeds SET etag = ?", ('"v1"',))
        ctx = multiprocessing.get_context("spawn")
        ready, go = ctx.Semaphore(0), ctx.Event()
        procs = [ctx.Process(target=replica, args=(tmp, url, args.concurrency, ready, go)) for _ in range(n_replicas)]
        for p in procs:
            p.start()
        for _ in procs:
            ready.acquire()
        started = time.perf_counter()
        go.set()
        while True:
            (done,) = state.db.execute("SELECT COUNT(*) FROM feeds WHERE last_polled_at IS NOT NULL").fetchone()
            if done >= args.feeds:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        for p in procs:
            p.terminate()  # SIGTERM: the fetcher stops cleanly
        for p in procs:
            p.join(60)
        state.close()
        return args.feeds / elapsed


SCHEMAS: list[str] = []


def fresh_schema(state_url: str) -> str:
    """A new PostgreSQL schema per measurement (or "": SQLite in the temporary data directory)."""
    if not state_url:
        return ""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(state_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    SCHEMAS.append(schema)
    sep = "&" if "?" in state_url else "?"
    return f"{state_url}{sep}options=-csearch_path%3D{schema}"


def lease_round(n_feeds: int, state_url: str, rounds: int = 300) -> dict[str, float]:
    """Milliseconds per claim of 32 due feeds, per next_due_at, per renewal, with ``n_feeds`` in the table."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(Path(tmp), fresh_schema(state_url), 32)
        state: FetcherState = open_state(settings, owner="bench")
        now = time.time()
        urls = [f"https://site{i % 5000}.example/feed/{i}" for i in range(n_feeds)]
        state.replace_feed_list(urls, now)
        rng = random.Random(1)
        # feeds spread over the next day, ~8 % of them due now (a backlog: every claim finds 32)
        with state.transaction():
            state.db.executemany("UPDATE feeds SET next_poll_at = ? WHERE url = ?",
                                 [(now + rng.uniform(-7200, 86_400), u) for u in urls])
        claim, due, renew = [], [], []
        for _ in range(rounds):
            t = time.perf_counter()
            got, _ = state.claim_due(now, 32)
            claim.append(time.perf_counter() - t)
            t = time.perf_counter()
            state.next_due_at()
            due.append(time.perf_counter() - t)
            t = time.perf_counter()
            state.renew_leases(now)
            renew.append(time.perf_counter() - t)
            assert len(got) == 32
            for feed in got:  # the polls end; put them back among the due ones, so the backlog stays the same
                state.polled(feed.url, next_poll_at=now - rng.uniform(0, 7200), status=304, now=now)
        state.close()
    return {"claim": statistics.median(claim) * 1000, "next_due_at": statistics.median(due) * 1000,
            "renew": statistics.median(renew) * 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=8, help="polls in flight per replica")
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--replicas", default="1,2,4")
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--state-url", default="", help="postgresql://... (default: SQLite file in a temp dir)")
    args = ap.parse_args()
    backend = "PostgreSQL" if args.state_url else "SQLite"

    ctx = multiprocessing.get_context("spawn")
    port_queue = ctx.Queue()
    server = ctx.Process(target=serve, args=(port_queue, args.latency), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{port_queue.get(timeout=30)}"
    try:
        print(f"(a) 304 path, {args.feeds} feeds, +{args.latency * 1000:.0f} ms per answer, "
              f"{args.concurrency} polls in flight per replica, state: {backend}")
        rates: dict[int, float] = {}
        for n in (int(x) for x in args.replicas.split(",")):
            rates[n] = polls_per_second(base, n, args)
            one = rates.get(1)
            ratio = f"  ({rates[n] / one:.2f}x of 1 replica)" if one else ""
            print(f"    {n} replica(s): {rates[n]:8.0f} polls/s{ratio}", flush=True)
    finally:
        server.terminate()
    print(f"(b) one lease round (median of 300), state: {backend}")
    for n in (1_000, args.big):
        cost = lease_round(n, args.state_url)
        print(f"    {n:>7} feeds: claim 32 {cost['claim']:.3f} ms, next_due_at {cost['next_due_at']:.3f} ms, "
              f"renew {cost['renew']:.3f} ms", flush=True)
    if SCHEMAS:
        with psycopg.connect(args.state_url, autocommit=True) as conn:
            for schema in SCHEMAS:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
