"""Run :func:`services.extractor.pipeline.analyse` (extract + tag) in worker processes.

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
those pages copy-on-write and replacing a killed worker is a cheap fork.

Order: :meth:`AnalysePool.run` returns one outcome per input, in input order, whatever order
the workers finish in. :meth:`AnalysePool.start` submits one page and returns at once (a
:class:`Analysis` handle): the pipelined stage submits the next batch while it writes this one.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from types import TracebackType
from typing import Self

from pebble import ProcessExpired, ProcessFuture, ProcessPool

from services.common.messages import PageMessage
from services.extractor import metrics
from services.extractor.pipeline import PageAnalysis, analyse
from services.extractor.tagging import warm_up

log = logging.getLogger(__name__)

#: what the forkserver imports once, so that each new worker starts with the extractor and the tagger's
#: data loaded, in memory shared with the forkserver and the other workers (see that module)
_PRELOAD = ["services.extractor.preload"]


class ExtractionTimeout(TimeoutError):
    """A page took longer than ``extract_timeout_seconds``; its worker was killed."""


class WorkerCrashed(RuntimeError):
    """The worker process died while analysing the page, twice (segfault, out of memory...)."""


def _worker_init() -> None:
    """Runs in each worker before it takes any page (pebble starts a page's time limit only
    when a worker picks the page up).

    Ctrl-C reaches the whole process group: only the service decides when workers stop,
    so a page in flight is finished, not failed, while the stage drains its batch.

    Warm-up: the forkserver has loaded the tagger's data before forking (shared memory), so
    this is a short no-op there; without a forkserver (``spawn``), or when its warm-up failed,
    the tagger loads here (~1.4 s, more on a loaded machine), out of the first page's time
    limit, for the first workers and for each one that replaces a killed worker. A failed warm-up is
    logged and the worker still starts (pebble would otherwise respawn it in a loop): the
    pages then fail with the real error, and are dead-lettered with it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    started = time.perf_counter()
    try:
        warm_up()
    except Exception:  # see above: the pages report the error
        log.exception("worker warm-up failed; pages will load the tagger themselves")
        return
    log.debug("worker warmed up in %.2fs", time.perf_counter() - started)


Outcome = PageAnalysis | BaseException


class AnalysePool:
    """``workers`` processes running :func:`~services.extractor.pipeline.analyse`, each page bounded by
    ``timeout_seconds``."""

    def __init__(
        self, workers: int, timeout_seconds: float, task: Callable[[PageMessage], PageAnalysis] = analyse
    ) -> None:
        """``task`` is what a worker runs per page (a module-level function, so it pickles)."""
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.timeout_seconds = timeout_seconds
        self._task = task
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if "forkserver" in methods:
            context.set_forkserver_preload(_PRELOAD)
        self._pool = ProcessPool(max_workers=workers, initializer=_worker_init, context=context)

    def _submit(self, page: PageMessage) -> ProcessFuture[PageAnalysis]:
        return self._pool.schedule(self._task, args=(page,), timeout=self.timeout_seconds)

    def start(self, page: PageMessage) -> Analysis:
        """Submit ``page`` to the workers; returns at once (pages run in the order submitted)."""
        return Analysis(self, page, self._submit(page))

    def run(self, pages: Sequence[PageMessage]) -> list[Outcome]:
        """Analyse ``pages`` in parallel; one outcome per page, in the order given (see :meth:`outcome`)."""
        return [analysis.outcome() for analysis in [self.start(page) for page in pages]]

    def _result(self, page: PageMessage, future: ProcessFuture[PageAnalysis]) -> Outcome:
        try:
            return future.result()
        except FutureTimeout:
            metrics.EXTRACTOR_WORKER_RESTARTS.labels("timeout").inc()
            log.warning("page %s took over %.0fs; its worker was killed", page.id, self.timeout_seconds)
            return ExtractionTimeout(f"extraction took over {self.timeout_seconds:g}s; cut off")
        except Exception as exc:  # analyse's own error, or ProcessExpired: the caller decides
            return exc

    def outcome(self, page: PageMessage, future: ProcessFuture[PageAnalysis]) -> Outcome:
        """Wait for ``page``: a :class:`~services.extractor.pipeline.PageAnalysis`, or the exception to
        dead-letter it with (:class:`ExtractionTimeout`, :class:`WorkerCrashed`, or whatever ``analyse``
        raised). A page whose worker died is retried once (the death may have been caused by something
        else, e.g. a signal); dying again marks the page itself as the cause."""
        outcome = self._result(page, future)
        if not isinstance(outcome, ProcessExpired):
            return outcome
        log.warning("worker died on page %s (%s); retrying it once", page.id, outcome)
        metrics.EXTRACTOR_WORKER_RESTARTS.labels("crashed").inc()
        outcome = self._result(page, self._submit(page))
        if isinstance(outcome, ProcessExpired):
            metrics.EXTRACTOR_WORKER_RESTARTS.labels("crashed").inc()
            outcome = WorkerCrashed(f"worker died twice on page {page.id} ({outcome})")
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


class Analysis:
    """One page submitted to an :class:`AnalysePool` (:meth:`AnalysePool.start`)."""

    def __init__(self, pool: AnalysePool, page: PageMessage, future: ProcessFuture[PageAnalysis]) -> None:
        self.pool = pool
        self.page = page
        self._future = future

    def outcome(self) -> Outcome:
        """Wait for the page (:meth:`AnalysePool.outcome`)."""
        return self.pool.outcome(self.page, self._future)
