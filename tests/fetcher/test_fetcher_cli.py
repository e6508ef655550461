"""``newsflow feeds``: check (files, URLs, site pages), discover, add, import and export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from services.cli import main
from services.fetcher.discover import discover_feeds
from services.fetcher.feedlist import outlines, parse_feed_list
from tests.conftest import shared_data
from tests.fetcher.helpers import local_server

RSS = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Local</title>'
       "<item><title>Hello</title><link>https://l.example/1</link></item></channel></rss>")
PAGE = ('<html><head><base href="/blog/"><link rel="alternate" type="application/rss+xml" href="feed.xml">'
        '<link rel="alternate" type="application/atom+xml" href="https://other.example/atom">'
        '<link rel="stylesheet" href="x.css"></head><body>hi</body></html>')


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    yield from local_server()


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, env={"NEWSFLOW_ALLOWED_NETWORKS": "127.0.0.1/32", **(env or {})})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_check_every_real_feed_without_a_traceback() -> None:
    files = sorted(str(p) for p in shared_data("feeds").iterdir())
    code, out = run(["feeds", "check", *files])
    assert "Traceback" not in out
    for path in files:
        lines = [line for line in out.splitlines() if line.startswith(path + ":")]
        assert len(lines) == 1, path
    assert out.count(" items") >= 20
    assert code == 1  # the directory and the ill-formed file are errors, reported as such


def test_check_a_url_and_a_bad_one(server: HTTPServer) -> None:
    server.expect_request("/feed").respond_with_data(RSS, content_type="application/rss+xml")
    server.expect_request("/gone").respond_with_data("", status=404)
    code, out = run(["feeds", "check", server.url_for("/feed"), server.url_for("/gone"), "file:///etc/passwd",
                     "nonexistent.xml"])
    assert "rss20 'Local': 1 items" in out and "Hello" in out
    assert "/gone: ERROR HTTP 404" in out
    assert "file:///etc/passwd: ERROR refused" in out
    assert "nonexistent.xml: ERROR no such file" in out
    assert code == 1 and "Traceback" not in out


def test_check_refuses_loopback_without_the_allow_list(server: HTTPServer) -> None:
    code, out = run(["feeds", "check", server.url_for("/feed")], env={"NEWSFLOW_ALLOWED_NETWORKS": ""})
    assert code == 1 and "non-public address" in out


def test_check_a_site_page_discovers_and_checks_its_feeds(server: HTTPServer) -> None:
    server.expect_request("/").respond_with_data(PAGE, content_type="text/html")
    server.expect_request("/blog/feed.xml").respond_with_data(RSS, content_type="application/rss+xml")
    code, out = run(["feeds", "check", server.url_for("/")])
    assert code == 1 and "https://other.example/atom: ERROR" in out  # no internet here: a clear error line
    assert "an HTML page, not a feed" in out and f"feed: {server.url_for('/blog/feed.xml')}" in out
    assert "rss20 'Local': 1 items" in out


def test_discover_finds_announced_feeds_in_order() -> None:
    assert discover_feeds(PAGE, "https://site.example/index.html") == [
        "https://site.example/blog/feed.xml", "https://other.example/atom"]
    fallback = '<html><body><a href="/rss">RSS</a> <a href="/about">about</a></body></html>'
    assert discover_feeds(fallback, "https://s.example/") == ["https://s.example/rss"]
    assert discover_feeds(b"", "https://s.example/") == []


def test_discover_and_add(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/").respond_with_data(PAGE, content_type="text/html")
    code, out = run(["feeds", "discover", server.url_for("/")])
    assert code == 0 and server.url_for("/blog/feed.xml") in out
    feeds_file = tmp_path / "feeds.txt"
    code, out = run(["feeds", "add", server.url_for("/")], env={"NEWSFLOW_FEEDS_FILE": str(feeds_file)})
    assert code == 0 and "2 feeds added" in out
    assert parse_feed_list(feeds_file.read_text())[0] == server.url_for("/blog/feed.xml")


def test_import_appends_new_feeds_and_export_round_trips(tmp_path: Path) -> None:
    feeds_file = tmp_path / "feeds.txt"
    feeds_file.write_text("# mine\nhttps://a.example/rss\n")
    opml = tmp_path / "sub.opml"
    opml.write_text('<?xml version="1.0"?><opml version="2.0"><head/><body><outline text="News">'
                    '<outline type="rss" text="A" xmlUrl="https://a.example/rss"/>'
                    '<outline type="rss" text="B &amp; co" xmlUrl="https://b.example/feed"/></outline></body></opml>')
    env = {"NEWSFLOW_FEEDS_FILE": str(feeds_file), "NEWSFLOW_DATA_DIR": str(tmp_path / "data")}
    code, out = run(["feeds", "import", str(opml)], env)
    assert code == 0 and "1 feeds added, 1 already listed" in out
    assert parse_feed_list(feeds_file.read_text()) == ["https://a.example/rss", "https://b.example/feed"]
    _, out = run(["feeds", "import", str(opml)], env)
    assert "0 feeds added, 2 already listed" in out
    code, exported = run(["feeds", "export"], env)
    assert code == 0 and exported.startswith("<?xml")
    assert [(f.url, f.title) for f in outlines(exported)] == [("https://a.example/rss", None),
                                                              ("https://b.example/feed", "B & co")]


def test_import_of_a_broken_opml_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.opml"
    bad.write_text("<opml><body><outline xmlUrl='file:///etc/passwd'/></body></opml>")
    code, out = run(["feeds", "import", str(bad)], {"NEWSFLOW_FEEDS_FILE": str(tmp_path / "f.txt")})
    assert code == 1 and "non-http xmlUrl" in out and "Traceback" not in out
