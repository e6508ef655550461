"""One feed poll: conditional GET -> judge the response -> parse -> classify entries -> publish -> schedule.

:class:`FeedPoller` polls one feed (many concurrently): the response is judged by
:mod:`services.fetcher.response`; a feed is parsed in a process pool (parsing is the CPU cost);
its entries are classified (new, updated, unchanged, duplicate) and the new and updated ones
handed to a :data:`Publisher`; then the feed's row is written and its next poll scheduled.
It knows nothing of Kafka, so the benchmark and tests drive it alone.

With replicas, the feed is polled under a lease (:mod:`services.fetcher.leases`): the lease is
checked (and renewed) before pages are fetched, again before they are sent (by the publisher), and
the feed's row is written after the poll only while the lease is held. A replica that stalled past
its lease (the feed was taken over) drops the poll's results: :class:`LeaseLost`, outcome ``lost``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from services.common.messages import FeedEntry
from services.common.metrics import timed
from services.common.urls import article_id_of_normalised
from services.fetcher import metrics, schedule
from services.fetcher.feedoptions import FeedOptions, HostHeaders, OptionError
from services.fetcher.http import FetchError, HttpClient, Response
from services.fetcher.leases import LeaseLost
from services.fetcher.parse import FeedParseError, ParsedFeed, ParsePool
from services.fetcher.response import Action, classify_feed, conditional_headers, validators
from services.fetcher.settings import FetcherSettings
from services.fetcher.sitemapindex import read_children
from services.fetcher.state import FeedState, FetcherState

log = logging.getLogger(__name__)


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
    feed_url: str = ""  # the feed polled (whose lease must still be held when the page is sent)
    host_headers: HostHeaders | None = None  # the feed's own headers (per-feed options): for a page on its origin


Publisher = Callable[[list[Candidate]], Awaitable[tuple[list[Candidate], list[Candidate]]]]
"""Publishes candidates; returns (published, given up for good). The rest are tried at the next poll."""

DelayHook = Callable[[str, "dict[str, str] | None", float], float]
"""``(feed url, the document's links (None: 304), delay) -> delay``: the next poll's delay after a successful
poll, as WebSub sees it (a feed with a verified subscription is polled at the safety-net interval)."""


class FeedPoller:
    """Polls one feed at a time (many concurrently): fetch, parse, classify, publish, schedule."""

    def __init__(self, settings: FetcherSettings, http: HttpClient, state: FetcherState,
                 publish: Publisher, parser: ParsePool, delay_hook: DelayHook | None = None) -> None:
        self.settings = settings
        self.delay_hook = delay_hook
        self.http = http
        self.state = state
        self.publish = publish
        self.parser = parser
        self.in_flight: set[str] = set()  # article ids being published right now, by any feed

    async def poll(self, feed: FeedState) -> str:
        """One feed; returns the outcome label. Errors are logged and scheduled, never raised."""
        try:
            try:
                outcome = await timed(metrics.POLL_DURATION, self._poll(feed))
            except (FetchError, FeedParseError) as exc:
                if isinstance(exc, FeedParseError) and "NEWSFLOW_PARSE_TIMEOUT_SECONDS" in str(exc):
                    metrics.FETCH_REFUSALS.labels("parse_timeout").inc()
                self._failed(feed, exc)
                outcome = "error"
        except LeaseLost as exc:
            metrics.LEASES.labels("lost").inc()
            log.warning("%s", exc, extra={"feed": feed.url})
            outcome = "lost"
        metrics.POLLS.labels(outcome).inc()
        return outcome

    async def _poll(self, feed: FeedState) -> str:
        """Conditional GET, then what the response means: unchanged, moved, gone, failed or a feed."""
        resp = await self.http.get(feed.fetch_url, kind="feed", max_bytes=self.settings.max_feed_bytes,
                                   headers=conditional_headers(feed.etag, feed.last_modified),
                                   host_headers=self.host_headers(feed))
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
        if parsed.sitemaps:  # a sitemap index: the entries of its newest child sitemaps
            parsed = await read_children(self.http, self.parser, self.settings, parsed, feed.url,
                                         self.host_headers(feed))
        if parsed.cut:
            metrics.ENTRIES_CUT.inc(parsed.cut)
            log.info("%d entries past the first %d not read (NEWSFLOW_MAX_FEED_ENTRIES)", parsed.cut,
                     self.settings.max_feed_entries, extra={"feed": feed.url})
        return await self._feed_fetched(feed, resp, parsed, now)

    def _not_modified(self, feed: FeedState, resp: Response, now: float) -> None:
        hint = schedule.server_hint(resp.headers, None, now)
        delay = schedule.next_success_delay(feed.entries_per_day, hint, self.settings, bounds=self.bounds(feed))
        delay = self.hooked_delay(feed, None, delay)
        self.state.polled(feed.url, next_poll_at=now + delay, status=304, now=now)

    async def _feed_fetched(self, feed: FeedState, resp: Response, parsed: ParsedFeed, now: float) -> str:
        """Publish the parsed feed's new entries, record them and the feed's row, schedule the next poll."""
        per_day = schedule.entries_per_day(
            (e.published_at or e.updated_at for e in parsed.entries), now)
        delay = schedule.next_success_delay(per_day, schedule.server_hint(resp.headers, parsed.ttl_seconds, now),
                                            self.settings, bounds=self.bounds(feed))
        delay = self.hooked_delay(feed, parsed.links, delay)
        known, published, given_up, pending = await self.publish_entries(feed, parsed)
        etag, last_modified = validators(resp)
        if pending:
            # Entries not yet published (a page to retry, or deferred): keep the old validators, so
            # the next poll gets the feed again instead of a 304 that would hide them, and come back soon.
            etag, last_modified = None, None
            delay = min(delay, (self.bounds(feed) or (self.settings.min_poll_interval_seconds,))[0])
        with self.state.transaction():  # one commit per poll: the feed's row (lease checked first), entries, articles
            self.state.polled(feed.url, next_poll_at=now + delay, status=200, etag=etag,
                              last_modified=last_modified, entries_per_day=per_day, title=parsed.title, now=now)
            self.remember(feed, known, published, given_up)
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
        delay = schedule.next_failure_delay(errors, self.settings, retry_after, bounds=self.bounds(feed))
        self.state.failed(feed.url, next_poll_at=time.time() + delay, error=str(exc), state=state,
                          status=getattr(exc, "status", None))
        log.warning("feed poll failed (%d in a row, %s, next try in %.0fs): %s", errors, state, delay, exc,
                    extra={"feed": feed.url})

    # --- the feed's own options (feeds.txt key=value, OPML newsflow: attributes) ----------------------

    def options(self, feed: FeedState) -> FeedOptions:
        """The feed's options; unreadable ones fail the poll (counted, shown by ``feeds status``)."""
        try:
            return feed.options
        except OptionError as exc:
            metrics.FEED_OPTION_ERRORS.inc()
            raise FetchError("feed_option", str(exc)) from None

    def host_headers(self, feed: FeedState) -> HostHeaders | None:
        """The feed's headers, auth and user agent (environment variables read now), for its listed URL's origin.

        A variable that is not set fails the poll with an error naming it (never an empty header)."""
        try:
            headers = self.options(feed).request_headers(os.environ)
        except OptionError as exc:
            metrics.FEED_OPTION_ERRORS.inc()
            raise FetchError("feed_option", f"feed {exc}") from None
        return HostHeaders.for_feed(feed.url, headers)

    def hooked_delay(self, feed: FeedState, links: dict[str, str] | None, delay: float) -> float:
        """The :data:`DelayHook`'s word on the next poll (WebSub's safety-net interval, its renewal time),
        never past the feed's own ``max_interval``: the operator's word for this feed wins."""
        if self.delay_hook is None:
            return delay
        hooked = self.delay_hook(feed.url, links, delay)
        bounds = self.bounds(feed)
        return min(hooked, bounds[1]) if bounds is not None else hooked

    def bounds(self, feed: FeedState) -> schedule.Bounds | None:
        """The feed's own poll interval bounds, if it has any."""
        try:
            options = feed.options
        except OptionError:
            return None  # the poll fails on them (options()); the global bounds schedule its retry
        return schedule.feed_bounds(self.settings, options.min_interval, options.max_interval)

    def classify(self, feed: FeedState, entries: list[FeedEntry]) -> tuple[list[Candidate], list[Candidate]]:
        """Split entries into (to publish, already known or duplicate). Known = same feed, same content."""
        ids = [e.entry_id for e in entries]
        aids = [article_id_of_normalised(e.link) for e in entries]  # links are normalize_url output (parse.py)
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
                    Candidate(entry, aid, digest, previous.entry_hash != digest, feed.url))
            elif aid in published_elsewhere:
                known.append(Candidate(entry, aid, digest, False, feed.url))  # same URL from another feed
            else:
                todo.append(Candidate(entry, aid, digest, False, feed.url))
        return todo, known

    async def publish_entries(self, feed: FeedState, parsed: ParsedFeed
                              ) -> tuple[list[Candidate], list[Candidate], list[Candidate], int]:
        """Classify and publish; returns (known, published, given up, still pending). Writes nothing.

        At most ``max_entries_per_poll`` entries are published per poll (a 100,000-item feed must
        not mean 100,000 page fetches at once); the rest stay pending for the next polls."""
        update, host_headers = self.options(feed).entry_update(), self.host_headers(feed)
        entries = [e.model_copy(update=update) for e in parsed.entries] if update else parsed.entries  # tags, language
        todo, known = self.classify(feed, entries)
        if host_headers is not None:
            todo = [replace(c, host_headers=host_headers) for c in todo]
        deferred = max(0, len(todo) - self.settings.max_entries_per_poll)
        if deferred:
            metrics.ENTRIES_DEFERRED.inc(deferred)
            log.info("%d entries deferred to later polls (NEWSFLOW_MAX_ENTRIES_PER_POLL=%d)", deferred,
                     self.settings.max_entries_per_poll, extra={"feed": feed.url})
            todo = todo[: self.settings.max_entries_per_poll]
        if todo and not self.state.holds(feed.url, time.time()):
            raise LeaseLost(feed.url)  # stalled past the lease: the replica that took the feed over publishes
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
