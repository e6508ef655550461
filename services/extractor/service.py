"""``newsflow extractor``: ``newsflow.pages`` -> ``newsflow.extracted``.

consume -> process (decode the page, extract the text and metadata, tag it,
compute its story features) -> produce each Article with ``acks=all`` and flush ->
commit offsets.

The stage is pipelined (:mod:`services.common.stage`): :meth:`Extraction.start` decodes a
batch's pages and submits them to the workers as soon as the batch is consumed, so the
workers extract batch N+1 while the main process produces and commits batch N.

The steps themselves are :mod:`services.extractor.pipeline`, and all of a page's work runs in
``workers`` processes (:mod:`services.extractor.workers`), each page bounded by
``extract_timeout_seconds``: decoding the page, extracting and tagging it, building the Article
and encoding it. The service process gets the record's key and value back, with a few plain facts
to count (:class:`~services.extractor.task.ArticleRecord`), and produces it: it imports none of the
extraction and tagging code (~130 MB), and spends no CPU on a page's JSON either way.
The extractor holds no state: any number of replicas share ``newsflow.pages``. Stories
are placed downstream, by the story stage (``newsflow stories-worker``), which sees every
article of every replica.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence

from kafka import KafkaProducer
from kafka.errors import KafkaError

from services.common.deadletters import DeadLetter
from services.common.health import Health
from services.common.kafka import make_consumer, make_producer
from services.common.messages import MessageError, PageMessage, decode
from services.common.metrics import TopDomains
from services.common.produce import producing_writer
from services.common.records import Record
from services.common.stage import PIPELINE_DEPTH, Stage, build_stage
from services.common.steps import Processed, StepWrapper, WriteFn, retry_on
from services.common.urls import domain
from services.extractor import metrics
from services.extractor.settings import ExtractorSettings
from services.extractor.task import EXTRACT_RECORD, ArticleRecord
from services.extractor.workers import AnalysePool, Analysis

log = logging.getLogger(__name__)

STAGE = "extractor"
Item = tuple[Record, ArticleRecord]
_QUALITY_DOMAINS = TopDomains()
SHORT_TEXT_CHARS = 300


def record_quality(article: ArticleRecord) -> None:
    """Per-domain extraction quality counters, so a broken site layout shows on a dashboard."""
    label = _QUALITY_DOMAINS.label(domain(article.url))
    issues = []
    if article.text_chars < SHORT_TEXT_CHARS:
        issues.append("short")
    if not article.has_date:
        issues.append("missing_date")
    if not article.has_authors:
        issues.append("missing_author")
    if article.method != "trafilatura":
        issues.append("fallback")
    for issue in issues:
        metrics.EXTRACTION_QUALITY.labels(label, issue).inc()
    metrics.TEXT_LENGTH.observe(article.text_chars)
    metrics.EXTRACTED_PAGES.labels(label, "ok").inc()
    metrics.TAGS_PER_ARTICLE.observe(article.tags)


def _url(rec: Record) -> str | None:
    """The URL of a failed record's page, for its domain's counters (decoded again here: failures are
    rare, and the workers decode the others); None if it does not decode."""
    try:
        return decode(PageMessage, rec.value).url
    except MessageError:
        return None


def _fail(out: Processed[Item], rec: Record, exc: BaseException) -> None:
    metrics.PAGES_PROCESSED.labels(type(exc).__name__).inc()
    metrics.count_failed_extraction(_QUALITY_DOMAINS, _url(rec), exc)
    out.dead.append(DeadLetter(rec, exc))


Key = tuple[str, int, int]
Started = Analysis[bytes | None, ArticleRecord]
"""A record's value in the workers."""


def _key(rec: Record) -> Key:
    return rec.topic, rec.partition, rec.offset


class Extraction:
    """Step 2 in two halves, for the pipelined stage.

    :meth:`start` submits each record of a batch to the worker pool, and returns at once;
    :meth:`process` (the stage's step, later) takes each record's outcome in record order: its
    encoded article, or the failure (an undecodable record, a page without text, a timeout...)
    it is dead-lettered with. A record that was not started (a retried
    batch, whose first attempt took the outcomes) is started then. The started batches not yet
    processed are kept per batch, at most the stage's ``PIPELINE_DEPTH``: starting another one
    forgets the oldest, which the stage has finished by then (what it left: records refused
    before processing)."""

    def __init__(self, pool: AnalysePool[bytes | None, ArticleRecord]) -> None:
        self.pool = pool
        self._started: deque[dict[Key, Started]] = deque(maxlen=PIPELINE_DEPTH)

    def start(self, records: Sequence[Record]) -> None:
        self._started.append({_key(rec): self._start(rec) for rec in records})

    def _start(self, rec: Record) -> Started:
        return self.pool.start(rec.value, f"record {rec.topic}[{rec.partition}]@{rec.offset}")

    def _take(self, rec: Record) -> Started:
        for batch in self._started:
            started = batch.pop(_key(rec), None)
            if started is not None:
                return started
        return self._start(rec)

    def process(self, records: Sequence[Record]) -> Processed[Item]:
        out: Processed[Item] = Processed()
        for rec, started in [(rec, self._take(rec)) for rec in records]:  # all submitted before the first wait
            outcome = started.outcome()
            if isinstance(outcome, BaseException):  # any failure of one page dead-letters that page
                _fail(out, rec, outcome)
                continue
            record_quality(outcome)
            metrics.PAGES_PROCESSED.labels("ok").inc()
            metrics.EXTRACT_DURATION.observe(outcome.seconds)
            out.items.append((rec, outcome))
        return out


def make_writer(producer: KafkaProducer, topic: str) -> WriteFn[Item]:
    """Step 3: produce every article (acks=all, keyed by article id, encoded by the worker) and wait until
    all are durable."""
    return producing_writer(producer, topic, STAGE, lambda _rec, article: (article.key, article.value, []))


def build(
    settings: ExtractorSettings, health: Health, steps: Sequence[StepWrapper] = (),
    task: Callable[[bytes | None], ArticleRecord] = EXTRACT_RECORD,
) -> Stage:
    """The extractor stage: pages topic -> extract + tag -> extracted topic -> commit. ``task`` is what the
    workers run per record (module-level, or :class:`~services.extractor.task.Named`, so it pickles)."""
    # the workers live as long as the service process (pebble stops them at interpreter exit)
    pool = AnalysePool(settings.workers, timeout_seconds=settings.extract_timeout_seconds, task=task)
    extraction = Extraction(pool)
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
