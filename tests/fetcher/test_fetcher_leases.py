"""What fetcher replicas share, on SQLite and on PostgreSQL: leases, takeover, the feed list, host slots.

Each "replica" is a state store opened with its own owner id on the same file or schema. Time is
passed in (``now``), so expiry is tested without sleeping.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Response

from services.fetcher.http import HostGate, HttpClient
from services.fetcher.leases import LeaseLost
from services.fetcher.pages import PagePublisher
from services.fetcher.parse import ParsePool
from services.fetcher.pgstate import PostgresFetcherState
from services.fetcher.poller import FeedPoller
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FetcherState
from tests.sink.test_store import postgres_schema

POSTGRES_URL = os.environ.get("NEWSFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
LEASE = 10.0
T0 = 1_000_000.0

Opener = Callable[[str | None], FetcherState]


@pytest.fixture(params=["sqlite", "postgresql"])
def open_replica(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the same state store as another replica (owner id), once per backend."""
    opened: list[FetcherState] = []

    def opener_for(make: Callable[[str | None], FetcherState]) -> Opener:
        def open_(owner: str | None) -> FetcherState:
            state = make(owner)
            opened.append(state)
            return state
        return open_

    try:
        if request.param == "sqlite":
            yield opener_for(lambda owner: FetcherState(tmp_path / "fetcher.db", owner, LEASE, 30))
        else:
            with postgres_schema() as url:
                yield opener_for(lambda owner: PostgresFetcherState(url, owner, LEASE, 30))
    finally:
        for state in opened:
            with suppress(Exception):  # a state a thread opened (and closed) itself
                state.close()


def feeds(n: int) -> list[str]:
    return [f"https://site{i % 7}.example/feed/{i}" for i in range(n)]


def test_replicas_claim_disjoint_feeds_oldest_first(open_replica: Opener) -> None:
    a, b = open_replica("a"), open_replica("b")
    a.replace_feed_list(feeds(5), T0)
    mine, taken = a.claim_due(T0, 3)
    theirs, _ = b.claim_due(T0, 3)
    assert len(mine) == 3 and len(theirs) == 2 and taken == 0
    assert not {f.url for f in mine} & {f.url for f in theirs}
    assert a.claim_due(T0 + 1, 10) == ([], 0) and b.claim_due(T0 + 1, 10) == ([], 0)
    # the poll ends: the lease is released, the next poll is scheduled, nobody may take it before that
    a.polled(mine[0].url, next_poll_at=T0 + 5, status=304, now=T0 + 1)
    assert b.claim_due(T0 + 3, 10) == ([], 0)
    again, _ = b.claim_due(T0 + 5, 10)  # the others are leased until T0 + LEASE
    assert [f.url for f in again] == [mine[0].url]


def test_an_expired_lease_is_taken_over_and_the_stalled_holder_cannot_commit(open_replica: Opener) -> None:
    a, b = open_replica("a"), open_replica("b")
    a.replace_feed_list(feeds(2), T0)
    mine, _ = a.claim_due(T0, 10)
    assert b.claim_due(T0 + LEASE - 1, 10) == ([], 0)  # still held
    taken, taken_over = b.claim_due(T0 + LEASE + 1, 10)  # a died (or stalled): its leases expired
    assert sorted(f.url for f in taken) == sorted(f.url for f in mine) and taken_over == 2
    # a wakes up (SIGCONT): it neither sends (holds() is False) nor writes the feed's row
    assert not a.holds(mine[0].url, T0 + LEASE + 2)
    with pytest.raises(LeaseLost):
        a.polled(mine[0].url, next_poll_at=T0 + 999, status=200, etag="stale", now=T0 + LEASE + 2)
    with pytest.raises(LeaseLost):
        a.failed(mine[1].url, next_poll_at=T0 + 999, error="late", state="backing_off")
    assert b.holds(mine[0].url, T0 + LEASE + 2)
    b.polled(mine[0].url, next_poll_at=T0 + 500, status=200, etag="fresh", now=T0 + LEASE + 3)
    row = b.feed(mine[0].url)
    assert row is not None and row.etag == "fresh" and row.next_poll_at == T0 + 500


def test_a_renewed_lease_is_not_taken_over(open_replica: Opener) -> None:
    a, b = open_replica("a"), open_replica("b")
    a.replace_feed_list(feeds(3), T0)
    a.claim_due(T0, 10)
    assert a.renew_leases(T0 + LEASE - 1) == 3
    assert b.claim_due(T0 + LEASE + 1, 10) == ([], 0)
    assert a.holds(feeds(3)[0], T0 + LEASE + 1)
    assert a.release_leases(T0 + LEASE + 2) == 3  # a stops: what it did not finish is due again now
    taken, taken_over = b.claim_due(T0 + LEASE + 2, 10)
    assert len(taken) == 3 and taken_over == 0


def test_the_feed_list_is_the_listed_feeds_and_a_removed_feed_is_not_polled(open_replica: Opener) -> None:
    a, b = open_replica("a"), open_replica("b")
    urls = feeds(4)
    assert a.replace_feed_list(urls, T0) is True
    assert b.replace_feed_list(urls, T0) is False  # the same list: nothing to do
    assert b.replace_feed_list(urls[:3], T0) is True  # removed by any replica: gone for all
    assert sorted(f.url for f in a.claim_due(T0, 10)[0]) == sorted(urls[:3])
    open_replica(None).retire(urls[0], "gone")  # 410 (written here without a lease, as a tool would)
    assert b.replace_feed_list(urls[1:3], T0) is True
    assert a.replace_feed_list(urls, T0) is True  # re-added: a retired feed is polled again
    assert a.feed(urls[0]).state == "active"  # type: ignore[union-attr]
    due = {f.url for f in b.claim_due(T0 + 1, 10)[0]}
    assert due == {urls[0], urls[3]}  # the others are still leased by a
    assert a.counts_by_state() == {"active": 4}


def test_host_slots_and_delay_hold_for_all_replicas_together(open_replica: Opener) -> None:
    a, b = open_replica("a"), open_replica("b")
    host = "news.example"
    slot_a, _ = a.acquire_host(host, 2, 0.0, T0)
    slot_b, _ = b.acquire_host(host, 2, 0.0, T0)
    assert {slot_a, slot_b} == {0, 1}
    assert a.acquire_host(host, 2, 0.0, T0) == (None, 0.0)  # both slots busy
    assert a.acquire_host("other.example", 2, 0.0, T0)[0] == 0  # hosts are independent
    b.release_host(host, slot_b)  # type: ignore[arg-type]
    assert a.acquire_host(host, 2, 0.0, T0)[0] == slot_b
    # a slot of a replica that died frees itself after the hold time (30 s here)
    assert b.acquire_host(host, 2, 0.0, T0 + 31)[0] is not None
    # the minimum delay between request starts, whoever starts them
    assert a.acquire_host("slow.example", 5, 2.0, T0)[0] == 0
    slot, wait = b.acquire_host("slow.example", 5, 2.0, T0 + 0.5)
    assert slot is None and wait == pytest.approx(1.5)
    assert b.acquire_host("slow.example", 5, 2.0, T0 + 2.0)[0] == 1
    assert a.forget_hosts(T0 + 10_000) > 0


def test_concurrent_claims_from_many_connections_never_overlap(open_replica: Opener) -> None:
    """Threads with their own connections claim at once (BEGIN IMMEDIATE / SKIP LOCKED): each feed once."""
    urls = feeds(300)
    open_replica(None).replace_feed_list(urls, T0)
    claimed: list[list[str]] = [[] for _ in range(4)]

    def work(i: int) -> None:
        replica = open_replica(f"r{i}")  # its own connection, made in its thread
        try:
            while True:
                got, _ = replica.claim_due(T0, 7)
                if not got:
                    return
                claimed[i] += [f.url for f in got]
        finally:
            replica.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(claimed))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [u for part in claimed for u in part]
    assert sorted(everything) == sorted(urls)  # every feed claimed, none twice


def test_the_claim_reads_the_due_index_not_every_feed(tmp_path: Path) -> None:
    state = FetcherState(tmp_path / "fetcher.db", "a")
    try:
        plan = " ".join(str(row) for row in state.db.execute(
            "EXPLAIN QUERY PLAN SELECT url FROM feeds WHERE listed = 1 AND state != 'retired' AND next_poll_at <= ? "
            "AND (lease_owner IS NULL OR lease_until <= ?) ORDER BY next_poll_at LIMIT 10", (T0, T0)))
        assert "feeds_due" in plan and "SCAN feeds" not in plan.replace("USING INDEX", "")
        plan = " ".join(str(r) for r in state.db.execute(
            "EXPLAIN QUERY PLAN SELECT MIN(next_poll_at) FROM feeds WHERE listed = 1 AND state != 'retired'"))
        assert "feeds_due" in plan
    finally:
        state.close()


def test_host_gates_of_two_replicas_share_the_limit(open_replica: Opener) -> None:
    """Two processes' gates (here: two gates over two connections) never exceed the host's limit together."""
    gates = [HostGate(2, 0.0, open_replica(name)) for name in ("a", "b")]
    running = 0
    most = 0

    async def request(gate: HostGate) -> None:
        nonlocal running, most
        async with gate.slot("http://busy.example/x"):
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.02)
            running -= 1

    async def main() -> None:
        await asyncio.gather(*(request(gates[i % 2]) for i in range(12)))

    asyncio.run(main())
    assert most == 2


class RecordingProducer:
    """A KafkaProducer stand-in: records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, topic: str, key: bytes, value: bytes) -> object:
        self.sent.append(key)
        return self

    def get(self, timeout: float = 0) -> None:
        return None

    def flush(self, timeout: float | None = None) -> None:
        pass


def test_a_holder_that_stalls_past_its_lease_sends_nothing_and_writes_nothing(
    open_replica: Opener, tmp_path: Path, httpserver: Any,
) -> None:
    """The stall lands while the pages are fetched (the longest part of a poll): the feed is taken
    over meanwhile, so the stalled replica drops its pages before sending them; the one that took
    the feed over publishes them."""
    a, b = open_replica("a"), open_replica("b")  # b: the replica that takes the feed over
    feed_url = httpserver.url_for("/feed")
    items = "".join(f"<item><guid>{i}</guid><title>T{i}</title><link>{httpserver.url_for(f'/p{i}')}</link></item>"
                    for i in range(2))
    httpserver.expect_request("/feed").respond_with_data(
        f'<rss version="2.0"><channel><title>F</title>{items}</channel></rss>', content_type="application/rss+xml")

    def page(_: Any) -> Any:
        in_server_thread = open_replica("b")  # (a connection belongs to its thread)
        taken, _ = in_server_thread.claim_due(time.time() + LEASE + 1, 10)  # a "stalls" here; b takes the feed over
        in_server_thread.close()
        assert len(taken) == 1
        return Response("<html><body><p>text</p></body></html>", content_type="text/html")

    httpserver.expect_request("/p0").respond_with_handler(page)
    httpserver.expect_request("/p1").respond_with_data("<html><body><p>x</p></body></html>", content_type="text/html")
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)  # no robots.txt: pages allowed
    a.replace_feed_list([feed_url], time.time())
    (feed,), _ = a.claim_due(time.time(), 1)
    settings = FetcherSettings(data_dir=tmp_path, allowed_networks="127.0.0.1/32", per_host_min_delay_seconds=0,
                               parse_workers=1)
    producer = RecordingProducer()

    async def poll() -> str:
        http = HttpClient(settings)
        try:
            pages = PagePublisher(settings, http, a, producer)  # type: ignore[arg-type]
            return await FeedPoller(settings, http, a, pages.publish, ParsePool(1)).poll(feed)
        finally:
            await http.aclose()

    assert asyncio.run(poll()) == "lost"
    assert producer.sent == []  # nothing sent by the stalled holder
    row = b.feed(feed_url)
    assert row is not None and row.last_status is None  # nor did it write the feed's row
    assert b.published_ids() == set() and b.holds(feed_url, time.time())
