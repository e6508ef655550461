"""``newsflow fetcher``: feeds -> article pages -> ``newsflow.pages``.

For each feed that is due: conditional GET -> parse -> for each new or
changed entry, fetch its page -> produce a PageMessage (acks=all) -> once the
producer confirmed, remember the entry, so a restart does not publish it
again (a crash between the two republishes it; the sink is idempotent).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import defaultdict
from datetime import UTC, datetime
from urllib.parse import urlsplit

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError
from trafilatura.utils import detect_encoding
from w3lib.encoding import html_to_unicode

from services.common import metrics
from services.common.config import FetcherSettings
from services.common.health import Health
from services.common.messages import FeedEntry, PageMessage, encode
from services.common.urls import article_id
from services.fetcher.feedlist import read_feed_list
from services.fetcher.http import HTML_TYPES, FetchError, HttpClient
from services.fetcher.parse import FeedParseError, parse_feed
from services.fetcher.state import FeedState, FetcherState

log = logging.getLogger(__name__)
DEAD_AFTER_ERRORS = 10


def entry_hash(entry: FeedEntry) -> str:
    """What makes an entry 'changed': its title, summary and updated date."""
    material = f"{entry.title}\n{entry.summary}\n{entry.updated_at}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def backoff_seconds(errors: int, settings: FetcherSettings) -> float:
    """Exponential backoff with full jitter, capped at the maximum poll interval."""
    ceiling = min(settings.max_poll_interval_seconds, settings.min_poll_interval_seconds * 2 ** min(errors, 16))
    return random.uniform(settings.min_poll_interval_seconds, max(ceiling, settings.min_poll_interval_seconds))


class Fetcher:
    """Polls the feed list and publishes pages; one asyncio task per due feed, bounded."""

    def __init__(self, settings: FetcherSettings, producer: KafkaProducer, health: Health) -> None:
        self.settings = settings
        self.producer = producer
        self.health = health
        self.state = FetcherState(settings.data_dir / "fetcher.db")
        self.http = HttpClient(settings)
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.host_slots: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_host_concurrency)
        )
        self.stopping = asyncio.Event()
        self.in_flight: set[str] = set()

    async def run(self) -> None:
        """Poll due feeds until stopped (or once through, with ``once``)."""
        try:
            while not self.stopping.is_set():
                self.health.beat()
                urls = read_feed_list(self.settings.feeds_file)
                self.state.sync_feeds(urls)
                # --once polls every feed now (conditional GET keeps that cheap), whatever its schedule.
                due = self.state.due(float("inf") if self.settings.once else time.time(), urls)
                await asyncio.gather(*(self.poll(feed) for feed in due))
                self._report_states()
                if self.settings.once:
                    break
                await self._sleep_until_due()
        finally:
            await asyncio.to_thread(self.producer.flush)
            await self.http.aclose()
            self.state.close()

    async def _sleep_until_due(self) -> None:
        next_at = self.state.next_due_at() or time.time() + self.settings.poll_interval_seconds
        delay = min(max(next_at - time.time(), 0.2), 5.0)  # wake often enough to beat and see stops
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=delay)
        except TimeoutError:
            pass

    def _report_states(self) -> None:
        counts = self.state.counts_by_state()
        for state in ("active", "backing_off", "dead", "retired"):
            metrics.FEEDS.labels(state).set(counts.get(state, 0))

    async def poll(self, feed: FeedState) -> None:
        """One feed: fetch, parse, publish what is new. Errors are logged and scheduled, never raised."""
        async with self.slots:
            try:
                published = await metrics.timed(metrics.POLL_DURATION, self._poll(feed))
            except (FetchError, FeedParseError) as exc:
                self._failed(feed, exc)
                return
            metrics.POLLS.labels("new" if published else "not_modified").inc()

    async def _poll(self, feed: FeedState) -> int:
        headers = {}
        if feed.etag:
            headers["If-None-Match"] = feed.etag
        if feed.last_modified:
            headers["If-Modified-Since"] = feed.last_modified
        async with self.host_slots[_host(feed.url)]:
            resp = await self.http.get(feed.url, kind="feed", max_bytes=self.settings.max_feed_bytes,
                                       headers=headers)
        next_at = time.time() + self.settings.poll_interval_seconds
        if resp.status == 304:
            self.state.polled(feed.url, next_poll_at=next_at, status=304)
            return 0
        if resp.status != 200:
            raise FetchError("status", f"{feed.url}: HTTP {resp.status}", resp.status)
        parsed = parse_feed(resp.body, resp.url, resp.headers.get("content-type"))
        published = await self.publish_entries(parsed.entries)
        self.state.polled(feed.url, next_poll_at=next_at, status=200,
                          etag=resp.headers.get("etag"), last_modified=resp.headers.get("last-modified"))
        log.info("polled feed: %d entries, %d published", len(parsed.entries), published,
                 extra={"feed": feed.url})
        return published

    def _failed(self, feed: FeedState, exc: FetchError | FeedParseError) -> None:
        metrics.POLLS.labels("error").inc()
        errors = feed.error_count + 1
        state = "dead" if errors >= DEAD_AFTER_ERRORS else "backing_off"
        delay = backoff_seconds(errors, self.settings)
        self.state.failed(feed.url, next_poll_at=time.time() + delay, error=str(exc), state=state,
                          status=getattr(exc, "status", None))
        log.warning("feed poll failed (%d in a row, next try in %.0fs): %s", errors, delay, exc,
                    extra={"feed": feed.url})

    async def publish_entries(self, entries: list[FeedEntry]) -> int:
        """Fetch and publish every new or changed entry; remember them once durable."""
        todo = []
        for entry in entries:
            aid = article_id(entry.link)
            digest = entry_hash(entry)
            previous = self.state.seen_hash(aid)
            if previous == digest or aid in self.in_flight:
                continue  # unchanged, or the same article from another feed right now
            self.in_flight.add(aid)
            todo.append((aid, digest, entry, previous is not None))
        try:
            pages = await asyncio.gather(*(self._fetch_page(aid, e, upd) for aid, _, e, upd in todo))
            sent = [(aid, digest, self._send(page)) for (aid, digest, _, _), page in zip(todo, pages, strict=True)
                    if page is not None]
            await asyncio.to_thread(self.producer.flush)
            durable = [(aid, digest) for aid, digest, fut in sent if fut is not None and _succeeded(fut)]
            self.state.mark_published(durable)
        finally:
            self.in_flight.difference_update(aid for aid, *_ in todo)
        for (_, _, _, update) in todo:
            metrics.ENTRIES.labels("updated" if update else "new").inc()
        return len(durable)

    async def _fetch_page(self, aid: str, entry: FeedEntry, is_update: bool) -> PageMessage | None:
        now = datetime.now(UTC)
        if entry.published_at:
            metrics.DISCOVERY_LATENCY.observe(max(0.0, (now - entry.published_at).total_seconds()))
        try:
            async with self.host_slots[_host(entry.link)]:
                resp = await self.http.get(entry.link, kind="page", max_bytes=self.settings.max_page_bytes)
        except FetchError as exc:
            log.warning("page fetch failed: %s", exc, extra={"article_id": aid, "url": entry.link})
            return None
        if resp.status != 200:
            log.warning("page fetch failed: HTTP %d", resp.status, extra={"article_id": aid, "url": entry.link})
            return None
        if resp.content_type and resp.content_type not in HTML_TYPES:
            metrics.FETCH_REFUSALS.labels("content_type").inc()
            log.warning("not an HTML page (%s): not sent to the extractor", resp.content_type,
                        extra={"article_id": aid, "url": entry.link})
            return None
        return PageMessage(
            id=aid, url=entry.link, final_url=resp.url, status=resp.status,
            content_type=resp.headers.get("content-type"),
            html=_decode(resp.body, resp.headers.get("content-type")),
            fetched_at=now, is_update=is_update,
            entry=entry.model_copy(update={"first_seen_at": now}),
        )

    def _send(self, page: PageMessage) -> object | None:
        try:
            return self.producer.send(self.settings.topic_pages, key=page.id.encode(), value=encode(page))
        except MessageSizeTooLargeError:
            metrics.FETCH_REFUSALS.labels("size").inc()
            log.warning("page too large for a Kafka message", extra={"article_id": page.id})
            return None


def _succeeded(future: object) -> bool:
    try:
        future.get(timeout=0)  # type: ignore[attr-defined]
    except KafkaError as exc:
        log.error("page not published: %s", exc)
        return False
    metrics.MESSAGES_PRODUCED.labels("fetcher", "pages").inc()
    return True


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _decode(body: bytes, content_type: str | None) -> str:
    """Text of a page: BOM, then the HTTP charset, then <meta charset>, then detection (w3lib)."""
    _, text = html_to_unicode(content_type, body, auto_detect_fun=_guess_encoding)
    return str(text)


def _guess_encoding(body: bytes) -> str | None:
    guesses = detect_encoding(body)
    return guesses[0] if guesses else None
