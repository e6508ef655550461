"""``newsflow feeds backfill URL``: walk a feed's archives (RFC 5005) or a sitemap index, publish what was not seen.

A feed shows its newest entries only. RFC 5005 lets it link older ones: an *archived feed* links
each archive document to the one before it (``<link rel="prev-archive">``); a *paged feed* links
each page to the next, older one (``rel="next"``; JSON Feed ``next_url``). :class:`Backfill` starts
at ``URL`` and follows ``prev-archive`` (else ``next``) from document to document; a sitemap index
instead names its child sitemaps (newest first), which are walked in turn.

Each document goes the way of a poll: the fetcher's HTTP client (SSRF guard, size cap, per-host
delay shared with running replicas through the state store; a listed feed's per-feed headers, auth
and user agent on its listed URL's origin only), the same response classifier and parser
(:func:`services.fetcher.sitemapindex.fetch_document`), then the poller's own classify and publish
(:meth:`services.fetcher.poller.FeedPoller.publish_entries`: the page of each new entry fetched and
published to ``newsflow.pages``) and its memory (:meth:`~services.fetcher.poller.FeedPoller.remember`,
under ``URL``'s feed identity). So an entry published by a poll or an earlier backfill is not
published again, and a second backfill of the same archive publishes nothing.

The walk stops at ``max_pages`` documents, at a document whose dated entries are all older than
``since`` (archives go back in time; such entries are never published), at a document already
walked (a loop), when there is no link to follow, or at a document that cannot be fetched or
parsed (reported; what was published so far stays published).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from datetime import datetime

from services.common.urls import BadURLError, normalize_url
from services.fetcher import metrics
from services.fetcher.http import FetchError, HttpClient
from services.fetcher.parse import FeedParseError, ParsedFeed, ParsePool
from services.fetcher.poller import FeedPoller
from services.fetcher.settings import FetcherSettings
from services.fetcher.sitemapindex import fetch_document
from services.fetcher.state import FeedState

log = logging.getLogger(__name__)

MAX_PAGES = 50  # documents walked by one backfill unless --max-pages says otherwise
FOLLOW = ("prev-archive", "next")  # RFC 5005: archived feeds, then paged feeds (both lead to older entries)


@dataclass
class BackfillReport:
    """What one backfill did."""

    pages: int = 0
    published: int = 0
    updated: int = 0  # of ``published``: entries seen before whose content changed
    known: int = 0
    given_up: int = 0
    pending: int = 0
    older: int = 0
    stopped: str = ""  # why the walk ended
    error: str | None = None
    walked: list[str] = field(default_factory=list)

    def summary(self) -> str:
        updates = f" ({self.updated} updates)" if self.updated else ""
        text = (f"{self.pages} pages walked, {self.published} entries published{updates}, {self.known} already seen, "
                f"{self.given_up} given up, {self.pending} pending, {self.older} older than --since; "
                f"stopped: {self.stopped}")
        return f"{text}\n  ERROR {self.error}" if self.error else text


class Backfill:
    """Walks one feed's archive chain (or a sitemap index's children) and publishes the entries not seen."""

    def __init__(self, settings: FetcherSettings, http: HttpClient, poller: FeedPoller, parser: ParsePool) -> None:
        self.settings = settings
        self.http = http
        self.poller = poller
        self.parser = parser

    async def run(self, url: str, since: datetime | None = None, max_pages: int = MAX_PAGES) -> BackfillReport:
        """Walk from ``url``; entries are remembered under ``url``'s feed (or the listed feed it moved from)."""
        feed = self.poller.state.feed(url) or FeedState(url, None, None, 0.0, 0, "active")
        report = BackfillReport()
        try:  # a listed feed's own headers, auth and user agent: for its archive documents on its origin too
            host_headers = self.poller.host_headers(feed)
        except FetchError as exc:
            report.stopped, report.error = "the feed's options cannot be applied", str(exc)
            return report
        queue, seen = [url], set[str]()
        while True:
            if not queue:
                report.stopped = report.stopped or "no older document linked"
                return report
            page_url = queue.pop(0)
            if _key(page_url) in seen:
                report.stopped = f"loop: {page_url} walked already"
                continue  # another child may still be new (a sitemap index); a chain ends here
            if report.pages >= max_pages:
                report.stopped = f"--max-pages {max_pages} reached"
                return report
            seen.add(_key(page_url))
            try:
                parsed = await fetch_document(self.http, self.parser, self.settings, page_url, host_headers)
            except (FetchError, FeedParseError) as exc:
                metrics.BACKFILL_PAGES.labels("failed").inc()
                report.stopped, report.error = f"{page_url} could not be read", str(exc)
                return report
            metrics.BACKFILL_PAGES.labels("read").inc()
            report.pages += 1
            report.walked.append(page_url)
            if await self._publish(feed, parsed, since, report):
                report.stopped = f"{page_url}: every dated entry older than --since"
                return report
            queue += parsed.sitemaps or [parsed.links[rel] for rel in FOLLOW if rel in parsed.links][:1]

    async def _publish(self, feed: FeedState, parsed: ParsedFeed, since: datetime | None,
                       report: BackfillReport) -> bool:
        """Publish one document's entries (newer than ``since``); True when all its dated entries are older."""
        entries = parsed.entries
        if since is not None:
            dated = [e for e in entries if (e.published_at or e.updated_at) is not None]
            entries = [e for e in entries if (e.published_at or e.updated_at or since) >= since]
            older = len(parsed.entries) - len(entries)
            report.older += older
            metrics.BACKFILL_ENTRIES.labels("older").inc(older)
            if dated and older == len(dated):
                return True
        doc = dataclasses.replace(parsed, entries=entries)
        known_at_first: int | None = None
        for _ in range(1 + len(entries) // self.settings.max_entries_per_poll):  # one poll publishes at most that
            known, published, given_up, pending = await self.poller.publish_entries(feed, doc)
            with self.poller.state.transaction():
                self.poller.remember(feed, known, published, given_up)
            known_at_first = len(known) if known_at_first is None else known_at_first  # later: published ones too
            report.published += len(published)
            report.updated += sum(1 for c in published if c.is_update)
            report.given_up += len(given_up)
            metrics.BACKFILL_ENTRIES.labels("published").inc(len(published))
            metrics.BACKFILL_ENTRIES.labels("given_up").inc(len(given_up))
            if not pending or not (published or given_up):
                break
        report.known += known_at_first or 0
        report.pending += pending
        metrics.BACKFILL_ENTRIES.labels("known").inc(known_at_first or 0)
        metrics.BACKFILL_ENTRIES.labels("pending").inc(pending)
        return False


def _key(url: str) -> str:
    try:
        return normalize_url(url)
    except BadURLError:
        return url
