"""``newsflow sink``: ``newsflow.articles`` -> storage.

consume -> process (decode and validate each Article) -> write (one
transaction per batch, idempotent upserts) -> commit offsets only after the
transaction committed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from services.common.deadletters import DeadLetter
from services.common.health import Health
from services.common.kafka import make_consumer, make_producer
from services.common.messages import Article, MessageError, decode
from services.common.records import Record
from services.common.stage import Stage, build_stage
from services.common.steps import Processed, StepWrapper, WriteFn, retry_on
from services.sink import metrics
from services.sink.backends import open_store, unavailable_errors
from services.sink.settings import SinkSettings
from services.sink.store import RowRejected, Store

log = logging.getLogger(__name__)

STAGE = "sink"
Item = tuple[Record, Article]


def decode_articles(records: Sequence[Record]) -> Processed[Item]:
    """Step 2: each record must be a valid Article of a known schema version. Its story features
    (the story stage's working data, kept in ``newsflow.articles`` for its rebuilds) are not stored."""
    out: Processed[Item] = Processed()
    for rec in records:
        try:
            out.items.append((rec, decode(Article, rec.value).model_copy(update={"story_features": None})))
        except MessageError as exc:
            out.dead.append(DeadLetter(rec, exc))
    return out


def make_writer(store: Store) -> WriteFn[Item]:
    """Step 3: write a batch in one transaction; rejected rows come back as failures."""

    def write(items: list[Item]) -> list[DeadLetter]:
        with metrics.SINK_COMMIT_DURATION.time():
            results = store.write_batch([article for _, article in items])
        metrics.SINK_BATCH_SIZE.observe(len(items))
        now = datetime.now(UTC)
        failures = []
        for (rec, article), result in zip(items, results, strict=True):
            if isinstance(result, RowRejected):
                failures.append(DeadLetter(rec, result))
                continue
            metrics.ROWS_WRITTEN.labels(result).inc()
            if result == "inserted":
                metrics.ARTICLES_STORED.inc()  # a COUNT(*) per batch would scan the table
            if result == "inserted" and article.published_at:
                metrics.PUBLISH_TO_STORED.observe(max(0.0, (now - article.published_at).total_seconds()))
                metrics.NEWEST_ARTICLE.update(article.url, article.published_at)
        return failures

    return write


def build(settings: SinkSettings, health: Health, store: Store | None = None,
          steps: Sequence[StepWrapper] = ()) -> Stage:
    """The sink stage: articles topic -> decode -> storage transaction -> commit."""
    store = store or open_store(settings.sink_url.get_secret_value())
    health.set("storage", True)
    metrics.ARTICLES_STORED.set(store.count())
    return build_stage(
        name=STAGE,
        settings=settings,
        input_topic=settings.topic_articles,
        process=decode_articles,
        write=retry_on((OSError, TimeoutError, *unavailable_errors()), make_writer(store)),
        health=health,
        consumer=make_consumer(settings, group_id=settings.group_id),
        producer=make_producer(settings),
        steps=steps,
    )
