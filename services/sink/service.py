"""``newsflow sink``: ``newsflow.articles`` -> storage.

consume -> process (decode and validate each Article) -> write (one
transaction per batch, idempotent upserts) -> commit offsets only after the
transaction committed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime

from services.common.health import Health
from services.common.kafka import make_consumer, make_producer
from services.common.messages import Article, MessageError, decode
from services.common.stage import Failure, Processed, Record, Stage, WriteFn, build_stage
from services.sink import metrics
from services.sink.settings import SinkSettings
from services.sink.store import RowRejected, Store, open_store, unavailable_errors

log = logging.getLogger(__name__)

STAGE = "sink"
Item = tuple[Record, Article]
CRASH_HOOK_ENV = "NEWSFLOW_TEST_SINK_EXIT_AFTER_DB_COMMIT"
"""Test hook: when set to an exit code, the sink process exits with it right after the first
batch's database commit, before the offset commit (the redelivery test uses it)."""


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
            if result == "inserted":
                metrics.ARTICLES_STORED.inc()  # a COUNT(*) per batch would scan the table
            if result == "inserted" and article.published_at:
                metrics.PUBLISH_TO_STORED.observe(max(0.0, (now - article.published_at).total_seconds()))
                metrics.NEWEST_ARTICLE.update(article.url, article.published_at)
        return failures

    return write


def exit_after_first_commit(write: WriteFn[Item], code: int) -> WriteFn[Item]:
    """Test hook (see :data:`CRASH_HOOK_ENV`): die between the database commit and the offset commit."""

    def write_then_exit(items: list[Item]) -> list[Failure]:
        write(items)
        log.warning("test hook %s: exiting with %d after the database commit", CRASH_HOOK_ENV, code)
        logging.shutdown()
        os._exit(code)

    return write_then_exit


def build(settings: SinkSettings, health: Health, store: Store | None = None) -> Stage[Item]:
    """The sink stage: articles topic -> decode -> storage transaction -> commit."""
    store = store or open_store(settings.sink_url.get_secret_value())
    health.set("storage", True)
    metrics.ARTICLES_STORED.set(store.count())
    write = make_writer(store)
    if crash_code := os.environ.get(CRASH_HOOK_ENV):
        write = exit_after_first_commit(write, int(crash_code))
    return build_stage(
        name=STAGE,
        settings=settings,
        input_topic=settings.topic_articles,
        process=decode_articles,
        write=write,
        health=health,
        consumer=make_consumer(settings),
        producer=make_producer(settings),
        retryable=unavailable_errors(),
    )
