"""``newsflow sink``: ``newsflow.articles`` -> storage.

consume -> process (decode and validate each Article) -> write (one
transaction per batch, idempotent upserts) -> commit offsets only after the
transaction committed.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from services.common import metrics
from services.common.config import SinkSettings
from services.common.health import Health
from services.common.kafka import make_consumer, make_producer
from services.common.messages import Article, MessageError, decode
from services.common.stage import Failure, Processed, Record, Stage, WriteFn, build_stage
from services.sink.store import RowRejected, Store, open_store

log = logging.getLogger(__name__)

STAGE = "sink"
Item = tuple[Record, Article]


def decode_articles(records: Sequence[Record]) -> Processed[Item]:
    """Step 2: each record must be a valid Article of a known schema version."""
    out: Processed[Item] = Processed()
    for rec in records:
        try:
            out.items.append((rec, decode(Article, rec.value)))
        except MessageError as exc:
            out.failures.append(Failure(rec, exc))
    return out


def make_writer(store: Store) -> WriteFn[Item]:
    """Step 3: write a batch in one transaction; rejected rows come back as failures."""

    def write(items: list[Item]) -> list[Failure]:
        with metrics.SINK_COMMIT_DURATION.time():
            results = store.write_batch([article for _, article in items])
        metrics.SINK_BATCH_SIZE.observe(len(items))
        now = datetime.now(UTC)
        failures = []
        for (rec, article), result in zip(items, results, strict=True):
            if isinstance(result, RowRejected):
                failures.append(Failure(rec, result))
                continue
            metrics.ROWS_WRITTEN.labels(result).inc()
            if result == "inserted" and article.published_at:
                metrics.PUBLISH_TO_STORED.observe(max(0.0, (now - article.published_at).total_seconds()))
                metrics.NEWEST_ARTICLE.update(article.url, article.published_at)
        metrics.ARTICLES_STORED.set(store.count())
        return failures

    return write


def build(settings: SinkSettings, health: Health, store: Store | None = None) -> Stage[Item]:
    """The sink stage: articles topic -> decode -> storage transaction -> commit."""
    store = store or open_store(settings.sink_url.get_secret_value())
    health.set("storage", True)
    metrics.ARTICLES_STORED.set(store.count())
    write = make_writer(store)
    return build_stage(
        name=STAGE,
        settings=settings,
        input_topic=settings.topic_articles,
        process=decode_articles,
        write=write,
        health=health,
        consumer=make_consumer(settings),
        producer=make_producer(settings),
        retryable=(sqlite3.OperationalError,) + _postgres_errors(),
    )


def _postgres_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:
        return ()
    return (psycopg.OperationalError,)
