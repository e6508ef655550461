"""``newsflow extract``: the extractor stage's processing on local HTML files, no broker.

Each file goes through the same steps as a page from Kafka (:mod:`services.extractor.pipeline`):
its bytes are decoded by the project's one HTML decoder, wrapped in a :class:`PageMessage`,
analysed and built into an :class:`Article` with its story features. Placing the files in their
stories is the story stage's (a stage does not import another): ``newsflow extract``
(``services/cli.py``) hands each article to an in-memory ``services.stories`` index, so the files
of one run are clustered together.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.common.decoding import decode_html
from services.common.messages import Article, FeedEntry, PageMessage
from services.common.urls import article_id
from services.extractor.pipeline import analyse, build_article


def file_url(path: Path) -> str:
    """The URL a local file stands for when none is given: ``http://localhost/<absolute path>``."""
    return path.resolve().as_uri().replace("file://", "http://localhost", 1)


def page_from_file(path: Path, url: str | None = None) -> PageMessage:
    """A page message for ``path`` as if the fetcher had fetched it from ``url`` just now."""
    page_url = url or file_url(path)
    return PageMessage(
        id=article_id(page_url), url=page_url, final_url=page_url, status=200,
        content_type="text/html", html=decode_html(path.read_bytes()),
        fetched_at=datetime.now(UTC), entry=FeedEntry(feed_url="", entry_id=page_url, link=page_url),
    )


def extract_file(path: Path, url: str | None) -> Article:
    """Extract and tag one HTML file exactly as the extractor stage would (no feed: ``feed_url``
    is None); the article has its story features, no story yet."""
    page = page_from_file(path, url)
    analysis = analyse(page)
    return build_article(page, analysis.extracted, analysis.tags).model_copy(update={"feed_url": None})
