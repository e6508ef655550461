"""The consumer-stage skeleton shared by the extractor and the sink.

Every consumer stage is the same four steps, assembled by
:func:`build_stage`; only ``process`` and ``write`` differ per stage::

    consume -> process -> produce/write -> commit

Delivery is at-least-once: offsets are committed only after the batch's
output (and its dead letters) are durable, so a crash anywhere before the
commit redelivers the batch, and the idempotent sink turns that into
exactly-once results.

Around the loop: a dead-letter rate limit (:class:`DeadLetterLimit`) stops a
stage that fails most of what it reads, instead of draining its topic into
the DLQ; SIGTERM/SIGINT finish the batch in hand (drain, flush, commit) and a
watchdog bounds that to ``shutdown_timeout_seconds`` (past it the process
exits without committing, so the batch is redelivered: nothing is lost).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

import services
from services.common import metrics
from services.common.health import Health
from services.common.logs import record_fields
from services.common.records import Record as Record  # re-exported: stages type their steps with it
from services.common.settings import ConsumerSettings

log = logging.getLogger(__name__)

T = TypeVar("T")


class StageStopped(RuntimeError):
    """The stage stopped itself: too many recent messages were dead-lettered."""


@dataclass(frozen=True)
class Failure:
    """A record that could not be processed, and why. It goes to the dead-letter topic."""

    record: Record
    error: BaseException


@dataclass
class Processed(Generic[T]):
    """What ``process`` made of a batch: outputs to write, and failures to dead-letter."""

    items: list[T] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


ProcessFn = Callable[[Sequence[Record]], Processed[T]]
WriteFn = Callable[[list[T]], list[Failure]]
"""Makes items durable; returns per-item failures; raises when nothing could be written."""


# --- step 1: consume ----------------------------------------------------------

def consume(consumer: KafkaConsumer, max_records: int, max_seconds: float) -> list[Record]:
    """Poll until ``max_records`` records or ``max_seconds`` have passed."""
    records: list[Record] = []
    deadline = time.monotonic() + max_seconds
    while len(records) < max_records:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        polled = consumer.poll(timeout_ms=int(remaining * 1000), max_records=max_records - len(records))
        for batch in polled.values():
            records.extend(batch)
        if not polled and records:
            break  # the topic is drained for now: do not sit on what we have
    return records


# --- step 3 helpers: dead letters -------------------------------------------------

def dead_letter_headers(record: Record, stage: str, error: BaseException) -> list[tuple[str, bytes]]:
    """Headers that say where a dead letter came from and why (the value stays untouched)."""
    key = record.key if isinstance(record.key, bytes) else b""
    return [
        ("newsflow.original_topic", record.topic.encode()),
        ("newsflow.original_partition", str(record.partition).encode()),
        ("newsflow.original_offset", str(record.offset).encode()),
        ("newsflow.original_key", key),
        ("newsflow.stage", stage.encode()),
        ("newsflow.error_class", type(error).__name__.encode()),
        ("newsflow.error_message", str(error)[:2000].encode("utf-8", "replace")),
        ("newsflow.failed_at", datetime.now(UTC).isoformat().encode()),
        ("newsflow.version", services.__version__.encode()),
    ] + [(f"newsflow.original_header.{k}", v) for k, v in (record.headers or [])]


def send_dead_letters(
    producer: KafkaProducer, topic: str, stage: str, failures: list[Failure]
) -> None:
    """Produce every failure to the dead-letter topic and wait until they are durable."""
    if not failures:
        return
    futures = []
    for failure in failures:
        rec = failure.record
        log.warning(
            "dead-lettering record: %s: %s", type(failure.error).__name__, failure.error,
            extra={**record_fields(rec), "stage": stage, "error_class": type(failure.error).__name__},
        )
        futures.append(producer.send(topic, key=rec.key, value=rec.value,
                                     headers=dead_letter_headers(rec, stage, failure.error)))
        metrics.DEAD_LETTERS.labels(stage, type(failure.error).__name__).inc()
    producer.flush()
    for fut in futures:
        fut.get(timeout=30)  # raises if the dead letter itself could not be written


class DeadLetterLimit:
    """Trips when more than ``max_ratio`` of the last ``window`` messages failed.

    It judges only once it has seen ``min(window, MIN_SAMPLE)`` messages, so
    one bad record at start-up does not stop a stage. Once tripped it stays
    tripped: the stage reports not-ready until a human fixes the cause and
    restarts it.
    """

    MIN_SAMPLE = 20

    def __init__(self, max_ratio: float, window: int) -> None:
        self.max_ratio = max_ratio
        self._recent: deque[bool] = deque(maxlen=window)
        self._tripped = False

    def record(self, ok: int, failed: int) -> None:
        self._recent.extend([True] * ok + [False] * failed)
        if len(self._recent) >= min(self._recent.maxlen or 0, self.MIN_SAMPLE) and self.ratio() > self.max_ratio:
            self._tripped = True

    def ratio(self) -> float:
        """Share of the recent messages that failed (0 before any)."""
        return self._recent.count(False) / len(self._recent) if self._recent else 0.0

    def tripped(self) -> bool:
        return self._tripped


RETRYABLE_WRITE_ERRORS: tuple[type[BaseException], ...] = (KafkaError, OSError, TimeoutError)

# --- the runner ---------------------------------------------------------------

class Stage(Generic[T]):
    """A running consumer stage. Build it with :func:`build_stage`, then :meth:`run`."""

    def __init__(
        self,
        *,
        name: str,
        settings: ConsumerSettings,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        process: ProcessFn[T],
        write: WriteFn[T],
        health: Health,
        retryable: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.name = name
        self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.process = process
        self.write = write
        self.health = health
        self.retryable = retryable
        self.limit = DeadLetterLimit(settings.dlq_max_ratio, settings.dlq_window)
        self.limit_reported = False
        self.stopping = threading.Event()
        self.health.set("dlq_limit", True)
        self._broker_checked = 0.0

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: finish the batch in hand, flush, commit, leave the group; a watchdog
        ends the process if that takes longer than ``shutdown_timeout_seconds``."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: self.request_stop(signal.Signals(signum).name))

    def request_stop(self, reason: str = "stop requested") -> None:
        """Finish the current batch and stop; bounded by the shutdown watchdog."""
        if self.stopping.is_set():
            return
        log.info("stage %s stopping (%s): draining the batch in hand", self.name, reason)
        self.stopping.set()
        watchdog = threading.Timer(self.settings.shutdown_timeout_seconds, self._shutdown_overdue)
        watchdog.daemon = True
        watchdog.start()

    def _shutdown_overdue(self) -> None:
        """Past the bound: exit without committing; the batch in hand is redelivered to the next run."""
        log.error("stage %s did not stop within %.0fs; exiting without committing the batch in hand "
                  "(it will be redelivered)", self.name, self.settings.shutdown_timeout_seconds)
        logging.shutdown()
        os._exit(70)

    def run(self) -> None:
        """Loop until stopped: consume -> process -> produce/write -> commit."""
        log.info("stage %s consuming", self.name, extra={"group": self.settings.group_id})
        try:
            while not self.stopping.is_set():
                self.health.beat()
                if self.limit.tripped():
                    self._stay_stopped()
                    continue
                self.run_once()
        finally:
            self.close()

    def run_once(self) -> int:
        """One batch through all four steps; returns the number of records consumed."""
        started = time.monotonic()
        records = consume(self.consumer, self.settings.batch_max_records, self.settings.batch_max_seconds)
        self._probe_broker()
        if not records:
            return 0
        metrics.MESSAGES_CONSUMED.labels(self.name).inc(len(records))
        processed = self.process(records)
        write_failures = self._write_until_durable(processed.items)
        if write_failures is None:
            log.warning("stopped before the batch was durable: %d record(s) not committed, they will be "
                        "redelivered", len(records))
            return len(records)
        failures = processed.failures + write_failures
        send_dead_letters(self.producer, self.settings.topic_dlq, self.name, failures)
        self.limit.record(len(records) - len(failures), len(failures))
        self._commit(records)
        metrics.BATCH_DURATION.labels(self.name).observe(time.monotonic() - started)
        return len(records)

    BROKER_PROBE_SECONDS = 10.0

    def _probe_broker(self) -> None:
        """Readiness check ``broker``: a metadata round trip at most every ``BROKER_PROBE_SECONDS``.

        (kafka-python 3's ``bootstrap_connected()`` is only true *while* bootstrapping, so it
        cannot say whether the broker is reachable.)"""
        if time.monotonic() - self._broker_checked < self.BROKER_PROBE_SECONDS:
            return
        self._broker_checked = time.monotonic()
        try:
            self.consumer.topics()
            self.health.set("broker", True)
        except (KafkaError, OSError) as exc:
            self.health.set("broker", False)
            log.warning("broker unreachable: %s", exc, extra={"stage": self.name})

    def _write_until_durable(self, items: list[T]) -> list[Failure] | None:
        """Write; while writing fails, pause every partition (backpressure) and retry
        with backoff. Returns the per-item failures, or None when stopped first."""
        delay = 0.5
        while True:
            try:
                failures = self.write(items) if items else []
                self.health.set("storage", True)
                if self.consumer.paused():
                    self.consumer.resume(*self.consumer.paused())
                return failures
            except RETRYABLE_WRITE_ERRORS + self.retryable as exc:
                metrics.WRITE_RETRIES.labels(self.name).inc()
                self.health.set("storage", False)
                log.error("write failed, pausing input and retrying in %.1fs: %s", delay, exc)
                self.consumer.pause(*self.consumer.assignment())
                if self.stopping.wait(delay):
                    return None
                self.consumer.poll(timeout_ms=0)  # keeps the group membership alive while paused
                self.health.beat()
                delay = min(delay * 2, 30.0)

    def _commit(self, records: list[Record]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for rec in records:
            tp = TopicPartition(rec.topic, rec.partition)
            offsets[tp] = max(offsets.get(tp, -1), rec.offset + 1)
        try:
            self.consumer.commit({tp: OffsetAndMetadata(off, None, -1) for tp, off in offsets.items()})
            metrics.COMMITS.labels(self.name).inc()
        except (CommitFailedError, KafkaError) as exc:
            metrics.COMMIT_FAILURES.labels(self.name).inc()
            log.warning("offset commit failed; the batch will be redelivered: %s", exc,
                        extra={"offsets": {f"{tp.topic}:{tp.partition}": off for tp, off in offsets.items()}})

    def _stay_stopped(self) -> None:
        if not self.limit_reported:
            self.limit_reported = True
            log.error(
                "stage %s stopped: %.0f%% of the last messages were dead-lettered (limit %.0f%%); "
                "fix the cause, then restart the stage (see `newsflow dlq list`)",
                self.name, self.limit.ratio() * 100, self.limit.max_ratio * 100,
                extra={"stage": self.name},
            )
        metrics.STAGE_STOPPED.labels(self.name).set(1)
        self.health.set("dlq_limit", False)
        self.consumer.pause(*self.consumer.assignment())
        self.consumer.poll(timeout_ms=0)
        self.stopping.wait(1.0)

    def close(self) -> None:
        """Flush the producer and leave the group (pending offsets were committed per batch)."""
        try:
            self.producer.flush(timeout=self.settings.shutdown_timeout_seconds)
        finally:
            try:
                self.producer.close(timeout=self.settings.shutdown_timeout_seconds)
            finally:
                self.consumer.close(autocommit=False)
                log.info("stage %s stopped cleanly", self.name)


def build_stage(
    *,
    name: str,
    settings: ConsumerSettings,
    input_topic: str,
    process: ProcessFn[T],
    write: WriteFn[T],
    health: Health,
    consumer: KafkaConsumer,
    producer: KafkaProducer,
    retryable: tuple[type[BaseException], ...] = (),
) -> Stage[T]:
    """Assemble a consumer stage from its steps:

    1. **consume**: poll ``input_topic`` for up to ``batch_max_records`` records
       or ``batch_max_seconds``;
    2. **process**: turn each record into an output item, or a :class:`Failure`
       (bad JSON, unknown schema version, extraction error...);
    3. **produce/write**: make the items durable (``write``: produce with
       ``acks=all`` and flush, or commit a database transaction), retrying with
       paused partitions while it raises one of ``retryable`` (or a Kafka/OS
       error); then dead-letter the failures, with
       their origin in headers (:func:`dead_letter_headers`), and flush those too;
    4. **commit**: commit the batch's offsets.

    Around the steps: before each batch the dead-letter limit is checked (a
    tripped limit pauses every partition and sets readiness check
    ``dlq_limit`` to false); a stop request (:meth:`Stage.request_stop`,
    SIGTERM) lets the batch in hand finish all four steps, then closes.
    """
    consumer.subscribe([input_topic], listener=_RebalanceCounter(name))
    return Stage(name=name, settings=settings, consumer=consumer, producer=producer,
                 process=process, write=write, health=health, retryable=retryable)


class _RebalanceCounter(ConsumerRebalanceListener):  # type: ignore[misc]
    """Counts and logs partition assignments."""

    def __init__(self, stage: str) -> None:
        self.stage = stage

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    def on_partitions_assigned(self, assigned: Any) -> None:
        metrics.REBALANCES.labels(self.stage).inc()
        log.info("assigned partitions %s", sorted(tp.partition for tp in assigned))
