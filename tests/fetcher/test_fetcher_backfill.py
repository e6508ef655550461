"""Backfill against a local site: RFC 5005 archive chains, paged feeds, sitemap indexes; --since, --max-pages, loops."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from services.fetcher.backfill import Backfill, BackfillReport
from services.fetcher.http import HttpClient
from services.fetcher.parse import ParsePool
from services.fetcher.poller import Candidate, FeedPoller
from services.fetcher.state import FetcherState
from tests.fetcher.helpers import local_server
from tests.fetcher.test_fetcher_poller import Harness, make_settings

ATOM = "http://www.w3.org/2005/Atom"
FH = "http://purl.org/syndication/history/1.0"


def atom(entries: list[tuple[str, str]], links: dict[str, str], archive: bool = False) -> str:
    """An Atom document: ``(id, date)`` entries linking to https://news.example/<id>, and its links by rel."""
    items = "".join(f"<entry><id>urn:{eid}</id><title>T {eid}</title><link href='https://news.example/{eid}'/>"
                    f"<updated>{day}T12:00:00Z</updated></entry>" for eid, day in entries)
    rels = "".join(f"<link rel='{rel}' href='{href}'/>" for rel, href in links.items())
    marker = "<fh:archive/>" if archive else ""
    return (f"<?xml version='1.0'?><feed xmlns='{ATOM}' xmlns:fh='{FH}'><title>Archive</title><id>urn:f</id>"
            f"<updated>2026-11-29T00:00:00Z</updated>{marker}{rels}{items}</feed>")


class Site:
    """An RFC 5005 archived feed on a local server: the subscription document and three archive documents."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.url = server.url_for("/feed.xml")
        docs = {
            "/feed.xml": atom([("e9", "2026-11-29"), ("e8", "2026-11-28")], {"prev-archive": "/archive/3.xml"}),
            "/archive/3.xml": atom([("e7", "2026-10-03"), ("e6", "2026-10-02"), ("e5", "2026-10-01")],
                                   {"prev-archive": "/archive/2.xml", "next-archive": "/feed.xml"}, archive=True),
            "/archive/2.xml": atom([("e4", "2026-09-02"), ("e3", "2026-09-01")],
                                   {"prev-archive": "/archive/1.xml", "next-archive": "/archive/3.xml"}, archive=True),
            "/archive/1.xml": atom([("e2", "2026-08-02"), ("e1", "2026-08-01")], {"next-archive": "/archive/2.xml"},
                                   archive=True),
        }
        for path, doc in docs.items():
            server.expect_request(path).respond_with_data(doc, content_type="application/atom+xml")

    def fetched(self) -> list[str]:
        return [r.path for r, _ in self.server.log]


class Runner:
    """Backfill with a real state file, HTTP client and parser; the publisher records what it is given."""

    def __init__(self, tmp_path: Path, **kw: Any) -> None:
        self.settings = make_settings(tmp_path, **kw)
        self.published: list[Candidate] = []

    async def _publish(self, cands: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        self.published += cands
        return cands, []

    def run(self, url: str, since: datetime | None = None, max_pages: int = 50) -> BackfillReport:
        async def go() -> BackfillReport:
            state = FetcherState(self.settings.data_dir / "fetcher.db")
            http = HttpClient(self.settings, shared_hosts=state)
            parser = ParsePool(1)
            try:
                poller = FeedPoller(self.settings, http, state, self._publish, parser)
                return await Backfill(self.settings, http, poller, parser).run(url, since, max_pages)
            finally:
                await http.aclose()
                state.close()
        return asyncio.run(go())

    def ids(self) -> list[str]:
        return [c.entry.link.rsplit("/", 1)[1] for c in self.published]


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    yield from local_server()


def test_an_archive_chain_is_backfilled_once_and_a_second_backfill_publishes_nothing(
    server: HTTPServer, tmp_path: Path,
) -> None:
    site, runner = Site(server), Runner(tmp_path)
    first = runner.run(site.url)
    assert site.fetched() == ["/feed.xml", "/archive/3.xml", "/archive/2.xml", "/archive/1.xml"]
    assert sorted(runner.ids()) == [f"e{i}" for i in range(1, 10)]
    assert (first.pages, first.published, first.known, first.error) == (4, 9, 0, None)
    assert first.stopped == "no older document linked"

    second = runner.run(site.url)  # a new state object on the same file: what a second `feeds backfill` sees
    assert (second.pages, second.published, second.known) == (4, 0, 9) and len(runner.published) == 9
    assert "9 already seen" in second.summary()


def test_entries_a_poll_published_are_not_published_by_the_backfill(server: HTTPServer, tmp_path: Path) -> None:
    site, runner, poll = Site(server), Runner(tmp_path), Harness(tmp_path)
    assert poll.poll(site.url) == "new" and [c.entry.title for c in poll.published] == ["T e9", "T e8"]
    report = runner.run(site.url)
    assert (report.known, report.published) == (2, 7) and sorted(runner.ids()) == [f"e{i}" for i in range(1, 8)]


def test_since_publishes_newer_entries_and_stops_at_an_older_document(server: HTTPServer, tmp_path: Path) -> None:
    site, runner = Site(server), Runner(tmp_path)
    report = runner.run(site.url, since=datetime(2026, 10, 2, tzinfo=UTC))
    assert sorted(runner.ids()) == ["e6", "e7", "e8", "e9"]
    assert site.fetched() == ["/feed.xml", "/archive/3.xml", "/archive/2.xml"]  # 2.xml: all older, the end
    assert report.older == 1 + 2 and "older than --since" in report.stopped


def test_max_pages_bounds_the_walk(server: HTTPServer, tmp_path: Path) -> None:
    site, runner = Site(server), Runner(tmp_path)
    report = runner.run(site.url, max_pages=2)
    assert site.fetched() == ["/feed.xml", "/archive/3.xml"] and report.pages == 2
    assert sorted(runner.ids()) == ["e5", "e6", "e7", "e8", "e9"] and report.stopped == "--max-pages 2 reached"


def test_a_loop_of_links_ends_the_walk(server: HTTPServer, tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    server.expect_request("/a.xml").respond_with_data(atom([("a", "2026-11-01")], {"next": "/b.xml"}))
    server.expect_request("/b.xml").respond_with_data(atom([("b", "2026-10-01")], {"next": "/a.xml?"}))
    report = runner.run(server.url_for("/a.xml"))
    assert [r.path for r, _ in server.log] == ["/a.xml", "/b.xml"] and report.pages == 2
    assert report.stopped.startswith("loop:") and sorted(runner.ids()) == ["a", "b"]


def test_a_paged_json_feed_is_followed_by_next_url(server: HTTPServer, tmp_path: Path) -> None:
    runner = Runner(tmp_path)

    def page(n: int, nxt: str | None) -> str:
        doc = {"version": "https://jsonfeed.org/version/1.1", "title": "J",
               "items": [{"id": f"j{n}", "url": f"https://news.example/j{n}", "title": f"J{n}"}]}
        return json.dumps(doc | ({"next_url": server.url_for(nxt)} if nxt else {}))

    server.expect_request("/j1.json").respond_with_data(page(1, "/j2.json"), content_type="application/feed+json")
    server.expect_request("/j2.json").respond_with_data(page(2, None), content_type="application/feed+json")
    report = runner.run(server.url_for("/j1.json"))
    assert runner.ids() == ["j1", "j2"] and report.pages == 2


def test_a_sitemap_index_is_backfilled_child_by_child(server: HTTPServer, tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    sm = "http://www.sitemaps.org/schemas/sitemap/0.9"
    children = "".join(f"<sitemap><loc>{server.url_for(f'/s{i}.xml')}</loc><lastmod>2026-0{i}-01</lastmod></sitemap>"
                       for i in (1, 2, 3))
    server.expect_request("/index.xml").respond_with_data(f"<sitemapindex xmlns='{sm}'>{children}</sitemapindex>")
    for i in (1, 2, 3):
        server.expect_request(f"/s{i}.xml").respond_with_data(
            f"<urlset xmlns='{sm}'><url><loc>https://news.example/s{i}</loc><lastmod>2026-0{i}-01</lastmod></url></urlset>")
    report = runner.run(server.url_for("/index.xml"), since=datetime(2026, 2, 1, tzinfo=UTC))
    assert [r.path for r, _ in server.log] == ["/index.xml", "/s3.xml", "/s2.xml", "/s1.xml"]
    assert runner.ids() == ["s3", "s2"] and report.pages == 4 and "older than --since" in report.stopped


def test_a_document_that_cannot_be_read_stops_the_walk_with_an_error(server: HTTPServer, tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    server.expect_request("/a.xml").respond_with_data(atom([("a", "2026-11-01")], {"prev-archive": "/gone.xml"}))
    server.expect_request("/gone.xml").respond_with_data("", status=404)
    report = runner.run(server.url_for("/a.xml"))
    assert runner.ids() == ["a"] and report.pages == 1
    assert report.error is not None and "HTTP 404" in report.error and "ERROR" in report.summary()
