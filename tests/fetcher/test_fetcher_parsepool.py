"""The parse processes: same results as parsing in the loop, clear errors, a dead worker is replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from services.fetcher.parse import FeedParseError, ParsePool, parse_feed


def rss(n: int) -> bytes:
    items = "".join(f"<item><title>Story {n}.{i}</title><link>/s/{n}/{i}</link><guid>g{n}.{i}</guid></item>"
                    for i in range(5))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{n}</title>{items}</channel></rss>'.encode()


def test_workers_parse_like_the_loop_and_report_bad_feeds_clearly() -> None:
    async def run() -> None:
        pool = ParsePool(2)
        try:
            bodies = [(rss(n), f"http://example.com/feed/{n}") for n in range(12)]
            results = await asyncio.gather(*(pool.parse(b, u, "application/rss+xml") for b, u in bodies))
            assert len(pool._pool) == 2 and all(w.process.poll() is None for w in pool._pool)
            for (body, url), parsed in zip(bodies, results, strict=True):
                assert parsed == parse_feed(body, url, "application/rss+xml")
            assert results[3].entries[0].link == "http://example.com/s/3/0"  # relative link resolved
            with pytest.raises(FeedParseError, match="not a feed"):
                await pool.parse(b"<html><body>hello</body></html>", "http://example.com/", "text/html")
            big = rss(99).replace(b"</channel>", b"<description>" + b"x" * 3_000_000 + b"</description></channel>")
            assert len((await pool.parse(big, "http://example.com/big", None)).entries) == 5
        finally:
            pool.close()
        assert not pool._pool

    asyncio.run(run())


def test_a_dead_worker_fails_its_jobs_clearly_and_is_replaced() -> None:
    async def run() -> None:
        pool = ParsePool(2)
        try:
            await asyncio.gather(*(pool.parse(rss(n), "http://example.com/f", None) for n in range(2)))
            victim = pool._pool[0]
            assert victim.process.pid is not None
            slow = rss(7).replace(b"</channel>", b"<item><title>t</title><link>/x</link></item>" * 20_000 + b"</channel>")
            pending = victim.submit(slow, "http://example.com/f", None)  # seconds of parsing: killed before
            os.kill(victim.process.pid, signal.SIGKILL)
            with pytest.raises(FeedParseError, match="parser process died"):
                await asyncio.wait_for(pending, 10)
            parsed = await asyncio.gather(*(pool.parse(rss(n), "http://example.com/f", None) for n in range(4)))
            assert [p.title for p in parsed] == ["F0", "F1", "F2", "F3"]
            assert victim not in pool._pool and len(pool._pool) == 2
        finally:
            pool.close()

    asyncio.run(run())


def test_a_parse_past_its_time_limit_is_stopped_and_the_pool_goes_on() -> None:
    """A document that takes the parser too long fails its feed with a clear error; the worker is replaced."""
    async def run() -> None:
        pool = ParsePool(2, max_entries=1_000_000, timeout=0.3)
        try:
            slow = rss(7).replace(b"</channel>", b"<item><title>t</title><link>/x</link></item>" * 40_000
                                  + b"</channel>")
            with pytest.raises(FeedParseError, match="NEWSFLOW_PARSE_TIMEOUT_SECONDS"):
                await pool.parse(slow, "http://example.com/slow", None)
            parsed = await asyncio.gather(*(pool.parse(rss(n), "http://example.com/f", None) for n in range(4)))
            assert [p.title for p in parsed] == ["F0", "F1", "F2", "F3"]
        finally:
            pool.close()

    asyncio.run(run())


def test_the_pool_reads_only_the_first_max_entries() -> None:
    async def run() -> None:
        pool = ParsePool(2, max_entries=10)
        try:
            big = rss(1).replace(b"</channel>", b"".join(
                b"<item><title>t</title><link>/x%d</link></item>" % i for i in range(5000)) + b"</channel>")
            parsed = await pool.parse(big, "http://example.com/big", None)
            assert len(parsed.entries) == 10 and parsed.cut > 4990
        finally:
            pool.close()

    asyncio.run(run())


def _imports(module: str) -> set[str]:
    """The top-level project and library packages a fresh interpreter holds after importing ``module``."""
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_parse_processes_and_the_fetcher_entry_import_no_other_stage() -> None:
    """A parse process imports the parsers, not the CLI, extractor or sink; the fetcher's entry not
    trafilatura either (nor its language model's numpy): memory, issue 20."""
    heavy = ("services.cli", "services.extractor", "services.sink", "services.stories", "trafilatura")
    worker = _imports("services.fetcher.parseworker")
    assert "feedparser" in worker and "services.fetcher.fastparse" in worker
    assert not [m for m in worker if m.startswith(heavy)]
    assert not [m for m in worker if m.startswith(("kafka", "aiohttp", "services.fetcher.service"))]
    entry = _imports("services.fetcher.main")  # what `newsflow fetcher` (services/cli/fetcher.py) imports
    assert not [m for m in entry if m.startswith((*heavy, "numpy", "py3langid", "htmldate", "justext"))]
