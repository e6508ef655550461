"""``newsflow fetcher``: feeds -> article pages -> ``newsflow.pages``.

:class:`Fetcher` runs the schedule over the feed list: it re-reads the list when the file
changes (and syncs it into the shared feeds table), claims the feeds that are due (leases, at most
``concurrency`` feeds in flight), renews its leases while they are polled, keeps the feed-state
gauges, forgets entries past the horizon, and drains in-flight polls on stop.
The steps of one poll are in :mod:`services.fetcher.poller`, publishing a page in
:mod:`services.fetcher.pages`, what a response means in :mod:`services.fetcher.response`, what
replicas share in :mod:`services.fetcher.leases`. With ``NEWSFLOW_WEBSUB_CALLBACK_URL`` set it also runs
the WebSub callback server (:mod:`services.fetcher.websub_callbacks`) and subscribes, renews and
unsubscribes after polls (:mod:`services.fetcher.websub`).

Any number of fetcher processes can run against one state store (``docs/scaling.md``): the SQLite
file in the data directory (one machine) or PostgreSQL (``NEWSFLOW_FETCHER_STATE_URL``).

Concurrency: one event loop, one ``aiohttp.ClientSession``, at most
``concurrency`` feeds in flight; per-host limits are in :class:`~services.fetcher.http.HostGate`,
shared with the other replicas through the state store.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import socket
import time
from pathlib import Path

from kafka import KafkaProducer

from services.common.health import Health
from services.fetcher import metrics
from services.fetcher.feedlist import FeedListError, check_environment, read_feeds
from services.fetcher.http import HttpClient
from services.fetcher.pages import PagePublisher
from services.fetcher.parse import ParsePool
from services.fetcher.pgstate import open_state
from services.fetcher.poller import FeedPoller
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FEED_STATES, FeedState
from services.fetcher.websub import Subscriber
from services.fetcher.websub_callbacks import Callbacks
from services.fetcher.websub_store import SubscriptionStore

log = logging.getLogger(__name__)
EXPIRE_EVERY_SECONDS = 3600.0
REPORT_EVERY_SECONDS = 30.0  # the feed-state gauges count every listed feed: not at every wake-up


def replica_id() -> str:
    """This process's lease owner id: host, pid and a random part (a restarted pid is a new owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Fetcher:
    """Runs the schedule over the shared feed list and publishes pages to Kafka."""

    def __init__(self, settings: FetcherSettings, producer: KafkaProducer, health: Health,
                 owner: str | None = None) -> None:
        self.settings = settings
        self.producer = producer
        self.health = health
        self.owner = owner or replica_id()
        self.state = open_state(settings, self.owner)
        self.http = HttpClient(settings, shared_hosts=self.state)
        self.parser = ParsePool(settings.parse_workers, settings.max_feed_entries, settings.parse_timeout_seconds)
        self.pages = PagePublisher(settings, self.http, self.state, producer)
        # WebSub (NEWSFLOW_WEBSUB_CALLBACK_URL set): subscribe after polls, take pushes on the callback server.
        # Not with --once: a one-shot run would leave hubs pushing to a callback nobody answers.
        self.websub = (Subscriber(settings, self.http, SubscriptionStore(self.state))
                       if settings.websub_callback_url.get_secret_value() and not settings.once else None)
        if settings.once and settings.websub_callback_url.get_secret_value():
            log.info("--once: WebSub off for this run (no subscriptions, no callback server); feeds are polled")
        self.poller = FeedPoller(settings, self.http, self.state, self.pages.publish, self.parser,
                                 delay_hook=self.websub.poll_delay if self.websub else None)
        self.callbacks = Callbacks(settings, self.websub.store, self.parser, self.poller) if self.websub else None
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.stopping = asyncio.Event()
        self.freed = asyncio.Event()  # a poll finished: a slot is free for the next claim
        self.polling: set[str] = set()
        self.tasks: set[asyncio.Task[str]] = set()
        self._feeds_key: tuple[float, int] | None = None
        self._pass_started = time.time()  # --once: the pass is over when every feed was polled since
        self._pass_stuck = 0
        self._expired_at = 0.0
        self._reported_at = 0.0
        for rule in self.http.policy.allowed.networks:
            if rule.port is None and not rule.network.is_global:
                log.warning("NEWSFLOW_ALLOWED_NETWORKS entry %s opens every port of a non-public network (a local "
                            "broker, API, metrics and database too); %s:PORT opens one service", rule, rule)

    async def run(self) -> None:
        """Poll due feeds until stopped (or every feed once, with ``once``)."""
        self._clamp_schedules()
        renewing = asyncio.create_task(self._renew_leases())
        try:
            if self.callbacks is not None:
                await self.callbacks.start()
            while not self.stopping.is_set():
                self.health.beat()
                if self._sync_feed_list() and self.websub is not None:
                    await self._leave_unpolled()
                more_due = await self._claim_and_dispatch()
                if self.settings.once:
                    await asyncio.gather(*self.tasks)
                    if await self._once_pass_done():
                        self._report_states(force=True)
                        break
                    continue
                self._report_states()
                if self._expire() and self.websub is not None:  # hourly too: a feed retired (410) meanwhile
                    await self._leave_unpolled()
                await self._wait(more_due)
        finally:
            if self.callbacks is not None:
                await self.callbacks.stop()  # pushes being published finish under their leases
            renewing.cancel()
            await self._drain()
            self.state.release_leases(time.time())  # feeds claimed but not polled to the end: due again now
            await asyncio.to_thread(self.producer.flush)
            await self.http.aclose()
            self.parser.close()
            self.state.close()

    def _clamp_schedules(self) -> None:
        """Stored schedules obey this start's interval bounds (a lowered maximum applies now, not after a day)."""
        s = self.settings
        moved = self.state.clamp_schedule(time.time(), s.min_poll_interval_seconds, s.max_poll_interval_seconds,
                                          s.dead_probe_interval_seconds)
        if moved:
            log.info("%d stored feed schedules moved within the poll interval bounds (%gs..%gs)", moved,
                     s.min_poll_interval_seconds, s.max_poll_interval_seconds)

    def _sync_feed_list(self) -> bool:
        """Re-read the list when the file changes and make the shared table match it; True at the first
        read and when this replica changed the table (feeds may have left the list or been disabled).

        A broken edit keeps the last good list. Without the file, a replica with a shared
        PostgreSQL state polls the table as it is (another replica, or an operator, keeps it).
        """
        path: Path = self.settings.feeds_file
        try:
            st = path.stat()
            key = (st.st_mtime, st.st_size)
        except OSError:
            key = (0.0, -1)
        if self._feeds_key == key:
            return False
        first = self._feeds_key is None
        try:
            feeds = read_feeds(path)
            if self._feeds_key is None:  # at start, a variable a feed's options name must be set (later: its polls fail)
                check_environment(feeds, os.environ)
        except FeedListError as exc:
            if key[1] == -1 and self.settings.fetcher_state_url.get_secret_value().startswith("postgres"):
                log.warning("%s: polling the shared feeds table as it is", exc)
                self._feeds_key = key
                return first
            if self._feeds_key is None:
                raise
            log.error("%s: keeping the previous feed list", exc)
            return False
        changed = self.state.replace_feed_list([f.url for f in feeds], time.time(), {f.url: f.options for f in feeds})
        if changed:
            log.info("feed list %s: %d feeds, synced into the shared feeds table", path, len(feeds))
        self._feeds_key = key
        return changed or first

    async def _leave_unpolled(self) -> None:
        """Unsubscribe the feeds no longer polled (left the list, disabled, retired): their hubs stop pushing."""
        assert self.websub is not None
        try:
            await self.websub.leave_unpolled()
        except Exception as exc:  # a database hiccup: the next list change or the hourly pass tries again
            log.error("WebSub: unsubscribing feeds no longer polled failed: %r", exc)

    async def _claim_and_dispatch(self) -> bool:
        """Claim due feeds for the free slots and start their polls; True when more may be due."""
        now = time.time()
        if self.settings.once:  # --once polls every feed now (conditional GET keeps that cheap), whatever its schedule
            claimed, taken_over = self.state.claim_due(now, None, due_by=float("inf"), unpolled_since=self._pass_started)
            free = len(claimed) + 1
        else:
            free = self.settings.concurrency - len(self.tasks)
            if free <= 0:
                return True
            claimed, taken_over = self.state.claim_due(now, free)
        metrics.LEASES.labels("claimed").inc(len(claimed))
        if taken_over:
            metrics.LEASES.labels("taken_over").inc(taken_over)
            log.info("took over %d feeds whose lease had expired (a replica died or stalled)", taken_over)
        await self._dispatch([f for f in claimed if f.url not in self.polling])
        return len(claimed) >= free

    async def _renew_leases(self) -> None:
        """Keep this replica's leases alive while their polls run (every third of the lease)."""
        while True:
            await asyncio.sleep(self.settings.fetcher_lease_seconds / 3)
            try:
                held = self.state.renew_leases(time.time())
            except Exception as exc:  # a database hiccup: the next round tries again, the lease has margin
                log.error("could not renew the feed leases: %r", exc)
                continue
            metrics.LEASES_HELD.set(held)

    async def _dispatch(self, due: list[FeedState]) -> None:
        for feed in due:
            if self.stopping.is_set():
                return
            await self.slots.acquire()
            self.polling.add(feed.url)
            task = asyncio.create_task(self._poll(feed))
            self.tasks.add(task)
            task.add_done_callback(functools.partial(self._polled, url=feed.url))

    async def _poll(self, feed: FeedState) -> str:
        """One poll, then (WebSub on) subscribe, renew or unsubscribe as the feed's document says."""
        outcome = await self.poller.poll(feed)
        if self.websub is not None:
            try:
                await self.websub.after_poll(feed.url, outcome)
            except Exception as exc:  # a database hiccup: the next poll decides again
                log.error("WebSub subscription step failed: %r", exc, extra={"feed": feed.url})
        return outcome

    def _polled(self, task: asyncio.Task[str], url: str) -> None:
        self.health.beat()  # liveness: a finished poll is progress, even in a round longer than a minute
        self.tasks.discard(task)
        self.polling.discard(url)
        self.slots.release()
        self.freed.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("feed poll crashed: %r", task.exception(), extra={"feed": url})

    async def _drain(self) -> None:
        """Let in-flight polls finish (bounded by the HTTP total timeout), then cancel the rest."""
        if not self.tasks:
            return
        _, pending = await asyncio.wait(set(self.tasks), timeout=self.settings.http_total_timeout_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def _once_pass_done(self) -> bool:
        """``--once``: done when every listed feed was polled during this pass, by any replica. Feeds
        another replica leased are waited for: polled by it, or taken over here when its lease ends
        (a replica killed mid-pass). Feeds that keep failing without a recorded poll end the pass
        after a few rounds, with a warning, instead of holding it forever."""
        left, lease_end = self.state.unpolled_since(self._pass_started)
        if not left or self.stopping.is_set():
            return True
        if lease_end is None:
            self._pass_stuck += 1
            if self._pass_stuck > 3:
                log.warning("--once: %d feeds could not be polled in this pass; ending it", left)
                return True
        delay = 0.5 if lease_end is None else min(max(lease_end - time.time(), 0.2), 5.0)
        log.info("--once: %d feeds not polled yet in this pass (leased by another replica); checking again "
                 "in %.1fs", left, delay)
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=delay)
        except TimeoutError:
            pass
        return False

    async def _wait(self, more_due: bool) -> None:
        """Until a poll finishes (a slot frees, and the feed it polled has its next due time), the next
        feed is due, or a stop; at most 1 s with more feeds due, 5 s otherwise, to beat and see stops."""
        if more_due:
            delay = 1.0
        else:
            next_at = self.state.next_due_at() or time.time() + self.settings.poll_interval_seconds
            delay = min(max(next_at - time.time(), 0.2), 5.0)
        self.freed.clear()
        waiters = [asyncio.ensure_future(self.freed.wait()), asyncio.ensure_future(self.stopping.wait())]
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _report_states(self, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._reported_at < REPORT_EVERY_SECONDS:
            return
        self._reported_at = now
        counts = self.state.counts_by_state()
        for state in FEED_STATES:
            metrics.FEEDS.labels(state).set(counts.get(state, 0))
        if self.websub is not None:
            self.websub.report()

    def _expire(self) -> bool:
        """Hourly: forget old entries and idle hosts; True when it ran."""
        now = time.time()
        if now - self._expired_at < EXPIRE_EVERY_SECONDS:
            return False
        self._expired_at = now
        removed = self.state.expire(now - self.settings.seen_horizon_days * 86_400)
        self.state.forget_hosts(now)
        if removed:
            log.info("forgot %d entries not seen for %g days", removed, self.settings.seen_horizon_days)
        return True
