"""robots.txt (RFC 9309) for page fetches: the cache's semantics against a real local server, and Crawl-delay in the gate."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client import REGISTRY
from pytest_httpserver import HTTPServer

from services.cli import main
from services.fetcher.feedstatus import describe
from services.fetcher.http import HostGate, HttpClient
from services.fetcher.pgstate import PostgresFetcherState
from services.fetcher.robots import (
    MAX_CRAWL_DELAY_SECONDS,
    ROBOTS_MAX_BYTES,
    RobotsCache,
    Verdict,
    product_token,
    site_of,
)
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FetcherState
from tests.fetcher.helpers import local_server
from tests.sink.test_store import postgres_schema

UA = "newsflow/0.1 (+https://github.com/newsflow/newsflow)"
GROUPS = ("User-agent: github\nDisallow: /\n\n"  # our contact URL says github: that group is not ours
          "User-agent: newsflow\nDisallow: /members/\nAllow: /members/free$\nCrawl-delay: 2\n\n"
          "User-agent: *\nDisallow: /\n\nSitemap: /sitemap.xml\nSitemap: https://cdn.example/news.xml\n")


class Clock:
    """The cache's clock, moved by the test (expiry without waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_settings(tmp_path: Path, **kw: Any) -> FetcherSettings:
    base: dict[str, Any] = {"data_dir": tmp_path, "allowed_networks": "127.0.0.1/32", "per_host_min_delay_seconds": 0,
                            "parse_workers": 1, "http_total_timeout_seconds": 5, "user_agent": UA,
                            "robots_cache_seconds": 3600, "robots_error_seconds": 300}
    return FetcherSettings(**{**base, **kw})


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    yield from local_server(threaded=True)


def robots_requests(server: HTTPServer) -> int:
    return sum(1 for req, _ in server.log if req.path == "/robots.txt")


def lookups(result: str) -> float:
    return REGISTRY.get_sample_value("newsflow_fetcher_robots_lookups_total", {"result": result}) or 0.0


def fetches(result: str) -> float:
    return REGISTRY.get_sample_value("newsflow_fetcher_robots_fetches_total", {"result": result}) or 0.0


def checks(settings: FetcherSettings, clock: Clock, steps: list[tuple[float, list[str]]]) -> list[list[Verdict]]:
    """With one cache: at each step move the clock by the step's seconds, then check its URLs concurrently."""
    async def run() -> list[list[Verdict]]:
        http = HttpClient(settings)
        cache = RobotsCache(http, settings, clock=clock)
        out = []
        try:
            for advance, urls in steps:
                clock.now += advance
                out.append(list(await asyncio.gather(*(cache.check(u) for u in urls))))
        finally:
            await http.aclose()
        return out
    return asyncio.run(run())


def test_product_token_and_site() -> None:
    assert product_token(UA) == "newsflow"
    assert product_token("My_Bot-2/1.0") == "my_bot-"  # RFC 9309: letters, '_' and '-'
    assert product_token("") == ""
    assert site_of("http://News.Example/a?b=1") == ("http://news.example:80", "http://news.example/robots.txt")
    assert site_of("https://news.example:8443/x") == ("https://news.example:8443", "https://news.example:8443/robots.txt")
    assert site_of("ftp://news.example/x") is None and site_of("not a url") is None


def test_rules_for_the_product_token_and_crawl_delay(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/robots.txt").respond_with_data(GROUPS, content_type="text/plain")
    base = server.url_for("").rstrip("/")
    [verdicts] = checks(make_settings(tmp_path), Clock(),
                        [(0, [f"{base}/a", f"{base}/members/x", f"{base}/members/free", f"{base}/members/free/x"])])
    assert [v.allowed for v in verdicts] == [True, False, True, False]
    assert verdicts[0].crawl_delay == 2.0
    assert verdicts[1].reason == "disallowed" and "robots.txt" in verdicts[1].message
    assert robots_requests(server) == 1  # four lookups, one fetch (the others joined it)


def test_one_fetch_per_site_then_hits_until_expiry(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n")
    base = server.url_for("").rstrip("/")
    before = {r: lookups(r) for r in ("hit", "miss", "joined")}
    results = checks(make_settings(tmp_path), Clock(), [
        (0, [f"{base}/a{i}" for i in range(5)]),  # concurrent: one fetch, four wait on it
        (10, [f"{base}/b", f"{base}/private/c"]),  # cached
        (3600, [f"{base}/d"]),  # expired (robots_cache_seconds): fetched again
    ])
    assert [[v.allowed for v in step] for step in results] == [[True] * 5, [True, False], [True]]
    assert robots_requests(server) == 2
    after = {r: lookups(r) - before[r] for r in before}
    assert after == {"hit": 2, "miss": 2, "joined": 4}


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_4xx_means_everything_allowed(server: HTTPServer, tmp_path: Path, status: int) -> None:
    server.expect_request("/robots.txt").respond_with_data("", status=status)
    [[verdict]] = checks(make_settings(tmp_path), Clock(), [(0, [server.url_for("/any/page")])])
    assert verdict.allowed and verdict.crawl_delay == 0


@pytest.mark.parametrize("status", [500, 503, 429])
def test_5xx_disallows_the_site_for_a_while_not_forever(server: HTTPServer, tmp_path: Path, status: int) -> None:
    server.expect_ordered_request("/robots.txt").respond_with_data("", status=status)
    server.expect_ordered_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    page = server.url_for("/page")
    before = fetches("unreachable")
    first, again, later = checks(make_settings(tmp_path), Clock(), [(0, [page]), (299, [page]), (2, [page])])
    assert not first[0].allowed and first[0].reason == "unreachable" and first[0].first
    assert not again[0].allowed and not again[0].first  # same window: not a new attempt for the page
    assert later[0].allowed  # robots_error_seconds later: fetched again, and it answers now
    assert robots_requests(server) == 2 and fetches("unreachable") == before + 1


def test_an_unreachable_site_is_disallowed(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    [[verdict]] = checks(make_settings(tmp_path), Clock(), [(0, [f"http://127.0.0.1:{port}/page"])])
    assert not verdict.allowed and verdict.reason == "unreachable"


def test_5xx_after_a_good_copy_keeps_the_good_copy(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_ordered_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n")
    server.expect_ordered_request("/robots.txt").respond_with_data("", status=502)
    base = server.url_for("").rstrip("/")
    first, stale = checks(make_settings(tmp_path), Clock(), [(0, [f"{base}/a"]), (3601, [f"{base}/a",
                                                                                           f"{base}/private/b"])])
    assert first[0].allowed and [v.allowed for v in stale] == [True, False]
    assert stale[1].reason == "disallowed"


def test_redirect_loop_means_no_robots_txt(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/robots.txt").respond_with_data("", status=302, headers={"Location": "/robots.txt"})
    [[verdict]] = checks(make_settings(tmp_path), Clock(), [(0, [server.url_for("/page")])])
    assert verdict.allowed


def test_only_the_first_500_kib_are_read(server: HTTPServer, tmp_path: Path) -> None:
    filler = "# " + "x" * 97 + "\n"
    body = "User-agent: *\nDisallow: /early/\n" + filler * (ROBOTS_MAX_BYTES // len(filler)) + "Disallow: /late/\n"
    server.expect_request("/robots.txt").respond_with_data(body)
    base = server.url_for("").rstrip("/")
    [verdicts] = checks(make_settings(tmp_path), Clock(), [(0, [f"{base}/early/a", f"{base}/late/a"])])
    assert [v.allowed for v in verdicts] == [False, True]


def test_crawl_delay_is_capped(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nCrawl-delay: 3600\n")
    [[verdict]] = checks(make_settings(tmp_path), Clock(), [(0, [server.url_for("/a")])])
    assert verdict.allowed and verdict.crawl_delay == MAX_CRAWL_DELAY_SECONDS


def test_switched_off_fetches_nothing(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /\n")
    [[verdict]] = checks(make_settings(tmp_path, robots_txt=False), Clock(), [(0, [server.url_for("/a")])])
    assert verdict.allowed and robots_requests(server) == 0


def test_sitemaps_are_listed(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/robots.txt").respond_with_data(GROUPS)
    settings = make_settings(tmp_path)

    async def run() -> list[str]:
        http = HttpClient(settings)
        try:
            site = site_of(server.url_for("/"))
            assert site is not None
            return (await RobotsCache(http, settings).rules(*site)).sitemaps
        finally:
            await http.aclose()

    assert asyncio.run(run()) == ["/sitemap.xml", "https://cdn.example/news.xml"]


def test_gate_spaces_starts_by_the_larger_of_crawl_delay_and_host_delay() -> None:
    async def run(gate_delay: float, crawl_delay: float) -> float:
        gate = HostGate(concurrency=2, min_delay=gate_delay)
        starts: list[float] = []
        for _ in range(3):
            async with gate.slot("http://a.example/", crawl_delay):
                starts.append(time.monotonic())
        return min(b - a for a, b in itertools.pairwise(starts))

    assert asyncio.run(run(0.0, 0.2)) >= 0.2  # lower bounds only: no bound on how long it may take
    assert asyncio.run(run(0.2, 0.05)) >= 0.2


def test_feeds_discover_lists_the_sitemaps_robots_txt_names(server: HTTPServer) -> None:
    page = '<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml"></head></html>'
    server.expect_request("/").respond_with_data(page, content_type="text/html")
    server.expect_request("/bare").respond_with_data("<html><body>no feed here</body></html>", content_type="text/html")
    server.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow:\nSitemap: /news-sitemap.xml\nSitemap: /news-sitemap.xml\n"
        "Sitemap: https://cdn.example/sitemap.xml\nSitemap: ftp://x.example/s.xml\n")
    env = {"NEWSFLOW_ALLOWED_NETWORKS": "127.0.0.1/32"}
    found = CliRunner().invoke(main, ["feeds", "discover", server.url_for("/")], env=env)
    assert found.exit_code == 0, found.output
    assert found.output.splitlines() == [
        server.url_for("/feed.xml"),
        f"# sitemap (robots.txt): {server.url_for('/news-sitemap.xml')}",
        "# sitemap (robots.txt): https://cdn.example/sitemap.xml",
    ]
    bare = CliRunner().invoke(main, ["feeds", "discover", server.url_for("/bare")], env=env)
    assert bare.exit_code == 1 and "no feed found; its site's robots.txt names 2 sitemap(s)" in bare.output


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_disallowed_pages_are_counted_on_the_feeds_row(tmp_path: Path, backend: str) -> None:
    def count_and_report(state: FetcherState) -> list[str]:
        try:
            state.sync_feeds([feed])
            state.robots_disallowed(feed, 2, "https://a.example/members/1")
            state.robots_disallowed(feed, 1, "https://a.example/members/2")
            report = state.feed_report(feed)
            assert report is not None and report.robots_disallowed == 3
            assert report.last_robots_disallowed == "https://a.example/members/2"
            return describe(report, time.time())
        finally:
            state.close()

    feed = "https://a.example/feed"
    if backend == "sqlite":
        lines = count_and_report(FetcherState(tmp_path / "fetcher.db"))
    else:
        with postgres_schema() as url:
            lines = count_and_report(PostgresFetcherState(url))
    assert "  robots.txt:     3 page(s) disallowed, not fetched (last: https://a.example/members/2)" in lines
