"""The story index, rebuilt from the stage's own output: no local disk, no state to lose.

On start and after every assignment of the input partition, the active member reads
``newsflow.articles`` from the first record of the story window (``now - 2 x
story_window_days``; at most the last ``story_max_items`` records of each partition) to the
end, and inserts every article that carries story features with the ``story_id`` and
``duplicate_of`` it was given. Each record carries its input offset (header
:data:`ORDER_HEADER`), so the rebuilt index orders the articles as they were placed, whatever
partition they landed on: it answers as the index that placed them did. A redelivered input
record (placed and produced, then the process died before the commit) is then recognised and
given its stored placement again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from pydantic import ValidationError

from services.common.deadletters import DeadLetter
from services.common.kafka import make_consumer
from services.common.offsets import stream_to_end
from services.common.records import Record
from services.common.settings import CommonSettings
from services.common.steps import RetryBatch, Step
from services.stories import metrics
from services.stories.index import StoryIndex
from services.stories.placing import PlacedArticle, remember

log = logging.getLogger(__name__)

ORDER_HEADER = "newsflow.story_order"


def record_order(headers: Sequence[tuple[str, bytes]] | None) -> int | None:
    """The input offset an output record carries (None: not written by this stage)."""
    for key, value in headers or ():
        if key == ORDER_HEADER:
            try:
                return int(value.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                return None
    return None


def rebuild_index(index: StoryIndex, settings: CommonSettings, max_items: int, idle_seconds: float = 1.5) -> int:
    """Empty ``index`` and insert what the stage placed within the story window; returns how many."""
    started = time.monotonic()
    index.clear()
    since_ms = int((time.time() - index.story_window) * 1000)
    consumer = make_consumer(settings)
    inserted = read = 0
    try:
        for rec in stream_to_end(consumer, settings.topic_articles, since_ms=since_ms, last=max_items,
                                 idle_seconds=idle_seconds):
            read += 1
            inserted += insert_record(index, rec)
    finally:
        consumer.close()
    seconds = time.monotonic() - started
    metrics.REBUILDS.inc()
    metrics.REBUILD_DURATION.observe(seconds)
    metrics.INDEX_ITEMS.set(len(index))
    log.info("story index rebuilt from %s: %d record(s) read, %d article(s) in the index, %.1fs",
             settings.topic_articles, read, len(index), seconds)
    return inserted


def insert_record(index: StoryIndex, rec: ConsumerRecord) -> bool:
    """One ``newsflow.articles`` record into the index (a record that does not decode is skipped)."""
    if rec.value is None:
        return False
    try:
        placed = PlacedArticle.model_validate_json(rec.value)
    except ValidationError:
        return False
    return remember(index, placed, record_order(rec.headers))


class RebuildOnAssignment:
    """A step wrapper: the first batch after an assignment (and the first of all) waits until
    ``rebuild`` has refilled the index. :meth:`assigned` is the consumer's assignment hook. A
    broker that cannot be read retries the batch (nothing is placed from a half-built index)."""

    def __init__(self, rebuild: Callable[[], object]) -> None:
        self.rebuild = rebuild
        self.pending = True

    def assigned(self) -> None:
        self.pending = True

    def __call__(self, next_step: Step) -> Step:
        def step(records: Sequence[Record]) -> list[DeadLetter]:
            if self.pending:
                try:
                    self.rebuild()
                except (KafkaError, OSError, TimeoutError) as exc:
                    raise RetryBatch(f"story index rebuild failed: {type(exc).__name__}: {exc}") from exc
                self.pending = False
            return next_step(records)

        return step
