"""``newsflow extractor``: ``newsflow.pages`` -> ``newsflow.extracted``.

consume -> process (decode the page, extract the text and metadata, tag it,
compute its story features) -> produce each Article with ``acks=all`` and flush ->
commit offsets.

The steps themselves are :mod:`services.extractor.pipeline`. Extraction and tagging
(:func:`~services.extractor.pipeline.analyse`, pure) run in ``workers`` processes
(:mod:`services.extractor.workers`), each page bounded by ``extract_timeout_seconds``.
The extractor holds no state: any number of replicas share ``newsflow.pages``. Stories
are placed downstream, by the story stage (``newsflow stories-worker``), which sees every
article of every replica.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from kafka import KafkaProducer
from kafka.errors import KafkaError

from services.common.deadletters import DeadLetter
from services.common.health import Health
from services.common.kafka import make_consumer, make_producer
from services.common.messages import Article, PageMessage, decode, encode
from services.common.metrics import TopDomains
from services.common.produce import producing_writer
from services.common.records import Record
from services.common.stage import Stage, build_stage
from services.common.steps import Processed, ProcessFn, StepWrapper, WriteFn, retry_on
from services.common.urls import domain
from services.extractor import metrics
from services.extractor.extract import Extracted
from services.extractor.pipeline import build_article
from services.extractor.settings import ExtractorSettings
from services.extractor.workers import AnalysePool

log = logging.getLogger(__name__)

STAGE = "extractor"
Item = tuple[Record, Article]
_QUALITY_DOMAINS = TopDomains()
SHORT_TEXT_CHARS = 300


def record_quality(article: Article, extracted: Extracted) -> None:
    """Per-domain extraction quality counters, so a broken site layout shows on a dashboard."""
    label = _QUALITY_DOMAINS.label(domain(article.url))
    issues = []
    if len(article.text) < SHORT_TEXT_CHARS:
        issues.append("short")
    if article.published_at is None:
        issues.append("missing_date")
    if not article.authors:
        issues.append("missing_author")
    if extracted.method != "trafilatura":
        issues.append("fallback")
    for issue in issues:
        metrics.EXTRACTION_QUALITY.labels(label, issue).inc()
    metrics.TEXT_LENGTH.observe(len(article.text))
    metrics.EXTRACTED_PAGES.labels(label, "ok").inc()
    metrics.TAGS_PER_ARTICLE.observe(metrics.tag_count(article))


def _fail(out: Processed[Item], rec: Record, page: PageMessage | None, exc: BaseException) -> None:
    metrics.PAGES_PROCESSED.labels(type(exc).__name__).inc()
    metrics.count_failed_extraction(_QUALITY_DOMAINS, page.url if page else None, exc)
    out.dead.append(DeadLetter(rec, exc))


def _decode_all(records: Sequence[Record], out: Processed[Item]) -> list[tuple[Record, PageMessage]]:
    pages: list[tuple[Record, PageMessage]] = []
    for rec in records:
        try:
            pages.append((rec, decode(PageMessage, rec.value)))
        except Exception as exc:  # an undecodable record is dead-lettered, with its reason
            _fail(out, rec, None, exc)
    return pages


def make_processor(pool: AnalysePool) -> ProcessFn[Item]:
    """Step 2: decode each page, extract + tag the batch in the worker pool, then build the
    articles (with their story features) in record order; failures carry their reason."""

    def process(records: Sequence[Record]) -> Processed[Item]:
        out: Processed[Item] = Processed()
        pages = _decode_all(records, out)
        outcomes = pool.run([page for _, page in pages])
        for (rec, page), outcome in zip(pages, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                _fail(out, rec, page, outcome)
                continue
            try:
                article = build_article(page, outcome.extracted, outcome.tags)
            except Exception as exc:  # any failure of one page dead-letters that page
                _fail(out, rec, page, exc)
                continue
            record_quality(article, outcome.extracted)
            metrics.PAGES_PROCESSED.labels("ok").inc()
            metrics.EXTRACT_DURATION.observe(outcome.seconds)
            out.items.append((rec, article))
        return out

    return process


def make_writer(producer: KafkaProducer, topic: str) -> WriteFn[Item]:
    """Step 3: produce every article (acks=all, keyed by article id) and wait until all are durable."""
    return producing_writer(producer, topic, STAGE, lambda _rec, article: (article.id.encode(), encode(article), []))


def build(settings: ExtractorSettings, health: Health, steps: Sequence[StepWrapper] = ()) -> Stage:
    """The extractor stage: pages topic -> extract + tag -> extracted topic -> commit."""
    # the workers live as long as the service process (pebble stops them at interpreter exit)
    pool = AnalysePool(settings.workers, timeout_seconds=settings.extract_timeout_seconds)
    producer = make_producer(settings)
    return build_stage(
        name=STAGE,
        settings=settings,
        input_topic=settings.topic_pages,
        process=make_processor(pool),
        write=retry_on((KafkaError, OSError, TimeoutError), make_writer(producer, settings.topic_extracted)),
        health=health,
        consumer=make_consumer(settings, group_id=settings.group_id),
        producer=producer,
        steps=steps,
    )
