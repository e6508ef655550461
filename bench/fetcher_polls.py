"""Fetcher polling benchmark: how many feeds per second, against what baseline, in how much memory.

A synthetic feed server runs in another process and waits ``--latency`` (50 ms)
before every response, like an internet round trip. Measured in the same run:

(a) polls/s when every feed answers 304 (``--feeds-304`` feeds, all scheduled at once)
(b) polls/s with full 200 responses of 20-item feeds (fetch, parse, classify, state)
(c) baseline: a naive sequential loop of ``feedparser.parse(url)`` over the same server
(d) the parse limit: ``feedparser.parse`` of the same bytes in memory, per second, x cores
(d') the same, with the feed URL as base (``response_headers``), which is the call the fetcher
     makes (and (c) makes, fetching by URL): relative URIs are then resolved, ~25 % more work
(e) the parse limits measured in parallel, one process per core for ``--limit-seconds`` at
    once (not per core x cores: the machine is shared): feedparser's (as (d')), and the fetcher's
    own parse, ``parse_feed`` (the lxml fast path of services.fetcher.fastparse, then the
    entries), and ``parse_feed(fast=False)`` (feedparser, then the entries: the parse before the
    fast path). (b) is compared with each.

(a) and (b) run the real ``Fetcher.run`` loop (``once``) with its scheduler,
HTTP client, parse pool and SQLite state; only publishing is replaced by a
counter (no page fetches, no Kafka): the issue's (b) is polls per second with
full 200 responses, so a poll here is fetch + parse + classify + state, and
the 20 pages per feed are not fetched (that is the extractor's input, not
polling; page fetches go through the same HTTP client and host gate).

    .venv/bin/python bench/fetcher_polls.py                  # ~1-2 minutes
    .venv/bin/python bench/fetcher_polls.py --feeds-304 50000 --feeds-200 10000
    .venv/bin/python bench/fetcher_polls.py --profile --feeds-200 1000   # (b) under cProfile, by part
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing
import os
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import feedparser

from services.common.health import Health
from services.fetcher import metrics
from services.fetcher.parse import parse_feed
from services.fetcher.poller import Candidate
from services.fetcher.service import Fetcher
from services.fetcher.settings import FetcherSettings

ITEMS = 20


def feed_body(n: str) -> bytes:
    items = "".join(
        f"<item><title>Feed {n} story {i}: something happened somewhere today</title>"
        f"<link>http://news{n}.example/story/{i}</link><guid isPermaLink=\"false\">{n}-{i}</guid>"
        f"<description>Summary of story {i} of feed {n}, a sentence or two of text as feeds have. "
        f"Lorem ipsum dolor sit amet, consectetur adipiscing elit.</description>"
        f"<pubDate>Mon, 06 Jan 2025 {i % 24:02d}:00:00 GMT</pubDate><category>news</category></item>"
        for i in range(ITEMS))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {n}</title>'
            f"<link>http://news{n}.example/</link><description>Synthetic feed</description>{items}"
            "</channel></rss>").encode()


# --- the server (another process) ---------------------------------------------------------------

def serve(port_queue: Any, latency: float) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                await asyncio.sleep(latency)
                if headers.get("if-none-match") == '"v1"':
                    writer.write(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n')
                else:
                    body = feed_body(path.rsplit("/", 1)[-1])
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: \"v1\"\r\n"
                                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
        port_queue.put(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# --- the measurements -------------------------------------------------------------------------

class NullProducer:
    def flush(self, timeout: float | None = None) -> None:
        pass


def run_fetcher(urls: list[str], etag: str | None, concurrency: int, workers: int
                ) -> tuple[float, dict[str, int], int, float, float]:
    """One ``once`` pass of the real fetcher loop over ``urls``.

    Returns (seconds, poll outcomes, entries, peak RSS of the parse processes in MB, summed, CPU seconds
    of this process during the pass: the fetcher's main process, its event loop and threads).
    """
    with tempfile.TemporaryDirectory() as tmp:
        feeds_file = Path(tmp) / "feeds.txt"
        feeds_file.write_text("\n".join(urls) + "\n")
        settings = FetcherSettings(
            data_dir=Path(tmp), feeds_file=feeds_file, once=True, allow_private_networks=True,
            concurrency=concurrency, per_host_concurrency=concurrency, per_host_min_delay_seconds=0,
            parse_workers=workers, log_level="WARNING",
        )
        published = 0
        workers_mb = 0.0
        cpu = 0.0
        outcomes: dict[str, int] = {}

        async def count(cands: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
            nonlocal published
            published += len(cands)
            return cands, []

        async def main() -> float:
            nonlocal cpu
            fetcher = Fetcher(settings, NullProducer(), Health())  # KafkaProducer is untyped: any producer passes
            fetcher.poller.publish = count
            fetcher.state.sync_feeds(urls)
            if etag:
                fetcher.state.db.execute("UPDATE feeds SET etag = ?", (etag,))
            if workers != 1:  # start the parse processes before the clock: process start-up is not polling
                await asyncio.gather(*(fetcher.parser.parse(feed_body("warm"), "http://warm.example/", None)
                                       for _ in range(fetcher.parser.workers)))
            close_pool = fetcher.parser.close

            def close_and_measure() -> None:  # the parse processes' peak memory, read before they stop
                nonlocal workers_mb
                workers_mb = sum(_peak_mb_of(w.process.pid) for w in fetcher.parser._pool)
                close_pool()

            fetcher.parser.close = close_and_measure  # type: ignore[method-assign]
            before = {k: _polls(k) for k in ("new", "not_modified", "error")}
            started, cpu0 = time.perf_counter(), time.process_time()
            await fetcher.run()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
            outcomes.update({k: int(_polls(k) - v) for k, v in before.items()})
            return elapsed

        elapsed = asyncio.run(main())
        return elapsed, outcomes, published, workers_mb, cpu


def steady(base: str, feeds: int, active: int, seconds: float, workers: int) -> tuple[float, float]:
    """``feeds`` in the table, ``active`` of them due every second (304), the rest not due for a day.

    Runs the real loop (not ``once``) for ``seconds`` after a warm-up second; returns (polls/s, CPU ms of
    this process per poll): the main process' work per wake-up should not grow with the table.
    """
    urls = [f"{base}/s/{i}" for i in range(feeds)]
    with tempfile.TemporaryDirectory() as tmp:
        feeds_file = Path(tmp) / "feeds.txt"
        feeds_file.write_text("\n".join(urls) + "\n")
        settings = FetcherSettings(
            data_dir=Path(tmp), feeds_file=feeds_file, allow_private_networks=True, concurrency=256,
            per_host_concurrency=256, per_host_min_delay_seconds=0, parse_workers=workers, log_level="WARNING",
            poll_interval_seconds=1, min_poll_interval_seconds=1, max_poll_interval_seconds=172_800,
        )

        async def main() -> tuple[float, float]:
            fetcher = Fetcher(settings, NullProducer(), Health())  # KafkaProducer is untyped: any producer passes
            fetcher.state.sync_feeds(urls)
            fetcher.state.db.execute("UPDATE feeds SET etag = ?", ('"v1"',))
            fetcher.state.db.execute("UPDATE feeds SET next_poll_at = ?", (time.time() + 86_400,))
            fetcher.state.db.executemany("UPDATE feeds SET next_poll_at = 0 WHERE url = ?", [(u,) for u in urls[:active]])
            task = asyncio.create_task(fetcher.run())
            await asyncio.sleep(0.1)  # past the start-up clamp of every schedule to the max interval, then
            object.__setattr__(settings, "max_poll_interval_seconds", 1.0)  # the due ones poll every second
            await asyncio.sleep(2.0)
            polls0, cpu0, t0 = sum(_polls(k) for k in ("new", "not_modified", "error")), time.process_time(), \
                time.perf_counter()
            await asyncio.sleep(seconds)
            polls = sum(_polls(k) for k in ("new", "not_modified", "error")) - polls0
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
            (touched,) = fetcher.state.db.execute("SELECT COUNT(*) FROM feeds WHERE last_polled_at IS NOT NULL").fetchone()
            print(f"  feeds polled at least once: {touched}", flush=True)
            fetcher.stopping.set()
            try:
                await asyncio.wait_for(task, 30)
            except (asyncio.CancelledError, Exception):
                pass
            return polls / wall, cpu / max(polls, 1) * 1000

        return asyncio.run(main())


def _peak_mb_of(pid: int | None) -> float:
    """VmHWM (peak resident set) of a process, in MB; 0 where /proc cannot tell."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _polls(outcome: str) -> float:
    value = metrics.POLLS.labels(outcome)._value.get()
    return float(value)


def naive_sequential(urls: list[str]) -> float:
    started = time.perf_counter()
    for url in urls:
        parsed = feedparser.parse(url)
        assert len(parsed.entries) == ITEMS, (url, parsed.get("bozo_exception"))
    return len(urls) / (time.perf_counter() - started)


def parse_limit(iterations: int, base: str | None = None) -> tuple[float, int]:
    """Parses per second on one core; with ``base``, as the fetcher calls it (the feed URL as base)."""
    body = feed_body("1234")
    headers = {"content-location": base, "content-type": "application/rss+xml"} if base else None
    feedparser.parse(body, response_headers=headers)
    started = time.perf_counter()
    for _ in range(iterations):
        feedparser.parse(body, response_headers=headers)
    per_core = iterations / (time.perf_counter() - started)
    return per_core, os.cpu_count() or 1


PARSERS = ("feedparser", "parse_feed", "parse_feed(fast=False)")


def _parse_for(kind: str, base: str, start_at: float, seconds: float, out: Any) -> None:
    """One process of :func:`parallel_limit`: parses of the 20-item feed per second, from ``start_at``."""
    body = feed_body("1234")
    headers = {"content-location": base, "content-type": "application/rss+xml"}
    calls: dict[str, Callable[[], object]] = {
        "feedparser": lambda: feedparser.parse(body, response_headers=headers),
        "parse_feed": lambda: parse_feed(body, base, "application/rss+xml"),
        "parse_feed(fast=False)": lambda: parse_feed(body, base, "application/rss+xml", fast=False),
    }
    call = calls[kind]
    assert len(parse_feed(body, base, "application/rss+xml").entries) == ITEMS
    call()
    time.sleep(max(0.0, start_at - time.time()))
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        call()
        done += 1
    out.put(done / (time.perf_counter() - started))


def parallel_limit(kind: str, base: str, seconds: float, processes: int) -> float:
    """Parses per second of ``processes`` processes parsing at the same time (the parse limit, in parallel)."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3.0  # every process has imported its modules by then
    procs = [ctx.Process(target=_parse_for, args=(kind, base, start_at, seconds, out)) for _ in range(processes)]
    for proc in procs:
        proc.start()
    rates = [out.get(timeout=seconds + 60) for _ in procs]
    for proc in procs:
        proc.join()
    return float(sum(rates))


def profile_b(base: str, feeds: int, concurrency: int, workers: int) -> None:
    """(b) under cProfile: the main process's CPU per poll, in total and by part."""
    prof = cProfile.Profile()
    urls = [f"{base}/p/{i}" for i in range(feeds)]
    prof.enable()
    secs, outcomes, _, _, cpu = run_fetcher(urls, None, concurrency, workers)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]  # {(file, line, name): (cc, nc, tt, ct, callers)}

    def tottime(match: Callable[[str, str], bool]) -> float:
        return sum(v[2] for k, v in stats.items() if match(k[0], k[2]))

    def cumtime(name: str) -> float:
        return max((v[3] for k, v in stats.items() if k[2] == name and k[0].endswith("urls.py")), default=0.0)

    per = 1000 / feeds
    print(f"(b) under cProfile: {feeds} feeds x {ITEMS} items in {secs:.1f}s, {outcomes}; main process "
          f"{cpu * per:.2f} ms CPU per poll", flush=True)
    print(f"  SQLite (sqlite3 calls)            {tottime(lambda f, n: 'sqlite3' in n) * per:6.2f} ms per poll")
    print(f"  article ids (article_id_of_normalised) {cumtime('article_id_of_normalised') * per:6.2f} ms per poll "
          f"(of which article_id, normalising again: {cumtime('article_id') * per:.2f})")
    print(f"  unpickling the parse results      {tottime(lambda f, n: 'pickle' in n and 'loads' in n) * per:6.2f} ms "
          "per poll")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds-304", type=int, default=10_000, help="feeds scheduled for (a) (default 10000)")
    ap.add_argument("--feeds-200", type=int, default=2_000, help="feeds for (b)")
    ap.add_argument("--naive", type=int, default=60, help="feeds for the sequential baseline (c)")
    ap.add_argument("--parses", type=int, default=300, help="in-memory parses for (d)")
    ap.add_argument("--latency", type=float, default=0.05, help="server delay per response, seconds")
    ap.add_argument("--concurrency", type=int, default=256, help="feeds in flight (NEWSFLOW_CONCURRENCY)")
    ap.add_argument("--workers", type=int, default=0, help="parse processes (0: one per core)")
    ap.add_argument("--steady", type=int, nargs="*", default=None, metavar="FEEDS",
                    help="only the steady-state mode: main-process CPU per poll with FEEDS feeds in the table "
                         "(e.g. 1000 10000 100000), --active of them polled every second")
    ap.add_argument("--active", type=int, default=50, help="feeds due every second in --steady")
    ap.add_argument("--seconds", type=float, default=10, help="measured seconds per --steady size")
    ap.add_argument("--profile", action="store_true",
                    help="only (b) under cProfile: the main process's CPU per poll by part (SQLite, article ids, "
                         "unpickling the parse results); cProfile inflates them, (b) without it prints the total")
    ap.add_argument("--limit-seconds", type=float, default=5, help="measured seconds per parallel parse limit (e)")
    args = ap.parse_args()

    ctx = multiprocessing.get_context("spawn")
    ports = ctx.Queue()
    server = ctx.Process(target=serve, args=(ports, args.latency), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ports.get(timeout=30)}"
    try:
        print(f"server: {base}, {args.latency * 1000:.0f} ms per response; {os.cpu_count()} cores; "
              f"concurrency {args.concurrency}", flush=True)
        if args.steady:
            figures = {}
            for n in args.steady:
                rate, ms = steady(base, n, args.active, args.seconds, args.workers)
                figures[n] = ms
                print(f"steady, {n:>7} feeds ({args.active} due every second): {rate:6.1f} polls/s, "
                      f"{ms:.2f} ms CPU of the main process per poll", flush=True)
            lo, hi = figures[min(figures)], figures[max(figures)]
            print(f"{max(figures)} / {min(figures)} feeds: {hi / lo:.2f}x per poll (target <= 1.5x)")
            return

        if args.profile:
            profile_b(base, args.feeds_200, args.concurrency, args.workers)
            return

        secs, outcomes, _, workers_a, _ = run_fetcher([f"{base}/a/{i}" for i in range(args.feeds_304)], '"v1"',
                                        args.concurrency, args.workers)
        a = args.feeds_304 / secs
        mem_a = peak_mb()
        print(f"(a) 304 polls:      {a:8.0f} polls/s  ({args.feeds_304} feeds in {secs:.1f}s, {outcomes}); "
              f"peak RSS {mem_a:.0f} MB (+ parse processes {workers_a:.0f} MB)", flush=True)

        secs, outcomes, published, workers_b, cpu_b = run_fetcher([f"{base}/b/{i}" for i in range(args.feeds_200)], None,
                                                args.concurrency, args.workers)
        b = args.feeds_200 / secs
        print(f"(b) 200 polls:      {b:8.0f} polls/s  ({args.feeds_200} feeds x {ITEMS} items in {secs:.1f}s, "
              f"{outcomes}, {published} entries new); parse processes peak {workers_b:.0f} MB; "
              f"main process {cpu_b / args.feeds_200 * 1000:.2f} ms CPU per poll", flush=True)

        c = naive_sequential([f"{base}/c/{i}" for i in range(args.naive)])
        print(f"(c) naive baseline: {c:8.1f} polls/s  (sequential feedparser.parse(url), {args.naive} feeds)",
              flush=True)

        per_core, cores = parse_limit(args.parses)
        d = per_core * cores
        print(f"(d) parse limit:    {d:8.0f} parses/s ({per_core:.0f}/s per core x {cores} cores)", flush=True)
        per_core, cores = parse_limit(args.parses, f"{base}/b/1234")
        d_base = per_core * cores
        print(f"(d') with URL base: {d_base:8.0f} parses/s ({per_core:.0f}/s per core x {cores} cores; "
              "the fetcher's call)", flush=True)
        print(f"(d')/(d): {d_base / d:.2f}  (resolving relative URIs against the feed URL: "
              f"{(d / d_base - 1) * 100:+.0f} % time per parse)", flush=True)
        processes = args.workers or cores
        limits = {kind: parallel_limit(kind, f"{base}/b/1234", args.limit_seconds, processes) for kind in PARSERS}
        for kind, rate in limits.items():
            print(f"(e) {kind:<23} {rate:8.0f} parses/s ({processes} processes in parallel)", flush=True)
    finally:
        server.kill()

    print()
    print(f"(a) 304 polls/s          {a:8.0f}   target >= 1000   {'ok' if a >= 1000 else 'BELOW'}")
    print(f"(b)/(d) parse-bound      {b / d:8.2f}   target >= 0.8    {'ok' if b / d >= 0.8 else 'BELOW'}")
    print(f"(b)/(d') parse-bound     {b / d_base:8.2f}   (the parse the fetcher must do: feed URL as base)")
    e_fp, e_fast, e_slow = (limits[kind] for kind in PARSERS)
    print(f"(b)/(e) feedparser       {b / e_fp:8.2f}   target >= 0.8    {'ok' if b / e_fp >= 0.8 else 'BELOW'}   "
          "(feedparser's limit, in parallel)")
    print(f"(b)/(e) parse_feed       {b / e_fast:8.2f}   (the fetcher's own parse with the fast path, in parallel: "
          f"{e_fast / e_slow:.1f}x parse_feed(fast=False))")
    print(f"(b)/(c) vs naive         {b / c:8.1f}   target >= 20     {'ok' if b / c >= 20 else 'BELOW'}")
    print(f"(a)/(c) 304 vs naive     {a / c:8.1f}")
    total_a = mem_a + workers_a
    print(f"peak RSS, {args.feeds_304} feeds scheduled   {total_a:6.0f} MB   target < 200 MB   "
          f"{'ok' if total_a < 200 else 'ABOVE'}   (fetcher {mem_a:.0f} + parse processes {workers_a:.0f})")


if __name__ == "__main__":
    main()
