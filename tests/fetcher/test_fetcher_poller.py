"""FeedPoller against a real local server: conditional GET, schedule, errors, moves, identity, state."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from services.fetcher import schedule
from services.fetcher.http import HttpClient
from services.fetcher.parse import ParsePool
from services.fetcher.poller import Candidate, FeedPoller
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FetcherState
from tests.fetcher.helpers import local_server


def make_settings(tmp_path: Path, **kw: Any) -> FetcherSettings:
    base: dict[str, Any] = {"data_dir": tmp_path, "allowed_networks": "127.0.0.1/32", "per_host_min_delay_seconds": 0,
                            "parse_workers": 1, "min_poll_interval_seconds": 60, "max_poll_interval_seconds": 86_400,
                            "dead_after_errors": 3, "dead_probe_interval_seconds": 7 * 86_400}
    return FetcherSettings(**{**base, **kw})


def rss(*items: tuple[str, str, str], ttl: int | None = None) -> str:
    now = datetime.now(UTC)
    body = "".join(
        f'<item><guid isPermaLink="false">{guid}</guid>'
        f"<title>{title}</title><link>{link}</link>"
        f"<pubDate>{format_datetime(now - timedelta(hours=i))}</pubDate></item>"
        for i, (guid, title, link) in enumerate(items))
    extra = f"<ttl>{ttl}</ttl>" if ttl else ""
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{extra}{body}</channel></rss>'


class Harness:
    """A FeedPoller with a real state file and a publisher that records what it was given."""

    def __init__(self, tmp_path: Path, **kw: Any) -> None:
        self.settings = make_settings(tmp_path, **kw)
        self.published: list[Candidate] = []
        self.refuse: set[str] = set()

    async def _publish(self, cands: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        done = [c for c in cands if c.entry.link not in self.refuse]
        self.published += done
        return done, []

    def poll(self, url: str) -> str:
        async def run() -> str:
            state = FetcherState(self.settings.data_dir / "fetcher.db")
            http = HttpClient(self.settings)
            try:
                state.sync_feeds([url])
                feed = state.feed(url)
                assert feed is not None
                poller = FeedPoller(self.settings, http, state, self._publish, ParsePool(1))
                return await poller.poll(feed)
            finally:
                await http.aclose()
                state.close()
        return asyncio.run(run())

    def feed(self, url: str) -> Any:
        state = FetcherState(self.settings.data_dir / "fetcher.db")
        try:
            return state.feed(url)
        finally:
            state.close()


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    yield from local_server()


ITEMS = (("g1", "One", "https://news.example/1"), ("g2", "Two", "https://news.example/2"))


def test_conditional_get_then_304(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path)
    url = server.url_for("/feed")
    server.expect_ordered_request("/feed").respond_with_data(
        rss(*ITEMS), headers={"ETag": '"v1"', "Last-Modified": "Mon, 06 Jan 2025 10:00:00 GMT"})
    server.expect_ordered_request("/feed", headers={"If-None-Match": '"v1"',
                                                    "If-Modified-Since": "Mon, 06 Jan 2025 10:00:00 GMT"}
                                  ).respond_with_data("", status=304)
    assert h.poll(url) == "new" and [c.entry.title for c in h.published] == ["One", "Two"]
    assert h.poll(url) == "not_modified" and len(h.published) == 2
    server.check_assertions()
    feed = h.feed(url)
    assert feed.state == "active" and feed.next_poll_at > time.time() + 50


def test_unchanged_entries_are_not_published_again_changed_ones_are_updates(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path)
    url = server.url_for("/feed")
    server.expect_ordered_request("/feed").respond_with_data(rss(*ITEMS))
    server.expect_ordered_request("/feed").respond_with_data(rss(*ITEMS))
    server.expect_ordered_request("/feed").respond_with_data(
        rss(("g1", "One (corrected)", "https://news.example/1"), ITEMS[1], ("g3", "Three", "https://news.example/3")))
    h.poll(url)
    assert h.poll(url) == "not_modified" and len(h.published) == 2  # state survived a restart (new FetcherState)
    h.poll(url)
    latest = {c.entry.entry_id: c for c in h.published[2:]}
    assert set(latest) == {"g1", "g3"}
    assert latest["g1"].is_update and not latest["g3"].is_update


def test_changed_guid_with_same_link_is_the_same_entry(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path)
    url = server.url_for("/feed")
    server.expect_ordered_request("/feed").respond_with_data(rss(ITEMS[0]))
    server.expect_ordered_request("/feed").respond_with_data(rss(("g1-regenerated", "One", "https://news.example/1")))
    h.poll(url)
    h.poll(url)
    assert len(h.published) == 1


def test_same_article_in_two_feeds_is_published_once(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path)
    server.expect_request("/a").respond_with_data(rss(ITEMS[0]))
    server.expect_request("/b").respond_with_data(
        rss(("other-guid", "One, elsewhere", "https://news.example/1?utm_source=b"), ("b2", "B2", "https://news.example/b2")))
    h.poll(server.url_for("/a"))
    h.poll(server.url_for("/b"))
    assert [c.entry.link for c in h.published] == ["https://news.example/1", "https://news.example/b2"]


def test_entry_not_published_is_tried_again(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path)
    server.expect_request("/feed").respond_with_data(rss(*ITEMS))
    h.refuse = {"https://news.example/2"}
    h.poll(server.url_for("/feed"))
    h.refuse = set()
    h.poll(server.url_for("/feed"))
    assert [c.entry.entry_id for c in h.published] == ["g1", "g2"]


def test_ttl_and_cache_control_delay_the_next_poll(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path)
    server.expect_request("/ttl").respond_with_data(rss(*ITEMS, ttl=600))
    server.expect_request("/cc").respond_with_data(rss(*ITEMS), headers={"Cache-Control": "public, max-age=20000"})
    before = time.time()
    h.poll(server.url_for("/ttl"))
    h.poll(server.url_for("/cc"))
    assert h.feed(server.url_for("/ttl")).next_poll_at >= before + 36_000
    assert h.feed(server.url_for("/cc")).next_poll_at >= before + 20_000


def test_429_retry_after_backoff_dead_and_recovery(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path)
    url = server.url_for("/feed")
    server.expect_ordered_request("/feed").respond_with_data("", status=429, headers={"Retry-After": "5000"})
    for _ in range(2):
        server.expect_ordered_request("/feed").respond_with_data("", status=500)
    server.expect_ordered_request("/feed").respond_with_data(rss(*ITEMS))
    before = time.time()
    assert h.poll(url) == "error"
    first = h.feed(url)
    assert first.state == "backing_off" and first.next_poll_at >= before + 5000
    h.poll(url)
    h.poll(url)
    dead = h.feed(url)
    assert dead.state == "dead" and dead.error_count == 3 and dead.next_poll_at >= before + 7 * 86_400
    assert h.poll(url) == "new"  # a dead feed is still probed, and comes back by itself
    alive = h.feed(url)
    assert alive.state == "active" and alive.error_count == 0


def test_301_updates_the_stored_url_and_410_retires(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path)
    old = server.url_for("/old")
    server.expect_ordered_request("/old").respond_with_data("", status=301, headers={"Location": "/new"})
    server.expect_ordered_request("/new").respond_with_data(rss(*ITEMS))
    server.expect_ordered_request("/new").respond_with_data("", status=410)
    assert h.poll(old) == "new"
    assert h.feed(old).fetch_url == server.url_for("/new")
    h.poll(old)  # polls /new directly
    assert h.feed(old).state == "retired"
    server.check_assertions()
    state = FetcherState(tmp_path / "fetcher.db")
    assert state.due(float("inf"), [old]) == []  # never polled again
    state.close()


def test_image_at_a_feed_url_is_refused(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path)
    server.expect_request("/feed").respond_with_data(b"\x89PNG....", content_type="image/png")
    assert h.poll(server.url_for("/feed")) == "error"
    assert "image/png" in (h.feed(server.url_for("/feed")).last_error or "")


def test_seen_entries_expire_after_the_horizon(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path)
    server.expect_request("/feed").respond_with_data(rss(*ITEMS))
    h.poll(server.url_for("/feed"))
    state = FetcherState(tmp_path / "fetcher.db")
    assert len(state.published_ids()) == 2
    assert state.expire(time.time() - 3600) == 0
    assert state.expire(time.time() + 1) == 4  # two entries rows, two seen rows
    assert state.published_ids() == set()
    assert state.db.execute("SELECT COUNT(*) FROM entries").fetchone() == (0,)
    state.close()


# --- schedule: pure logic -------------------------------------------------------------------------

def test_rhythm_follows_entries_per_day_within_bounds(tmp_path: Path) -> None:
    s = make_settings(tmp_path, min_poll_interval_seconds=300, max_poll_interval_seconds=43_200)
    now = time.time()
    hourly = [datetime.fromtimestamp(now - i * 3600, UTC) for i in range(24 * 7)]
    assert schedule.entries_per_day(hourly, now) == pytest.approx(24, rel=0.01)
    assert schedule.rhythm_interval(24, s) == pytest.approx(3600)
    assert schedule.rhythm_interval(10_000, s) == 300  # min bound
    assert schedule.rhythm_interval(0.1, s) == 43_200  # max bound
    assert schedule.rhythm_interval(None, s) == s.poll_interval_seconds
    old = [datetime.fromtimestamp(now - 30 * 86_400, UTC)]
    assert schedule.entries_per_day(old, now) == 0 and schedule.rhythm_interval(0, s) == 43_200


def test_server_hints_raise_the_interval_never_lower_it(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    now = time.time()
    expires = format_datetime(datetime.fromtimestamp(now + 7200, UTC), usegmt=True)
    assert schedule.server_hint({"expires": expires}, None, now) == pytest.approx(7200, abs=2)
    assert schedule.server_hint({"cache-control": "max-age=60", "expires": expires}, None, now) == 60
    assert schedule.server_hint({}, 1800, now) == 1800
    assert schedule.server_hint({"cache-control": "max-age=99999999"}, None, now) == schedule.HINT_CEILING
    rng = random.Random(1)
    assert schedule.next_success_delay(1000, 7200, s, rng) >= 7200
    assert schedule.next_success_delay(100_000, 0, s, rng) < 60 * 1.11


def test_backoff_grows_with_jitter_and_retry_after_is_a_floor(tmp_path: Path) -> None:
    s = make_settings(tmp_path, dead_after_errors=10)
    rng = random.Random(7)
    delays = [[schedule.next_failure_delay(e, s, rng=rng) for _ in range(200)] for e in (1, 4, 8)]
    assert max(delays[0]) <= 120 and max(delays[1]) <= 960 and max(delays[2]) <= 15_360
    assert len({round(d) for d in delays[2]}) > 50  # jittered, not lock-step
    assert sum(delays[2]) / 200 > sum(delays[0]) / 200
    assert schedule.next_failure_delay(1, s, retry_after=3600, rng=rng) >= 3600
    assert schedule.failure_state(10, s) == "dead" and schedule.failure_state(9, s) == "backing_off"



# --- entries not yet published are not hidden by the next 304 ----------------------------------

def test_a_refused_page_keeps_the_feed_open_until_it_is_published(server: HTTPServer, tmp_path: Path) -> None:
    """A page that could not be published (retry later) must not be hidden by a 304 on the next poll:
    the feed's new validators are stored only once every entry was dealt with."""
    h = Harness(tmp_path)
    h.refuse = {"https://news.example/2"}
    url = server.url_for("/feed")
    validators = {"ETag": '"v1"', "Last-Modified": "Mon, 06 Jan 2025 10:00:00 GMT"}
    server.expect_ordered_request("/feed").respond_with_data(rss(*ITEMS), headers=validators)
    server.expect_ordered_request("/feed").respond_with_data(rss(*ITEMS), headers=validators)
    server.expect_ordered_request("/feed", headers={"If-None-Match": '"v1"'}).respond_with_data("", status=304)
    assert h.poll(url) == "new" and [c.entry.title for c in h.published] == ["One"]
    assert h.feed(url).etag is None, "an entry is pending: the validators must not be stored"
    assert h.feed(url).next_poll_at <= time.time() + 61, "a pending entry brings the next poll forward"
    h.refuse = set()
    assert h.poll(url) == "new" and [c.entry.title for c in h.published] == ["One", "Two"]
    assert h.poll(url) == "not_modified"
    server.check_assertions()


def test_one_poll_publishes_at_most_max_entries_per_poll(server: HTTPServer, tmp_path: Path) -> None:
    h = Harness(tmp_path, max_entries_per_poll=2)
    items = [(f"g{n}", f"Item {n}", f"https://news.example/{n}") for n in range(5)]
    url = server.url_for("/feed")
    server.expect_request("/feed").respond_with_data(rss(*items), headers={"ETag": '"v1"'})
    counts = []
    for _ in range(3):
        h.poll(url)
        counts.append(len(h.published))
    assert counts == [2, 4, 5]
    assert sorted(c.entry.entry_id for c in h.published) == [f"g{n}" for n in range(5)]
    assert h.feed(url).etag == '"v1"'
