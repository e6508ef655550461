"""An Article in, the Article with its story out: what the stage, its rebuild and ``newsflow extract`` share.

The story fields of an article come from :class:`~services.stories.index.StoryIndex`, compared
by the article's :class:`~services.common.messages.StoryFeatures` (made by the extractor). Times:
an article is compared by when it was published (its fetch time when it has no date: never the
clock, so that any replica gives the same answer) and evicted by when it was fetched.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from services.common.messages import Article, StoryFeatures
from services.stories.index import FeaturesRefused, StoryIndex

UNPLACED = "unplaced"


def place_article(index: StoryIndex, article: Article, order: int | None = None) -> tuple[Article, str]:
    """``article`` with its ``story_id`` and ``duplicate_of``, and the kind of placement
    (``new_story`` | ``joined_story`` | ``duplicate``); an article without comparable features is
    returned as it is, ``unplaced``."""
    features = article.story_features
    if features is None:
        return article, UNPLACED
    try:
        placed = index.place(article.id, features, article.published_at or article.fetched_at,
                             seen_at=article.fetched_at, order=order)
    except FeaturesRefused:
        return article, UNPLACED
    return article.model_copy(update={"story_id": placed.story_id, "duplicate_of": placed.duplicate_of}), placed.kind


class PlacedArticle(BaseModel):
    """What a rebuild reads of a ``newsflow.articles`` record (the rest of the article is skipped)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    story_id: str | None = None
    duplicate_of: str | None = None
    published_at: datetime | None = None
    fetched_at: datetime
    story_features: StoryFeatures | None = None


def remember(index: StoryIndex, placed: PlacedArticle, order: int | None) -> bool:
    """Insert an article the stage placed before, with its stored story; False when it cannot
    be (no features or story, features of another format, an older record of a newer one)."""
    if placed.story_features is None or placed.story_id is None:
        return False
    try:
        return index.insert(placed.id, placed.story_features, placed.published_at or placed.fetched_at,
                            story_id=placed.story_id, duplicate_of=placed.duplicate_of,
                            seen_at=placed.fetched_at, order=order)
    except FeaturesRefused:
        return False


def placer(index: StoryIndex) -> Callable[[str, StoryFeatures, datetime | None], tuple[str | None, str | None]]:
    """A place function over ``index`` for ``newsflow tag`` (id, features, published ->
    ``(story_id, duplicate_of)``)."""

    def place(article_id: str, features: StoryFeatures, published_at: datetime | None) -> tuple[str | None, str | None]:
        placed = index.place(article_id, features, published_at)
        return placed.story_id, placed.duplicate_of

    return place
