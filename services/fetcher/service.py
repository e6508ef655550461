"""``newsflow fetcher``: feeds -> article pages -> ``newsflow.pages``.

:class:`Fetcher` runs the schedule over the feed list: it re-reads the list when the file
changes, starts the polls that are due (at most ``concurrency`` feeds in flight), keeps the
feed-state gauges, forgets entries past the horizon, and drains in-flight polls on stop.
The steps of one poll are in :mod:`services.fetcher.poller`, publishing a page in
:mod:`services.fetcher.pages`, what a response means in :mod:`services.fetcher.response`.

Concurrency: one event loop, one ``aiohttp.ClientSession``, at most
``concurrency`` feeds in flight; per-host limits are in :class:`~services.fetcher.http.HostGate`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from pathlib import Path

from kafka import KafkaProducer

from services.common.health import Health
from services.fetcher import metrics
from services.fetcher.feedlist import FeedListError, read_feed_list
from services.fetcher.http import HttpClient
from services.fetcher.pages import PagePublisher
from services.fetcher.parse import ParsePool
from services.fetcher.poller import FeedPoller
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FEED_STATES, FeedState, FetcherState

log = logging.getLogger(__name__)
EXPIRE_EVERY_SECONDS = 3600.0


class Fetcher:
    """Runs the schedule over the feed list and publishes pages to Kafka."""

    def __init__(self, settings: FetcherSettings, producer: KafkaProducer, health: Health) -> None:
        self.settings = settings
        self.producer = producer
        self.health = health
        self.state = FetcherState(settings.data_dir / "fetcher.db")
        self.http = HttpClient(settings)
        self.parser = ParsePool(settings.parse_workers)
        self.pages = PagePublisher(settings, self.http, self.state, producer)
        self.poller = FeedPoller(settings, self.http, self.state, self.pages.publish, self.parser)
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.stopping = asyncio.Event()
        self.polling: set[str] = set()
        self.tasks: set[asyncio.Task[str]] = set()
        self._feeds: tuple[tuple[float, int], list[str]] | None = None
        self._expired_at = 0.0

    async def run(self) -> None:
        """Poll due feeds until stopped (or every feed once, with ``once``)."""
        try:
            while not self.stopping.is_set():
                self.health.beat()
                urls = self._feed_list()
                self.state.sync_feeds(urls)
                # --once polls every feed now (conditional GET keeps that cheap), whatever its schedule.
                due = self.state.due(float("inf") if self.settings.once else time.time(), urls)
                await self._dispatch([f for f in due if f.url not in self.polling])
                if self.settings.once:
                    await asyncio.gather(*self.tasks)
                    self._report_states(urls)
                    break
                self._report_states(urls)
                self._expire()
                await self._sleep_until_due(urls)
        finally:
            await self._drain()
            await asyncio.to_thread(self.producer.flush)
            await self.http.aclose()
            self.parser.close()
            self.state.close()

    def _feed_list(self) -> list[str]:
        """The feed list, re-read when the file changes; a broken edit keeps the last good list."""
        path: Path = self.settings.feeds_file
        try:
            st = path.stat()
            key = (st.st_mtime, st.st_size)
        except OSError:
            key = (0.0, -1)
        if self._feeds is not None and self._feeds[0] == key:
            return self._feeds[1]
        try:
            urls = read_feed_list(path)
        except FeedListError as exc:
            if self._feeds is None:
                raise
            log.error("%s: keeping the previous feed list (%d feeds)", exc, len(self._feeds[1]))
            return self._feeds[1]
        self._feeds = (key, urls)
        return urls

    async def _dispatch(self, due: list[FeedState]) -> None:
        for feed in due:
            if self.stopping.is_set():
                return
            await self.slots.acquire()
            self.polling.add(feed.url)
            task = asyncio.create_task(self.poller.poll(feed))
            self.tasks.add(task)
            task.add_done_callback(functools.partial(self._polled, url=feed.url))

    def _polled(self, task: asyncio.Task[str], url: str) -> None:
        self.health.beat()  # liveness: a finished poll is progress, even in a round longer than a minute
        self.tasks.discard(task)
        self.polling.discard(url)
        self.slots.release()
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

    async def _sleep_until_due(self, urls: list[str]) -> None:
        next_at = self.state.next_due_at(urls) or time.time() + self.settings.poll_interval_seconds
        delay = min(max(next_at - time.time(), 0.2), 5.0)  # wake often enough to beat and see stops
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=delay)
        except TimeoutError:
            pass

    def _report_states(self, urls: list[str]) -> None:
        counts = self.state.counts_by_state(urls)
        for state in FEED_STATES:
            metrics.FEEDS.labels(state).set(counts.get(state, 0))

    def _expire(self) -> None:
        now = time.time()
        if now - self._expired_at < EXPIRE_EVERY_SECONDS:
            return
        self._expired_at = now
        removed = self.state.expire(now - self.settings.seen_horizon_days * 86_400)
        if removed:
            log.info("forgot %d entries not seen for %g days", removed, self.settings.seen_horizon_days)
