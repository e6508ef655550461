"""WebSub: signatures, renewal timing (a fake clock), the callback server's answers, and the whole
fetcher against a small hub written here (subscription, intent verification, a signed push on the
real broker while the feed's own poll interval is hours, a bad signature refused, lease renewal)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from services.common import kafka
from services.common.health import Health
from services.fetcher.http import HttpClient
from services.fetcher.parse import ParsePool
from services.fetcher.pgstate import PostgresFetcherState
from services.fetcher.poller import Candidate, FeedPoller
from services.fetcher.service import Fetcher
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FetcherState
from services.fetcher.websub import check_signature, next_action, poll_delay, renew_at, sign
from services.fetcher.websub_callbacks import Callbacks
from services.fetcher.websub_store import Subscription, SubscriptionStore
from tests.fetcher.helpers import pages
from tests.sink.test_store import postgres_schema

SECRET = "s3cret"
BODY = b"<rss/>"
T0 = 1_000_000.0
HOUR = 3600.0


# --- signatures -------------------------------------------------------------------------------------

def test_a_sha256_signature_is_checked_with_the_subscription_secret() -> None:
    good = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert check_signature(good, BODY, SECRET) == "sha256"
    assert check_signature(good.upper().replace("SHA256", "sha256"), BODY, SECRET) == "sha256"  # hex case
    assert check_signature(sign(BODY, SECRET, "sha512"), BODY, SECRET) == "sha512"
    assert check_signature(good, BODY + b" ", SECRET) is None  # another body
    assert check_signature(good, BODY, "other") is None  # another secret
    for bad in (None, "", "sha256", "sha256=", "md5=" + hashlib.md5(BODY).hexdigest(), "=abc", "sha256=zz"):
        assert check_signature(bad, BODY, SECRET) is None


def test_sha1_is_accepted_only_from_a_hub_that_never_signed_with_something_better() -> None:
    sha1 = sign(BODY, SECRET, "sha1")
    assert check_signature(sha1, BODY, SECRET, None) == "sha1"
    assert check_signature(sha1, BODY, SECRET, "sha1") == "sha1"
    assert check_signature(sha1, BODY, SECRET, "sha256") is None  # a downgrade
    assert check_signature(sign(BODY, SECRET), BODY, SECRET, "sha512") == "sha256"


# --- decisions with a fake clock ------------------------------------------------------------------------

def sub(**kw: Any) -> Subscription:
    base: dict[str, Any] = dict(feed_url="http://f/feed", id="id1", topic="http://f/feed", hub="http://h/",
                                secret=SECRET, state="verified", lease_seconds=10 * HOUR, requested_at=T0,
                                verified_at=T0, expires_at=T0 + 10 * HOUR, signature_method=None, last_error=None)
    return Subscription(**{**base, **kw})


LINKS = {"hub": "http://h/", "self": "http://f/feed"}


def test_a_verified_subscription_is_renewed_at_80_percent_of_its_lease() -> None:
    s = sub()
    assert renew_at(s) == T0 + 8 * HOUR
    assert next_action(s, LINKS, T0 + 8 * HOUR - 1) is None
    assert next_action(s, None, T0 + 8 * HOUR - 1) is None  # a 304 poll
    action = next_action(s, None, T0 + 8 * HOUR)
    assert action is not None and (action.kind, action.hub, action.topic) == ("renew", "http://h/", "http://f/feed")
    assert renew_at(sub(state="pending")) is None


def test_what_a_poll_leads_to() -> None:
    assert next_action(None, LINKS, T0).kind == "subscribe"  # type: ignore[union-attr]
    assert next_action(None, {"self": "http://f/feed"}, T0) is None  # no hub
    assert next_action(None, None, T0) is None
    moved = next_action(sub(), {**LINKS, "hub": "http://h2/"}, T0)
    assert moved is not None and (moved.kind, moved.hub) == ("subscribe", "http://h2/")
    assert next_action(sub(), {"self": "http://f/feed"}, T0).kind == "unsubscribe"  # type: ignore[union-attr]
    assert next_action(sub(state="failed"), {}, T0).kind == "forget"  # type: ignore[union-attr]
    # a failed or never verified request is asked again after an hour, a denied one after a day
    assert next_action(sub(state="failed"), LINKS, T0 + HOUR - 1) is None
    assert next_action(sub(state="pending"), None, T0 + HOUR).kind == "subscribe"  # type: ignore[union-attr]
    assert next_action(sub(state="denied"), LINKS, T0 + 2 * HOUR) is None
    assert next_action(sub(state="denied"), LINKS, T0 + 24 * HOUR).kind == "subscribe"  # type: ignore[union-attr]


def test_a_live_subscription_polls_at_the_safety_net_but_never_past_the_renewal(tmp_path: Path) -> None:
    settings = FetcherSettings(data_dir=tmp_path, websub_poll_interval_seconds=6 * HOUR, min_poll_interval_seconds=60)
    assert poll_delay(sub(), LINKS, 300, T0, settings) == 6 * HOUR
    assert poll_delay(sub(), LINKS, 300, T0 + 5 * HOUR, settings) == 3 * HOUR  # renewal at T0 + 8 h
    assert poll_delay(sub(), None, 300, T0 + 9 * HOUR, settings) == 60  # renewal overdue: soon, not in a loop
    assert poll_delay(sub(state="pending"), LINKS, 300, T0, settings) == 300
    lapsed = sub(verified_at=T0 - 11 * HOUR, expires_at=T0 - HOUR)
    assert poll_delay(lapsed, LINKS, 300, T0, settings) == 60  # lapsed (a renewal failed): not live, renew soon
    assert poll_delay(sub(), {"self": "http://f/feed"}, 300, T0, settings) == 300  # the hub is gone
    assert poll_delay(None, LINKS, 300, T0, settings) == 300


# --- the shared table, on SQLite and PostgreSQL ------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def two_replicas(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[FetcherState, FetcherState]]:
    """The same state store opened by two replicas (owner ids), once per backend."""
    if request.param == "sqlite":
        a, b = (FetcherState(tmp_path / "fetcher.db", owner, 10) for owner in ("r1", "r2"))
        yield a, b
    else:
        with postgres_schema() as url:
            a, b = (PostgresFetcherState(url, owner, 10) for owner in ("r1", "r2"))
            yield a, b
    a.close()
    b.close()


def test_subscriptions_are_shared_and_a_push_takes_the_feed_lease(two_replicas: tuple[FetcherState, FetcherState]
                                                                  ) -> None:
    a, b = two_replicas
    a.sync_feeds(["http://f/feed"])
    s = SubscriptionStore(a).requested("http://f/feed", "http://f/feed", "http://h/", T0)
    assert len(s.id) >= 32 and len(s.secret) == 64 and s.state == "pending"
    store_b = SubscriptionStore(b)
    assert store_b.get(s.id) == s  # any replica answers the hub
    store_b.verified(s.id, 100, T0)
    renewed = SubscriptionStore(a).requested("http://f/feed", "http://f/feed", "http://h/", T0 + 80)
    assert (renewed.id, renewed.secret, renewed.state) == (s.id, s.secret, "verified")  # a renewal keeps both
    moved = SubscriptionStore(a).requested("http://f/feed", "http://f/feed", "http://h2/", T0 + 90)
    assert moved.id != s.id and moved.secret != s.secret and store_b.get(s.id) is None
    # a push takes the feed's lease like a poll: not while another replica holds it; the schedule is kept
    a.db.execute("UPDATE feeds SET next_poll_at = ?", (T0 + 5000,))
    restore = SubscriptionStore(a).lease_feed("http://f/feed", T0)
    assert restore == T0 + 5000
    assert store_b.lease_feed("http://f/feed", T0 + 1) is None
    assert b.claim_due(T0 + 5, None)[0] == []  # nor does a poll claim it meanwhile
    assert SubscriptionStore(a).release_feed("http://f/feed", restore)
    assert a.feed("http://f/feed").next_poll_at == T0 + 5000  # type: ignore[union-attr]
    assert store_b.lease_feed("http://f/feed", T0 + 2) == T0 + 5000
    assert store_b.counts_by_state() == {"pending": 1}


# --- the callback server ------------------------------------------------------------------------------------

def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Recording:
    def __init__(self) -> None:
        self.published: list[Candidate] = []

    async def publish(self, cands: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        self.published += cands
        return cands, []


@asynccontextmanager
async def callback_client(tmp_path: Path, **kw: Any) -> AsyncIterator[tuple[TestClient[Any, Any],
                                                                               SubscriptionStore, Recording]]:
    settings = FetcherSettings(data_dir=tmp_path, parse_workers=1, **kw)
    state = FetcherState(tmp_path / "fetcher.db", owner="r1")
    http = HttpClient(settings)
    parser = ParsePool(1)
    rec = Recording()
    store = SubscriptionStore(state)
    callbacks = Callbacks(settings, store, parser, FeedPoller(settings, http, state, rec.publish, parser))
    client = TestClient(TestServer(callbacks.app()))
    await client.start_server()
    try:
        yield client, store, rec
    finally:
        await client.close()
        await callbacks.stop()
        await http.aclose()
        parser.close()
        state.close()


def run(coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(coro())


def test_the_challenge_is_echoed_only_for_a_subscription_the_fetcher_asked_for(tmp_path: Path) -> None:
    async def main() -> None:
        async with callback_client(tmp_path) as (client, store, _):
            s = store.requested("http://f/feed", "http://f/feed", "http://h/", time.time())
            before = counted("newsflow_websub_verifications_total", mode="subscribe", result="refused")

            async def verify(path: str, **q: str) -> tuple[int, str]:
                resp = await client.get(path, params={f"hub.{k}": v for k, v in q.items()})
                return resp.status, await resp.text()

            assert await verify(f"/websub/{s.id}", mode="subscribe", topic="http://other/", challenge="c1",
                                lease_seconds="100") == (404, "unknown subscription\n")
            assert (await verify(f"/websub/{secrets.token_urlsafe(24)}", mode="subscribe", topic=s.topic,
                                 challenge="c1"))[0] == 404
            assert (await verify(f"/websub/{s.id}", mode="unsubscribe", topic=s.topic, challenge="c1"))[0] == 404
            assert counted("newsflow_websub_verifications_total", mode="subscribe", result="refused") == before + 2
            assert store.for_feed("http://f/feed").state == "pending"  # type: ignore[union-attr]
            assert await verify(f"/any/prefix/{s.id}", mode="subscribe", topic=s.topic, challenge="c2",
                                lease_seconds="100") == (200, "c2")
            got = store.for_feed("http://f/feed")
            assert got is not None and got.state == "verified" and got.lease_seconds == 100
            assert got.expires_at is not None and got.expires_at > time.time() + 90
            assert await verify(f"/websub/{s.id}", mode="denied", topic=s.topic, reason="no") == (200, "")
            assert store.get(s.id).state == "denied"  # type: ignore[union-attr]
    run(main)


FEED = ('<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>F</title>'
        '<atom:link rel="hub" href="{hub}"/><atom:link rel="self" href="{self}"/>{items}</channel></rss>')


def items(base: str, *names: str) -> str:
    return "".join(f'<item><guid isPermaLink="false">{n}</guid><title>{n}</title><link>{base}/{n}</link></item>'
                   for n in names)


def test_pushes_are_refused_and_counted_unless_signed_and_published_when_they_are(tmp_path: Path) -> None:
    async def main() -> None:
        async with callback_client(tmp_path, max_feed_bytes=4096) as (client, store, rec):
            store.state.sync_feeds(["http://f/feed"])
            s = store.requested("http://f/feed", "http://f/feed", "http://h/", time.time())
            store.verified(s.id, 100, time.time())
            body = FEED.format(hub="http://h/", self="http://f/feed", items=items("http://f", "a", "b")).encode()
            outcomes = ("accepted", "bad_signature", "unknown_subscription", "too_large", "unparseable", "encoding")
            before = {o: counted("newsflow_websub_pushes_total", outcome=o) for o in outcomes}

            async def push(data: bytes, signature: str | None, sub_id: str = s.id) -> int:
                headers = {"X-Hub-Signature": signature} if signature else {}
                resp = await client.post(f"/websub/{sub_id}", data=data, headers=headers)
                return resp.status

            assert await push(body, None) == 403
            assert await push(body, sign(body, "wrong")) == 403
            assert await push(body, sign(body, s.secret), "nope") == 404
            assert await push(b"x" * 5000, sign(b"x" * 5000, s.secret)) == 413
            assert await push(b"not a feed", sign(b"not a feed", s.secret)) == 400
            gz = await client.post(f"/websub/{s.id}", data=gzip.compress(body),
                                   headers={"X-Hub-Signature": sign(gzip.compress(body), s.secret),
                                            "Content-Encoding": "gzip"})
            assert gz.status == 415
            assert rec.published == []
            assert await push(body, sign(body, s.secret)) == 202
            assert await push(body, sign(body, s.secret, "sha1")) == 403  # sha256 was seen: no downgrade
            after = {o: counted("newsflow_websub_pushes_total", outcome=o) for o in outcomes}
            assert {o: after[o] - before[o] for o in outcomes} == {
                "accepted": 1, "bad_signature": 3, "unknown_subscription": 1, "too_large": 1, "unparseable": 1,
                "encoding": 1}
            for _ in range(100):
                if not store.state.db.execute("SELECT lease_owner FROM feeds").fetchone()[0] and rec.published:
                    break
                await asyncio.sleep(0.05)
            assert [c.entry.link for c in rec.published] == ["http://f/a", "http://f/b"]
            assert store.state.db.execute("SELECT lease_owner FROM feeds").fetchone()[0] is None  # lease given back
            store.state.db.execute("UPDATE feeds SET listed = 0")
            assert await push(body, sign(body, s.secret)) == 410  # the feed left the list
            assert store.get(s.id) is None
    run(main)


# --- the whole fetcher against a hub written here --------------------------------------------------------------

class Hub:
    """A small WebSub hub: takes (un)subscriptions, verifies the intent at the callback, distributes."""

    def __init__(self, lease_seconds: int) -> None:
        self.lease_seconds = lease_seconds
        self.requests: list[dict[str, str]] = []
        self.verified: list[dict[str, str]] = []  # the requests whose intent the callback confirmed
        self.tasks: set[asyncio.Task[None]] = set()

    async def handle(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.requests.append(form)
        task = asyncio.create_task(self._verify(form))  # after answering, as hubs do
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return web.Response(status=202)

    async def _verify(self, form: dict[str, str]) -> None:
        await asyncio.sleep(0.05)
        challenge = secrets.token_hex(8)
        params = {"hub.mode": form["hub.mode"], "hub.topic": form["hub.topic"], "hub.challenge": challenge,
                  "hub.lease_seconds": str(self.lease_seconds)}
        async with aiohttp.ClientSession() as session, session.get(form["hub.callback"], params=params) as resp:
            if resp.status == 200 and await resp.text() == challenge:
                self.verified.append(form)

    async def distribute(self, body: bytes, secret: str | None = None) -> int:
        form = self.verified[-1]
        signature = sign(body, secret or form["hub.secret"])
        async with aiohttp.ClientSession() as session, session.post(
                form["hub.callback"], data=body, headers={"X-Hub-Signature": signature,
                                                          "Content-Type": "application/rss+xml"}) as resp:
            return resp.status


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Site:
    """The feed, its pages and the hub on one local aiohttp server; counts the feed's fetches."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.names = ["a"]
        self.feed_fetches = 0
        self.base = ""

    def feed(self) -> bytes:
        return FEED.format(hub=f"{self.base}/hub", self=f"{self.base}/feed.xml",
                           items=items(f"{self.base}/p", *self.names)).encode()

    async def serve_feed(self, _: web.Request) -> web.Response:
        self.feed_fetches += 1
        return web.Response(body=self.feed(), content_type="application/rss+xml")

    async def serve_page(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return web.Response(text=f"<html><head><title>{name}</title></head><body><p>{name}</p></body></html>",
                            content_type="text/html")

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        app = web.Application()
        app.router.add_get("/feed.xml", self.serve_feed)
        app.router.add_post("/hub", self.hub.handle)
        app.router.add_get("/p/{name}", self.serve_page)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            yield
        finally:
            await runner.cleanup()


async def until(what: str, check: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def websub_settings(tmp_path: Path, feeds_file: Path, **kw: Any) -> FetcherSettings:
    port = free_port()
    base: dict[str, Any] = dict(
        data_dir=tmp_path, feeds_file=feeds_file, allowed_networks="127.0.0.1/32", per_host_min_delay_seconds=0,
        parse_workers=1, poll_interval_seconds=4 * HOUR, min_poll_interval_seconds=4 * HOUR,
        websub_callback_url=f"http://127.0.0.1:{port}/websub", websub_listen=f"127.0.0.1:{port}")
    return FetcherSettings(**{**base, **kw})


@asynccontextmanager
async def hub_and_site(tmp_path: Path, lease_seconds: int = 24 * 3600,
                       **kw: Any) -> AsyncIterator[tuple[Hub, Site, FetcherSettings]]:
    """A hub and the site whose feed names it, running; the feed list holding that feed; the fetcher's settings
    (``websub_settings`` with ``kw``) and their topics made."""
    hub = Hub(lease_seconds=lease_seconds)
    site = Site(hub)
    async with site.running():
        feeds_file = tmp_path / "feeds.txt"
        feeds_file.write_text(f"{site.base}/feed.xml\n")
        settings = websub_settings(tmp_path, feeds_file, **kw)
        kafka.ensure_topics(settings)
        yield hub, site, settings


async def with_fetcher(settings: FetcherSettings, body: Callable[[Fetcher], Coroutine[Any, Any, None]]) -> None:
    producer = kafka.make_producer(settings)
    fetcher = Fetcher(settings, producer, Health())
    running = asyncio.create_task(fetcher.run())
    try:
        await body(fetcher)
    finally:
        fetcher.stopping.set()
        await running
        producer.close(timeout=10)


@pytest.mark.integration
@pytest.mark.usefixtures("on_topics")
def test_a_signed_push_reaches_the_pages_topic_while_the_poll_interval_is_hours(
        tmp_path: Path) -> None:

    async def main() -> None:
        async with hub_and_site(tmp_path) as (hub, site, settings):
            async def scenario(fetcher: Fetcher) -> None:
                await until("the subscription verified", lambda: hub.verified)
                form = hub.verified[0]
                assert form["hub.mode"] == "subscribe" and form["hub.topic"] == f"{site.base}/feed.xml"
                assert form["hub.lease_seconds"] == str(settings.websub_lease_seconds) and len(form["hub.secret"]) >= 32
                assert form["hub.callback"].startswith(settings.websub_callback_url.get_secret_value() + "/")
                await until("the first poll's page", lambda: len(pages(settings)) == 1)
                await until("the poll's row written (next poll in hours)", lambda: (
                    feed := fetcher.state.feed(f"{site.base}/feed.xml")) is not None
                    and feed.next_poll_at > time.time() + 3 * HOUR)
                before = counted("newsflow_websub_pushes_total", outcome="bad_signature")
                site.names = ["b", "a"]
                assert await hub.distribute(site.feed(), secret="forged") == 403
                assert counted("newsflow_websub_pushes_total", outcome="bad_signature") == before + 1
                assert await hub.distribute(site.feed()) == 202
                await until("the pushed entry's page", lambda: len(pages(settings)) == 2)
                assert site.feed_fetches == 1  # polled once: only the push explains the second page
                assert sorted(p.url for p in pages(settings)) == [f"{site.base}/p/a", f"{site.base}/p/b"]
            await with_fetcher(settings, scenario)
    asyncio.run(main())


@pytest.mark.integration
@pytest.mark.usefixtures("on_topics")
def test_a_subscription_is_renewed_before_its_lease_ends(
        tmp_path: Path) -> None:

    async def main() -> None:  # lease 3 s: renewed at 2.4 s
        async with hub_and_site(tmp_path, lease_seconds=3, min_poll_interval_seconds=1) as (hub, site, settings):
            async def scenario(fetcher: Fetcher) -> None:
                await until("a renewal verified", lambda: len(hub.verified) >= 2)
                first, second = hub.verified[:2]
                assert replace_keys(first) == replace_keys(second)  # the same callback and secret
                sub = SubscriptionStore(fetcher.state).for_feed(f"{site.base}/feed.xml")
                assert sub is not None and sub.state == "verified"
                assert site.feed_fetches >= 2  # the renewal came with a poll (the feed's own interval is hours)
            await with_fetcher(settings, scenario)
    asyncio.run(main())


def replace_keys(form: dict[str, str]) -> tuple[str, str, str]:
    return form["hub.callback"], form["hub.secret"], form["hub.topic"]

