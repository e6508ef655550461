"""Run the extractor's per-page task (:data:`services.extractor.task.EXTRACT_RECORD`: decode, extract,
tag, build and encode the article) in worker processes.

Why processes: extraction and tagging are pure CPU-bound Python + lxml, so threads would
share one core; N processes use N cores. Why a per-page timeout with a kill: a hostile
page can keep libxml2 or a regex busy in C code, where no Python-level timeout reaches;
only killing the process that runs it frees the partition. The page then fails with
:class:`ExtractionTimeout` and is dead-lettered by the stage.

Why ``pebble.ProcessPool`` and not ``concurrent.futures.ProcessPoolExecutor``: the stdlib
pool cannot stop a running task (``Future.cancel`` only cancels queued ones); getting rid of
a stuck page means tearing down the whole executor, which breaks every other page in flight
(``BrokenProcessPool``). Pebble's pool takes a timeout per task, counted from when a worker
starts it, kills and replaces only that worker, and reports a worker that died (segfault,
OOM kill) as ``ProcessExpired`` for its task alone.

Workers start from a ``forkserver`` (on Linux) rather than a plain ``fork`` of the service,
whose Kafka client threads may hold locks at fork time; the server preloads the extractor
and loads the tagger's data once (:mod:`services.extractor.preload`), so every worker shares
those pages copy-on-write and replacing a killed worker is a cheap fork. This module, like the
service, does not import the extraction code: the task is named (:class:`~services.extractor.task.Named`).

Order: :meth:`AnalysePool.run` returns one outcome per input, in input order, whatever order
the workers finish in. :meth:`AnalysePool.start` submits one input and returns at once (a
:class:`Analysis` handle): the pipelined stage submits the next batch while it writes this one.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from types import TracebackType
from typing import Any, Generic, Self, TypeVar, overload

from pebble import ProcessExpired, ProcessFuture, ProcessPool

from services.extractor import metrics
from services.extractor.task import EXTRACT_RECORD, ArticleRecord, worker_init

log = logging.getLogger(__name__)

#: what the forkserver imports once, so that each new worker starts with the extractor and the tagger's
#: data loaded, in memory shared with the forkserver and the other workers (see that module)
_PRELOAD = ["services.extractor.preload"]


class ExtractionTimeout(TimeoutError):
    """A page took longer than ``extract_timeout_seconds``; its worker was killed."""


class WorkerCrashed(RuntimeError):
    """The worker process died while analysing the page, twice (segfault, out of memory...)."""


In = TypeVar("In")
Out = TypeVar("Out")


class AnalysePool(Generic[In, Out]):
    """``workers`` processes running a task (by default :data:`~services.extractor.task.EXTRACT_RECORD`),
    each input bounded by ``timeout_seconds``."""

    @overload
    def __init__(self: AnalysePool[bytes | None, ArticleRecord], workers: int, timeout_seconds: float) -> None: ...

    @overload
    def __init__(self, workers: int, timeout_seconds: float, task: Callable[[In], Out]) -> None: ...

    def __init__(self, workers: int, timeout_seconds: float, task: Callable[[Any], Any] = EXTRACT_RECORD) -> None:
        """``task`` is what a worker runs per input: a module-level function or a
        :class:`~services.extractor.task.Named` one, so it pickles."""
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.timeout_seconds = timeout_seconds
        self._task: Callable[[In], Out] = task
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if "forkserver" in methods:
            context.set_forkserver_preload(_PRELOAD)
        self._pool = ProcessPool(max_workers=workers, initializer=worker_init, context=context)

    def _submit(self, item: In) -> ProcessFuture[Out]:
        return self._pool.schedule(self._task, args=(item,), timeout=self.timeout_seconds)

    def start(self, item: In, label: str = "input") -> Analysis[In, Out]:
        """Submit ``item`` to the workers; returns at once (inputs run in the order submitted).
        ``label`` names it in the log (a timeout, a crash)."""
        return Analysis(self, item, label, self._submit(item))

    def run(self, items: Sequence[In]) -> list[Out | BaseException]:
        """Run the task on ``items`` in parallel; one outcome per item, in the order given (see :meth:`outcome`)."""
        return [analysis.outcome() for analysis in [self.start(item, f"input {n}") for n, item in enumerate(items)]]

    def _result(self, label: str, future: ProcessFuture[Out]) -> Out | BaseException:
        try:
            return future.result()
        except FutureTimeout:
            metrics.EXTRACTOR_WORKER_RESTARTS.labels("timeout").inc()
            log.warning("%s took over %.0fs; its worker was killed", label, self.timeout_seconds)
            return ExtractionTimeout(f"extraction took over {self.timeout_seconds:g}s; cut off")
        except Exception as exc:  # the task's own error, or ProcessExpired: the caller decides
            return exc

    def outcome(self, item: In, label: str, future: ProcessFuture[Out]) -> Out | BaseException:
        """Wait for ``item``: the task's result, or the exception to dead-letter it with
        (:class:`ExtractionTimeout`, :class:`WorkerCrashed`, or whatever the task raised). An item whose
        worker died is retried once (the death may have been caused by something else, e.g. a signal);
        dying again marks the item itself as the cause."""
        outcome = self._result(label, future)
        if not isinstance(outcome, ProcessExpired):
            return outcome
        log.warning("worker died on %s (%s); retrying it once", label, outcome)
        metrics.EXTRACTOR_WORKER_RESTARTS.labels("crashed").inc()
        outcome = self._result(label, self._submit(item))
        if isinstance(outcome, ProcessExpired):
            metrics.EXTRACTOR_WORKER_RESTARTS.labels("crashed").inc()
            outcome = WorkerCrashed(f"worker died twice on {label} ({outcome})")
        return outcome

    def close(self) -> None:
        """Stop the workers (a page in flight is abandoned: its batch is not committed)."""
        self._pool.stop()  # type: ignore[no-untyped-call]  # pebble leaves stop() unannotated
        self._pool.join(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Analysis(Generic[In, Out]):
    """One input submitted to an :class:`AnalysePool` (:meth:`AnalysePool.start`)."""

    def __init__(self, pool: AnalysePool[In, Out], item: In, label: str, future: ProcessFuture[Out]) -> None:
        self.pool = pool
        self.item = item
        self.label = label
        self._future = future

    def outcome(self) -> Out | BaseException:
        """Wait for the result (:meth:`AnalysePool.outcome`)."""
        return self.pool.outcome(self.item, self.label, self._future)
