"""Every Prometheus metric newsflow exports, in one place.

Rules: ``newsflow_`` namespace, the unit in the name (``_seconds``,
``_bytes``, ``_total``), Help text on each, and only label values from small
fixed sets (stage names, outcomes, error classes, status classes). Per-domain
labels are limited to the top-N domains by :class:`TopDomains`; per-feed
labels never appear.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as _Counter
from collections.abc import Awaitable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.common.urls import domain

if TYPE_CHECKING:
    from services.common.messages import Article

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_FRESHNESS_BUCKETS = (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)

# --- every consumer stage -------------------------------------------------
MESSAGES_CONSUMED = Counter(
    "newsflow_messages_consumed_total", "Records read from the stage's input topic.", ["stage"]
)
MESSAGES_PRODUCED = Counter(
    "newsflow_messages_produced_total", "Records written to an output topic.", ["stage", "topic"]
)
DEAD_LETTERS = Counter(
    "newsflow_dead_letters_total", "Records sent to the dead-letter topic, by error class.",
    ["stage", "error_class"],
)
COMMITS = Counter("newsflow_offset_commits_total", "Offset commits that succeeded.", ["stage"])
COMMIT_FAILURES = Counter(
    "newsflow_offset_commit_failures_total",
    "Offset commits that failed (the batch will be redelivered; the sink is idempotent).",
    ["stage"],
)
REBALANCES = Counter(
    "newsflow_rebalances_total", "Partition assignments received by the stage.", ["stage"]
)
WRITE_RETRIES = Counter(
    "newsflow_write_retries_total",
    "Times a batch's output could not be made durable and partitions were paused to retry.",
    ["stage"],
)
CONSUMER_LAG = Gauge(
    "newsflow_consumer_lag_messages",
    "End offset minus committed offset, per partition (approximate on the embedded broker).",
    ["stage", "partition"],
)
BATCH_DURATION = Histogram(
    "newsflow_batch_duration_seconds", "Time from a batch's poll to its offset commit.", ["stage"],
    buckets=_LATENCY_BUCKETS,
)
STAGE_STOPPED = Gauge(
    "newsflow_stage_stopped",
    "1 when the stage stopped itself because too many recent messages were dead-lettered.",
    ["stage"],
)

# --- fetcher ---------------------------------------------------------------
POLLS = Counter(
    "newsflow_feed_polls_total", "Feed polls by result: new, not_modified, error, skipped.", ["result"]
)
HTTP_RESPONSES = Counter(
    "newsflow_http_responses_total", "HTTP responses by kind (feed/page) and status class.",
    ["kind", "status_class"],
)
FETCH_DURATION = Histogram(
    "newsflow_fetch_duration_seconds", "HTTP fetch time of feeds and pages.", ["kind"],
    buckets=_LATENCY_BUCKETS,
)
FETCHED_BYTES = Counter("newsflow_fetched_bytes_total", "Body bytes downloaded.", ["kind"])
FETCH_REFUSALS = Counter(
    "newsflow_fetch_refusals_total",
    "Fetches refused or cut off before completion, by reason (ssrf, size, timeout, scheme, "
    "content_type, redirects).",
    ["reason"],
)
ENTRIES = Counter(
    "newsflow_feed_entries_total", "Feed entries published as pages, new or updated.", ["kind"]
)
FEEDS = Gauge("newsflow_feeds", "Feeds by state: active, backing_off, dead, retired.", ["state"])
DISCOVERY_LATENCY = Histogram(
    "newsflow_discovery_latency_seconds", "Entry's published time to first seen by the fetcher.",
    buckets=_FRESHNESS_BUCKETS,
)

# --- extractor ------------------------------------------------------------
PAGES_PROCESSED = Counter(
    "newsflow_pages_processed_total", "Pages handled by the extractor, by outcome.", ["outcome"]
)
EXTRACT_DURATION = Histogram(
    "newsflow_extract_duration_seconds", "Extraction plus tagging time per page.",
    buckets=_LATENCY_BUCKETS,
)
TEXT_LENGTH = Histogram(
    "newsflow_article_text_length_chars", "Length of extracted article text in characters.",
    buckets=(0, 100, 300, 1000, 2000, 4000, 8000, 16000, 32000, 64000),
)
EXTRACTION_QUALITY = Counter(
    "newsflow_extraction_quality_issues_total",
    "Extraction quality issues per source domain (top-N domains, others as 'other').",
    ["domain", "issue"],
)
STORIES = Counter(
    "newsflow_story_assignments_total",
    "Articles by story assignment: new_story, joined_story, duplicate.", ["kind"],
)

# --- sink -------------------------------------------------------------------
ROWS_WRITTEN = Counter(
    "newsflow_sink_rows_written_total",
    "Articles written by the sink by result: inserted, updated (new revision), unchanged.",
    ["result"],
)
ARTICLES_STORED = Gauge(
    "newsflow_articles_stored", "Articles currently held in storage (refreshed after each batch)."
)
SINK_BATCH_SIZE = Histogram(
    "newsflow_sink_batch_size_articles", "Articles per sink transaction.",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000),
)
SINK_COMMIT_DURATION = Histogram(
    "newsflow_sink_commit_duration_seconds", "Duration of a sink write transaction.",
    buckets=_LATENCY_BUCKETS,
)
PUBLISH_TO_STORED = Histogram(
    "newsflow_publish_to_stored_seconds",
    "Entry's published time to the sink's commit: how fresh the stored news is.",
    buckets=_FRESHNESS_BUCKETS,
)


LAG_REFRESH_FAILURES = Counter(
    "newsflow_consumer_lag_refresh_failures_total",
    "Consumer-lag refreshes that failed (the lag gauges keep their last value).", ["stage"],
)
BUILD_INFO = Gauge(
    "newsflow_build_info", "Always 1; labels say which service and version this process runs.",
    ["service", "version"],
)

# --- fetcher: feed polls ---------------------------------------------------------
POLL_DURATION = Histogram(
    "newsflow_feed_poll_duration_seconds",
    "Time of one feed poll: feed fetch, parse, page fetches and publishing.",
    buckets=_LATENCY_BUCKETS,
)

# --- extractor: per article and per domain -------------------------------------------
TAGS_PER_ARTICLE = Histogram(
    "newsflow_article_tags", "Tags per article (places, people, organisations, keywords, topics).",
    buckets=(0, 1, 2, 5, 10, 20, 50, 100),
)
EXTRACTED_PAGES = Counter(
    "newsflow_extracted_pages_total",
    "Pages per source domain (top-N domains, others as 'other') by outcome: ok, empty (no article "
    "text found), failed (any other error).",
    ["domain", "outcome"],
)


class TopDomains:
    """Keeps per-domain label values bounded: the first ``limit`` domains seen
    keep their name, every later one is reported as ``other``."""

    def __init__(self, limit: int = 50) -> None:
        self._limit = limit
        self._seen: _Counter[str] = _Counter()

    def label(self, domain: str) -> str:
        if domain in self._seen or len(self._seen) < self._limit:
            self._seen[domain] += 1
            return domain
        return "other"


# --- freshness per domain ----------------------------------------------------

class NewestArticles(Collector):
    """``newsflow_newest_article_age_seconds{domain}``: now minus the published time of the
    newest article stored for each of the top-N domains (others as ``other``).

    The age is computed at scrape time, so it keeps growing while a site publishes
    nothing. It covers articles stored since the sink process started.
    """

    NAME = "newsflow_newest_article_age_seconds"
    HELP = "Seconds since the newest stored article of the domain was published (top-N domains)."

    def __init__(self, limit: int = 50) -> None:
        self._domains = TopDomains(limit)
        self._newest: dict[str, float] = {}
        self._lock = threading.Lock()

    def update(self, url: str, published_at: datetime) -> None:
        label = self._domains.label(domain(url))
        stamp = published_at.timestamp()
        with self._lock:
            if stamp > self._newest.get(label, float("-inf")):
                self._newest[label] = stamp

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(self.NAME, self.HELP, labels=["domain"])]

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self.NAME, self.HELP, labels=["domain"])
        now = time.time()
        with self._lock:
            for label, stamp in sorted(self._newest.items()):
                family.add_metric([label], max(0.0, now - stamp))
        yield family


NEWEST_ARTICLE = NewestArticles()
REGISTRY.register(NEWEST_ARTICLE)


# --- helpers the services call ----------------------------------------------------

T = TypeVar("T")


async def timed(histogram: Histogram, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` and observe its duration in ``histogram``, failures included."""
    started = time.monotonic()
    try:
        return await awaitable
    finally:
        histogram.observe(time.monotonic() - started)


def tag_count(article: Article) -> int:
    return (len(article.places) + len(article.people) + len(article.organisations)
            + len(article.keywords) + len(article.topics))


def count_failed_extraction(domains: TopDomains, url: str | None, error: BaseException) -> None:
    """A page the extractor could not turn into an article, counted against its domain.

    ``ExtractionError`` (no article text found) is the "empty" outcome that the
    domain-empty alert watches; matched by name to keep this module free of
    extractor imports. A page that did not even decode has no URL: domain ``unknown``.
    """
    label = domains.label(domain(url)) if url else "unknown"
    outcome = "empty" if type(error).__name__ == "ExtractionError" else "failed"
    EXTRACTED_PAGES.labels(label, outcome).inc()
    if outcome == "empty":
        EXTRACTION_QUALITY.labels(label, "empty").inc()


_CONSUMER_STAGES = ("extractor", "sink")
_FETCH_KINDS = ("feed", "page")


def init_series(service: str) -> None:
    """Prepare the default registry for ``service`` (fetcher, extractor or sink).

    Creates the label sets the service will use with value 0, so that dashboards and
    ``rate()``-based alerts see a series from the first scrape rather than only
    after the first event (label values only known at run time, error classes and
    domains, appear with their first event); and unregisters the metrics that
    belong to the other services.
    """
    if service == "fetcher":
        for result in ("new", "not_modified", "error"):
            POLLS.labels(result)
        for kind in _FETCH_KINDS:
            FETCH_DURATION.labels(kind)
            FETCHED_BYTES.labels(kind)
            for status_class in ("2xx", "3xx", "4xx", "5xx"):
                HTTP_RESPONSES.labels(kind, status_class)
        for reason in ("ssrf", "size", "timeout", "scheme", "content_type", "redirects"):
            FETCH_REFUSALS.labels(reason)
        for kind in ("new", "updated"):
            ENTRIES.labels(kind)
        for state in ("active", "backing_off", "dead", "retired"):
            FEEDS.labels(state)
        MESSAGES_PRODUCED.labels("fetcher", "pages")
    if service in _CONSUMER_STAGES:
        for counter in (MESSAGES_CONSUMED, COMMITS, COMMIT_FAILURES, REBALANCES, WRITE_RETRIES,
                        LAG_REFRESH_FAILURES):
            counter.labels(service)
        BATCH_DURATION.labels(service)
        STAGE_STOPPED.labels(service).set(0)
    if service == "extractor":
        PAGES_PROCESSED.labels("ok")
        for kind in ("new_story", "joined_story", "duplicate"):
            STORIES.labels(kind)
    if service == "sink":
        for result in ("inserted", "updated", "unchanged"):
            ROWS_WRITTEN.labels(result)
    _unregister_foreign(service)


def _owners() -> dict[str, tuple[Collector, ...]]:
    """Metrics that only one service updates. The other services unregister them, so that
    e.g. ``newsflow_articles_stored`` is not also exported as a constant 0 by the fetcher."""
    return {
        "fetcher": (POLLS, HTTP_RESPONSES, FETCH_DURATION, FETCHED_BYTES, FETCH_REFUSALS, ENTRIES, FEEDS,
                    DISCOVERY_LATENCY, POLL_DURATION, ENTRIES_DEFERRED),
        "extractor": (PAGES_PROCESSED, EXTRACT_DURATION, TEXT_LENGTH, EXTRACTION_QUALITY, STORIES,
                      TAGS_PER_ARTICLE, EXTRACTED_PAGES, EXTRACTOR_WORKER_RESTARTS),
        "sink": (ROWS_WRITTEN, ARTICLES_STORED, SINK_BATCH_SIZE, SINK_COMMIT_DURATION, PUBLISH_TO_STORED,
                 NEWEST_ARTICLE, API_RESPONSES, API_REFUSED),
        "consumer": (MESSAGES_CONSUMED, DEAD_LETTERS, COMMITS, COMMIT_FAILURES, REBALANCES, WRITE_RETRIES,
                     CONSUMER_LAG, BATCH_DURATION, STAGE_STOPPED, LAG_REFRESH_FAILURES),
    }


def _unregister_foreign(service: str) -> None:
    mine = {service, "consumer"} if service in _CONSUMER_STAGES else {service}
    for owner, collectors in _owners().items():
        if owner in mine:
            continue
        for collector in collectors:
            try:
                REGISTRY.unregister(collector)
            except KeyError:
                pass  # already unregistered (init_series called twice)


# --- sink HTTP API (appended by the sink issue) -------------------------------------------
API_RESPONSES = Counter(
    "newsflow_api_responses_total",
    "Responses of the sink's read-only HTTP API by endpoint (route template) and status code.",
    ["endpoint", "code"],
)
API_REFUSED = Counter(
    "newsflow_api_refused_requests_total",
    "HTTP API requests refused before reaching an endpoint, by reason: rate_limited, too_large, has_body.",
    ["reason"],
)

# --- extractor worker pool (appended by the extraction issue) -------------------------------
EXTRACTOR_WORKER_RESTARTS = Counter(
    "newsflow_extractor_worker_restarts_total",
    "Extractor worker processes replaced, by reason: timeout (a page ran past extract_timeout_seconds "
    "and its worker was killed) or crashed (the worker died while analysing a page).",
    ["reason"],
)


# --- fetcher: per-poll entry cap ------------------------------------------------------------
ENTRIES_DEFERRED = Counter(
    "newsflow_feed_entries_deferred_total",
    "Feed entries left for a later poll because one poll publishes at most NEWSFLOW_MAX_ENTRIES_PER_POLL.",
)
