"""The sink's metrics, its API's included (registered when ``newsflow sink`` starts; see :class:`MetricSet`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.common.metrics import DEAD_LETTERS, FRESHNESS_BUCKETS, LATENCY_BUCKETS, MetricSet, TopDomains
from services.common.urls import domain

SINK = MetricSet("sink")

ROWS_WRITTEN = SINK.counter(
    "newsflow_sink_rows_written_total",
    "Articles written by the sink by result: inserted, updated (new revision), story_changed (story_id or "
    "duplicate_of changed in place), unchanged.",
    ["result"],
)
ARTICLES_STORED = SINK.gauge(
    "newsflow_articles_stored", "Articles currently held in storage (refreshed after each batch)."
)
SINK_BATCH_SIZE = SINK.histogram(
    "newsflow_sink_batch_size_articles", "Articles per sink transaction.",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000),
)
SINK_COMMIT_DURATION = SINK.histogram(
    "newsflow_sink_commit_duration_seconds", "Duration of a sink write transaction.", buckets=LATENCY_BUCKETS
)
PUBLISH_TO_STORED = SINK.histogram(
    "newsflow_publish_to_stored_seconds",
    "Entry's published time to the sink's commit: how fresh the stored news is.",
    buckets=FRESHNESS_BUCKETS,
)
API_RESPONSES = SINK.counter(
    "newsflow_api_responses_total",
    "Responses of the sink's read-only HTTP API by endpoint (route template) and status code.",
    ["endpoint", "code"],
)
API_REFUSED = SINK.counter(
    "newsflow_api_refused_requests_total",
    "HTTP API requests refused before reaching an endpoint, by reason: rate_limited, too_large, has_body.",
    ["reason"],
)
STORE_READS_IN_PROGRESS = SINK.gauge(
    "newsflow_store_reads_in_progress",
    "Reads of the API's store running now, by lane: scan (searches, stories), lookup (by id).",
    ["lane"],
)


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


NEWEST_ARTICLE = SINK.add(NewestArticles())


def init_series() -> None:
    """The sink's known label sets, at 0."""
    for result in ("inserted", "updated", "story_changed", "unchanged"):
        ROWS_WRITTEN.labels(result)
    DEAD_LETTERS.labels("sink", "RowRejected")
    for reason in ("rate_limited", "too_large", "has_body"):
        API_REFUSED.labels(reason)
    for lane in ("scan", "lookup"):
        STORE_READS_IN_PROGRESS.labels(lane)
