"""Article storage: the interface every backend implements, and the SQLite backend.

Writes are idempotent by article id and content: a redelivered or replayed
article whose ``(content_hash, extractor_version)`` the store already holds
(as the current row or as a revision) changes nothing. A changed article
becomes a new revision; the previous version is kept in ``article_revisions``.
The decision is made once, for every backend, in :mod:`services.sink.upsert`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from services.common.messages import Article
from services.sink.upsert import Plan, Stored, WriteResult, plan_batch

__all__ = [
    "Filters",
    "Hit",
    "RowRejected",
    "SqliteStore",
    "Store",
    "StoreError",
    "Story",
    "StoryArticle",
    "WriteResult",
    "open_store",
    "tag_rows",
    "unavailable_errors",
]


class StoreError(RuntimeError):
    """Storage cannot be used as configured (bad URL, schema newer than this code...)."""


class RowRejected(ValueError):
    """One article violated a constraint; the rest of the batch goes on without it."""


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


def open_store(url: str) -> Store:
    """Open the backend named by ``url``: ``sqlite:///path`` or ``postgresql://...``."""
    if url.startswith("sqlite:///"):
        return SqliteStore(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        from services.sink.postgres import PostgresStore  # optional backend, imported on demand

        return PostgresStore(url)
    raise StoreError(f"unsupported NEWSFLOW_SINK_URL scheme: {url.split(':', 1)[0]!r} "
                     "(use sqlite:///path or postgresql://...)")


def unavailable_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean "the database cannot be reached right now": retry later, do not reject the data."""
    errors: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite-only installs still work
        return errors
    return (*errors, psycopg.OperationalError, psycopg.InterfaceError)


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


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _migrations(backend: str) -> list[tuple[int, str]]:
    """Versioned SQL files ``NNNN_name.sql`` of a backend, in order."""
    folder = resources.files("services.sink.migrations").joinpath(backend)
    found = []
    for item in folder.iterdir():
        if item.name.endswith(".sql"):
            found.append((int(item.name.split("_", 1)[0]), item.read_text(encoding="utf-8")))
    return sorted(found)


def newer_schema_error(where: str, found: int, known: list[tuple[int, str]]) -> StoreError | None:
    """The error for a database whose schema is newer than this code, or None."""
    newest_known = known[-1][0] if known else 0
    if found <= newest_known:
        return None
    return StoreError(f"database {where} has schema version {found}, newer than this newsflow knows "
                      f"({newest_known}); upgrade newsflow instead of downgrading the data")


class SqliteStore:
    """SQLite in WAL mode: the embedded default. One writer (the sink), many readers."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL, not NORMAL: in WAL mode NORMAL may roll back a committed transaction after a power
        # loss, and the sink commits offsets right after the transaction: the rows must be on disk.
        # Batching makes it cheap (one fsync per batch).
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    # --- schema -----------------------------------------------------------------
    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        applied = {v for (v,) in self.db.execute("SELECT version FROM schema_migrations")}
        known = _migrations("sqlite")
        if applied and (error := newer_schema_error(str(self.path), max(applied), known)):
            raise error
        for version, sql in known:
            if version in applied:
                continue
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if self.db.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                    self.db.execute("ROLLBACK")  # another process applied it meanwhile
                    continue
                for statement in _split_sql(sql):
                    self.db.execute(statement)
                self.db.execute("INSERT INTO schema_migrations VALUES (?, ?)",
                                (version, datetime.now(UTC).isoformat()))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def schema_version(self) -> int:
        (v,) = self.db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        return int(v)

    # --- writing ----------------------------------------------------------------
    def write_batch(self, articles: Sequence[Article]) -> list[WriteResult | RowRejected]:
        """Upsert ``articles`` in one transaction; a rejected row does not stop the others."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            results = write_isolating_rejects(articles, self._attempt, (sqlite3.IntegrityError,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return results

    def _attempt(self, articles: Sequence[Article]) -> list[WriteResult]:
        self.db.execute("SAVEPOINT batch")
        try:
            plan = plan_batch(articles, self._load({a.id for a in articles}), datetime.now(UTC))
            self._apply(plan)
        except BaseException:
            self.db.execute("ROLLBACK TO batch")
            self.db.execute("RELEASE batch")
            raise
        self.db.execute("RELEASE batch")
        return plan.results

    def _load(self, ids: set[str]) -> dict[str, Stored]:
        """The stored state of ``ids`` (absent ids are new)."""
        stored: dict[str, Stored] = {}
        for chunk in _chunks(sorted(ids), 500):
            marks = ",".join("?" * len(chunk))
            for aid, chash, version, fetched, revision, doc in self.db.execute(
                "SELECT id, content_hash, extractor_version, fetched_at, revision, doc FROM articles "
                f"WHERE id IN ({marks})", chunk,
            ):
                stored[aid] = Stored(chash, version, datetime.fromisoformat(fetched), int(revision), doc)
            for aid, chash, version, revision in self.db.execute(
                "SELECT article_id, content_hash, extractor_version, revision FROM article_revisions "
                f"WHERE article_id IN ({marks})", chunk,
            ):
                if aid in stored:
                    stored[aid].seen.add((chash, version))
                    stored[aid].max_revision = max(stored[aid].max_revision, int(revision))
        return stored

    def _apply(self, plan: Plan) -> None:
        now = datetime.now(UTC).isoformat()
        for chunk in _chunks(sorted(plan.replaced), 500):
            marks = ",".join("?" * len(chunk))
            self.db.execute(f"DELETE FROM articles WHERE id IN ({marks})", chunk)
        self.db.executemany(
            "INSERT INTO article_revisions VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(r.article_id, r.revision, r.content_hash, r.extractor_version, _iso(r.fetched_at),
              _iso(r.replaced_at), r.doc) for r in plan.revisions],
        )
        self.db.executemany(
            "INSERT INTO articles (id, url, canonical_url, source, feed_url, title, authors, "
            "published_at, updated_at, language, text, summary, access, story_id, duplicate_of, "
            "extractor_version, content_hash, fetched_at, first_seen_at, stored_at, revision, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(a.id, a.url, a.canonical_url, a.source, a.feed_url, a.title, json.dumps(a.authors),
              _iso(a.published_at), _iso(a.updated_at), a.language, a.text, a.summary, a.access,
              a.story_id, a.duplicate_of, a.extractor_version, a.content_hash, _iso(a.fetched_at),
              _iso(a.first_seen_at), now, revision, a.model_dump_json())
             for a, revision in plan.current.values()],
        )
        self.db.executemany(
            "INSERT INTO article_tags (article_id, kind, value, ref) VALUES (?, ?, ?, ?)",
            [(a.id, kind, value, ref) for a, _ in plan.current.values() for kind, value, ref in tag_rows(a)],
        )

    # --- reading ------------------------------------------------------------------
    def ping(self) -> None:
        self.db.execute("SELECT 1").fetchone()

    def count(self) -> int:
        (n,) = self.db.execute("SELECT COUNT(*) FROM articles").fetchone()
        return int(n)

    def get(self, article_id: str) -> Article | None:
        row = self.db.execute("SELECT doc FROM articles WHERE id = ?", (article_id,)).fetchone()
        return Article.model_validate_json(row[0]) if row else None

    def history(self, article_id: str) -> list[tuple[int, Article, str]]:
        """Every kept version, oldest first: (revision, article, when it was replaced or stored)."""
        rows = self.db.execute(
            "SELECT revision, doc, replaced_at FROM article_revisions WHERE article_id = ? "
            "UNION ALL SELECT revision, doc, stored_at FROM articles WHERE id = ? ORDER BY 1",
            (article_id, article_id),
        ).fetchall()
        return [(int(r), Article.model_validate_json(d), str(t)) for r, d, t in rows]

    def search(self, filters: Filters) -> list[Hit]:
        sql, params = self._select(filters, with_snippet=bool(filters.query))
        try:
            rows = self.db.execute(sql + " LIMIT ? OFFSET ?", [*params, filters.limit, filters.offset]).fetchall()
        except sqlite3.OperationalError:
            if not filters.query:
                raise
            sql, params = self._select(filters, with_snippet=True, match=_plain_terms(filters.query))
            rows = self.db.execute(sql + " LIMIT ? OFFSET ?", [*params, filters.limit, filters.offset]).fetchall()
        return [Hit(Article.model_validate_json(doc), snippet) for doc, snippet in rows]

    def iter_articles(self, filters: Filters) -> Iterator[Article]:
        sql, params = self._select(filters, with_snippet=False)
        for doc, _ in self.db.execute(sql + " LIMIT ? OFFSET ?", [*params, filters.limit, filters.offset]):
            yield Article.model_validate_json(doc)

    def stories(self, filters: Filters, min_articles: int = 2) -> list[Story]:
        """Recent stories with at least ``min_articles`` articles, one of which matches ``filters``."""
        where, params = self._where(filters, match=_plain_terms(filters.query) if filters.query else None)
        where.append("a.story_id IS NOT NULL")
        rows = self.db.execute(
            "SELECT a.story_id, MAX(COALESCE(a.published_at, a.fetched_at)) AS latest FROM articles a "
            f"WHERE {' AND '.join(where)} GROUP BY a.story_id "
            "HAVING (SELECT COUNT(*) FROM articles b WHERE b.story_id = a.story_id) >= ? "
            "ORDER BY latest DESC, a.story_id LIMIT ? OFFSET ?",
            [*params, min_articles, filters.limit, filters.offset],
        ).fetchall()
        found = [Story(sid, datetime.fromisoformat(latest) if latest else None) for sid, latest in rows]
        for story in found:
            for aid, title, source, url, published in self.db.execute(
                "SELECT id, title, source, url, published_at FROM articles WHERE story_id = ? "
                "ORDER BY COALESCE(published_at, fetched_at) DESC, id", (story.story_id,),
            ):
                story.articles.append(StoryArticle(aid, title, source, url,
                                                   datetime.fromisoformat(published) if published else None))
        return found

    def _select(self, f: Filters, *, with_snippet: bool, match: str | None = None) -> tuple[str, list[Any]]:
        if f.query:
            sql = ("SELECT a.doc, snippet(articles_fts, 1, '[', ']', '…', 12) FROM articles_fts "
                   "JOIN articles a ON a.rowid = articles_fts.rowid")
            where, params = ["articles_fts MATCH ?"], [match or f.query]
            order = "ORDER BY bm25(articles_fts)"
        else:
            sql, where, params = "SELECT a.doc, NULL FROM articles a", [], []
            order = "ORDER BY COALESCE(a.published_at, a.fetched_at) DESC, a.id"
        more, more_params = self._where(f, match=None)
        where += more
        params += more_params
        if where:
            sql += " WHERE " + " AND ".join(where)
        return f"{sql} {order}", params

    @staticmethod
    def _where(f: Filters, match: str | None) -> tuple[list[str], list[Any]]:
        """Filter clauses on ``articles a`` (``match``: an FTS5 query the article must match)."""
        where: list[str] = []
        params: list[Any] = []
        if match:
            where.append("a.rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)")
            params.append(match)
        for kind, value in (("place", f.place), ("person", f.person),
                            ("organisation", f.organisation), ("topic", f.topic)):
            if value:
                where.append("EXISTS (SELECT 1 FROM article_tags t WHERE t.article_id = a.id "
                             "AND t.kind = ? AND (t.value = ? COLLATE NOCASE OR t.ref = ?))")
                params += [kind, value, value]
        if f.story:
            where.append("a.story_id = ?")
            params.append(f.story)
        if f.source:
            where.append("a.source = ? COLLATE NOCASE")
            params.append(f.source)
        if f.since:
            where.append("COALESCE(a.published_at, a.fetched_at) >= ?")
            params.append(_iso(f.since))
        return where, params

    def close(self) -> None:
        self.db.close()


def _plain_terms(query: str) -> str:
    """A query that is not valid FTS5 syntax, as plain quoted terms."""
    return " ".join('"' + t.replace('"', '""') + '"' for t in query.split())


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _split_sql(script: str) -> list[str]:
    """Statements of a migration file (``sqlite3.complete_statement`` knows about triggers)."""
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        if not buf and line.lstrip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements
