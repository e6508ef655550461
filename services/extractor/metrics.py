"""The extractor's metrics (registered when ``newsflow extractor`` starts; see :class:`MetricSet`)."""

from __future__ import annotations

from services.common.messages import Article
from services.common.metrics import DEAD_LETTERS, LATENCY_BUCKETS, MetricSet, TopDomains
from services.common.urls import domain
from services.extractor.task import ExtractionError

EXTRACTOR = MetricSet("extractor")

PAGES_PROCESSED = EXTRACTOR.counter(
    "newsflow_pages_processed_total", "Pages handled by the extractor, by outcome.", ["outcome"]
)
EXTRACT_DURATION = EXTRACTOR.histogram(
    "newsflow_extract_duration_seconds", "Extraction plus tagging time per page.", buckets=LATENCY_BUCKETS
)
TEXT_LENGTH = EXTRACTOR.histogram(
    "newsflow_article_text_length_chars", "Length of extracted article text in characters.",
    buckets=(0, 100, 300, 1000, 2000, 4000, 8000, 16000, 32000, 64000),
)
EXTRACTION_QUALITY = EXTRACTOR.counter(
    "newsflow_extraction_quality_issues_total",
    "Extraction quality issues per source domain (top-N domains, others as 'other').",
    ["domain", "issue"],
)
TAGS_PER_ARTICLE = EXTRACTOR.histogram(
    "newsflow_article_tags", "Tags per article (places, people, organisations, keywords, topics).",
    buckets=(0, 1, 2, 5, 10, 20, 50, 100),
)
EXTRACTED_PAGES = EXTRACTOR.counter(
    "newsflow_extracted_pages_total",
    "Pages per source domain (top-N domains, others as 'other') by outcome: ok, empty (no article "
    "text found), failed (any other error).",
    ["domain", "outcome"],
)
EXTRACTOR_WORKER_RESTARTS = EXTRACTOR.counter(
    "newsflow_extractor_worker_restarts_total",
    "Extractor worker processes replaced, by reason: timeout (a page ran past extract_timeout_seconds "
    "and its worker was killed) or crashed (the worker died while analysing a page).",
    ["reason"],
)


def init_series() -> None:
    """The extractor's known label sets, at 0."""
    PAGES_PROCESSED.labels("ok")
    for reason in ("timeout", "crashed"):
        EXTRACTOR_WORKER_RESTARTS.labels(reason)
    for error_class in ("ExtractionError", "ExtractionTimeout", "WorkerCrashed"):
        DEAD_LETTERS.labels("extractor", error_class)
    # per-domain series start with the overflow label "other" (TopDomains' own), so the
    # extraction panels and alerts have a series before the first page of any domain
    for outcome in ("ok", "empty", "failed"):
        EXTRACTED_PAGES.labels("other", outcome)
    for issue in QUALITY_ISSUES:
        EXTRACTION_QUALITY.labels("other", issue)


QUALITY_ISSUES = ("short", "missing_date", "missing_author", "fallback", "empty")


def tag_count(article: Article) -> int:
    return (len(article.places) + len(article.people) + len(article.organisations)
            + len(article.keywords) + len(article.topics))


def count_failed_extraction(domains: TopDomains, url: str | None, error: BaseException) -> None:
    """A page the extractor could not turn into an article, counted against its domain.

    :class:`ExtractionError` (no article text found) is the "empty" outcome that the
    domain-empty alert watches; any other error is "failed". A page that did not even
    decode has no URL: domain ``unknown``.
    """
    label = domains.label(domain(url)) if url else "unknown"
    outcome = "empty" if isinstance(error, ExtractionError) else "failed"
    EXTRACTED_PAGES.labels(label, outcome).inc()
    if outcome == "empty":
        EXTRACTION_QUALITY.labels(label, "empty").inc()
