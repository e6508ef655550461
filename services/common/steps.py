"""Steps: what a consumer stage does with a batch, and the optional behaviour wrapped around it.

A :data:`Step` takes a batch of records and returns the records to dead-letter
(:class:`DeadLetter`); it raises :class:`RetryBatch` when the batch's output could
not be made durable. Optional behaviour is a wrapper that takes the next step and
returns a step (as getsentry/arroyo strategies wrap a ``next_step``): the dead-letter
limit here, a replay's range bound (:mod:`services.ops.replay`), the crash drill the
redelivery test uses. Each service assembles its chain in its ``build`` function.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from services.common.deadletters import DeadLetter
from services.common.records import Record

log = logging.getLogger(__name__)

T = TypeVar("T")

Step = Callable[[Sequence[Record]], list[DeadLetter]]
StepWrapper = Callable[[Step], Step]


class RetryBatch(Exception):
    """"Retry the batch": a bad moment, not bad input (storage or broker unavailable).

    The stage pauses its partitions, waits with backoff and runs the whole batch again;
    nothing is committed meanwhile."""


class StageStopped(RuntimeError):
    """A step stopped the stage (the dead-letter limit); it stays stopped until restarted."""


@dataclass
class Processed(Generic[T]):
    """What ``process`` made of a batch: outputs to write, and records to dead-letter."""

    items: list[T] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


ProcessFn = Callable[[Sequence[Record]], Processed[T]]
StartFn = Callable[[Sequence[Record]], None]
"""Starts a batch's processing ahead of its step (submits it to a worker pool) and returns at once; the
stage's ``process`` later takes the results (a pipelined stage, :mod:`services.common.stage`)."""
WriteFn = Callable[[list[T]], list[DeadLetter]]
"""Makes items durable; returns per-item dead letters; raises :class:`RetryBatch` when it cannot."""


def process_then_write(process: ProcessFn[T], write: WriteFn[T]) -> Step:
    """The core step of every consumer stage: process the batch, write what came out."""

    def step(records: Sequence[Record]) -> list[DeadLetter]:
        processed = process(records)
        written = write(processed.items) if processed.items else []
        return processed.dead + written

    return step


class DeadLetterLimit:
    """A step wrapper that stops the stage when more than ``max_ratio`` of the last
    ``window`` messages were dead-lettered.

    It judges only once it has seen ``min(window, MIN_SAMPLE)`` messages, so one bad
    record at start-up does not stop a stage. Once tripped it stays tripped: the next
    batch raises :class:`StageStopped` before it is processed (it is not committed, so
    nothing is lost), and a human fixes the cause and restarts the stage.
    """

    MIN_SAMPLE = 20

    def __init__(self, max_ratio: float, window: int) -> None:
        self.max_ratio = max_ratio
        self._recent: deque[bool] = deque(maxlen=window)
        self._tripped = False

    def __call__(self, next_step: Step) -> Step:
        def step(records: Sequence[Record]) -> list[DeadLetter]:
            if self._tripped:
                raise StageStopped(
                    f"{self.ratio():.0%} of the last messages were dead-lettered (limit {self.max_ratio:.0%})")
            try:
                dead = next_step(records)
            except DeadLetter:
                self.record(ok=0, failed=1)
                raise
            self.record(ok=len(records) - len(dead), failed=len(dead))
            return dead

        return step

    def record(self, ok: int, failed: int) -> None:
        self._recent.extend([True] * ok + [False] * failed)
        if len(self._recent) >= min(self._recent.maxlen or 0, self.MIN_SAMPLE) and self.ratio() > self.max_ratio:
            self._tripped = True

    def ratio(self) -> float:
        """Share of the recent messages that failed (0 before any)."""
        return self._recent.count(False) / len(self._recent) if self._recent else 0.0

    def tripped(self) -> bool:
        return self._tripped


class RecordTooLarge(ValueError):
    """The record is larger than ``max_message_bytes``: refused before processing."""


def refuse_oversized(max_bytes: int) -> StepWrapper:
    """Records whose value is larger than ``max_bytes`` are dead-lettered before any processing
    (as :class:`RecordTooLarge`: counted by error class); the rest go on."""

    def wrap(next_step: Step) -> Step:
        def step(records: Sequence[Record]) -> list[DeadLetter]:
            refused = [DeadLetter(r, RecordTooLarge(f"record of {len(r.value or b'')} bytes is larger than "
                                                    f"NEWSFLOW_MAX_MESSAGE_BYTES ({max_bytes})"))
                       for r in records if len(r.value or b"") > max_bytes]
            if not refused:
                return next_step(records)
            kept = [r for r in records if len(r.value or b"") <= max_bytes]
            return refused + (next_step(kept) if kept else [])

        return step

    return wrap


def exit_after_first_batch(code: int) -> StepWrapper:
    """Crash drill: the process exits with ``code`` right after the first batch's output is
    durable and before its offsets are committed (the redelivery test runs the sink with it)."""

    def wrap(next_step: Step) -> Step:
        def step(records: Sequence[Record]) -> list[DeadLetter]:
            next_step(records)
            log.warning("crash drill: exiting with %d after the batch's output is durable, before the commit", code)
            logging.shutdown()
            os._exit(code)

        return step

    return wrap


def retry_on(errors: tuple[type[BaseException], ...], write: WriteFn[T]) -> WriteFn[T]:
    """``write``, with ``errors`` (the backend's "unavailable" errors) turned into :class:`RetryBatch`."""

    def write_or_retry(items: list[T]) -> list[DeadLetter]:
        try:
            return write(items)
        except errors as exc:
            raise RetryBatch(f"{type(exc).__name__}: {exc}") from exc

    return write_or_retry
