"""What the extractor service hands its workers, and what it gets back: light, on purpose.

The service process (:mod:`services.extractor.service`) imports this module, never the extraction
and tagging code (trafilatura, lxml, the tagger, the story features: ~130 MB of imports that only
the workers use; issue 20). So the worker's task is a :class:`Named` function: it pickles as its
module and name, and the module is imported where the function is called, in the worker, where
the forkserver has imported it already (:mod:`services.extractor.preload`).

What comes back is an :class:`ArticleRecord`: the Kafka key and encoded value of the
``newsflow.extracted`` record, built and encoded in the worker, and the few plain facts the service
counts (:func:`services.extractor.service.record_quality`). A page that fails comes back as its
exception; the ones the extractor raises itself are defined here, so that unpickling one does not
import the extraction code either.
"""

from __future__ import annotations

import importlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, ParamSpec, TypeVar

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


class ExtractionError(Exception):
    """No article text could be found on the page (nor in its feed entry)."""


@dataclass(frozen=True)
class Named(Generic[P, R]):
    """A module-level function by its module and name. It pickles as those two strings (so naming
    it imports nothing), and imports its module when called."""

    module: str
    name: str

    def resolve(self) -> Callable[P, R]:
        function: Callable[P, R] = getattr(importlib.import_module(self.module), self.name)
        return function

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.resolve()(*args, **kwargs)


@dataclass(frozen=True)
class ArticleRecord:
    """One page's ``newsflow.extracted`` record (``key``, ``value``: the encoded Article), and what the
    service counts of it: its URL (for the domain label), text length, whether it has a date and
    authors, the extraction method, its number of tags, and the extraction + tagging seconds."""

    key: bytes
    value: bytes
    url: str
    text_chars: int
    has_date: bool
    has_authors: bool
    method: str
    tags: int
    seconds: float


#: the worker's task: a page record's value (JSON bytes) in, its ArticleRecord out
EXTRACT_RECORD: Named[[bytes | None], ArticleRecord] = Named("services.extractor.pipeline", "extract_record")
WARM_UP: Named[[], None] = Named("services.extractor.pipeline", "warm_up")


def worker_init() -> None:
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
        WARM_UP()
    except Exception:  # see above: the pages report the error
        log.exception("worker warm-up failed; pages will load the tagger themselves")
        return
    log.debug("worker warmed up in %.2fs", time.perf_counter() - started)
