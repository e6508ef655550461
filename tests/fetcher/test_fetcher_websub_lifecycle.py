"""WebSub around the subscription's life (issue 17.4 gaps):

* ``--once`` neither subscribes nor starts the callback server (hubs would push to a dead callback).
* A feed disabled by its options or gone from the list: pushes refused with 410 (counted ``not_polled``),
  the subscription unsubscribed from the hub when the fetcher sees the list change (counted).
* ``feeds status`` shows the subscription (hub, state, lease), never its secret nor its callback id.
* A subscribed feed's safety-net poll interval never exceeds the feed's own ``max_interval``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from services.cli import main
from services.common import kafka
from services.common.health import Health
from services.fetcher.feedoptions import FeedOptions
from services.fetcher.feedstatus import as_json, describe, table
from services.fetcher.http import HttpClient
from services.fetcher.parse import ParsePool
from services.fetcher.poller import FeedPoller
from services.fetcher.service import Fetcher
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FetcherState
from services.fetcher.websub import Subscriber, sign
from services.fetcher.websub_store import SubscriptionStore
from tests.fetcher.helpers import pages
from tests.fetcher.test_fetcher_websub import (
    FEED,
    HOUR,
    Recording,
    callback_client,
    counted,
    hub_and_site,
    items,
    run,
    until,
    with_fetcher,
)

FEED_URL = "http://f/feed"


# --- --once ------------------------------------------------------------------------------------------------

def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.integration
@pytest.mark.usefixtures("on_topics")
def test_once_neither_subscribes_nor_starts_the_callback_server(
        tmp_path: Path) -> None:

    async def main_() -> None:
        async with hub_and_site(tmp_path, once=True) as (hub, site, settings):
            port = int(settings.websub_listen.rsplit(":", 1)[1])
            producer = kafka.make_producer(settings)
            try:
                fetcher = Fetcher(settings, producer, Health())
                assert fetcher.websub is None and fetcher.callbacks is None
                running = asyncio.create_task(fetcher.run())
                await until("the feed polled", lambda: site.feed_fetches >= 1)
                assert not listening(port)
                await asyncio.wait_for(running, timeout=60)  # the one pass ends by itself
            finally:
                producer.close(timeout=10)
            assert [p.url for p in pages(settings)] == [f"{site.base}/p/a"]
            assert hub.requests == []  # the feed names a hub: a long-running fetcher would have subscribed
    asyncio.run(main_())


# --- feeds no longer polled -----------------------------------------------------------------------------------

def test_a_push_for_a_disabled_or_unlisted_feed_is_refused_with_410_and_counted(tmp_path: Path) -> None:
    async def main_() -> None:
        async with callback_client(tmp_path) as (client, store, rec):
            for how in ("disabled", "unlisted"):
                options = {FEED_URL: FeedOptions.parse([("disabled", "true")])} if how == "disabled" else {}
                store.state.replace_feed_list([FEED_URL], time.time())
                s = store.requested(FEED_URL, FEED_URL, "http://h/", time.time())
                store.verified(s.id, 100, time.time())
                store.state.replace_feed_list([FEED_URL] if how == "disabled" else [], time.time(), options)
                assert store.lease_feed(FEED_URL, time.time()) is None  # nor would a push take its lease
                body = FEED.format(hub="http://h/", self=FEED_URL, items=items("http://f", "a")).encode()
                before = counted("newsflow_websub_pushes_total", outcome="not_polled")
                resp = await client.post(f"/websub/{s.id}", data=body, headers={"X-Hub-Signature": sign(body, s.secret)})
                assert resp.status == 410, how
                assert counted("newsflow_websub_pushes_total", outcome="not_polled") == before + 1
                assert store.get(s.id) is None and rec.published == []
    run(main_)


@pytest.mark.integration
@pytest.mark.usefixtures("on_topics")
def test_a_feed_disabled_in_the_list_is_unsubscribed_from_its_hub(
        tmp_path: Path) -> None:
    feeds_file = tmp_path / "feeds.txt"  # hub_and_site writes the site's feed in it

    async def main_() -> None:
        async with hub_and_site(tmp_path) as (hub, site, settings):
            async def scenario(fetcher: Fetcher) -> None:
                store = SubscriptionStore(fetcher.state)
                await until("the subscription verified", lambda: (
                    sub := store.for_feed(f"{site.base}/feed.xml")) is not None and sub.state == "verified")
                before = counted("newsflow_websub_feeds_left_total", action="unsubscribed")
                feeds_file.write_text(f"{site.base}/feed.xml disabled=true  # paused\n")
                await until("the unsubscription verified", lambda: any(
                    f["hub.mode"] == "unsubscribe" for f in hub.verified))
                unsub = next(f for f in hub.verified if f["hub.mode"] == "unsubscribe")
                assert unsub["hub.topic"] == f"{site.base}/feed.xml" and "hub.secret" not in unsub
                assert unsub["hub.callback"] == hub.verified[0]["hub.callback"]  # the subscription's own callback
                await until("the subscription forgotten", lambda: store.for_feed(f"{site.base}/feed.xml") is None)
                assert counted("newsflow_websub_feeds_left_total", action="unsubscribed") == before + 1
                assert site.feed_fetches == 1  # disabled: not polled again
            await with_fetcher(settings, scenario)
    asyncio.run(main_())


# --- feeds status -----------------------------------------------------------------------------------------------

def test_feeds_status_shows_the_subscription_but_never_its_secret_or_callback_id(tmp_path: Path) -> None:
    state = FetcherState(tmp_path / "fetcher.db")
    try:
        state.replace_feed_list([FEED_URL, "http://g/feed"], time.time())
        store = SubscriptionStore(state)
        s = store.requested(FEED_URL, FEED_URL, "http://hub.example/", time.time())
        store.verified(s.id, 86_400, time.time())
        store.signed_with(s.id, "sha256")
        report = state.feed_report(FEED_URL)
        assert report is not None
        sub = store.for_feed(FEED_URL)
        now = time.time()
        text = "\n".join(describe(report, now, sub))
        assert "websub:         verified (pushes taken), hub http://hub.example/" in text
        assert "websub lease:   verified" in text and "86400s, expires 20" in text and "(in 24h)" in text
        doc = as_json(report, sub)
        websub = doc["websub"]
        assert isinstance(websub, dict)
        assert (websub["hub"], websub["state"], websub["lease_seconds"]) == ("http://hub.example/", "verified", 86_400)
        lines = table(state.feed_reports(), now, store.by_feed())
        assert f"{FEED_URL} [push]" in next(line for line in lines if FEED_URL in line)
        assert "[push" not in next(line for line in lines if "http://g/feed" in line)
    finally:
        state.close()
    env = {"NEWSFLOW_DATA_DIR": str(tmp_path)}
    outputs = [CliRunner().invoke(main, ["feeds", "status", *args], env=env).output
               for args in ([], ["--json"], [FEED_URL], [FEED_URL, "--json"])]
    assert "[push]" in outputs[0] and "hub http://hub.example/" in outputs[2]
    assert json.loads(outputs[3])["websub"]["state"] == "verified"
    assert json.loads(outputs[1])[0]["websub"]["hub"] == "http://hub.example/"
    for out in outputs:
        assert s.secret not in out and s.id not in out  # the callback id lets anyone push: a credential


# --- the safety net within the feed's own max_interval --------------------------------------------------------

def test_a_subscribed_feeds_safety_net_poll_stays_within_its_own_max_interval(tmp_path: Path) -> None:
    settings = FetcherSettings(data_dir=tmp_path, parse_workers=1, websub_callback_url="http://cb.example/websub",
                               websub_poll_interval_seconds=6 * HOUR, min_poll_interval_seconds=60)
    state = FetcherState(tmp_path / "fetcher.db")

    async def main_() -> None:
        http = HttpClient(settings)
        parser = ParsePool(1)
        try:
            store = SubscriptionStore(state)
            subscriber = Subscriber(settings, http, store)
            poller = FeedPoller(settings, http, state, Recording().publish, parser, delay_hook=subscriber.poll_delay)
            capped, free = "http://capped/feed", "http://free/feed"
            state.replace_feed_list([capped, free], time.time(), {capped: FeedOptions.parse([("max_interval", "1h")])})
            links = {"hub": "http://h/", "self": ""}
            for url in (capped, free):
                s = store.requested(url, url, "http://h/", time.time())
                store.verified(s.id, 24 * HOUR, time.time())
                feed = state.feed(url)
                assert feed is not None
                assert subscriber.poll_delay(url, links | {"self": url}, 300) == 6 * HOUR  # the hook alone
            capped_feed, free_feed = state.feed(capped), state.feed(free)
            assert capped_feed is not None and free_feed is not None
            assert poller.hooked_delay(capped_feed, links | {"self": capped}, 300) == HOUR  # min of the two
            assert poller.hooked_delay(free_feed, links | {"self": free}, 300) == 6 * HOUR
            s = store.requested(capped, capped, "http://h/", time.time())
            store.verified(s.id, HOUR, time.time())  # a short lease: renewed at 48 min, before the max interval
            assert poller.hooked_delay(capped_feed, links | {"self": capped}, 300) <= 0.8 * HOUR + 1
        finally:
            await http.aclose()
            parser.close()
    try:
        asyncio.run(main_())
    finally:
        state.close()
