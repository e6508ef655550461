"""Article storage: the interface every backend implements and the types it speaks in.

Writes are idempotent by article id and content: a redelivered or replayed
article whose ``(content_hash, extractor_version)`` the store already holds
(as the current row or as a revision) changes nothing. A changed article
becomes a new revision; the previous version is kept in ``article_revisions``.
The decision is made once, for every backend, in :mod:`services.sink.upsert`.

The backends: :mod:`services.sink.sqlite` and :mod:`services.sink.postgres`, both
built on the queries of :mod:`services.sink.query`; :func:`services.sink.backends.open_store`
picks one by URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from services.common.messages import Article
from services.sink.upsert import WriteResult

__all__ = [
    "MIN_ID_PREFIX",
    "AmbiguousId",
    "BadQuery",
    "IdTooShort",
    "Filters",
    "Hit",
    "QueryTimeout",
    "RowRejected",
    "Store",
    "StoreError",
    "Story",
    "StoryArticle",
    "WriteResult",
    "tag_rows",
    "write_isolating_rejects",
]


class StoreError(RuntimeError):
    """Storage cannot be used as configured (bad URL, schema newer than this code...)."""


class RowRejected(ValueError):
    """One article violated a constraint; the rest of the batch goes on without it."""


class BadQuery(ValueError):
    """The caller's query or filter cannot be run (syntax the engine rejects, over a limit of
    :mod:`services.sink.textquery`): the caller's error (HTTP 400), not a storage outage."""


class QueryTimeout(RuntimeError):
    """A read ran longer than the store's read timeout and was cancelled (or waited that long for
    a free search slot): the store is fine, the query was too expensive for now."""


MIN_ID_PREFIX = 6
"""The fewest characters an id prefix needs (a story's count after its ``story-``)."""
STORY_ID_PREFIX = "story-"


class AmbiguousId(BadQuery):
    """An id prefix more than one article (or story) starts with (HTTP 409)."""

    def __init__(self, kind: str, prefix: str, candidates: int, more: bool = False) -> None:
        self.kind, self.prefix, self.candidates = kind, prefix, candidates
        many = f"more than {candidates}" if more else str(candidates)
        kinds = "stories" if kind == "story" else f"{kind}s"
        super().__init__(f"ambiguous: {many} {kinds} start with {prefix}…, give more characters")


class IdTooShort(BadQuery):
    """An id prefix too short to look up (HTTP 400): what a typo or a guess would match."""

    def __init__(self, kind: str, prefix: str) -> None:
        self.kind, self.prefix = kind, prefix
        super().__init__(f"{kind} id {prefix!r} is too short: give at least {MIN_ID_PREFIX} characters "
                         f"of the id{' after ' + STORY_ID_PREFIX if kind == 'story' else ''} (as tables show them)")


def check_prefix(kind: str, prefix: str) -> None:
    """Refuse a prefix with fewer than :data:`MIN_ID_PREFIX` characters (:class:`IdTooShort`)."""
    significant = prefix.removeprefix(STORY_ID_PREFIX) if kind == "story" else prefix
    if len(significant) < MIN_ID_PREFIX:
        raise IdTooShort(kind, prefix)


@dataclass(frozen=True)
class Filters:
    """Filters shared by ``articles search``, ``articles export``, ``stories`` and the HTTP API."""

    query: str | None = None
    place: str | None = None
    person: str | None = None
    organisation: str | None = None
    topic: str | None = None
    story: str | None = None
    source: str | None = None
    since: datetime | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class Hit:
    article: Article
    snippet: str | None = None


@dataclass(frozen=True)
class StoryArticle:
    id: str
    title: str | None
    source: str
    url: str
    published_at: datetime | None


@dataclass(frozen=True)
class Story:
    """A story several articles cover: its articles, newest first, and the outlets behind them."""

    story_id: str
    latest_at: datetime | None
    articles: list[StoryArticle] = field(default_factory=list)

    @property
    def outlets(self) -> list[str]:
        return sorted({a.source for a in self.articles})


class Store(Protocol):
    def write_batch(self, articles: Sequence[Article]) -> list[WriteResult | RowRejected]: ...
    def count(self) -> int: ...
    def get(self, article_id: str) -> Article | None: ...
    def resolve(self, kind: Literal["article", "story"], prefix: str) -> str | None:
        """The one id ``prefix`` names (an id, or the start of one): None when none does;
        :class:`AmbiguousId` when several do, :class:`IdTooShort` when a prefix under
        :data:`MIN_ID_PREFIX` characters starts any (a whole id always works)."""
        ...
    def history(self, article_id: str) -> list[tuple[int, Article, str]]: ...
    def search(self, filters: Filters) -> list[Hit]: ...
    def iter_articles(self, filters: Filters) -> Iterator[Article]: ...
    def stories(self, filters: Filters, min_articles: int = 2) -> list[Story]: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...


def tag_rows(article: Article) -> list[tuple[str, str, str | None]]:
    """(kind, value, ref) rows that make an article's tags queryable."""
    rows: list[tuple[str, str, str | None]] = [("place", p.name, p.place_id) for p in article.places]
    rows += [("person", p.name, None) for p in article.people]
    rows += [("organisation", o.name, None) for o in article.organisations]
    rows += [("topic", t, None) for t in article.topics]
    rows += [("keyword", k, None) for k in article.keywords]
    return list({(k, v.lower()): (k, v, r) for k, v, r in rows}.values())


def write_isolating_rejects(
    articles: Sequence[Article],
    attempt: Callable[[Sequence[Article]], list[WriteResult]],
    rejected: tuple[type[BaseException], ...],
) -> list[WriteResult | RowRejected]:
    """Write the whole batch with one ``attempt``; when a row breaks a constraint, redo the
    batch one row per attempt so that only the culprit is rejected.

    ``attempt`` runs inside a savepoint of the caller's transaction and rolls it back when
    it raises, so a failed attempt leaves nothing behind.
    """
    try:
        return list(attempt(articles))
    except rejected:
        if len(articles) == 1:
            return [RowRejected(f"article {articles[0].id}: {_reason(articles[0], attempt, rejected)}")]
    results: list[WriteResult | RowRejected] = []
    for article in articles:
        try:
            results.extend(attempt([article]))
        except rejected as exc:
            results.append(RowRejected(f"article {article.id}: {exc}"))
    return results


def _reason(article: Article, attempt: Callable[[Sequence[Article]], list[WriteResult]],
            rejected: tuple[type[BaseException], ...]) -> str:
    try:
        attempt([article])
    except rejected as exc:
        return str(exc)
    return "rejected on the first attempt, accepted on the second"  # pragma: no cover - racy
