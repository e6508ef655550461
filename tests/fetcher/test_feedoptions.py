"""Per-feed options (issue 17.5): parsing in feeds.txt and OPML, round trips, the state, status masking, schedule.

The requests themselves (a header and basic auth arriving at a server, nothing at another origin)
are in ``tests/integration/test_feed_options.py``; a variable missing at poll time is here, against a
real local server and state file.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client import REGISTRY
from pytest_httpserver import HTTPServer

from services.cli import main
from services.fetcher import schedule
from services.fetcher.feedlist import (
    FeedListError,
    ListedFeed,
    append_feeds,
    check_environment,
    format_line,
    parse_feeds,
    read_feeds,
    to_opml,
)
from services.fetcher.feedoptions import FeedOptions, HostHeaders, OptionError
from services.fetcher.http import HttpClient
from services.fetcher.leases import DUE
from services.fetcher.parse import ParsePool
from services.fetcher.poller import Candidate, FeedPoller
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FetcherState
from tests.fetcher.test_fetcher_leases import T0, Opener, open_replica  # noqa: F401 (a fixture)

FULL = ('https://a.example/rss min_interval=10m max_interval=6h header.X-Api-Key=env:FEED_KEY '
        'auth=reader:env:FEED_PASS user_agent="Example Reader/2.0 (+https://r.example #bot)" language=de '
        "tags=politics,canada  # A's politics")


# --- the plain-text list ---------------------------------------------------------------------------


def test_a_line_with_every_option() -> None:
    (feed,) = parse_feeds(f"# my feeds\n{FULL}\n", "feeds.txt")
    assert feed.url == "https://a.example/rss" and feed.title == "A's politics" and feed.where == "feeds.txt:2"
    o = feed.options
    assert (o.min_interval, o.max_interval) == (600, 6 * 3600)
    assert o.headers == (("X-Api-Key", "env:FEED_KEY"),) and o.auth == ("reader", "env:FEED_PASS")
    assert o.user_agent == "Example Reader/2.0 (+https://r.example #bot)"  # a # inside quotes is not a comment
    assert o.language == "de" and o.tags == ("politics", "canada") and not o.disabled


def test_plain_lines_and_comments_are_as_before() -> None:
    text = "http://a.example/rss\n  https://b.example/atom.xml  # nightly\nhttps://c.example/feed#top\n"
    feeds = parse_feeds(text)
    assert [(f.url, f.title, f.options) for f in feeds] == [
        ("http://a.example/rss", None, FeedOptions()), ("https://b.example/atom.xml", "nightly", FeedOptions()),
        ("https://c.example/feed#top", None, FeedOptions())]  # a fragment is the URL's, not a comment


def test_durations_and_flags() -> None:
    (a, b) = parse_feeds("https://a.example/ min_interval=90 max_interval=1.5h disabled=yes\n"
                         "https://b.example/ max_interval=1d disabled=false tags=' x , y ,x'\n")
    assert (a.options.min_interval, a.options.max_interval, a.options.disabled) == (90, 5400, True)
    assert (b.options.max_interval, b.options.disabled, b.options.tags) == (86_400, False, ("x", "y"))


@pytest.mark.parametrize(("line", "message"), [
    ("https://a.example/ every=10m", "unknown option 'every'"),
    ("https://a.example/ some words", "'some' after the URL is not key=value (a comment starts with #)"),
    ("https://a.example/ min_interval=soon", "min_interval='soon': not a duration"),
    ("https://a.example/ min_interval=0", "not a duration"),
    ("https://a.example/ min_interval=2h max_interval=1h", "min_interval (2h) exceeds max_interval (1h)"),
    ("https://a.example/ header.Host=evil.example", "header.Host: not settable per feed"),
    ("https://a.example/ header.User-Agent=x", "use user_agent="),
    ("https://a.example/ header.X_Bad!=1", "not a header name"),
    ("https://a.example/ header.X-Key=env:", "env: must be followed by an environment variable name"),
    ("https://a.example/ header.X-Key=", "header.X-Key: empty value"),
    ("https://a.example/ header.x-key=1 header.X-Key=2", "header.X-Key given twice"),
    ("https://a.example/ auth=reader", "USER:PASSWORD expected"),
    ("https://a.example/ auth=a:b header.Authorization=Bearer", "keep one"),
    ("https://a.example/ language=Deutsch", "not a language code"),
    ("https://a.example/ tags=,", "no tag"),
    ("https://a.example/ disabled=maybe", "true or false expected"),
    ("https://a.example/ tags=a tags=b", "tags given twice"),
    ('https://a.example/ user_agent="Bot', "No closing quotation"),
    ("not-a-url tags=a", "feeds.txt:2: "),
])
def test_bad_lines_are_refused_naming_file_and_line(line: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "feeds.txt"
    path.write_text(f"https://ok.example/rss\n{line}\n")
    with pytest.raises(FeedListError, match=r"feeds\.txt:2: ") as err:
        read_feeds(path)
    assert message in str(err.value)


def test_the_same_feed_twice_with_other_options_is_an_error() -> None:
    assert len(parse_feeds("https://a.example/ tags=x\nhttps://a.example/ tags=x  # again\n")) == 1
    with pytest.raises(FeedListError, match=r"f:2: https://a.example/ is listed again with other options \(first at f:1\)"):
        parse_feeds("https://a.example/ tags=x\nhttps://a.example/ tags=y\n", "f")


def test_a_missing_environment_variable_is_an_error_naming_the_line() -> None:
    feeds = parse_feeds(f"{FULL}\nhttps://off.example/ header.X-Key=env:OFF_KEY disabled=true\n", "feeds.txt")
    with pytest.raises(FeedListError) as err:
        check_environment(feeds, {"FEED_KEY": "k"})
    assert str(err.value) == ("feeds.txt:1: option auth names the environment variable FEED_PASS, which is not set "
                              "(or empty)")  # a disabled feed's variable is not needed
    with pytest.raises(FeedListError, match="FEED_KEY, which is not set"):
        check_environment(feeds, {"FEED_KEY": "", "FEED_PASS": "p"})  # empty counts as missing
    check_environment(feeds, {"FEED_KEY": "k", "FEED_PASS": "p"})


def test_request_headers_read_the_environment_when_asked() -> None:
    (feed,) = parse_feeds(FULL)
    headers = feed.options.request_headers({"FEED_KEY": "key-1", "FEED_PASS": "pä:ss"})
    assert headers == {"X-Api-Key": "key-1", "Authorization": "Basic cmVhZGVyOnDDpDpzcw==",  # utf-8, RFC 7617
                       "User-Agent": "Example Reader/2.0 (+https://r.example #bot)"}
    with pytest.raises(OptionError, match="FEED_PASS, which is not set"):
        feed.options.request_headers({"FEED_KEY": "key-1"})
    with pytest.raises(OptionError, match="FEED_KEY holds control characters"):
        feed.options.request_headers({"FEED_KEY": "a\r\nX-Injected: 1", "FEED_PASS": "p"})
    literal = FeedOptions.parse([("header.Accept-Language", "de"), ("auth", "u:secret")])
    assert literal.request_headers({}) == {"Accept-Language": "de", "Authorization": "Basic dTpzZWNyZXQ="}


def test_masked_options_show_variable_names_never_values() -> None:
    options = FeedOptions.parse([("header.X-Api-Key", "env:FEED_KEY"), ("header.Cookie", "session=abc"),
                                 ("auth", "reader:hunter2"), ("tags", "a")])
    assert options.masked() == [("header.X-Api-Key", "env:FEED_KEY"), ("header.Cookie", "***"),
                                ("auth", "reader:***"), ("tags", "a")]


# --- round trips: text, OPML, the state's JSON -------------------------------------------------------


def test_text_opml_and_json_round_trip() -> None:
    feeds = parse_feeds(f"{FULL}\nhttps://b.example/feed  # B & co\nhttps://c.example/feed disabled=true\n")
    for feed in feeds:
        assert parse_feeds(format_line(feed))[0].options == feed.options
        assert FeedOptions.from_json(feed.options.to_json()) == feed.options
    opml = to_opml(feeds)
    assert 'xmlns:newsflow="https://github.com/newsflow/newsflow#feed-options"' in opml
    assert 'newsflow:header.X-Api-Key="env:FEED_KEY"' in opml and 'newsflow:disabled="true"' in opml
    again = parse_feeds(opml, "x.opml")
    assert [(f.url, f.title, f.options) for f in again] == [(f.url, f.title, f.options) for f in feeds]
    assert "xmlns:newsflow" not in to_opml([ListedFeed("https://plain.example/")])  # no options: plain OPML


def test_opml_options_are_checked_naming_the_line() -> None:
    opml = ('<?xml version="1.0"?>\n<opml version="2.0" xmlns:nf="https://github.com/newsflow/newsflow#feed-options">'
            '<body>\n<outline xmlUrl="https://a.example/" nf:tags="x"/>\n'
            '<outline xmlUrl="https://b.example/" nf:poll="often" other="ignored"/>\n</body></opml>')
    with pytest.raises(FeedListError, match=r"x\.opml:4: unknown option 'poll'"):
        parse_feeds(opml, "x.opml")


def test_import_writes_options_that_parse_back(tmp_path: Path) -> None:
    opml = tmp_path / "in.opml"
    opml.write_text(to_opml(parse_feeds(FULL)))
    feeds_file = tmp_path / "feeds.txt"
    feeds_file.write_text("https://old.example/\n")
    result = CliRunner().invoke(main, ["feeds", "import", str(opml)],
                                env={"NEWSFLOW_FEEDS_FILE": str(feeds_file), "NEWSFLOW_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "user_agent='Example Reader/2.0 (+https://r.example #bot)'" in feeds_file.read_text()
    assert [f.options for f in read_feeds(feeds_file)] == [FeedOptions(), parse_feeds(FULL)[0].options]
    added, known = append_feeds(feeds_file, parse_feeds(FULL), "again")
    assert (added, known) == (0, 1)
    exported = CliRunner().invoke(main, ["feeds", "export"], env={"NEWSFLOW_FEEDS_FILE": str(feeds_file),
                                                                  "NEWSFLOW_DATA_DIR": str(tmp_path)})
    assert parse_feeds(exported.output)[1].options == parse_feeds(FULL)[0].options


# --- origins -------------------------------------------------------------------------------------------


def test_host_headers_stay_on_the_feed_origin() -> None:
    scoped = HostHeaders.for_feed("http://News.example/feed", {"X-Api-Key": "k"})
    assert scoped is not None
    assert scoped.for_url("http://news.example/article/1") == {"X-Api-Key": "k"}
    assert scoped.for_url("https://news.example/feed") == {"X-Api-Key": "k"}  # an upgrade to https, default ports
    for elsewhere in ("http://cdn.news.example/feed", "http://news.example:8080/feed", "http://evil.example/",
                      "http://news.example.evil.example/"):
        assert scoped.for_url(elsewhere) == {}, elsewhere
    secure = HostHeaders.for_feed("https://news.example/feed", {"X-Api-Key": "k"})
    assert secure is not None and secure.for_url("http://news.example/feed") == {}  # never downgraded to http
    assert HostHeaders.for_feed("https://news.example/feed", {}) is None


# --- the state: options and disabled for every replica ----------------------------------------------------


def test_the_state_keeps_options_and_skips_disabled_feeds(open_replica: Opener) -> None:  # noqa: F811
    a, b = open_replica("a"), open_replica("b")
    feeds = parse_feeds(f"{FULL}\nhttps://b.example/\nhttps://off.example/ disabled=true tags=x\n")
    urls, options = [f.url for f in feeds], {f.url: f.options for f in feeds}
    assert a.replace_feed_list(urls, T0, options) is True
    assert a.replace_feed_list(urls, T0, options) is False
    claimed, _ = b.claim_due(T0, 10)  # another replica sees the options; the disabled feed is never claimed
    assert sorted(f.url for f in claimed) == ["https://a.example/rss", "https://b.example/"]
    assert {f.url: f.options for f in claimed}["https://a.example/rss"] == feeds[0].options
    assert b.counts_by_state() == {"active": 2, "disabled": 1}
    assert b.poll_now(None, T0 + 1) == [] and b.next_due_at() is not None
    report = b.feed_report("https://off.example/")
    assert report is not None and report.disabled and report.masked_options() == [("tags", "x"), ("disabled", "true")]
    enabled = {**options, "https://off.example/": FeedOptions()}  # the line's option removed: polled again
    assert a.replace_feed_list(urls, T0, enabled) is True
    report = b.feed_report("https://off.example/")
    assert report is not None and not report.disabled and report.options is None


def test_the_due_query_reads_the_due_index(tmp_path: Path) -> None:
    state = FetcherState(tmp_path / "fetcher.db", "a")
    try:
        plan = " ".join(str(row) for row in state.db.execute(
            f"EXPLAIN QUERY PLAN SELECT url FROM feeds WHERE {DUE} AND next_poll_at <= ? ORDER BY next_poll_at LIMIT 10",
            (T0,)))
        assert "feeds_due" in plan
    finally:
        state.close()


# --- feeds status ---------------------------------------------------------------------------------------


def test_feeds_status_masks_secrets(tmp_path: Path) -> None:
    feeds = parse_feeds(f"{FULL}\nhttps://lit.example/ header.X-Token=tok-123 auth=u:pw-456\n"
                        "https://off.example/ disabled=true\n")
    state = FetcherState(tmp_path / "fetcher.db")
    state.replace_feed_list([f.url for f in feeds], T0, {f.url: f.options for f in feeds})
    state.close()
    env = {"NEWSFLOW_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    one = runner.invoke(main, ["feeds", "status", "https://lit.example/"], env=env)
    assert "options:        header.X-Token=*** auth=u:***" in one.output
    full = runner.invoke(main, ["feeds", "status", "https://a.example/rss"], env=env).output
    assert "header.X-Api-Key=env:FEED_KEY auth=reader:env:FEED_PASS" in full and "tags=politics,canada" in full
    table = runner.invoke(main, ["feeds", "status"], env=env).output
    assert "disabled " in table and "1 disabled" in table
    off = runner.invoke(main, ["feeds", "status", "https://off.example/"], env=env).output
    assert "state:          disabled" in off and "never (disabled=true in the feed list)" in off
    as_json = runner.invoke(main, ["feeds", "status", "--json"], env=env).output
    for secret in ("tok-123", "pw-456"):
        assert secret not in one.output + full + table + off + as_json
    rows = {r["url"]: r for r in json.loads(as_json)}
    assert rows["https://lit.example/"]["options"] == {"header.X-Token": "***", "auth": "u:***"}
    assert rows["https://off.example/"]["disabled"] is True


# --- polling with options --------------------------------------------------------------------------------


def test_a_variable_missing_at_poll_time_fails_the_feed_visibly(httpserver: HTTPServer, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The list was accepted (a replica whose environment lacks the variable, or an edit after the
    start): the poll fails with the variable's name, is counted, and nothing is requested."""
    monkeypatch.delenv("NF_TEST_ABSENT", raising=False)
    url = httpserver.url_for("/feed")
    (feed,) = parse_feeds(f"{url} header.X-Key=env:NF_TEST_ABSENT")
    settings = FetcherSettings(data_dir=tmp_path, allowed_networks="127.0.0.1/32", per_host_min_delay_seconds=0,
                               parse_workers=1)
    state = FetcherState(tmp_path / "fetcher.db")
    state.replace_feed_list([url], T0, {url: feed.options})
    before = REGISTRY.get_sample_value("newsflow_feed_option_errors_total") or 0.0

    async def publish(cands: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        return cands, []

    async def poll() -> str:
        http = HttpClient(settings)
        try:
            row = state.feed(url)
            assert row is not None
            return await FeedPoller(settings, http, state, publish, ParsePool(1)).poll(row)
        finally:
            await http.aclose()

    try:
        assert asyncio.run(poll()) == "error"
        report = state.feed_report(url)
    finally:
        state.close()
    assert report is not None and report.error_count == 1 and report.never_succeeded
    assert report.last_error == ("feed option header.X-Key names the environment variable NF_TEST_ABSENT, which is "
                                 "not set (or empty)")
    assert (REGISTRY.get_sample_value("newsflow_feed_option_errors_total") or 0.0) == before + 1
    assert httpserver.log == []


def test_a_feeds_own_bounds_schedule_it(tmp_path: Path) -> None:
    settings = FetcherSettings(data_dir=tmp_path, min_poll_interval_seconds=300, max_poll_interval_seconds=86_400)
    rng = random.Random(1)
    assert schedule.feed_bounds(settings, None, None) is None
    assert schedule.feed_bounds(settings, 60, None) == (60, 86_400)
    assert schedule.feed_bounds(settings, 2 * 86_400, None) == (2 * 86_400, 2 * 86_400)  # past the global max
    assert schedule.feed_bounds(settings, None, 120) == (120, 120)  # below the global min
    quiet = schedule.feed_bounds(settings, None, 3600)
    assert schedule.next_success_delay(0, 0, settings, rng) >= 86_400  # a quiet feed: the global max
    assert schedule.next_success_delay(0, 0, settings, rng, bounds=quiet) == 3600  # its own max
    assert schedule.next_success_delay(None, 7200, settings, rng, bounds=quiet) == 3600  # caps a cache hint too
    busy = schedule.feed_bounds(settings, 60, None)
    assert 60 <= schedule.next_success_delay(1440, 0, settings, rng, bounds=busy) <= 66  # 1/min, not the global 5 min
    for errors in range(1, 6):
        assert 60 <= schedule.next_failure_delay(errors, settings, None, rng, bounds=(60, 600)) <= 600
    assert schedule.next_failure_delay(1, settings, 7200, rng, bounds=(60, 600)) == 7200  # Retry-After still wins


def test_options_must_parse_from_the_state() -> None:
    with pytest.raises(OptionError, match="stored feed options unreadable"):
        FeedOptions.from_json('[["poll_hard", "yes"]]')
    assert FeedOptions.from_json(None) == FeedOptions()
