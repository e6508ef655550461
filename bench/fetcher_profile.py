"""Fetcher figures that are not polls per second (docs/fetcher.md): each section prints one group of them.

``--imports``: fresh interpreters that import only some of the fetcher's modules; each prints its
max RSS and the wall time of the imports: a parse process's modules (``services.fetcher.parse``,
``services.fetcher.parseworker``), the fetcher's (``services.fetcher.main``), and the same with
``trafilatura.utils`` added (what ``services.common.decoding`` imported for ``detect_encoding``
before it asked charset_normalizer itself), plus what ``trafilatura.utils`` adds on top.

``--ids``: the article-id step per 20 links, ``article_id`` (normalise again, then hash; the step
before ``article_id_of_normalised``) against ``article_id_of_normalised``, on the links of
bench/fetcher_polls.py's feed and of every shared feed (``../shared/data/feeds``), as parsed.

``--feeds``: per shared XML feed, ``parse_feed`` with and without the lxml fast path (whether it
took it), and the share of feedparser's parse that its HTML sanitizer costs (``feedparser.parse``
with ``sanitize_html`` True against False: an upper bound of what another sanitizer could save).

``--big-feed N``: in a fresh process, ``parse_feed`` of the hostile corpus' feed of N tiny items
(tests/hostile/corpus.huge_feed; cut at ``NEWSFLOW_MAX_FEED_ENTRIES``): seconds and the growth of
peak RSS. ``--uncut M``: the same for ``feedparser.parse`` of M items, uncut (the parse before the cut).

``--http N``: CPU per request of N GETs at ``--concurrency`` to the local 50 ms server of
bench/fetcher_polls.py, with aiohttp (the fetcher's client) and httpx (the one before, when it is
installed), and the calls of httpcore's ``is_idle`` (the pool scan per queued request).

    .venv/bin/python bench/fetcher_profile.py --imports --ids --feeds     # ~1 minute
    .venv/bin/python bench/fetcher_profile.py --big-feed 200000 --uncut 10000
    .venv/bin/python bench/fetcher_profile.py --http 300
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import multiprocessing
import pstats
import queue
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

FEEDS_DIR = REPO_ROOT.parent / "shared" / "data" / "feeds"
BASE = "http://news1234.example/feed"

IMPORT_SETS: list[tuple[str, str, str]] = [  # (label, modules imported first, modules timed)
    ("python alone", "", ""),
    ("services.fetcher.parse (a parse process's modules)", "", "services.fetcher.parse"),
    ("services.fetcher.parseworker (a parse process)", "", "services.fetcher.parseworker"),
    ("services.fetcher.main (the fetcher)", "", "services.fetcher.main"),
    ("services.fetcher.main + trafilatura.utils (decoding before)", "", "services.fetcher.main trafilatura.utils"),
    ("trafilatura.utils after services.fetcher.main", "services.fetcher.main", "trafilatura.utils"),
]

_IMPORT_SCRIPT = """
import importlib, resource, sys, time
sys.path.insert(0, {root!r})
for m in {first!r}.split():
    importlib.import_module(m)
t = time.perf_counter()
for m in {timed!r}.split():
    importlib.import_module(m)
print((time.perf_counter() - t) * 1000, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def imports(runs: int) -> None:
    print(f"imports, fresh interpreters ({runs} runs each): max RSS, import time of the timed modules")
    for label, first, timed in IMPORT_SETS:
        ms, mb = [], []
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", _IMPORT_SCRIPT.format(root=str(REPO_ROOT), first=first,
                                                                              timed=timed)],
                                 check=True, capture_output=True, text=True, cwd=REPO_ROOT).stdout.split()
            ms.append(float(out[0]))
            mb.append(float(out[1]))
        print(f"  {label:<62} max RSS {min(mb):5.1f}-{max(mb):5.1f} MB   imports {min(ms):6.0f}-{max(ms):6.0f} ms",
              flush=True)


def _per_call_ms(call: Callable[[], object], repeat: int = 5, min_seconds: float = 0.2) -> float:
    """Best of ``repeat`` timings of ``call``, in ms per call."""
    call()
    best = float("inf")
    for _ in range(repeat):
        n, started = 0, time.perf_counter()
        while True:
            call()
            n += 1
            elapsed = time.perf_counter() - started
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / n)
    return best * 1000


def _shared_feeds() -> list[tuple[str, bytes, str | None]]:
    types = {".json": "application/json", ".atom": "application/atom+xml", ".rdf": "application/rdf+xml"}
    return [(p.name, p.read_bytes(), types.get(p.suffix, "application/rss+xml"))
            for p in sorted(FEEDS_DIR.iterdir()) if p.is_file() and p.name != "LICENSES"]


def ids() -> None:
    from bench.fetcher_polls import feed_body
    from services.common.urls import article_id, article_id_of_normalised
    from services.fetcher.parse import FeedParseError, parse_feed

    bench_links = [e.link for e in parse_feed(feed_body("1234"), BASE, "application/rss+xml").entries]
    shared_links: list[str] = []
    for name, body, ctype in _shared_feeds():
        try:
            shared_links += [e.link for e in parse_feed(body, f"http://feeds.example/{name}", ctype).entries]
        except FeedParseError:
            pass
    print("article ids, ms per 20 links (best of 5): article_id (normalise again) -> article_id_of_normalised")
    for label, links in (("bench/fetcher_polls.py's feed", bench_links), ("the shared feeds", shared_links)):
        assert [article_id(u) for u in links] == [article_id_of_normalised(u) for u in links]
        per = 20 / len(links)
        slow = _per_call_ms(lambda links=links: [article_id(u) for u in links]) * per
        fast = _per_call_ms(lambda links=links: [article_id_of_normalised(u) for u in links]) * per
        print(f"  {label:<32} {len(links):4} links: {slow:.3f} -> {fast:.3f} ms", flush=True)


def feeds() -> None:
    import feedparser

    from services.fetcher.fastparse import fast_parse
    from services.fetcher.parse import FeedParseError, parse_feed

    print("shared XML feeds, ms per parse (best of 5): parse_feed, parse_feed(fast=False), "
          "the share of feedparser's HTML handling (sanitize_html and resolve_relative_uris on vs off)")
    fast_count = total = 0
    for name, body, ctype in _shared_feeds():
        if ctype == "application/json" or body.lstrip()[:1] in (b"{", b"["):
            continue
        url = f"http://feeds.example/{name}"
        try:
            parse_feed(body, url, ctype)
        except FeedParseError:
            continue
        total += 1
        took_fast = bool(fast_parse(body, url, ctype))
        fast_count += took_fast
        print(f"  {name[:58]:<58} {'fast ' if took_fast else 'feedp'} {_feed_times(feedparser, body, url, ctype)}",
              flush=True)
    print(f"  {fast_count} of {total} XML feeds take the fast path")


def _feed_times(feedparser: Any, body: bytes, url: str, ctype: str | None) -> str:
    from services.fetcher.parse import parse_feed

    with_fast = _per_call_ms(lambda: parse_feed(body, url, ctype), repeat=3, min_seconds=0.1)
    slow = _per_call_ms(lambda: parse_feed(body, url, ctype, fast=False), repeat=3, min_seconds=0.1)
    headers = {"content-location": url, "content-type": ctype or ""}
    sanitized = _per_call_ms(lambda: feedparser.parse(body, response_headers=headers, sanitize_html=True),
                             repeat=3, min_seconds=0.1)
    bare = _per_call_ms(lambda: feedparser.parse(body, response_headers=headers, sanitize_html=False,
                                                 resolve_relative_uris=False),
                        repeat=3, min_seconds=0.1)
    share = (sanitized - bare) / sanitized * 100
    return (f"{with_fast:7.2f} {slow:7.2f} ms   HTML handling {sanitized - bare:6.2f} of {sanitized:6.2f} ms "
            f"({share:3.0f} %)")


def _big(items: int, uncut: bool, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import feedparser

    sys.path.insert(0, str(REPO_ROOT / "tests"))  # the hostile corpus imports its siblings as ``hostile``
    from hostile.corpus import huge_feed

    from services.fetcher.parse import parse_feed

    def status_mb(field: str) -> float:
        line = next(ln for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith(field))
        return int(line.split()[1]) / 1024

    parse_feed(huge_feed(10, padding=False), BASE, "application/rss+xml")  # the imports' and first call's memory
    body = huge_feed(items, padding=False)  # held, as a parse process holds the document it was sent
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS := RSS now (building the document is not parsing)
    before = status_mb("VmRSS:")
    started = time.perf_counter()
    if uncut:
        n = len(feedparser.parse(body, response_headers={"content-location": BASE}, sanitize_html=True).entries)
    else:
        n = len(parse_feed(body, BASE, "application/rss+xml").entries)
    out.put((n, time.perf_counter() - started, status_mb("VmHWM:") - before))


def big_feed(items: int, uncut: bool) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_big, args=(items, uncut, out))
    proc.start()
    while True:
        try:
            n, secs, grown = out.get(timeout=5)
            break
        except queue.Empty:
            if not proc.is_alive():
                raise SystemExit(f"the parse process ended with {proc.exitcode}") from None
    proc.join()
    what = "feedparser.parse, uncut" if uncut else "parse_feed (cut)"
    print(f"big feed, {items} tiny items, {what}: {n} entries in {secs:.2f} s, peak RSS +{grown:.0f} MB "
          "over the process holding the document", flush=True)


async def _aiohttp_gets(url: str, n: int, concurrency: int) -> None:
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def one(i: int) -> None:
            async with sem, session.get(f"{url}/{i}") as resp:
                await resp.read()
        await asyncio.gather(*(one(i) for i in range(n)))


async def _httpx_gets(url: str, n: int, concurrency: int) -> None:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:
        async def one(i: int) -> None:
            (await client.get(f"{url}/{i}")).raise_for_status()
        await asyncio.gather(*(one(i) for i in range(n)))


def http(n: int, concurrency: int) -> None:
    from bench.fetcher_polls import serve

    ctx = multiprocessing.get_context("spawn")
    ports = ctx.Queue()
    server = ctx.Process(target=serve, args=(ports, 0.05), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=30)}/h"
    clients: dict[str, Callable[[str, int, int], object]] = {"aiohttp": _aiohttp_gets}
    try:
        import httpx  # noqa: F401 - only to know whether it is installed

        clients["httpx"] = _httpx_gets
    except ImportError:
        print("  httpx is not installed: aiohttp only")
    try:
        print(f"HTTP clients, {n} GETs at concurrency {concurrency} (50 ms server); CPU of this process")
        for name, gets in clients.items():
            asyncio.run(gets(url, 20, concurrency))  # warm-up: imports, first connections
            cpu0, t0 = time.process_time(), time.perf_counter()
            asyncio.run(gets(url, n, concurrency))  # type: ignore[arg-type]
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
            prof = cProfile.Profile()
            prof.runcall(asyncio.run, gets(url, n, concurrency))
            stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
            idle = sum(v[1] for k, v in stats.items() if k[2] == "is_idle")
            print(f"  {name:<8} {cpu / n * 1000:.2f} ms CPU per request ({wall:.1f} s wall); "
                  f"is_idle calls (under cProfile): {idle}", flush=True)
    finally:
        server.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--imports", action="store_true", help="max RSS and import time of the fetcher's module sets")
    ap.add_argument("--runs", type=int, default=2, help="--imports: runs per module set")
    ap.add_argument("--ids", action="store_true", help="article_id vs article_id_of_normalised per 20 links")
    ap.add_argument("--feeds", action="store_true", help="per shared feed: fast path, parse times, sanitizer share")
    ap.add_argument("--big-feed", type=int, default=0, metavar="N", help="parse_feed of N tiny items: time, memory")
    ap.add_argument("--uncut", type=int, default=0, metavar="M", help="feedparser.parse of M tiny items, uncut")
    ap.add_argument("--http", type=int, default=0, metavar="N", help="CPU per request of N GETs, aiohttp and httpx")
    ap.add_argument("--concurrency", type=int, default=256, help="--http: requests in flight")
    args = ap.parse_args()
    if args.imports:
        imports(args.runs)
    if args.ids:
        ids()
    if args.feeds:
        feeds()
    if args.big_feed:
        big_feed(args.big_feed, uncut=False)
    if args.uncut:
        big_feed(args.uncut, uncut=True)
    if args.http:
        http(args.http, args.concurrency)


if __name__ == "__main__":
    main()
