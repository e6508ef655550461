"""The fetcher against the real broker and a real local site: pages published once, updates as updates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from services.common import kafka
from services.fetcher.settings import FetcherSettings
from tests.fetcher.helpers import local_server, pages, run_once

pytestmark = pytest.mark.integration

PAGE = "<html><head><title>{t}</title></head><body><article><p>{t} body text.</p></article></body></html>"


def feed(base: str, second_title: str) -> str:
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>Local news</title>'
            f'<item><guid isPermaLink="false">a</guid><title>First</title><link>{base}/a</link></item>'
            f'<item><guid isPermaLink="false">b</guid><title>{second_title}</title><link>{base}/b</link></item>'
            f'<item><guid isPermaLink="false">pdf</guid><title>A PDF</title><link>{base}/doc.pdf</link></item>'
            "</channel></rss>")


@pytest.fixture
def site() -> Iterator[HTTPServer]:
    yield from local_server()


@pytest.mark.usefixtures("on_topics")
def test_pages_are_published_once_and_changed_entries_as_updates(site: HTTPServer, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{site.port}"
    feeds_file = tmp_path / "feeds.txt"
    feeds_file.write_text(f"{base}/feed.xml\n{base}/other.xml\n")
    settings = FetcherSettings(data_dir=tmp_path, feeds_file=feeds_file, once=True,
                               allowed_networks="127.0.0.1/32", per_host_min_delay_seconds=0, parse_workers=1)
    kafka.ensure_topics(settings)

    current = {"feed": feed(base, "Second")}
    site.expect_request("/feed.xml").respond_with_handler(
        lambda _: Response(current["feed"], content_type="application/rss+xml"))
    site.expect_request("/other.xml").respond_with_data(  # the same article /a, from another feed
        f'<rss version="2.0"><channel><title>O</title><item><title>A again</title><link>{base}/a?utm_source=x'
        "</link></item></channel></rss>", content_type="application/rss+xml")
    site.expect_request("/a").respond_with_data(PAGE.format(t="First"), content_type="text/html; charset=utf-8",
                                                headers={"ETag": '"a1"'})
    site.expect_request("/b").respond_with_data(PAGE.format(t="Second"), content_type="text/html",
                                                headers={"ETag": '"b1"'})
    site.expect_request("/doc.pdf").respond_with_data(b"%PDF-1.4", content_type="application/pdf")
    site.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /admin/\n")  # pages allowed
    run_once(settings)
    first = pages(settings)
    assert sorted(p.url for p in first) == [f"{base}/a", f"{base}/b"]  # /a once across feeds; PDF refused
    assert not any(p.is_update for p in first) and "First body text" in first[0].html + first[1].html

    current["feed"] = feed(base, "Second, corrected")
    run_once(settings)  # a restart: state comes from fetcher.db
    after = pages(settings)  # partitions are read one after the other: compare as sets, not by position
    assert len(after) == len(first) + 1
    assert [(p.url, p.entry.title) for p in after if p.is_update] == [(f"{base}/b", "Second, corrected")]
    pdf_fetches = [r for r, _ in site.log if r.path == "/doc.pdf"]
    assert len(pdf_fetches) == 1  # a refused page is given up, not fetched at every poll
