"""Sitemaps as sources: urlset, Google News and image extensions, sitemap index, bad documents, bounds, gzip."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from services.fetcher.cli import feeds
from services.fetcher.parse import FeedParseError, parse_feed, parse_safely
from services.fetcher.sitemaps import MAX_URLS, is_sitemap, w3c_datetime
from tests.fetcher.helpers import local_server
from tests.fetcher.test_fetcher_poller import Harness

SM = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS = "http://www.google.com/schemas/sitemap-news/0.9"
IMAGE = "http://www.google.com/schemas/sitemap-image/1.1"


def news_url(loc: str, title: str, published: str, name: str = "The Local Times", extra: str = "") -> str:
    return (f"<url><loc>{loc}</loc><news:news><news:publication><news:name>{name}</news:name>"
            f"<news:language>en</news:language></news:publication><news:publication_date>{published}"
            f"</news:publication_date><news:title>{title}</news:title>{extra}</news:news></url>")


def urlset(*urls: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SM}" xmlns:news="{NEWS}" '
            f'xmlns:image="{IMAGE}">{"".join(urls)}</urlset>')


def index(*children: tuple[str, str | None]) -> str:
    body = "".join(f"<sitemap><loc>{loc}</loc>{f'<lastmod>{mod}</lastmod>' if mod else ''}</sitemap>"
                   for loc, mod in children)
    return f'<?xml version="1.0"?><sitemapindex xmlns="{SM}">{body}</sitemapindex>'


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    yield from local_server()


def test_a_news_sitemap_becomes_entries_with_title_dates_publication_keywords_and_image() -> None:
    doc = urlset(news_url("https://news.example/a?utm_source=sm#top", "Floods &amp; roads", "2026-11-29T10:00:00+01:00",
                          extra="<news:keywords>floods, roads ,</news:keywords>")
                 .replace("</url>", "<lastmod>2026-11-29T12:00Z</lastmod><image:image><image:loc>/img/a.jpg"
                                    "</image:loc></image:image></url>"))
    parsed = parse_feed(doc.encode(), "https://news.example/news-sitemap.xml")
    assert (parsed.format, parsed.title, parsed.skipped, parsed.cut, parsed.sitemaps) == (
        "sitemap-news", "The Local Times", 0, 0, [])
    [entry] = parsed.entries
    assert entry.link == entry.entry_id == "https://news.example/a"  # normalised: tracking and fragment gone
    assert entry.feed_url == "https://news.example/news-sitemap.xml"
    assert entry.title == "Floods & roads" and entry.feed_title == "The Local Times"
    assert entry.published_at == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    assert entry.updated_at == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert entry.categories == ["floods", "roads"]
    assert entry.image == "https://news.example/img/a.jpg"


def test_a_plain_sitemap_lists_newest_first_and_skips_unusable_locations() -> None:
    doc = urlset("<url><loc>https://site.example/old</loc><lastmod>2024-01-02</lastmod></url>",
                 "<url><loc>https://site.example/undated</loc></url>",
                 "<url><loc>javascript:alert(1)</loc></url>",
                 "<url><lastmod>2026-01-01</lastmod></url>",
                 "<url><loc>/relative</loc><lastmod>2026-11</lastmod></url>",
                 "<url><loc>https://site.example/new</loc><lastmod>2026-11-28T08:00:00Z</lastmod></url>")
    parsed = parse_feed(doc.encode(), "https://site.example/sitemap.xml")
    assert parsed.format == "sitemap" and parsed.title is None and parsed.skipped == 2
    assert [e.link for e in parsed.entries] == ["https://site.example/new", "https://site.example/relative",
                                                "https://site.example/old", "https://site.example/undated"]
    assert parsed.entries[0].title is None and parsed.entries[0].published_at is None


def test_a_sitemap_index_lists_its_children_newest_first_and_no_entries() -> None:
    doc = index(("https://s.example/2024.xml", "2024-12-31"), ("https://s.example/undated.xml", None),
                ("/2026.xml", "2026-11-29T00:00:00+00:00"), ("https://s.example/2024.xml", "2024-12-31"))
    parsed = parse_feed(doc.encode(), "https://s.example/sitemap_index.xml")
    assert (parsed.format, parsed.entries, parsed.skipped) == ("sitemap-index", [], 1)  # the repeated child
    assert parsed.sitemaps == ["https://s.example/2026.xml", "https://s.example/2024.xml",
                               "https://s.example/undated.xml"]


def test_sitemaps_are_recognised_by_content_whatever_the_type_and_prefix() -> None:
    prefixed = f'<!-- generated --><sm:urlset xmlns:sm="{SM}"><sm:url><sm:loc>https://p.example/x</sm:loc></sm:url></sm:urlset>'
    assert is_sitemap(prefixed.encode()) and is_sitemap(b"\xef\xbb\xbf" + index().encode())
    assert not is_sitemap(b'<rss version="2.0"><channel><link>urlset</link></channel></rss>')
    parsed = parse_feed(prefixed.encode(), "https://p.example/s.xml", "text/plain")
    assert [e.link for e in parsed.entries] == ["https://p.example/x"]


@pytest.mark.parametrize(("doc", "message"), [
    ('<urlset><url><loc>https://a.example/</loc></url></urlset>', "<urlset> in no namespace"),
    ('<urlset xmlns="http://example.com/other"></urlset>', "namespace 'http://example.com/other'"),
    (f'<urlset xmlns="{SM}"><url><loc>https://a.example/</url></urlset>', "not a well-formed sitemap"),
    (f'<urlset xmlns="{SM}"><url><loc>https://a.example/</loc></url>', "not a well-formed sitemap"),
    (f'<!DOCTYPE urlset [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;">]><urlset xmlns="{SM}">&b;</urlset>',
     "declares XML entity"),
    (f'<!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/passwd">]><urlset xmlns="{SM}"><url><loc>&x;</loc></url>'
     "</urlset>", "declares XML entity"),
])
def test_bad_sitemaps_give_one_clear_error(doc: str, message: str) -> None:
    with pytest.raises(FeedParseError, match=message):
        parse_safely(doc.encode(), "https://a.example/sitemap.xml", None)


def test_entries_are_bounded_like_a_feeds_the_newest_kept() -> None:
    urls = [f"<url><loc>https://b.example/{i}</loc><lastmod>2026-01-{i + 1:02}</lastmod></url>" for i in range(20)]
    parsed = parse_feed(urlset(*urls).encode(), "https://b.example/s.xml", max_entries=5)
    assert [e.link.rsplit("/", 1)[1] for e in parsed.entries] == ["19", "18", "17", "16", "15"]
    assert parsed.cut == 15


def test_urls_past_the_protocol_limit_are_not_read_but_counted() -> None:
    doc = urlset(*(f"<url><loc>https://c.example/{i}</loc></url>" for i in range(MAX_URLS + 7)))
    parsed = parse_feed(doc.encode(), "https://c.example/s.xml", max_entries=10)
    assert len(parsed.entries) == 10 and parsed.cut == MAX_URLS - 10 + 7


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-29", datetime(2026, 11, 29, tzinfo=UTC)),
    ("2026-11-29T10:30+02:00", datetime(2026, 11, 29, 8, 30, tzinfo=UTC)),
    ("2026-11-29T10:30:00.5Z", datetime(2026, 11, 29, 10, 30, 0, 500000, tzinfo=UTC)),
    ("2026-11", datetime(2026, 11, 1, tzinfo=UTC)), ("2026", datetime(2026, 1, 1, tzinfo=UTC)),
    ("yesterday", None), ("2026-13", None), ("", None),
])
def test_w3c_datetimes(text: str, expected: datetime | None) -> None:
    assert w3c_datetime(text) == expected


def test_a_polled_news_sitemap_publishes_its_articles_once(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path)
    doc = urlset(news_url("https://news.example/1", "One", "2026-11-29T08:00:00Z"),
                 news_url("https://news.example/2", "Two", "2026-11-29T09:00:00Z"))
    server.expect_request("/news.xml").respond_with_data(doc, content_type="application/xml")
    assert h.poll(server.url_for("/news.xml")) == "new"
    assert [c.entry.title for c in h.published] == ["Two", "One"]
    assert h.poll(server.url_for("/news.xml")) == "not_modified" and len(h.published) == 2


def test_a_gzip_file_sitemap_is_read_and_a_gzip_bomb_refused(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path, max_feed_bytes=64 * 1024)
    doc = urlset(news_url("https://news.example/gz", "Zipped", "2026-11-29T08:00:00Z"))
    server.expect_request("/sitemap.xml.gz").respond_with_data(gzip.compress(doc.encode()),
                                                              content_type="application/x-gzip")
    bomb = urlset(*(f"<url><loc>https://news.example/{i}</loc></url>" for i in range(5000)))
    server.expect_request("/bomb.xml.gz").respond_with_data(gzip.compress(bomb.encode()),
                                                           content_type="application/gzip")
    assert h.poll(server.url_for("/sitemap.xml.gz")) == "new"
    assert [c.entry.title for c in h.published] == ["Zipped"]
    assert h.poll(server.url_for("/bomb.xml.gz")) == "error"
    assert "decompressed gzip file exceeds 65536 bytes" in (h.feed(server.url_for("/bomb.xml.gz")).last_error or "")


def test_a_polled_sitemap_index_reads_its_newest_children_only(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path, max_sitemap_children=2)
    server.expect_request("/index.xml").respond_with_data(index(
        (server.url_for("/old.xml"), "2020-01-01"), (server.url_for("/new.xml"), "2026-11-29"),
        (server.url_for("/nested.xml"), "2026-11-28"), (server.url_for("/broken.xml"), None)))
    server.expect_request("/new.xml").respond_with_data(urlset(news_url("https://n.example/new", "New", "2026-11-29")))
    server.expect_request("/nested.xml").respond_with_data(index((server.url_for("/deeper.xml"), "2026-11-29")))
    server.expect_request("/old.xml").respond_with_data(urlset(news_url("https://n.example/old", "Old", "2020-01-01")))
    assert h.poll(server.url_for("/index.xml")) == "new"
    assert [(c.entry.title, c.entry.feed_url) for c in h.published] == [("New", server.url_for("/index.xml"))]
    assert sorted(r.path for r, _ in server.log) == ["/index.xml", "/nested.xml", "/new.xml"]


def test_a_sitemap_index_whose_children_all_fail_fails_the_poll(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path)
    server.expect_request("/index.xml").respond_with_data(index((server.url_for("/gone.xml"), "2026-11-29")))
    server.expect_request("/gone.xml").respond_with_data("", status=404)
    assert h.poll(server.url_for("/index.xml")) == "error"
    assert "none of its 1 newest sitemaps could be read" in (h.feed(server.url_for("/index.xml")).last_error or "")


def test_feeds_check_shows_a_news_sitemap_and_an_index(tmp_path: Path) -> None:
    news = tmp_path / "news.xml"
    news.write_text(urlset(news_url("https://s.example/a", "Alpha", "2026-11-29T08:00:00Z")))
    idx = tmp_path / "index.xml"
    idx.write_text(index(("https://s.example/old.xml", "2020-01-01"), ("https://s.example/new.xml", "2026-01-01")))
    result = CliRunner().invoke(feeds, ["check", str(news), str(idx), "--base-url", "https://s.example/"])
    assert result.exit_code == 0, result.output
    assert "sitemap-news 'The Local Times': 1 items" in result.output and "Alpha  <https://s.example/a>" in result.output
    assert "sitemap-index '(no title)': 0 items" in result.output
    assert "2 child sitemaps, newest first: https://s.example/new.xml, https://s.example/old.xml" in result.output
