"""A sitemap index in the feed list: a poll reads its newest child sitemaps.

A sitemap index (``<sitemapindex>``) names other sitemaps and no pages. When one is polled, the
first ``NEWSFLOW_MAX_SITEMAP_CHILDREN`` of its children (:mod:`services.fetcher.sitemaps` orders
them newest ``lastmod`` first; undated ones after, in document order) are fetched with the same
HTTP client (SSRF guard, size cap, per-host delay shared by every fetch), judged like a feed
response and parsed in the same parse pool, with the index's per-feed headers, auth and user agent
on the index URL's origin (never on another). Their entries become the index's entries (their
``feed_url`` is the index, the source in the list), newest first and at most
``NEWSFLOW_MAX_FEED_ENTRIES``, and go through the poll's usual classify and publish steps, so an
article already published is not published again. Children are fetched at every poll of the index
(no per-child validators): the bound is their count. A child that fails is logged and counted; the
poll fails only when none could be read. A child that is itself an index is not followed (one level,
as the protocol has it). ``newsflow feeds backfill`` walks every child instead
(:mod:`services.fetcher.backfill`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from services.common.messages import FeedEntry
from services.fetcher import metrics
from services.fetcher.feedoptions import HostHeaders
from services.fetcher.http import FetchError, HttpClient
from services.fetcher.parse import FeedParseError, ParsedFeed, ParsePool
from services.fetcher.response import Action, classify_feed
from services.fetcher.settings import FetcherSettings

log = logging.getLogger(__name__)


async def fetch_document(http: HttpClient, parser: ParsePool, settings: FetcherSettings, url: str,
                         host_headers: HostHeaders | None = None) -> ParsedFeed:
    """GET ``url`` as a feed (guarded, capped, polite), judge the response and parse it; raises on anything else.

    ``host_headers``: the listed feed's own headers, auth and user agent, sent only on its origin."""
    resp = await http.get(url, kind="feed", max_bytes=settings.max_feed_bytes, host_headers=host_headers)
    decision = classify_feed(resp, url)
    if decision.action is not Action.USE:
        if decision.refusal:
            metrics.FETCH_REFUSALS.labels(decision.refusal).inc()
        raise decision.error()
    return await parser.parse(resp.body, resp.url, resp.headers.get("content-type"))


async def read_children(http: HttpClient, parser: ParsePool, settings: FetcherSettings, index: ParsedFeed,
                        index_url: str, host_headers: HostHeaders | None = None) -> ParsedFeed:
    """The index's newest children's entries as one parsed feed (``feed_url`` = ``index_url``); the index's
    own headers (``host_headers``, per-feed options) go with a child on the index's origin, never elsewhere."""
    wanted = index.sitemaps[: settings.max_sitemap_children]
    metrics.SITEMAP_CHILDREN.labels("not_read").inc(len(index.sitemaps) - len(wanted))
    results = await asyncio.gather(*(fetch_document(http, parser, settings, url, host_headers) for url in wanted),
                                   return_exceptions=True)
    entries: list[FeedEntry] = []
    skipped = cut = read = 0
    errors: list[str] = []
    for url, result in zip(wanted, results, strict=True):
        if isinstance(result, FetchError | FeedParseError):
            metrics.SITEMAP_CHILDREN.labels("failed").inc()
            log.warning("child sitemap %s not read: %s", url, result, extra={"feed": index_url})
            errors.append(f"{url}: {result}")
            continue
        if isinstance(result, BaseException):
            raise result  # a bug or a lost lease is the poll's, not the child's
        if result.sitemaps:
            metrics.SITEMAP_CHILDREN.labels("nested").inc()
            log.warning("child sitemap %s is itself a sitemap index: not followed", url, extra={"feed": index_url})
            continue
        metrics.SITEMAP_CHILDREN.labels("read").inc()
        read += 1
        entries += result.entries
        skipped += result.skipped
        cut += result.cut
    if wanted and not read and errors:
        raise FeedParseError(f"sitemap index: none of its {len(wanted)} newest sitemaps could be read "
                             f"(first: {errors[0]})")
    entries.sort(key=_newest_first)
    kept = entries[: settings.max_feed_entries]
    title = next((e.feed_title for e in kept if e.feed_title), None)
    return dataclasses.replace(
        index, title=title, entries=[e.model_copy(update={"feed_url": index_url}) for e in kept],
        skipped=index.skipped + skipped, cut=index.cut + cut + len(entries) - len(kept))


def _newest_first(entry: FeedEntry) -> tuple[bool, float]:
    when = entry.published_at or entry.updated_at
    return (when is None, -when.timestamp() if when else 0.0)
