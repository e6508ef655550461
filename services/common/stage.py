"""The consumer-stage loop shared by the extractor and the sink.

Every consumer stage is the same four steps::

    consume -> process -> produce/write -> commit

:func:`build_stage` assembles them in one visible place: ``process`` and
``write`` are the stage's own; optional behaviour comes in as step wrappers
(:mod:`services.common.steps`), the dead-letter limit always outermost.

Delivery is at-least-once: offsets are committed only after the batch's
output (and its dead letters) are durable, so a crash anywhere before the
commit redelivers the batch, and the idempotent sink turns that into
exactly-once results. Two error types decide what happens to a batch, not
which callable raised: :class:`DeadLetter` (this record is bad: dead-letter it,
go on) and :class:`RetryBatch` (this moment is bad: pause the partitions,
retry the whole batch with backoff). SIGTERM/SIGINT finish the batch in hand
(drain, flush, commit) and a watchdog bounds that to
``shutdown_timeout_seconds`` (past it the process exits without committing,
so the batch is redelivered: nothing is lost).

**Pipelined** (a stage built with a ``start``, the extractor): a batch is *started*
when it is consumed (its pages go to the worker pool; nothing is produced) and
*finished* later (the step: wait for the results, produce, flush, dead letters,
commit). At most :data:`PIPELINE_DEPTH` batches are in flight: batch N+1 is
consumed and started before batch N is finished, so the workers extract N+1 while
the main process writes N. Batches finish strictly in consumption order, so offsets
are committed in order and only for durable output. A batch retried with
:class:`RetryBatch` keeps the later batch in flight (the input is paused) and the
later one finishes after it. A batch that ends without being durable (a stop during
its retries, the dead-letter limit, an error) drops every later batch in flight
uncommitted: the stage stops, and the next run gets them again from the committed
offsets. A stop drains what is in flight (:meth:`Stage.close`). Stages without a
``start`` run one batch at a time (depth 1), exactly as before.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from services.common import metrics
from services.common.deadletters import DeadLetter, send_dead_letters
from services.common.health import Health
from services.common.records import Record as Record  # re-exported: stages type their steps with it
from services.common.settings import ConsumerSettings
from services.common.steps import (
    DeadLetterLimit,
    ProcessFn,
    RetryBatch,
    StageStopped,
    StartFn,
    Step,
    StepWrapper,
    WriteFn,
    process_then_write,
    refuse_oversized,
)

log = logging.getLogger(__name__)

#: batches in flight in a pipelined stage: one being finished, the next one started
PIPELINE_DEPTH = 2


class Clock(Protocol):
    """Time as the loop sees it (a fake one in the loop's unit tests)."""

    def monotonic(self) -> float: ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait up to ``seconds`` or until ``event`` is set; True when it is set."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(seconds)


LINGER_SECONDS = 0.1
"""Once a batch has records, how long a poll waits for more before the batch goes as it is."""


def consume(consumer: KafkaConsumer, max_records: int, max_seconds: float, clock: Clock) -> list[Record]:
    """Step 1: poll until ``max_records`` records, ``max_seconds`` have passed, or the topic is
    drained for now: with records in hand a poll waits at most :data:`LINGER_SECONDS` for more,
    so one pushed article is not held for the whole batch time in every stage it passes."""
    records: list[Record] = []
    deadline = clock.monotonic() + max_seconds
    while len(records) < max_records:
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            break
        wait = min(remaining, LINGER_SECONDS) if records else remaining
        polled = consumer.poll(timeout_ms=int(wait * 1000), max_records=max_records - len(records))
        for batch in polled.values():
            records.extend(batch)
        if not polled and records:
            break  # the topic is drained for now: do not sit on what we have
    return records


@dataclass
class _InFlight:
    """A batch consumed (and started) but not yet committed."""

    records: list[Record]
    consumed_at: float


class Stage:
    """A running consumer stage. Build it with :func:`build_stage`, then :meth:`run`."""

    BROKER_PROBE_SECONDS = 10.0
    MAX_RETRY_DELAY_SECONDS = 30.0

    def __init__(self, *, name: str, settings: ConsumerSettings, consumer: KafkaConsumer,
                 producer: KafkaProducer, step: Step, health: Health, clock: Clock | None = None,
                 start: StartFn | None = None) -> None:
        self.name = name
        self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.step = step
        self.start = start
        self.depth = PIPELINE_DEPTH if start is not None else 1
        self._in_flight: deque[_InFlight] = deque()
        self.health = health
        self.clock = clock or SystemClock()
        self.stopping = threading.Event()
        self.stopped_by: StageStopped | None = None
        self.health.set("dlq_limit", True)
        self._broker_checked = float("-inf")
        self._watchdog: threading.Timer | None = None

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: finish the batches in hand, flush, commit, leave the group; a watchdog
        ends the process if that takes longer than ``shutdown_timeout_seconds``."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: self.request_stop(signal.Signals(signum).name))

    def request_stop(self, reason: str = "stop requested") -> None:
        """Finish the batches in hand and stop; bounded by the shutdown watchdog."""
        if self.stopping.is_set():
            return
        log.info("stage %s stopping (%s): draining the batch in hand (and the one in flight behind it, when "
                 "pipelined)", self.name, reason)
        self.stopping.set()
        self._watchdog = threading.Timer(self.settings.shutdown_timeout_seconds, self._shutdown_overdue)
        self._watchdog.daemon = True
        self._watchdog.start()

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
                if self.stopped_by is not None:
                    self._stay_stopped()
                    continue
                try:
                    self.run_once()
                except StageStopped as exc:
                    self._report_stopped(exc)
        finally:
            self.close()

    def run_once(self) -> int:
        """Consume a batch (and start it, when pipelined); then finish the oldest batch in flight
        (process/write, dead letters, commit) once ``depth`` batches are in flight or nothing new
        came. Depth 1: one batch through all four steps. Returns the number of records consumed.
        Raises :class:`StageStopped` when a step stopped the stage (nothing of the batch committed)."""
        consumed_at = self.clock.monotonic()
        records = consume(self.consumer, self.settings.batch_max_records, self.settings.batch_max_seconds,
                          self.clock)
        self._probe_broker()
        if records:
            metrics.MESSAGES_CONSUMED.labels(self.name).inc(len(records))
            if self.start is not None:
                self.start(records)
            self._in_flight.append(_InFlight(records, consumed_at))
        if self._in_flight and (not records or len(self._in_flight) >= self.depth):
            self._finish_oldest()
        return len(records)

    def _finish_oldest(self) -> None:
        """Steps 2-4 for the oldest batch in flight. When it ends without being committed, every
        later batch in flight is dropped uncommitted too (committing one would skip this one)."""
        batch = self._in_flight.popleft()
        try:
            dead = self._run_step_until_durable(batch.records)
            if dead is not None:
                send_dead_letters(self.producer, self.settings.topic_dlq, self.name, dead,
                                  self.settings.max_message_bytes)
        except BaseException:
            self._drop_in_flight()
            raise
        if dead is None:
            log.warning("stopped before the batch was durable: %d record(s) not committed, they will be "
                        "redelivered", len(batch.records))
            self._drop_in_flight()
            return
        self._commit(batch.records)
        metrics.BATCH_DURATION.labels(self.name).observe(self.clock.monotonic() - batch.consumed_at)

    def _drop_in_flight(self) -> None:
        """Forget the later batches in flight, uncommitted: only when the stage stops (stop request, the
        dead-letter limit, an error), so the next run consumes them again from the committed offsets."""
        if self._in_flight:
            log.warning("%d later record(s) in flight not committed, they will be redelivered",
                        sum(len(b.records) for b in self._in_flight))
        self._in_flight.clear()

    def drain(self) -> None:
        """Finish every batch in flight, in order (a stop, the end of a replay)."""
        while self._in_flight:
            try:
                self._finish_oldest()
            except StageStopped as exc:
                self._report_stopped(exc)

    def _run_step_until_durable(self, records: list[Record]) -> list[DeadLetter] | None:
        """Run the step. A raised :class:`DeadLetter` takes its record out and runs the rest again;
        :class:`RetryBatch` pauses every partition (backpressure) and retries with backoff.
        Returns the batch's dead letters, or None when stopped first."""
        pending, raised = list(records), []
        delay = 0.5
        while True:
            try:
                dead = self.step(pending)
            except DeadLetter as letter:
                raised.append(letter)
                pending = [r for r in pending if (r.partition, r.offset) != (letter.record.partition,
                                                                                letter.record.offset)]
                continue
            except RetryBatch as exc:
                if not self._wait_to_retry(exc, delay):
                    return None
                delay = min(delay * 2, self.MAX_RETRY_DELAY_SECONDS)
                continue
            self.health.set("storage", True)
            if self.consumer.paused():
                self.consumer.resume(*self.consumer.paused())
            return raised + dead

    def _wait_to_retry(self, exc: RetryBatch, delay: float) -> bool:
        """Pause the input and wait ``delay``; False when a stop was requested meanwhile."""
        metrics.WRITE_RETRIES.labels(self.name).inc()
        self.health.set("storage", False)
        log.error("write failed, pausing input and retrying in %.1fs: %s", delay, exc)
        self.consumer.pause(*self.consumer.assignment())
        if self.clock.wait(self.stopping, delay):
            return False
        self.consumer.poll(timeout_ms=0)  # keeps the group membership alive while paused
        self.health.beat()
        return True

    def _probe_broker(self) -> None:
        """Readiness check ``broker``: a metadata round trip at most every ``BROKER_PROBE_SECONDS``.

        (kafka-python 3's ``bootstrap_connected()`` is only true *while* bootstrapping, so it
        cannot say whether the broker is reachable.)"""
        if self.clock.monotonic() - self._broker_checked < self.BROKER_PROBE_SECONDS:
            return
        self._broker_checked = self.clock.monotonic()
        try:
            self.consumer.topics()
            self.health.set("broker", True)
        except (KafkaError, OSError) as exc:
            self.health.set("broker", False)
            log.warning("broker unreachable: %s", exc, extra={"stage": self.name})

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

    def _report_stopped(self, exc: StageStopped) -> None:
        self.stopped_by = exc
        log.error("stage %s stopped: %s; fix the cause, then restart the stage (see `newsflow dlq list`)",
                  self.name, exc, extra={"stage": self.name})
        metrics.STAGE_STOPPED.labels(self.name).set(1)
        self.health.set("dlq_limit", False)

    def _stay_stopped(self) -> None:
        self.consumer.pause(*self.consumer.assignment())
        self.consumer.poll(timeout_ms=0)
        self.clock.wait(self.stopping, 1.0)

    def close(self) -> None:
        """Finish the batches in flight (:meth:`drain`), flush the producer and leave the group
        (offsets are committed per batch)."""
        try:
            self.drain()
        finally:
            self._close_clients()

    def _close_clients(self) -> None:
        try:
            self.producer.flush(timeout=self.settings.shutdown_timeout_seconds)
        finally:
            try:
                self.producer.close(timeout=self.settings.shutdown_timeout_seconds)
            finally:
                self.consumer.close(autocommit=False)
                if self._watchdog is not None:
                    self._watchdog.cancel()
                log.info("stage %s stopped cleanly", self.name)


def build_stage(
    *,
    name: str,
    settings: ConsumerSettings,
    input_topic: str,
    process: ProcessFn[Any],
    write: WriteFn[Any],
    health: Health,
    consumer: KafkaConsumer,
    producer: KafkaProducer,
    steps: Sequence[StepWrapper] = (),
    clock: Clock | None = None,
    on_assigned: Callable[[], None] | None = None,
    start: StartFn | None = None,
) -> Stage:
    """Assemble a consumer stage from its steps:

    1. **consume**: poll ``input_topic`` for up to ``batch_max_records`` records
       or ``batch_max_seconds``;
    2. **process**: turn each record into an output item, or a :class:`DeadLetter`
       (bad JSON, unknown schema version, extraction error...);
    3. **produce/write**: make the items durable (``write``: produce with
       ``acks=all`` and flush, or commit a database transaction); it raises
       :class:`RetryBatch` while that is impossible, and the batch is retried with
       paused partitions; then the dead letters are produced with their origin in
       headers (:func:`~services.common.deadletters.dead_letter_headers`) and flushed;
    4. **commit**: commit the batch's offsets.

    ``steps`` wrap process-then-write, first one innermost (a replay's range bound, a
    crash drill); around them, records over ``max_message_bytes`` are refused before
    processing, and the dead-letter limit wraps it all. A stop request
    (:meth:`Stage.request_stop`, SIGTERM) lets the batches in hand finish all four steps.

    ``start`` pipelines the stage (see the module docstring): it is called with each batch as
    it is consumed (without the records over ``max_message_bytes``, which are refused anyway),
    returns at once, and ``process`` later takes what it started.
    """
    step = process_then_write(process, write)
    for wrap in (*steps, refuse_oversized(settings.max_message_bytes)):
        step = wrap(step)
    step = DeadLetterLimit(settings.dlq_max_ratio, settings.dlq_window)(step)
    consumer.subscribe([input_topic], listener=_RebalanceCounter(name, on_assigned))
    return Stage(name=name, settings=settings, consumer=consumer, producer=producer, step=step, health=health,
                 clock=clock,
                 start=None if start is None else _without_oversized(start, settings.max_message_bytes))


def _without_oversized(start: StartFn, max_bytes: int) -> StartFn:
    def start_fitting(records: Sequence[Record]) -> None:
        start([r for r in records if len(r.value or b"") <= max_bytes])

    return start_fitting


class _RebalanceCounter(ConsumerRebalanceListener):  # type: ignore[misc]
    """Counts and logs partition assignments (and tells ``on_assigned``)."""

    def __init__(self, stage: str, on_assigned: Callable[[], None] | None = None) -> None:
        self.stage = stage
        self.on_assigned = on_assigned

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    def on_partitions_assigned(self, assigned: Any) -> None:
        metrics.REBALANCES.labels(self.stage).inc()
        log.info("assigned partitions %s", sorted(tp.partition for tp in assigned))
        if self.on_assigned is not None:
            self.on_assigned()
