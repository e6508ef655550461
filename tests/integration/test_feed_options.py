"""Per-feed options end to end (issue 17.5): a feed list with options, the real fetcher, the real broker,
local servers that record what arrives.

* The feed's header (its value from an environment variable), basic-auth credential and user agent
  arrive at the feed's server, for the feed and for its pages there; a page on another origin (a
  link, or a redirect) gets none of them.
* The feed's tags and language hint travel on the page message.
* A disabled feed is listed and never requested.
* A variable the list names and the environment lacks stops the start, naming file, line and variable.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from services.common import kafka
from services.common.settings import ConfigError
from services.fetcher.feedlist import FeedListError
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FetcherState
from services.up import check_config
from tests.fetcher.helpers import local_server, pages, run_once

pytestmark = pytest.mark.integration

PAGE = "<html><head><title>{t}</title></head><body><article><p>{t} body text.</p></article></body></html>"
SECRET_KEY, SECRET_PASS = "key-8f3a", "pass-c71e"


@pytest.fixture
def site() -> Iterator[HTTPServer]:
    yield from local_server(no_robots=True)  # no robots.txt: everything allowed


@pytest.fixture
def elsewhere() -> Iterator[HTTPServer]:
    yield from local_server(no_robots=True)  # no robots.txt: everything allowed


def recording(seen: dict[str, dict[str, str]], body: str, content_type: str = "text/html") -> object:
    def handler(request: Request) -> Response:
        seen[request.path] = dict(request.headers)
        return Response(body, content_type=content_type)
    return handler


def test_headers_and_auth_reach_the_feeds_origin_only(site: HTTPServer, elsewhere: HTTPServer, tmp_path: Path,
                                                     topic_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**topic_env, "NF_FEED_KEY": SECRET_KEY, "NF_FEED_PASS": SECRET_PASS}.items():
        monkeypatch.setenv(key, value)
    base, other = site.url_for("").rstrip("/"), elsewhere.url_for("").rstrip("/")
    items = "".join(f"<item><guid>{g}</guid><title>{g}</title><link>{link}</link></item>"
                    for g, link in (("a", f"{base}/a"), ("b", f"{other}/b"), ("hop", f"{base}/hop")))
    seen: dict[str, dict[str, str]] = {}
    site.expect_request("/feed.xml").respond_with_handler(recording(
        seen, f'<rss version="2.0"><channel><title>Local</title>{items}</channel></rss>', "application/rss+xml"))
    site.expect_request("/a").respond_with_handler(recording(seen, PAGE.format(t="A")))
    site.expect_request("/hop").respond_with_response(Response(status=302, headers={"Location": f"{other}/landed"}))
    elsewhere.expect_request("/b").respond_with_handler(recording(seen, PAGE.format(t="B")))
    elsewhere.expect_request("/landed").respond_with_handler(recording(seen, PAGE.format(t="Landed")))
    feeds_file = tmp_path / "feeds.txt"
    feeds_file.write_text(
        f'{base}/feed.xml header.X-Api-Key=env:NF_FEED_KEY auth=reader:env:NF_FEED_PASS user_agent="Example Reader/2.0" '
        "language=de tags=politics,canada  # Local news\n"
        f"{base}/off.xml disabled=true\n")
    settings = FetcherSettings(data_dir=tmp_path, feeds_file=feeds_file, once=True, allowed_networks="127.0.0.1/32",
                               per_host_min_delay_seconds=0, parse_workers=1)
    kafka.ensure_topics(settings)
    run_once(settings)

    basic = "Basic " + base64.b64encode(f"reader:{SECRET_PASS}".encode()).decode()
    for path in ("/feed.xml", "/a"):  # the feed and its page on the feed's origin
        assert seen[path]["X-Api-Key"] == SECRET_KEY and seen[path]["Authorization"] == basic, path
        assert seen[path]["User-Agent"] == "Example Reader/2.0", path
    for path in ("/b", "/landed"):  # a link to, and a redirect to, another origin
        assert "X-Api-Key" not in seen[path] and "Authorization" not in seen[path], path
        assert seen[path]["User-Agent"] == settings.user_agent, path
    assert not [r for r, _ in site.log if r.path == "/off.xml"]  # disabled: never requested
    published = pages(settings)
    assert sorted(p.url for p in published) == sorted([f"{base}/a", f"{base}/hop", f"{other}/b"])
    assert all(p.entry.tags == ["politics", "canada"] and p.entry.language_hint == "de" for p in published)
    state = FetcherState(tmp_path / "fetcher.db")
    try:
        off = state.feed_report(f"{base}/off.xml")
        on = state.feed_report(f"{base}/feed.xml")
    finally:
        state.close()
    assert off is not None and off.disabled and off.last_polled_at is None
    assert on is not None and SECRET_KEY not in str(on.options) and "env:NF_FEED_KEY" in str(on.options)


@pytest.mark.usefixtures("on_topics")
def test_a_missing_variable_stops_the_start_naming_line_and_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NF_ABSENT_KEY", raising=False)
    feeds_file = tmp_path / "feeds.txt"
    feeds_file.write_text("https://a.example/feed\nhttps://b.example/feed header.X-Api-Key=env:NF_ABSENT_KEY\n")
    expected = (f"{feeds_file}:2: option header.X-Api-Key names the environment variable NF_ABSENT_KEY, which is "
                "not set (or empty)")
    with pytest.raises(ConfigError) as err:
        check_config(feeds_file)  # `newsflow up` checks before anything starts
    assert expected in str(err.value)
    settings = FetcherSettings(data_dir=tmp_path, feeds_file=feeds_file, once=True, parse_workers=1)
    with pytest.raises(FeedListError) as started:
        run_once(settings)  # `newsflow fetcher` alone: the same error at its start
    assert str(started.value) == expected
