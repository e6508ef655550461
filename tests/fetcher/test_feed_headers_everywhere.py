"""A listed feed's own headers, auth and user agent (per-feed options) on every request made for it, on its
origin only: a sitemap index's child sitemaps, backfill's archive documents, ``feeds check URL``.
Elsewhere (another origin) they never go. Plus: the Help text of ``newsflow_http_responses_total`` names
every request kind the fetcher uses."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from services.cli import main
from services.fetcher import metrics
from services.fetcher.backfill import Backfill
from services.fetcher.feedoptions import FeedOptions
from services.fetcher.http import HttpClient
from services.fetcher.parse import ParsePool
from services.fetcher.poller import Candidate, FeedPoller
from services.fetcher.state import FetcherState
from tests.fetcher.helpers import local_server
from tests.fetcher.test_fetcher_backfill import atom
from tests.fetcher.test_fetcher_poller import make_settings
from tests.fetcher.test_fetcher_sitemaps import index, news_url, urlset

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = [("header.X-Api-Key", "env:FEED_KEY"), ("auth", "reader:hunter2"), ("user_agent", "FeedBot/2")]
KEY = "k-31337"
BASIC = "Basic " + base64.b64encode(b"reader:hunter2").decode()


@pytest.fixture
def site() -> Iterator[HTTPServer]:
    yield from local_server()


@pytest.fixture
def elsewhere() -> Iterator[HTTPServer]:
    yield from local_server()


def headers_seen(server: HTTPServer) -> dict[str, dict[str, str]]:
    return {r.path: dict(r.headers) for r, _ in server.log}


def assert_feeds_own(headers: dict[str, str]) -> None:
    assert (headers.get("X-Api-Key"), headers.get("Authorization"), headers.get("User-Agent")) == (
        KEY, BASIC, "FeedBot/2")


def assert_none_of_them(headers: dict[str, str]) -> None:
    assert "X-Api-Key" not in headers and "Authorization" not in headers
    assert headers.get("User-Agent") != "FeedBot/2"


async def with_poller(tmp_path: Path, url: str, body: object) -> list[Candidate]:
    """A poller over a state whose feed list holds ``url`` with :data:`OPTIONS`; ``body(poller, feed)``."""
    settings = make_settings(tmp_path)
    state = FetcherState(tmp_path / "fetcher.db")
    http = HttpClient(settings)
    parser = ParsePool(1)
    published: list[Candidate] = []

    async def publish(cands: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        published.extend(cands)
        return cands, []
    try:
        state.replace_feed_list([url], time.time(), {url: FeedOptions.parse(OPTIONS)})
        feed = state.feed(url)
        assert feed is not None
        poller = FeedPoller(settings, http, state, publish, parser)
        await body(poller, feed)  # type: ignore[operator]
    finally:
        await http.aclose()
        parser.close()
        state.close()
    return published


def test_a_sitemap_indexs_children_on_its_origin_get_its_headers_and_others_none(
        site: HTTPServer, elsewhere: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEED_KEY", KEY)
    site.expect_request("/index.xml").respond_with_data(index(
        (site.url_for("/child.xml"), "2026-11-29"), (elsewhere.url_for("/other.xml"), "2026-11-28")))
    site.expect_request("/child.xml").respond_with_data(urlset(news_url("https://n.example/a", "A", "2026-11-29")))
    elsewhere.expect_request("/other.xml").respond_with_data(urlset(news_url("https://n.example/b", "B",
                                                                             "2026-11-28")))

    async def poll(poller: FeedPoller, feed: object) -> None:
        assert await poller.poll(feed) == "new"  # type: ignore[arg-type]
    published = asyncio.run(with_poller(tmp_path, site.url_for("/index.xml"), poll))
    assert sorted(c.entry.title or "" for c in published) == ["A", "B"]
    seen = headers_seen(site)
    assert_feeds_own(seen["/index.xml"])
    assert_feeds_own(seen["/child.xml"])
    assert_none_of_them(headers_seen(elsewhere)["/other.xml"])


def test_backfill_of_a_listed_feed_sends_its_headers_to_its_archives_on_its_origin_only(
        site: HTTPServer, elsewhere: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEED_KEY", KEY)
    site.expect_request("/feed.xml").respond_with_data(
        atom([("e3", "2026-11-29")], {"prev-archive": "/archive/1.xml"}), content_type="application/atom+xml")
    site.expect_request("/archive/1.xml").respond_with_data(
        atom([("e2", "2026-10-01")], {"prev-archive": elsewhere.url_for("/archive/0.xml")}, archive=True),
        content_type="application/atom+xml")
    elsewhere.expect_request("/archive/0.xml").respond_with_data(
        atom([("e1", "2026-09-01")], {}, archive=True), content_type="application/atom+xml")
    url = site.url_for("/feed.xml")

    async def backfill(poller: FeedPoller, feed: object) -> None:
        report = await Backfill(poller.settings, poller.http, poller, poller.parser).run(url)
        assert (report.pages, report.published, report.error) == (3, 3, None)
    asyncio.run(with_poller(tmp_path, url, backfill))
    seen = headers_seen(site)
    assert_feeds_own(seen["/feed.xml"])
    assert_feeds_own(seen["/archive/1.xml"])
    assert_none_of_them(headers_seen(elsewhere)["/archive/0.xml"])


def test_backfill_stops_with_an_error_when_the_feeds_variable_is_not_set(
        site: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEED_KEY", raising=False)
    url = site.url_for("/feed.xml")

    async def backfill(poller: FeedPoller, feed: object) -> None:
        report = await Backfill(poller.settings, poller.http, poller, poller.parser).run(url)
        assert report.pages == 0 and "FEED_KEY" in (report.error or "")
    asyncio.run(with_poller(tmp_path, url, backfill))
    assert site.log == []  # nothing requested without the feed's headers


def test_feeds_check_of_a_listed_feed_sends_its_headers_and_an_unlisted_url_none(
        site: HTTPServer, tmp_path: Path) -> None:
    rss = ('<?xml version="1.0"?><rss version="2.0"><channel><title>L</title>'
           "<item><title>Hi</title><link>https://l.example/1</link></item></channel></rss>")
    for path in ("/feed.xml", "/other.xml"):
        site.expect_request(path).respond_with_data(rss, content_type="application/rss+xml")
    feeds = tmp_path / "feeds.txt"
    options = " ".join(f"{k}={v}" for k, v in OPTIONS)
    feeds.write_text(f"{site.url_for('/feed.xml')} {options}  # listed\n")
    env = {"NEWSFLOW_ALLOWED_NETWORKS": "127.0.0.1/32", "NEWSFLOW_FEEDS_FILE": str(feeds), "FEED_KEY": KEY,
           "NEWSFLOW_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["feeds", "check", site.url_for("/feed.xml"), site.url_for("/other.xml")],
                                env=env)
    assert result.exit_code == 0, result.output
    seen = headers_seen(site)
    assert_feeds_own(seen["/feed.xml"])
    assert_none_of_them(seen["/other.xml"])
    unset = CliRunner().invoke(main, ["feeds", "check", site.url_for("/feed.xml")], env={**env, "FEED_KEY": None})
    assert unset.exit_code == 1 and "FEED_KEY" in unset.output and "Traceback" not in unset.output


def test_the_http_responses_help_names_every_kind_the_fetcher_uses() -> None:
    kinds = {m for path in (ROOT / "services" / "fetcher").glob("*.py")
             for m in re.findall(r'kind="([a-z_]+)"', path.read_text())}
    assert {"feed", "page", "robots", "hub"} <= kinds
    (family,) = metrics.HTTP_RESPONSES.collect()
    help_text = family.documentation
    for kind in kinds:
        assert re.search(rf"\b{kind}\b", help_text), kind
