"""``newsflow fetcher``: feeds -> article pages -> ``newsflow.pages``.

Two parts:

* :class:`FeedPoller` polls one feed: conditional GET -> parse (in a process
  pool: parsing is the CPU cost) -> classify entries (new, updated, unchanged,
  duplicate) -> hand new and updated ones to a publisher -> schedule the next
  poll. It knows nothing of Kafka, so the benchmark and tests drive it alone.
* :class:`Fetcher` runs the schedule over the feed list and publishes: for
  each new or changed entry it fetches the page and produces a PageMessage
  (acks=all); once the producer confirmed, the entry is remembered, so a
  restart does not publish it again (a crash between the two republishes it;
  the sink is idempotent).

Concurrency: one event loop, one ``aiohttp.ClientSession``, at most
``concurrency`` feeds in flight; per-host limits are in :class:`HostGate`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError

from services.common.decoding import decode_html
from services.common.health import Health
from services.common.messages import FeedEntry, PageMessage, encode
from services.common.metrics import MESSAGES_PRODUCED, timed
from services.common.urls import article_id
from services.fetcher import metrics, schedule
from services.fetcher.feedlist import FeedListError, read_feed_list
from services.fetcher.http import FetchError, HttpClient, Response
from services.fetcher.parse import FeedParseError, ParsedFeed, ParsePool
from services.fetcher.parse import parse_safely as parse_safely  # noqa: PLC0414 - explicit re-export (cli.py)
from services.fetcher.response import (
    Action,
    classify_error,
    classify_feed,
    classify_page,
    conditional_headers,
    validators,
)
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FEED_STATES, FeedState, FetcherState

log = logging.getLogger(__name__)
EXPIRE_EVERY_SECONDS = 3600.0


def entry_hash(entry: FeedEntry) -> str:
    """What makes an entry 'changed': its title, summary and updated date."""
    material = f"{entry.title}\n{entry.summary}\n{entry.updated_at}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Candidate:
    """An entry to publish: new, or seen before with different content (``is_update``)."""

    entry: FeedEntry
    article_id: str
    digest: str
    is_update: bool


@dataclass(frozen=True)
class FetchedPage:
    """A candidate's page fetch: the message to publish, or none (then: try again at the next poll?)."""

    page: PageMessage | None = None
    retry: bool = False
    validators: tuple[str | None, str | None] = (None, None)  # the page's, for the next conditional GET


Publisher = Callable[[list[Candidate]], Awaitable[tuple[list[Candidate], list[Candidate]]]]
"""Publishes candidates; returns (published, given up for good). The rest are tried at the next poll."""


class FeedPoller:
    """Polls one feed at a time (many concurrently): fetch, parse, classify, publish, schedule."""

    def __init__(self, settings: FetcherSettings, http: HttpClient, state: FetcherState,
                 publish: Publisher, parser: ParsePool) -> None:
        self.settings = settings
        self.http = http
        self.state = state
        self.publish = publish
        self.parser = parser
        self.in_flight: set[str] = set()  # article ids being published right now, by any feed

    async def poll(self, feed: FeedState) -> str:
        """One feed; returns the outcome label. Errors are logged and scheduled, never raised."""
        try:
            outcome = await timed(metrics.POLL_DURATION, self._poll(feed))
        except (FetchError, FeedParseError) as exc:
            self._failed(feed, exc)
            outcome = "error"
        metrics.POLLS.labels(outcome).inc()
        return outcome

    async def _poll(self, feed: FeedState) -> str:
        """Conditional GET, then what the response means: unchanged, moved, gone, failed or a feed."""
        resp = await self.http.get(feed.fetch_url, kind="feed", max_bytes=self.settings.max_feed_bytes,
                                   headers=conditional_headers(feed.etag, feed.last_modified))
        now = time.time()
        decision = classify_feed(resp, feed.fetch_url)
        if decision.moved_to:
            log.info("feed moved permanently to %s: polling the new URL from now on", decision.moved_to,
                     extra={"feed": feed.url})
            self.state.moved(feed.url, decision.moved_to)
        if decision.action is Action.NOT_MODIFIED:
            self._not_modified(feed, resp, now)
            return "not_modified"
        if decision.action is Action.GONE:
            self.state.retire(feed.url, decision.message, decision.status)
            log.warning("feed is gone (HTTP 410): retired, never polled again", extra={"feed": feed.url})
            return "error"
        if decision.action is not Action.USE:
            if decision.refusal:
                metrics.FETCH_REFUSALS.labels(decision.refusal).inc()
            raise decision.error()  # recorded and scheduled by poll() -> _failed()
        parsed = await self.parser.parse(resp.body, resp.url, resp.headers.get("content-type"))
        return await self._feed_fetched(feed, resp, parsed, now)

    def _not_modified(self, feed: FeedState, resp: Response, now: float) -> None:
        hint = schedule.server_hint(resp.headers, None, now)
        delay = schedule.next_success_delay(feed.entries_per_day, hint, self.settings)
        self.state.polled(feed.url, next_poll_at=now + delay, status=304, now=now)

    async def _feed_fetched(self, feed: FeedState, resp: Response, parsed: ParsedFeed, now: float) -> str:
        """Publish the parsed feed's new entries, record them and the feed's row, schedule the next poll."""
        per_day = schedule.entries_per_day(
            (e.published_at or e.updated_at for e in parsed.entries), now)
        delay = schedule.next_success_delay(per_day, schedule.server_hint(resp.headers, parsed.ttl_seconds, now),
                                            self.settings)
        known, published, given_up, pending = await self.publish_entries(feed, parsed)
        etag, last_modified = validators(resp)
        if pending:
            # Entries not yet published (a page to retry, or deferred): keep the old validators, so
            # the next poll gets the feed again instead of a 304 that would hide them, and come back soon.
            etag, last_modified = None, None
            delay = min(delay, self.settings.min_poll_interval_seconds)
        with self.state.transaction():  # one commit per poll: entries, articles and the feed's row
            self.remember(feed, known, published, given_up)
            self.state.polled(feed.url, next_poll_at=now + delay, status=200, etag=etag,
                              last_modified=last_modified, entries_per_day=per_day, title=parsed.title, now=now)
        if parsed.skipped:
            log.info("%d entries without a usable link skipped (no page to fetch)", parsed.skipped,
                     extra={"feed": feed.url})
        log.debug("polled feed: %d entries, %d published, next poll in %.0fs", len(parsed.entries), len(published),
                  delay, extra={"feed": feed.url})
        return "new" if published else "not_modified"

    def _failed(self, feed: FeedState, exc: FetchError | FeedParseError) -> None:
        errors = feed.error_count + 1
        state = schedule.failure_state(errors, self.settings)
        retry_after = exc.retry_after if isinstance(exc, FetchError) else None
        delay = schedule.next_failure_delay(errors, self.settings, retry_after)
        self.state.failed(feed.url, next_poll_at=time.time() + delay, error=str(exc), state=state,
                          status=getattr(exc, "status", None))
        log.warning("feed poll failed (%d in a row, %s, next try in %.0fs): %s", errors, state, delay, exc,
                    extra={"feed": feed.url})

    def classify(self, feed: FeedState, entries: list[FeedEntry]) -> tuple[list[Candidate], list[Candidate]]:
        """Split entries into (to publish, already known or duplicate). Known = same feed, same content."""
        ids = [e.entry_id for e in entries]
        aids = [article_id(e.link) for e in entries]
        by_id, by_article = self.state.known_entries(feed.url, ids, aids)
        published_elsewhere = self.state.seen_articles(aids)
        todo: list[Candidate] = []
        known: list[Candidate] = []
        claimed: set[str] = set()
        for entry, aid in zip(entries, aids, strict=True):
            digest = entry_hash(entry)
            previous = by_id.get(entry.entry_id) or by_article.get(aid)
            if aid in claimed or aid in self.in_flight:
                continue  # the same article twice in this document, or being published by another feed
            claimed.add(aid)
            if previous is not None:
                (known if previous.entry_hash == digest else todo).append(
                    Candidate(entry, aid, digest, is_update=previous.entry_hash != digest))
            elif aid in published_elsewhere:
                known.append(Candidate(entry, aid, digest, is_update=False))  # same URL from another feed
            else:
                todo.append(Candidate(entry, aid, digest, is_update=False))
        return todo, known

    async def publish_entries(self, feed: FeedState, parsed: ParsedFeed
                              ) -> tuple[list[Candidate], list[Candidate], list[Candidate], int]:
        """Classify and publish; returns (known, published, given up, still pending). Writes nothing.

        At most ``max_entries_per_poll`` entries are published per poll (a 100,000-item feed must
        not mean 100,000 page fetches at once); the rest stay pending for the next polls."""
        todo, known = self.classify(feed, parsed.entries)
        deferred = max(0, len(todo) - self.settings.max_entries_per_poll)
        if deferred:
            metrics.ENTRIES_DEFERRED.inc(deferred)
            log.info("%d entries deferred to later polls (NEWSFLOW_MAX_ENTRIES_PER_POLL=%d)", deferred,
                     self.settings.max_entries_per_poll, extra={"feed": feed.url})
            todo = todo[: self.settings.max_entries_per_poll]
        self.in_flight.update(c.article_id for c in todo)
        try:
            published, given_up = await self.publish(todo) if todo else ([], [])
        finally:
            self.in_flight.difference_update(c.article_id for c in todo)
        pending = deferred + len(todo) - len(published) - len(given_up)
        return known, published, given_up, pending

    def remember(self, feed: FeedState, known: list[Candidate], published: list[Candidate],
                 given_up: list[Candidate]) -> None:
        """Record what was published (cross-feed dedupe) and every entry dealt with (per-feed identity)."""
        self.state.mark_published([(c.article_id, c.digest) for c in published])
        remembered = known + published + given_up
        self.state.remember_entries(feed.url, [(c.entry.entry_id, c.article_id, c.digest) for c in remembered])
        self.state.touch_articles([c.article_id for c in known])


class Fetcher:
    """Runs the schedule over the feed list and publishes pages to Kafka."""

    def __init__(self, settings: FetcherSettings, producer: KafkaProducer, health: Health) -> None:
        self.settings = settings
        self.producer = producer
        self.health = health
        self.state = FetcherState(settings.data_dir / "fetcher.db")
        self.http = HttpClient(settings)
        self.parser = ParsePool(settings.parse_workers)
        self.poller = FeedPoller(settings, self.http, self.state, self.publish, self.parser)
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

    # --- publishing ------------------------------------------------------------------------------

    async def publish(self, candidates: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        """Fetch and publish candidates' pages; returns (durable in Kafka, given up)."""
        results = await asyncio.gather(*(self._fetch_page(c) for c in candidates))
        sent: list[tuple[Candidate, object, tuple[str | None, str | None]]] = []
        given_up: list[Candidate] = []
        for cand, result in zip(candidates, results, strict=True):
            if result.page is not None:
                future = self._send(result.page)
                if future is None:
                    given_up.append(cand)  # too large for Kafka: given up, logged and counted in _send
                else:
                    sent.append((cand, future, result.validators))
            elif not result.retry:
                given_up.append(cand)
        if sent:
            await asyncio.to_thread(self.producer.flush)
        durable = [(cand, v) for cand, fut, v in sent if _succeeded(fut)]
        self.state.mark_published([(c.article_id, c.digest) for c, _ in durable],
                                  validators={c.article_id: v for c, v in durable})
        for cand, _ in durable:
            metrics.ENTRIES.labels("updated" if cand.is_update else "new").inc()
        return [c for c, _ in durable], given_up

    async def _fetch_page(self, cand: Candidate) -> FetchedPage:
        """GET the entry's page (conditional for an update) and judge the result."""
        entry, aid = cand.entry, cand.article_id
        now = datetime.now(UTC)
        if entry.published_at and not cand.is_update:
            metrics.DISCOVERY_LATENCY.observe(max(0.0, (now - entry.published_at).total_seconds()))
        headers = conditional_headers(*self.state.page_validators(aid)) if cand.is_update else {}
        try:
            resp = await self.http.get(entry.link, kind="page", max_bytes=self.settings.max_page_bytes,
                                       headers=headers)
        except FetchError as exc:
            retry = classify_error(exc).action is Action.RETRY
            log.warning("page fetch failed (%s): %s", "retried at the next poll" if retry else "given up", exc,
                        extra={"article_id": aid, "url": entry.link})
            return FetchedPage(retry=retry)
        return self._page_from(cand, resp, now)

    def _page_from(self, cand: Candidate, resp: Response, now: datetime) -> FetchedPage:
        """The page message of a usable response; otherwise whether to try again at the next poll."""
        entry, aid = cand.entry, cand.article_id
        where = {"article_id": aid, "url": entry.link}
        decision = classify_page(resp, entry.link)
        if decision.action is Action.NOT_MODIFIED:
            log.info("entry changed but its page did not (HTTP 304): nothing to re-extract", extra=where)
            return FetchedPage()
        if decision.refusal:
            metrics.FETCH_REFUSALS.labels(decision.refusal).inc()
            log.warning("not an HTML page (%s): not sent to the extractor", resp.content_type, extra=where)
            return FetchedPage()
        if decision.action is not Action.USE:
            retry = decision.action is Action.RETRY
            log.warning("page fetch failed: HTTP %d (%s)", resp.status, "retried at the next poll" if retry
                        else "given up", extra=where)
            return FetchedPage(retry=retry)
        page = PageMessage(
            id=aid, url=entry.link, final_url=resp.url, status=resp.status,
            content_type=resp.headers.get("content-type"),
            html=decode_html(resp.body, resp.headers.get("content-type")),
            fetched_at=now, is_update=cand.is_update,
            entry=entry.model_copy(update={"first_seen_at": now}),
        )
        return FetchedPage(page, validators=validators(resp))

    def _send(self, page: PageMessage) -> object | None:
        try:
            future: object = self.producer.send(self.settings.topic_pages, key=page.id.encode(), value=encode(page))
        except MessageSizeTooLargeError:
            metrics.FETCH_REFUSALS.labels("size").inc()
            log.warning("page too large for a Kafka message: given up", extra={"article_id": page.id})
            return None
        return future


def _succeeded(future: object) -> bool:
    try:
        future.get(timeout=0)  # type: ignore[attr-defined]
    except KafkaError as exc:
        log.error("page not published (retried at the next poll): %s", exc)
        return False
    MESSAGES_PRODUCED.labels("fetcher", "pages").inc()
    return True

