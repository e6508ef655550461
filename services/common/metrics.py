"""Every Prometheus metric newsflow exports, in one place.

Rules: ``newsflow_`` namespace, the unit in the name (``_seconds``,
``_bytes``, ``_total``), Help text on each, and only label values from small
fixed sets (stage names, outcomes, error classes, status classes). Per-domain
labels are limited to the top-N domains by :class:`TopDomains`; per-feed
labels never appear.
"""

from __future__ import annotations

from collections import Counter as _Counter

from prometheus_client import Counter, Gauge, Histogram

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
