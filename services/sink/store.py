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
from typing import Protocol

from services.common.messages import Article
from services.sink.upsert import WriteResult

__all__ = [
    "BadQuery",
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
