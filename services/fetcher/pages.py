"""Publishing pages: fetch each candidate's page, judge it, produce a PageMessage, wait until durable.

:class:`PagePublisher` is the fetcher's :data:`~services.fetcher.poller.Publisher`: for each new or
changed entry it fetches the page (conditional GET for an update), judges the result with
:mod:`services.fetcher.response`, and produces a PageMessage (acks=all). Once the producer confirmed,
the article is remembered, so a restart does not publish it again (a crash between the two
republishes it; the sink is idempotent). A page that failed for a reason worth retrying is left
pending, so the feed's next poll tries it again.

Before anything is sent, the feed's lease is checked (and renewed): a replica that stalled past its
lease while fetching pages sends nothing (:class:`~services.fetcher.leases.LeaseLost`), since the
replica that took the feed over publishes those entries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError

from services.common.decoding import decode_html
from services.common.messages import PageMessage, encode
from services.common.metrics import MESSAGES_PRODUCED
from services.fetcher import metrics
from services.fetcher.http import FetchError, HttpClient, Response
from services.fetcher.leases import LeaseLost
from services.fetcher.poller import Candidate
from services.fetcher.response import Action, classify_error, classify_page, conditional_headers, validators
from services.fetcher.robots import RobotsCache, Verdict
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FetcherState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchedPage:
    """A candidate's page fetch: the message to publish, or none (then: try again at the next poll?)."""

    page: PageMessage | None = None
    retry: bool = False
    validators: tuple[str | None, str | None] = (None, None)  # the page's, for the next conditional GET
    error: str = ""  # why there is no page
    disallowed: bool = False  # by the site's robots.txt (given up; counted apart on the feed's row)
    attempt: bool = True  # a retry that counts towards NEWSFLOW_MAX_PAGE_ATTEMPTS


class PagePublisher:
    """Fetches candidates' pages and publishes them to the pages topic."""

    def __init__(self, settings: FetcherSettings, http: HttpClient, state: FetcherState,
                 producer: KafkaProducer) -> None:
        self.settings = settings
        self.http = http
        self.state = state
        self.producer = producer
        self.robots = RobotsCache(http, settings)

    async def publish(self, candidates: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        """Fetch and publish candidates' pages; returns (durable in Kafka, given up)."""
        results = await asyncio.gather(*(self._fetch_page(c) for c in candidates))
        for feed_url in {c.feed_url for c in candidates if c.feed_url}:
            if not self.state.holds(feed_url, time.time()):
                raise LeaseLost(feed_url)
        sent: list[tuple[Candidate, object, tuple[str | None, str | None]]] = []
        given_up: list[Candidate] = []
        for cand, result in zip(candidates, results, strict=True):
            if result.page is not None:
                future = self._send(result.page)
                if future is None:
                    given_up.append(cand)  # too large for Kafka: given up, logged and counted in _send
                else:
                    sent.append((cand, future, result.validators))
            elif not result.retry or (result.attempt and self._out_of_attempts(cand, result.error)):
                given_up.append(cand)
        self._record_given_up(given_up, results, candidates)
        if sent:
            await asyncio.to_thread(self.producer.flush)
        durable = [(cand, v) for cand, fut, v in sent if _succeeded(fut)]
        self.state.mark_published([(c.article_id, c.digest) for c, _ in durable],
                                  validators={c.article_id: v for c, v in durable})
        for cand, _ in durable:
            metrics.ENTRIES.labels("updated" if cand.is_update else "new").inc()
        return [c for c, _ in durable], given_up

    def _out_of_attempts(self, cand: Candidate, error: str) -> bool:
        """Count a retryable failure of the candidate's page; True once it failed ``max_page_attempts`` times.

        A page that trickles (a timeout every time) holds a host slot for the whole total timeout at each
        attempt: it is given up after a few polls instead of at every poll forever.
        """
        attempts = self.state.page_failed(cand.article_id, cand.feed_url, error, time.time())
        if attempts < self.settings.max_page_attempts:
            return False
        metrics.PAGES_GIVEN_UP.inc()
        log.warning("page failed %d times in a row (NEWSFLOW_MAX_PAGE_ATTEMPTS): given up: %s", attempts, error,
                    extra={"article_id": cand.article_id, "url": cand.entry.link})
        return True

    def _record_given_up(self, given_up: list[Candidate], results: list[FetchedPage],
                         candidates: list[Candidate]) -> None:
        """Pages given up, per feed, on the feed's row (``newsflow feeds status`` shows them)."""
        by_id = {c.article_id: r for c, r in zip(candidates, results, strict=True)}
        by_feed: dict[str, list[str]] = {}
        disallowed: dict[str, list[str]] = {}
        for cand in given_up:
            result = by_id.get(cand.article_id)
            if cand.feed_url and result is not None and result.disallowed:
                disallowed.setdefault(cand.feed_url, []).append(cand.entry.link)
            elif cand.feed_url:
                by_feed.setdefault(cand.feed_url, []).append((result.error if result else "") or "given up")
        for feed_url, reasons in by_feed.items():
            self.state.pages_given_up(feed_url, len(reasons), reasons[-1])
        for feed_url, urls in disallowed.items():
            self.state.robots_disallowed(feed_url, len(urls), urls[-1])

    async def _fetch_page(self, cand: Candidate) -> FetchedPage:
        """GET the entry's page (conditional for an update) and judge the result."""
        entry, aid = cand.entry, cand.article_id
        now = datetime.now(UTC)
        if entry.published_at and not cand.is_update:
            metrics.DISCOVERY_LATENCY.observe(max(0.0, (now - entry.published_at).total_seconds()))
        robots = await self.robots.check(entry.link)
        if not robots.allowed:
            return _not_allowed(robots, aid, entry.link)
        headers = conditional_headers(*self.state.page_validators(aid)) if cand.is_update else {}
        try:
            resp = await self.http.get(entry.link, kind="page", max_bytes=self.settings.max_page_bytes,
                                       headers=headers, min_delay=robots.crawl_delay,
                                       host_headers=cand.host_headers)  # the feed's own headers: its origin only
        except FetchError as exc:
            retry = classify_error(exc).action is Action.RETRY
            log.warning("page fetch failed (%s): %s", "retried at the next poll" if retry else "given up", exc,
                        extra={"article_id": aid, "url": entry.link})
            return FetchedPage(retry=retry, error=str(exc))
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
            log.warning("not an HTML page (%s): not sent to the extractor", decision.message, extra=where)
            return FetchedPage(error=decision.message)
        if decision.action is not Action.USE:
            retry = decision.action is Action.RETRY
            log.warning("page fetch failed: HTTP %d (%s)", resp.status, "retried at the next poll" if retry
                        else "given up", extra=where)
            return FetchedPage(retry=retry, error=decision.message)
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


def _not_allowed(robots: Verdict, article_id: str, url: str) -> FetchedPage:
    """A page robots.txt keeps us from: given up when disallowed, tried again later when robots.txt failed."""
    metrics.ROBOTS_REFUSALS.labels(robots.reason).inc()
    where = {"article_id": article_id, "url": url}
    if robots.reason == "disallowed":
        log.info("page not fetched: disallowed by its site's robots.txt (given up)", extra=where)
        return FetchedPage(error=robots.message, disallowed=True)
    log.warning("page not fetched: %s", robots.message, extra=where)
    return FetchedPage(retry=True, error=robots.message, attempt=robots.first)  # one attempt per robots.txt try


def _succeeded(future: object) -> bool:
    try:
        future.get(timeout=0)  # type: ignore[attr-defined]
    except KafkaError as exc:
        log.error("page not published (retried at the next poll): %s", exc)
        return False
    MESSAGES_PRODUCED.labels("fetcher", "pages").inc()
    return True

