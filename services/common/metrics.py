"""Metric helpers and the metrics every consumer stage shares.

Rules: ``newsflow_`` namespace, the unit in the name (``_seconds``,
``_bytes``, ``_total``), Help text on each, and only label values from small
fixed sets (stage names, outcomes, error classes, status classes). Per-domain
labels are limited to the top-N domains by :class:`TopDomains`; per-feed
labels never appear.

Each service owns its metrics (``services/<service>/metrics.py``): they are
made unregistered when their module is imported, in a :class:`MetricSet`, and
the service registers its own sets when it starts (:meth:`MetricSet.register`),
so a process exports exactly the series of the service it runs and nothing
is ever unregistered.
"""

from __future__ import annotations

import time
from collections import Counter as _Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
C = TypeVar("C", bound=Collector)
FRESHNESS_BUCKETS = (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400)


class MetricSet:
    """The metrics one owner (a service, or every consumer stage) exports.

    Metrics are made with ``registry=None`` and registered together, once, when
    the owning service starts; ``init`` (if given) then creates the known label
    sets at 0 so that dashboards and ``rate()`` alerts see a series from the
    first scrape, not only after the first event.
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.collectors: list[Collector] = []
        self._registered: set[int] = set()

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return self.add(Counter(name, documentation, labels, registry=None))

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        return self.add(Gauge(name, documentation, labels, registry=None))

    def histogram(self, name: str, documentation: str, labels: Sequence[str] = (),
                  buckets: Sequence[float] = LATENCY_BUCKETS) -> Histogram:
        return self.add(Histogram(name, documentation, labels, registry=None, buckets=buckets))

    def add(self, collector: C) -> C:
        self.collectors.append(collector)
        return collector

    def register(self, registry: CollectorRegistry = REGISTRY,
                 init: Callable[[], None] | None = None) -> None:
        """Register every collector of the set in ``registry`` (idempotent per registry)."""
        if id(registry) not in self._registered:
            for collector in self.collectors:
                registry.register(collector)
            self._registered.add(id(registry))
        if init is not None:
            init()


# --- every process --------------------------------------------------------------
PROCESS = MetricSet("process")
BUILD_INFO = PROCESS.gauge(
    "newsflow_build_info", "Always 1; labels say which service and version this process runs.",
    ["service", "version"],
)
MESSAGES_PRODUCED = PROCESS.counter(
    "newsflow_messages_produced_total", "Records written to an output topic.", ["stage", "topic"]
)

# --- every consumer stage -------------------------------------------------------
CONSUMER = MetricSet("consumer")
MESSAGES_CONSUMED = CONSUMER.counter(
    "newsflow_messages_consumed_total", "Records read from the stage's input topic.", ["stage"]
)
DEAD_LETTERS = CONSUMER.counter(
    "newsflow_dead_letters_total", "Records sent to the dead-letter topic, by error class.",
    ["stage", "error_class"],
)
COMMITS = CONSUMER.counter("newsflow_offset_commits_total", "Offset commits that succeeded.", ["stage"])
COMMIT_FAILURES = CONSUMER.counter(
    "newsflow_offset_commit_failures_total",
    "Offset commits that failed (the batch will be redelivered; the sink is idempotent).",
    ["stage"],
)
REBALANCES = CONSUMER.counter(
    "newsflow_rebalances_total", "Partition assignments received by the stage.", ["stage"]
)
WRITE_RETRIES = CONSUMER.counter(
    "newsflow_write_retries_total",
    "Times a batch's output could not be made durable and partitions were paused to retry.",
    ["stage"],
)
CONSUMER_LAG = CONSUMER.gauge(
    "newsflow_consumer_lag_messages",
    "End offset minus committed offset, per partition (approximate on the embedded broker).",
    ["stage", "partition"],
)
BATCH_DURATION = CONSUMER.histogram(
    "newsflow_batch_duration_seconds", "Time from a batch's poll to its offset commit.", ["stage"],
)
STAGE_STOPPED = CONSUMER.gauge(
    "newsflow_stage_stopped",
    "1 when the stage stopped itself because too many recent messages were dead-lettered.",
    ["stage"],
)
LAG_REFRESH_FAILURES = CONSUMER.counter(
    "newsflow_consumer_lag_refresh_failures_total",
    "Consumer-lag refreshes that failed (the lag gauges keep their last value).", ["stage"],
)


def init_consumer_series(stage: str) -> None:
    """The consumer stage ``stage``'s known label sets, at 0."""
    for counter in (MESSAGES_CONSUMED, COMMITS, COMMIT_FAILURES, REBALANCES, WRITE_RETRIES, LAG_REFRESH_FAILURES):
        counter.labels(stage)
    BATCH_DURATION.labels(stage)
    STAGE_STOPPED.labels(stage).set(0)
    for error_class in GENERIC_DEAD_LETTER_CLASSES:
        DEAD_LETTERS.labels(stage, error_class)


GENERIC_DEAD_LETTER_CLASSES = ("MessageError", "RecordTooLarge")
"""Error classes every consumer stage can dead-letter (undecodable, too large): their series exist
from the start, so dead-letter panels and rate() alerts show 0 instead of "No data"."""


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


T = TypeVar("T")


async def timed(histogram: Histogram, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` and observe its duration in ``histogram``, failures included."""
    started = time.monotonic()
    try:
        return await awaitable
    finally:
        histogram.observe(time.monotonic() - started)
