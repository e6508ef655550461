"""The extractor's processing steps, with no Kafka: one page in, one article out.

:func:`analyse` (extract + tag) is pure; :func:`build_article` turns its result into the
``newsflow.extracted`` record, with the story features the story stage places it by
(:mod:`services.extractor.features`; the story itself is the story stage's:
``services/stories``). The stage (:mod:`services.extractor.service`, and replay through it) runs
both in its worker processes (:mod:`services.extractor.workers`), through :func:`extract_record`
(a page record's bytes in, the encoded article record out: the service process imports none of
this module); ``newsflow extract`` (:mod:`services.extractor.files`) calls them directly. All go
through the same two functions, so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from services.common.messages import Article, PageMessage, Tags, decode, encode
from services.common.urls import domain
from services.extractor import extract, tagging
from services.extractor.extract import EXTRACTOR_VERSION, Extracted, extract_page
from services.extractor.features import story_features
from services.extractor.metrics import tag_count
from services.extractor.tagging import tag
from services.extractor.task import ArticleRecord


@dataclass(frozen=True)
class PageAnalysis:
    """What :func:`analyse` found in one page: the extraction, its tags, and the time it took
    (measured where it ran: in a worker process, that is CPU-side time, not queueing)."""

    extracted: Extracted
    tags: Tags
    seconds: float


def analyse(page: PageMessage) -> PageAnalysis:
    """Extract and tag one page: pure, so it can run in a worker process."""
    started = time.perf_counter()
    extracted = extract_page(page.html, url=page.final_url, entry=page.entry)
    tags = tag(
        extracted.text,
        title=extracted.title,
        categories=page.entry.categories,
        url=page.final_url,
        language_hint=page.entry.language_hint or extracted.language_hint,  # the feed's language= option, else the page's
    )
    return PageAnalysis(extracted, tags, time.perf_counter() - started)


def content_hash(title: str | None, text: str) -> str:
    """What makes a new revision: the title and the text, nothing else."""
    return hashlib.sha256(f"{title or ''}\n{text}".encode()).hexdigest()[:32]


def build_article(page: PageMessage, extracted: Extracted, tags: Tags) -> Article:
    """The ``newsflow.extracted`` record for a page: no story yet, its story features instead."""
    entry = page.entry
    title = extracted.title or entry.title
    return Article(
        id=page.id,
        url=page.url,
        canonical_url=extracted.canonical_url,
        source=extracted.site_name or domain(page.final_url),
        feed_url=entry.feed_url,
        title=title,
        authors=extracted.authors or entry.authors,
        published_at=extracted.published_at or entry.published_at,
        updated_at=extracted.updated_at or entry.updated_at,
        language=tags.language,
        text=extracted.text,
        summary=extracted.description or entry.summary,
        access=extracted.access,
        places=tags.places,
        people=tags.people,
        organisations=tags.organisations,
        keywords=tags.keywords,
        topics=tags.topics,
        tags=entry.tags,  # the feed's category tags (per-feed option tags=)
        extractor_version=EXTRACTOR_VERSION,
        content_hash=content_hash(title, extracted.text),
        fetched_at=page.fetched_at,
        first_seen_at=entry.first_seen_at,
        image=extracted.image or entry.image,
        media=entry.media,
        story_features=story_features(extracted.text, title, tags),
    )


def extract_record(raw: bytes | None) -> ArticleRecord:
    """The worker's task (:data:`services.extractor.task.EXTRACT_RECORD`): a ``newsflow.pages``
    record's value in, its ``newsflow.extracted`` record out, encoded here, with what the service
    counts of it. Any failure (undecodable record, no article text...) raises, and the exception
    goes back to the service, which dead-letters the record with it."""
    page = decode(PageMessage, raw)
    analysis = analyse(page)
    article = build_article(page, analysis.extracted, analysis.tags)
    return ArticleRecord(
        key=article.id.encode(), value=encode(article), url=article.url, text_chars=len(article.text),
        has_date=article.published_at is not None, has_authors=bool(article.authors),
        method=analysis.extracted.method, tags=tag_count(article), seconds=analysis.seconds,
    )


def warm_up() -> None:
    """Load everything a worker would load on first use: the extraction's (``extract.warm_up``), then
    the tagger's (``tagging.warm_up``, which then freezes all of it out of the cyclic collector)."""
    extract.warm_up()
    tagging.warm_up()
