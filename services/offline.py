"""``newsflow extract``: the extractor stage's processing on local files, no broker."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from w3lib.encoding import html_to_unicode

from services.common.messages import Article, FeedEntry, PageMessage
from services.common.urls import article_id
from services.extractor.service import analyse, build_article
from services.extractor.tagging import StoryIndex


@cache
def _stories() -> StoryIndex:
    """One in-memory story index per command run, so the files are clustered together."""
    return StoryIndex(None)


def extract_file(path: Path, url: str | None = None) -> Article:
    """Extract and tag one HTML file exactly as the extractor stage would."""
    raw = path.read_bytes()
    page_url = url or path.resolve().as_uri().replace("file://", "http://localhost", 1)
    now = datetime.now(UTC)
    page = PageMessage(
        id=article_id(page_url), url=page_url, final_url=page_url, status=200,
        content_type="text/html", html=_decode(raw),
        fetched_at=now, entry=FeedEntry(feed_url="", entry_id=page_url, link=page_url),
    )
    extracted, tags = analyse(page)
    article = build_article(page, extracted, tags)
    story_id, duplicate_of = _stories().assign(article.id, article.text, tags, article.published_at,
                                               title=article.title)
    return article.model_copy(update={"story_id": story_id, "duplicate_of": duplicate_of,
                                      "feed_url": None})


def _decode(raw: bytes) -> str:
    """BOM, then <meta charset>, then detection: what a browser would do with a local file."""
    return str(html_to_unicode(None, raw)[1])
