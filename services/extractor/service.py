"""``newsflow extractor``: ``newsflow.pages`` -> ``newsflow.extracted``.

consume -> process (decode the page, extract the text and metadata, tag it,
compute its story features) -> produce each Article with ``acks=all`` and flush ->
commit offsets.

The stage is pipelined (:mod:`services.common.stage`): :meth:`Extraction.start` decodes a
batch's pages and submits them to the workers as soon as the batch is consumed, so the
workers extract batch N+1 while the main process builds, produces and commits batch N.

The steps themselves are :mod:`services.extractor.pipeline`. Extraction and tagging
(:func:`~services.extractor.pipeline.analyse`, pure) run in ``workers`` processes
(:mod:`services.extractor.workers`), each page bounded by ``extract_timeout_seconds``.
The extractor holds no state: any number of replicas share ``newsflow.pages``. Stories
are placed downstream, by the story stage (``newsflow stories-worker``), which sees every
article of every replica.
"""

from __future__ import annotations

import logging
from collections import deque
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
from services.common.stage import PIPELINE_DEPTH, Stage, build_stage
from services.common.steps import Processed, StepWrapper, WriteFn, retry_on
from services.common.urls import domain
from services.extractor import metrics
from services.extractor.extract import Extracted
from services.extractor.pipeline import build_article
from services.extractor.settings import ExtractorSettings
from services.extractor.workers import AnalysePool, Analysis

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


Key = tuple[str, int, int]
Started = Analysis | Exception
"""A record's page in the workers, or why it could not be decoded."""


def _key(rec: Record) -> Key:
    return rec.topic, rec.partition, rec.offset


class Extraction:
    """Step 2 in two halves, for the pipelined stage.

    :meth:`start` decodes each page of a batch and submits it to the worker pool, and returns at
    once; :meth:`process` (the stage's step, later) takes each record's outcome in record order and
    builds the articles; failures carry their reason. A record that was not started (a retried
    batch, whose first attempt took the outcomes) is started then. The started batches not yet
    processed are kept per batch, at most the stage's ``PIPELINE_DEPTH``: starting another one
    forgets the oldest, which the stage has finished by then (what it left: records refused
    before processing)."""

    def __init__(self, pool: AnalysePool) -> None:
        self.pool = pool
        self._started: deque[dict[Key, Started]] = deque(maxlen=PIPELINE_DEPTH)

    def start(self, records: Sequence[Record]) -> None:
        self._started.append({_key(rec): self._start(rec) for rec in records})

    def _start(self, rec: Record) -> Started:
        try:
            page = decode(PageMessage, rec.value)
        except Exception as exc:  # an undecodable record is dead-lettered, with its reason
            return exc
        return self.pool.start(page)

    def _take(self, rec: Record) -> Started:
        for batch in self._started:
            started = batch.pop(_key(rec), None)
            if started is not None:
                return started
        return self._start(rec)

    def process(self, records: Sequence[Record]) -> Processed[Item]:
        out: Processed[Item] = Processed()
        for rec, started in [(rec, self._take(rec)) for rec in records]:  # all submitted before the first wait
            if isinstance(started, Exception):
                _fail(out, rec, None, started)
                continue
            outcome = started.outcome()
            if isinstance(outcome, BaseException):
                _fail(out, rec, started.page, outcome)
                continue
            try:
                article = build_article(started.page, outcome.extracted, outcome.tags)
            except Exception as exc:  # any failure of one page dead-letters that page
                _fail(out, rec, started.page, exc)
                continue
            record_quality(article, outcome.extracted)
            metrics.PAGES_PROCESSED.labels("ok").inc()
            metrics.EXTRACT_DURATION.observe(outcome.seconds)
            out.items.append((rec, article))
        return out


def make_writer(producer: KafkaProducer, topic: str) -> WriteFn[Item]:
    """Step 3: produce every article (acks=all, keyed by article id) and wait until all are durable."""
    return producing_writer(producer, topic, STAGE, lambda _rec, article: (article.id.encode(), encode(article), []))


def build(settings: ExtractorSettings, health: Health, steps: Sequence[StepWrapper] = ()) -> Stage:
    """The extractor stage: pages topic -> extract + tag -> extracted topic -> commit."""
    # the workers live as long as the service process (pebble stops them at interpreter exit)
    extraction = Extraction(AnalysePool(settings.workers, timeout_seconds=settings.extract_timeout_seconds))
    producer = make_producer(settings)
    return build_stage(
        name=STAGE,
        settings=settings,
        input_topic=settings.topic_pages,
        start=extraction.start,
        process=extraction.process,
        write=retry_on((KafkaError, OSError, TimeoutError), make_writer(producer, settings.topic_extracted)),
        health=health,
        consumer=make_consumer(settings, group_id=settings.group_id),
        producer=producer,
        steps=steps,
    )
