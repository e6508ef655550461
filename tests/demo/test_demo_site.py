"""Tests for the bundled demo news site (services/demo)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import feedparser
import httpx
import pytest

from services.demo.server import DemoSite

CTV_TITLE = "Ukraine uses U.S. weapons to strike inside Russia, a Western official tells AP"
CBC_AUTHOR = "Briar Stewart"


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    with DemoSite() as s:
        yield s


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as c:
        yield c


def _page(site: DemoSite, client: httpx.Client, needle: str) -> str:
    matches = [u for u in site.article_urls() if needle in u]
    assert len(matches) == 1, matches
    r = client.get(matches[0])
    assert r.status_code == 200
    return r.text


def test_starts_on_loopback_free_port(site: DemoSite) -> None:
    parts = urlsplit(site.base_url)
    assert parts.scheme == "http" and parts.hostname == "127.0.0.1"
    assert parts.port and parts.port > 0
    assert site.running


def test_feed_urls_match_feeds_txt(site: DemoSite) -> None:
    urls = site.feed_urls()
    assert len(urls) >= 2
    assert all(u.startswith(site.base_url + "/") for u in urls)


def test_feeds_parse_and_link_to_served_pages(site: DemoSite, client: httpx.Client) -> None:
    versions = set()
    linked: list[str] = []
    for url in site.feed_urls():
        r = client.get(url)
        assert r.status_code == 200, url
        ctype = r.headers["content-type"]
        assert ctype.split(";")[0] in {"application/rss+xml", "application/atom+xml"}, ctype
        assert "{base}" not in r.text
        feed = feedparser.parse(r.content)
        assert not feed.bozo, (url, feed.get("bozo_exception"))
        versions.add(feed.version)
        assert feed.entries, url
        for entry in feed.entries:
            assert entry.title and entry.link and entry.get("id")
            assert entry.get("published_parsed") is not None
            assert entry.published_parsed.tm_year == 2024
            assert entry.get("author"), entry.link
            assert entry.get("tags"), entry.link
            assert entry.get("summary"), entry.link
            assert entry.link.startswith(site.base_url + "/"), entry.link
            linked.append(entry.link)
    assert {"rss20", "atom10"} <= versions
    assert sorted(set(linked)) == sorted(site.linked_urls())
    assert len(site.article_urls()) >= 7
    for link in linked:
        r = client.get(link)
        assert r.status_code == 200, link
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert "<article" in r.text and "{base}" not in r.text
        assert 'property="og:title"' in r.text


def test_robots_txt_disallows_one_linked_page(site: DemoSite, client: httpx.Client) -> None:
    r = client.get(site.base_url + "/robots.txt")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "Disallow: /lakeshoreledger/subscribers/" in r.text
    [disallowed] = site.disallowed_urls()
    assert "/lakeshoreledger/subscribers/" in disallowed
    assert disallowed in site.linked_urls() and disallowed not in site.article_urls()
    assert sorted([*site.article_urls(), disallowed]) == sorted(site.linked_urls())
    assert client.get(disallowed).status_code == 200  # served (a browser may read it), just not for crawlers
    assert urlsplit(disallowed).path in site.requested_paths()  # the access log


def test_ctv_page_has_sidebars(site: DemoSite, client: httpx.Client) -> None:
    html = _page(site, client, "/ctvnews/")
    assert CTV_TITLE in html
    for s in ["CTVNews.ca Top Stories", "Local Spotlight", "How to make the most out of your TFSA",
              "Larder Lake", "humpback whales", "largest deliverable pizza",
              'property="article:published_time"', 'property="og:site_name"', "<aside", "<nav",
              "<footer", "Share"]:
        assert s in html, s
    assert "Ukraine has used U.S weapons to strike inside Russia in recent days" in html
    assert "application/ld+json" not in html  # plain markup: metadata from meta tags only


def test_cbc_page_has_comments_and_bio(site: DemoSite, client: httpx.Client) -> None:
    html = _page(site, client, "/cbc/")
    for s in ["Leave a Reply", "Your email address will not be published.", "<figcaption",
              "WATCH |", "Allies say Ukraine should be able to use Western weapons",
              "Briar Stewart is CBC’s Russia correspondent",
              "comment-content", 'property="article:published_time"', "NewsArticle"]:
        assert s in html, s


def test_seed_paragraphs_copied() -> None:
    from pathlib import Path

    seeds = Path("/work/shared/seeds")
    if not seeds.is_dir():
        pytest.skip("seed texts not available")
    import html as htmlmod

    from services.demo.server import SITE_DIR

    pages = {p.name: htmlmod.unescape(p.read_text(encoding="utf-8"))
             for p in SITE_DIR.rglob("*.html")}
    ctv = next(t for n, t in pages.items() if "ukraine-uses-u-s-weapons" in n)
    cbc = next(t for n, t in pages.items() if "ukraine-russia-us-weapons-kharkiv" in n)
    for line in ["Biden's directive allows for U.S.-supplied weapons",
                 "which along with Saudi Arabia and the United Arab Emirates"]:
        assert line in ctv
    for line in ["Various media outlets, including Reuters are quoting anonymous U.S. sources",
                 "weapons given by Italy should only be used in Ukraine."]:
        assert line in cbc


def test_conditional_get(site: DemoSite, client: httpx.Client) -> None:
    url = site.article_urls()[0]
    r = client.get(url)
    etag, last_modified = r.headers["etag"], r.headers["last-modified"]
    assert etag and last_modified
    r2 = client.get(url, headers={"If-None-Match": etag})
    assert r2.status_code == 304 and r2.content == b""
    assert r2.headers["etag"] == etag
    r3 = client.get(url, headers={"If-Modified-Since": last_modified})
    assert r3.status_code == 304
    r4 = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert r4.status_code == 200 and r4.content == r.content
    feed = site.feed_urls()[0]
    f = client.get(feed)
    assert client.get(feed, headers={"If-None-Match": f.headers["etag"]}).status_code == 304


def test_head_request(site: DemoSite, client: httpx.Client) -> None:
    r = client.head(site.feed_urls()[0])
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["content-length"]) > 0


def test_unknown_path_404(site: DemoSite, client: httpx.Client) -> None:
    assert client.get(site.base_url + "/no/such/page").status_code == 404
    assert client.get(site.base_url + "/../server.py").status_code == 404
    assert client.get(site.base_url + "/ctvnews/world/").status_code == 404


def test_quiet_by_default(capfd: pytest.CaptureFixture[str]) -> None:
    with DemoSite() as s:
        httpx.get(s.base_url + "/", timeout=5.0)
        httpx.get(s.base_url + "/missing", timeout=5.0)
    out, err = capfd.readouterr()
    assert err == "" and out == ""


def test_two_sites_and_restart() -> None:
    with DemoSite() as a, DemoSite() as b:
        assert a.base_url != b.base_url
        assert httpx.get(a.article_urls()[0], timeout=5.0).status_code == 200
    with pytest.raises(RuntimeError):
        _ = a.base_url
