"""Hostile content that held only partly (issue 15): each bound as a class, through the real pieces.

* A body that is not text is refused whatever its Content-Type (a PNG as text/html): sniffed,
  counted as ``binary``.
* The XML entity guard scans the whole document (a declaration after a long comment, in UTF-16).
* A huge feed costs ``NEWSFLOW_MAX_FEED_ENTRIES`` entries per poll, not its size (RSS, Atom,
  RDF, JSON Feed), and the cut document is still the same feed.
* A page that trickles (times out every time) is given up after ``NEWSFLOW_MAX_PAGE_ATTEMPTS``
  polls, counted, and recorded on the feed's row.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from services.fetcher.feedbounds import cut_entries, refuse_entity_declarations
from services.fetcher.http import HttpClient
from services.fetcher.http import Response as FetchResponse
from services.fetcher.pages import PagePublisher
from services.fetcher.parse import FeedParseError, ParsePool, parse_feed
from services.fetcher.poller import FeedPoller
from services.fetcher.response import Action, classify_feed, classify_page
from services.fetcher.settings import FetcherSettings
from services.fetcher.sniff import binary_kind
from services.fetcher.state import FetcherState
from tests.fetcher.test_fetcher_leases import RecordingProducer

URL = "http://example.com/feed"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 40


def refusals(reason: str) -> float:
    return REGISTRY.get_sample_value("newsflow_fetch_refusals_total", {"reason": reason}) or 0.0


# --- sniffing ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "kind"), [
    (PNG, "PNG"), (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"), (b"GIF89a\x01\x00", "GIF"), (b"%PDF-1.7\n", "PDF"),
    (b"PK\x03\x04\x14\x00", "ZIP"), (b"\x1f\x8b\x08\x00", "gzip"), (b"\x7fELF\x02\x01", "executable"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "RIFF"), (b"\x00\x00\x00\x18ftypmp42", "MP4"),
    (bytes(range(256)) * 8, "control"), (bytes(range(1, 32)) * 20, "control"), (b"\x00" * 100, "NUL"),
])
def test_binary_bodies_are_recognised(body: bytes, kind: str) -> None:
    found = binary_kind(body)
    assert found is not None and kind.lower() in found.lower()


@pytest.mark.parametrize("body", [
    b"<html><body>caf\xc3\xa9</body></html>", "<html>caf\u00e9</html>".encode("latin-1"),
    "\ufeff<html>x</html>".encode("utf-16"), "<html>x</html>".encode("utf-16-le"), b"",
    "<html>\u65e5\u672c</html>".encode("iso-2022-jp"), "<p>\u65e5\u672c</p>".encode("shift_jis"),
    b"\t\r\n<rss version='2.0'/>\x0c",
    b"<html><p>Control\x00characters\x07here</p>" + b"<p>text</p>" * 100 + b"</html>",  # stray: the extractor strips
])
def test_text_in_any_encoding_is_not_binary(body: bytes) -> None:
    assert binary_kind(body) is None


def test_a_png_served_as_html_is_refused_as_a_page_and_as_a_feed() -> None:
    resp = FetchResponse(url="http://example.com/a", status=200, headers={"content-type": "text/html"}, body=PNG)
    page = classify_page(resp, resp.url)
    assert page.action is Action.GIVE_UP and page.refusal == "binary" and "PNG image served as text/html" in page.message
    feed = classify_feed(resp, resp.url)
    assert feed.action is Action.GIVE_UP and feed.refusal == "binary"


def test_a_png_page_is_not_published_and_is_counted(httpserver: HTTPServer, tmp_path: Path) -> None:
    """Through the real client and publisher: the PNG is fetched, refused, counted, given up at once."""
    httpserver.expect_request("/a.html").respond_with_data(PNG, content_type="text/html; charset=utf-8")
    result, producer, state_row = publish_pages(httpserver, tmp_path, ["/a.html"])
    published, given_up = result
    assert published == [] and len(given_up) == 1 and producer.sent == []
    assert state_row.pages_given_up == 1 and "PNG" in (state_row.last_page_error or "")


# --- the entity guard ----------------------------------------------------------------------------

LAUGHS = b'<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'


@pytest.mark.parametrize("before", [b"", b"<!--" + b"x" * 70_000 + b"-->", b" " * 200_000,
                                    b"<?pi " + b"y" * 100_000 + b"?>"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_an_entity_declaration_is_found_anywhere_in_the_document(before: bytes, encoding: str) -> None:
    doc = (b'<?xml version="1.0"?>' + before + LAUGHS + b'<rss version="2.0"><channel><title>&b;</title></channel></rss>')
    body = doc.decode().encode(encoding)
    with pytest.raises(FeedParseError, match="declares XML entity"):
        parse_feed(body, URL, "application/rss+xml")


def test_the_whole_document_scan_is_cheap() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE rss><rss><channel>' + b"<item><title>t</title></item>" * 300_000
    started = time.monotonic()
    refuse_entity_declarations(body)  # 9 MB, no declaration
    assert time.monotonic() - started < 2


# --- huge feeds ----------------------------------------------------------------------------------

def rss_items(n: int) -> bytes:
    items = "".join(f"<item><title>S{i}</title><link>http://example.com/s/{i}</link><guid>g{i}</guid></item>"
                    for i in range(n))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Huge</title>{items}</channel></rss>'.encode()


def atom_entries(n: int) -> bytes:
    entries = "".join(f'<entry><id>e{i}</id><title>S{i}</title><link href="http://example.com/a/{i}"/></entry>'
                      for i in range(n))
    return (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Huge</title>{entries}'
            f"</feed>").encode()


def rdf_items(n: int) -> bytes:
    items = "".join(f'<item rdf:about="http://example.com/r/{i}"><title>S{i}</title><link>http://example.com/r/{i}'
                    f"</link></item>" for i in range(n))
    return ('<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>Huge</title></channel>'
            f"{items}</rdf:RDF>").encode()


def json_items(n: int) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Huge",
                       "items": [{"id": f"j{i}", "url": f"http://example.com/j/{i}"} for i in range(n)]}).encode()


@pytest.mark.parametrize("make", [rss_items, atom_entries, rdf_items, json_items])
def test_a_huge_feed_is_read_up_to_max_entries_as_the_same_feed(make: Any) -> None:
    whole = parse_feed(make(30), URL)
    cut = parse_feed(make(30), URL, max_entries=10)
    assert cut.entries == whole.entries[:10] and cut.cut == 20 and cut.title == whole.title == "Huge"
    assert cut.format == whole.format and cut.warning is None


def test_a_document_that_does_not_nest_is_left_whole() -> None:
    body = b"<rss><channel><item><b>unclosed</item><item></item><item></item></channel></rss>"
    assert cut_entries(body, 1) == (body, 0)


def test_entries_in_cdata_and_comments_do_not_unbalance_the_cut() -> None:
    body = (b'<rss version="2.0"><channel><title>T</title><!-- <item> --><item><title><![CDATA[<item>x]]></title>'
            b"<link>http://example.com/1</link></item><item><link>http://example.com/2</link></item></channel></rss>")
    parsed = parse_feed(body, URL, max_entries=1)
    assert [e.link for e in parsed.entries] == ["http://example.com/1"]


def test_a_200000_item_feed_costs_bounded_time_per_parse() -> None:
    """The hostile corpus' shape, 200,000 tiny items: with the default cut a parse is ~2,000 items."""
    from hostile.corpus import huge_feed

    body = huge_feed(200_000, padding=False)
    started = time.monotonic()
    parsed = parse_feed(body, URL, "application/rss+xml")
    assert len(parsed.entries) == 2000 and parsed.cut == 198_000
    assert time.monotonic() - started < 20  # ~1 s here; the uncut 100,000 took 62 s and 280 MB


# --- pages that trickle ----------------------------------------------------------------------------


def publish_pages(server: HTTPServer, tmp_path: Path, paths: list[str], polls: int = 1,
                  **settings_kw: Any) -> tuple[Any, RecordingProducer, Any]:
    """Poll a feed listing ``paths`` ``polls`` times through the real client and publisher."""
    items = "".join(f"<item><guid>{p}</guid><title>T</title><link>{server.url_for(p)}</link></item>" for p in paths)
    server.expect_request("/feed").respond_with_data(
        f'<rss version="2.0"><channel><title>F</title>{items}</channel></rss>', content_type="application/rss+xml")
    server.expect_request("/robots.txt").respond_with_data("", status=404)  # no robots.txt: pages allowed (RFC 9309)
    settings = FetcherSettings(data_dir=tmp_path, allowed_networks="127.0.0.1/32", per_host_min_delay_seconds=0,
                               parse_workers=1, **settings_kw)
    producer = RecordingProducer()
    state = FetcherState(tmp_path / "fetcher.db")
    feed_url = server.url_for("/feed")
    state.sync_feeds([feed_url])
    results: list[Any] = []

    async def poll() -> None:
        http = HttpClient(settings)
        pages = PagePublisher(settings, http, state, producer)
        poller = FeedPoller(settings, http, state, _recording(pages, results), ParsePool(1))
        try:
            for _ in range(polls):
                feed = state.feed(feed_url)
                assert feed is not None
                await poller.poll(feed)
        finally:
            await http.aclose()

    try:
        asyncio.run(poll())
        return results[-1], producer, state.feed_report(feed_url)
    finally:
        state.close()


def _recording(pages: PagePublisher, results: list[Any]) -> Any:
    async def publish(cands: Any) -> Any:
        result = await pages.publish(cands)
        results.append(result)
        return result
    return publish


def test_a_trickling_page_is_given_up_after_max_attempts(httpserver: HTTPServer, tmp_path: Path) -> None:
    fetches: list[float] = []

    def trickle(_: Request) -> Response:
        fetches.append(time.monotonic())
        time.sleep(1.5)  # past the total timeout below
        return Response("<html>late</html>", content_type="text/html")

    httpserver.expect_request("/slow").respond_with_handler(trickle)
    before = REGISTRY.get_sample_value("newsflow_pages_given_up_total") or 0.0
    (published, given_up), producer, row = publish_pages(
        httpserver, tmp_path, ["/slow"], polls=4, http_total_timeout_seconds=1, max_page_attempts=3)
    assert len(fetches) == 3, "tried at each of the first three polls, then never again"
    assert published == [] and len(given_up) == 1 and producer.sent == []  # the 4th poll had nothing to fetch
    assert (REGISTRY.get_sample_value("newsflow_pages_given_up_total") or 0.0) == before + 1
    assert row.pages_given_up == 1 and "no complete response" in (row.last_page_error or "")
