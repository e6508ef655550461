"""The hostile corpus (tests/hostile/corpus.py) against the real HTTP client, parser, extractor
and, end to end, a real ``newsflow up`` with the SSRF guard ON.

The guard allows exactly the test server's address: the server listens on 127.0.0.2 (Linux
routes all of 127/8 to loopback) and ``NEWSFLOW_ALLOWED_NETWORKS=127.0.0.2/32``, so a redirect
to 127.0.0.1, the name ``localhost`` (which /etc/hosts resolves to 127.0.0.1/::1) and
169.254.169.254 are refused as they would be in production. The allow-list is by address, not
address and port: a CIDR or host name is the guard's unit.

A public name that resolves to a private address cannot come from DNS here (no network), so
:func:`test_public_name_resolving_to_a_private_address_is_refused` patches
``socket.getaddrinfo`` in-process, the call the guard's resolver makes, to answer 10.1.2.3 for
``intranet.example.com``: the guard must refuse before any connection is tried.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile.corpus import (
    BILLION_LAUGHS,
    INVALID_UTF8_FEED,
    NOT_A_JSON_FEED,
    WRONG_SHAPE_JSON,
    HostileSite,
    deep_html,
    huge_feed,
)
from hostile.pipeline import UpRun, ids_of, metric_value
from hostile.sites import wait_until
from prometheus_client import REGISTRY

from services.common.settings import CommonSettings
from services.fetcher.http import FetchError, HttpClient
from services.fetcher.parse import FeedParseError, parse_feed
from services.fetcher.settings import FetcherSettings
from services.up import dead_lettered_ids

pytestmark = [pytest.mark.integration]
HOST = "127.0.0.2"


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileSite]:
    with HostileSite(host=HOST) as site:
        yield site  # type: ignore[misc]


def guarded_settings(**extra: Any) -> FetcherSettings:
    return FetcherSettings(allowed_networks=f"{HOST}/32", http_total_timeout_seconds=4,
                           per_host_min_delay_seconds=0, **extra)


def refusals(reason: str) -> float:
    return REGISTRY.get_sample_value("newsflow_fetch_refusals_total", {"reason": reason}) or 0.0


def fetch(url: str, settings: FetcherSettings | None = None, max_bytes: int = 3 * 1024 * 1024) -> FetchError:
    """GET ``url`` with the real client; returns the refusal (fails when the fetch succeeds)."""
    async def go() -> FetchError:
        client = HttpClient(settings or guarded_settings())
        try:
            await client.get(url, kind="page", max_bytes=max_bytes)
        except FetchError as exc:
            return exc
        finally:
            await client.aclose()
        raise AssertionError(f"{url} was fetched; it should have been refused")
    return asyncio.run(go())


@pytest.mark.parametrize(("page", "reason"), [
    ("big", "size"), ("bomb", "size"), ("one-line", "size"), ("trickle", "timeout"), ("loop", "redirects"),
    ("metadata", "ssrf"), ("loopback", "ssrf"), ("localhost", "ssrf"),
])
def test_hostile_page_is_refused_with_a_reason_and_a_metric(hostile: HostileSite, page: str, reason: str) -> None:
    before = refusals(reason)
    exc = fetch(hostile.page_url(page))
    assert exc.reason == reason, str(exc)
    assert refusals(reason) == before + 1  # the refusal itself is what bounds the fetch: no clock here


def test_the_allowed_server_itself_is_fetched(hostile: HostileSite) -> None:
    async def go() -> bytes:
        client = HttpClient(guarded_settings())
        try:
            return (await client.get(hostile.page_url("ordinary"), kind="page", max_bytes=2**20)).body
        finally:
            await client.aclose()
    assert b"An ordinary page" in asyncio.run(go())


def test_public_name_resolving_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "intranet.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    exc = fetch("http://intranet.example.com/admin")
    assert exc.reason == "ssrf" and "10.1.2.3" in str(exc)


@pytest.mark.parametrize(("body", "content_type", "message"), [
    (BILLION_LAUGHS, "application/rss+xml", "declares XML entity"),
    (WRONG_SHAPE_JSON, "application/feed+json", "no 'items' list"),
    (NOT_A_JSON_FEED, "application/json", "not a JSON Feed"),
    (b"\x00\x01\x02 not xml at all \xff", "application/xml", "not a feed"),
])
def test_hostile_feed_is_refused_with_a_clear_error(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(FeedParseError, match=message):
        parse_feed(body, "http://example.com/feed", content_type)


def test_invalid_utf8_and_nul_in_a_feed_still_parse() -> None:
    """Bytes that are not UTF-8 are replaced; a NUL in a title passes the parser as text. Downstream the
    extractor strips NULs from the article text; a NUL left in a title is stored by SQLite and refused
    per row by PostgreSQL (dead-lettered with "cannot contain NUL"), see docs/reliability.md."""
    parsed = parse_feed(INVALID_UTF8_FEED, "http://example.com/feed", "application/rss+xml")
    assert [e.link for e in parsed.entries] == ["http://example.com/u8"]
    assert parsed.entries[0].title is not None and parsed.entries[0].title.startswith("Caf")


def test_feed_with_100000_small_items_parses_in_bounded_time() -> None:
    """100,000 items of ~50 bytes fit under the 10 MB feed cap. Only the first NEWSFLOW_MAX_FEED_ENTRIES
    (2,000) are read: the document is cut before the parser sees it, so a poll costs ~1-2 s, not a
    minute, and the rest is counted (``cut``). With realistic item sizes the same feed passes 10 MB
    and is refused."""
    body = huge_feed(padding=False)
    parsed = parse_feed(body, "http://example.com/feed", "application/rss+xml",
                        max_entries=FetcherSettings().max_feed_entries)
    assert len(parsed.entries) == 2000 and parsed.cut == 98_000
    assert parsed.entries[0].link == "http://example.com/s/0"  # the first entries: newest first by convention
    assert len(huge_feed()) > FetcherSettings().max_feed_bytes


def test_deeply_nested_html_is_extracted_or_fails_cleanly() -> None:
    from services.extractor.extract import extract_page

    try:
        extracted = extract_page(deep_html().decode(), url="http://example.com/deep")
    except Exception as exc:
        assert not isinstance(exc, MemoryError)
    else:
        assert isinstance(extracted.text, str)


# --- end to end -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_pipeline_survives_the_corpus(hostile: HostileSite, tmp_path: Path) -> None:
    run = UpRun(tmp_path / "data", hostile.feed_urls(), env={
        "NEWSFLOW_ALLOWED_NETWORKS": f"{HOST}/32",
        "NEWSFLOW_HTTP_TOTAL_TIMEOUT_SECONDS": "5",
        "NEWSFLOW_EXTRACT_TIMEOUT_SECONDS": "20",
    }).start()
    try:
        pids = {s: run.pid(s) for s in ("fetcher", "extractor", "sink")}
        settings = CommonSettings(kafka_bootstrap_servers=str(run.run_info()["bootstrap"]))
        reach_extractor = ids_of([hostile.page_url(p) for p in ("ordinary", "bad-utf8", "wrong-charset",
                                                                 "deep", "control")])

        def settled() -> bool:
            done = set(run.stored_ids())
            if not reach_extractor <= done:
                done |= dead_lettered_ids(settings)
            return reach_extractor <= done

        wait_until(settled, 120, "every page that passes the fetcher stored or dead-lettered", every=2)
        fetcher = run.metrics("fetcher")
        wait_until(lambda: metric_value(run.metrics("fetcher"), "newsflow_fetch_refusals_total",
                                        {"reason": "timeout"}) >= 2, 60, "both trickles timed out")
        fetcher = run.metrics("fetcher")
        counts = {r: metric_value(fetcher, "newsflow_fetch_refusals_total", {"reason": r})
                  for r in ("size", "ssrf", "redirects", "timeout")}
        assert counts["size"] >= 4, counts  # 50 MB page, gzip bomb, 10 MB line, 100,000-item feed
        assert counts["ssrf"] >= 3, counts  # 169.254.169.254, 127.0.0.1, localhost
        assert counts["redirects"] >= 1, counts
        assert metric_value(fetcher, "newsflow_feed_polls_total", {"result": "error"}) >= 5

        errors = feed_errors(run.data_dir / "fetcher.db")
        assert "declares XML entity" in errors[f"{hostile.base_url}/feed/laughs.xml"]
        assert "exceeds" in errors[f"{hostile.base_url}/feed/huge.xml"]
        assert "items" in errors[f"{hostile.base_url}/feed/wrong-shape.json"]
        assert "JSON Feed" in errors[f"{hostile.base_url}/feed/not-a-feed.json"]

        stored = set(run.stored_ids())
        assert ids_of([hostile.page_url("ordinary")]) <= stored
        processed = metric_value(run.metrics("extractor"), "newsflow_pages_processed_total")
        assert processed >= 1
        assert {s: run.pid(s) for s in pids} == pids, "a service died (and was restarted) on hostile input"
        print(f"\nrefusals {counts}; stored {len(stored)}; extractor processed {processed:.0f}")
    finally:
        run.stop()


def feed_errors(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {url: err or "" for url, err in conn.execute("SELECT url, last_error FROM feeds")}
    finally:
        conn.close()
