"""Article storage: the interface every backend implements, and the SQLite backend.

Writes are idempotent by article id and content: a redelivered or replayed
article whose ``(content_hash, extractor_version)`` the store already holds
(as the current row or as a revision) changes nothing. A changed article
becomes a new revision; the previous version is kept in ``article_revisions``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

from services.common.messages import Article

WriteResult = Literal["inserted", "updated", "unchanged", "historical"]


class StoreError(RuntimeError):
    """Storage cannot be used as configured (bad URL, schema newer than this code...)."""


class RowRejected(ValueError):
    """One article violated a constraint; the rest of the batch goes on without it."""


@dataclass(frozen=True)
class Filters:
    """Filters shared by ``articles search``, ``articles export`` and the HTTP API."""

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


class Store(Protocol):
    def write_batch(self, articles: Sequence[Article]) -> list[WriteResult | RowRejected]: ...
    def count(self) -> int: ...
    def get(self, article_id: str) -> Article | None: ...
    def history(self, article_id: str) -> list[tuple[int, Article, str]]: ...
    def search(self, filters: Filters) -> list[Hit]: ...
    def iter_articles(self, filters: Filters) -> Iterator[Article]: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...


def open_store(url: str) -> Store:
    """Open the backend named by ``url`` (``sqlite:///path``; PostgreSQL in the sink issue)."""
    if url.startswith("sqlite:///"):
        return SqliteStore(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        from services.sink.postgres import PostgresStore  # optional backend, imported on demand

        return PostgresStore(url)
    raise StoreError(f"unsupported NEWSFLOW_SINK_URL scheme: {url.split(':', 1)[0]!r} "
                     "(use sqlite:///path or postgresql://...)")


def tag_rows(article: Article) -> list[tuple[str, str, str | None]]:
    """(kind, value, ref) rows that make an article's tags queryable."""
    rows: list[tuple[str, str, str | None]] = [("place", p.name, p.place_id) for p in article.places]
    rows += [("person", p.name, None) for p in article.people]
    rows += [("organisation", o.name, None) for o in article.organisations]
    rows += [("topic", t, None) for t in article.topics]
    rows += [("keyword", k, None) for k in article.keywords]
    return list({(k, v.lower()): (k, v, r) for k, v, r in rows}.values())


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


class SqliteStore:
    """SQLite in WAL mode: the embedded default. One writer (the sink), many readers."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    # --- schema -----------------------------------------------------------------
    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        applied = {v for (v,) in self.db.execute("SELECT version FROM schema_migrations")}
        known = _migrations("sqlite")
        newest_known = known[-1][0] if known else 0
        if applied and max(applied) > newest_known:
            raise StoreError(
                f"database {self.path} has schema version {max(applied)}, newer than this "
                f"newsflow knows ({newest_known}); upgrade newsflow instead of downgrading the data"
            )
        for version, sql in known:
            if version in applied:
                continue
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_sql(sql):
                    self.db.execute(statement)
                self.db.execute("INSERT INTO schema_migrations VALUES (?, ?)",
                                (version, datetime.now(UTC).isoformat()))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # --- writing ----------------------------------------------------------------
    def write_batch(self, articles: Sequence[Article]) -> list[WriteResult | RowRejected]:
        """Upsert ``articles`` in one transaction; a rejected row does not stop the others."""
        results: list[WriteResult | RowRejected] = []
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for article in articles:
                self.db.execute("SAVEPOINT row")
                try:
                    results.append(self._upsert(article))
                    self.db.execute("RELEASE row")
                except sqlite3.IntegrityError as exc:
                    self.db.execute("ROLLBACK TO row")
                    self.db.execute("RELEASE row")
                    results.append(RowRejected(f"article {article.id}: {exc}"))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return results

    def _upsert(self, a: Article) -> WriteResult:
        row = self.db.execute(
            "SELECT content_hash, extractor_version, fetched_at, revision, doc FROM articles WHERE id = ?",
            (a.id,),
        ).fetchone()
        if row is None:
            self._insert(a, revision=1)
            return "inserted"
        cur_hash, cur_version, cur_fetched, revision, cur_doc = row
        if (cur_hash, cur_version) == (a.content_hash, a.extractor_version) or self._seen_revision(a):
            return "unchanged"
        now = datetime.now(UTC).isoformat()
        if a.extractor_version == cur_version and (_iso(a.fetched_at) or "") < cur_fetched:
            # An older fetch arriving late: keep it in the history, not as the current text.
            self._add_revision(a.id, self._next_revision(a.id), a, now)
            return "historical"
        self.db.execute(
            "INSERT INTO article_revisions VALUES (?, ?, ?, ?, ?, ?, ?)",
            (a.id, revision, cur_hash, cur_version, cur_fetched, now, cur_doc),
        )
        self.db.execute("DELETE FROM article_tags WHERE article_id = ?", (a.id,))
        self.db.execute("DELETE FROM articles WHERE id = ?", (a.id,))
        self._insert(a, revision=self._next_revision(a.id))
        return "updated"

    def _seen_revision(self, a: Article) -> bool:
        return self.db.execute(
            "SELECT 1 FROM article_revisions WHERE article_id = ? AND content_hash = ? "
            "AND extractor_version = ?", (a.id, a.content_hash, a.extractor_version),
        ).fetchone() is not None

    def _next_revision(self, article_id: str) -> int:
        (n,) = self.db.execute(
            "SELECT COALESCE(MAX(revision), 0) FROM article_revisions WHERE article_id = ?", (article_id,)
        ).fetchone()
        return int(n) + 1

    def _add_revision(self, article_id: str, revision: int, a: Article, now: str) -> None:
        self.db.execute(
            "INSERT INTO article_revisions VALUES (?, ?, ?, ?, ?, ?, ?)",
            (article_id, revision, a.content_hash, a.extractor_version, _iso(a.fetched_at), now,
             a.model_dump_json()),
        )

    def _insert(self, a: Article, revision: int) -> None:
        self.db.execute(
            "INSERT INTO articles (id, url, canonical_url, source, feed_url, title, authors, "
            "published_at, updated_at, language, text, summary, access, story_id, duplicate_of, "
            "extractor_version, content_hash, fetched_at, first_seen_at, stored_at, revision, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (a.id, a.url, a.canonical_url, a.source, a.feed_url, a.title, json.dumps(a.authors),
             _iso(a.published_at), _iso(a.updated_at), a.language, a.text, a.summary, a.access,
             a.story_id, a.duplicate_of, a.extractor_version, a.content_hash, _iso(a.fetched_at),
             _iso(a.first_seen_at), datetime.now(UTC).isoformat(), revision, a.model_dump_json()),
        )
        self.db.executemany(
            "INSERT INTO article_tags (article_id, kind, value, ref) VALUES (?, ?, ?, ?)",
            [(a.id, kind, value, ref) for kind, value, ref in tag_rows(a)],
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
        sql += " LIMIT ? OFFSET ?"
        try:
            rows = self.db.execute(sql, [*params, filters.limit, filters.offset]).fetchall()
        except sqlite3.OperationalError:
            if not filters.query:
                raise
            # Not valid FTS5 query syntax: search for the words as plain terms instead.
            quoted = " ".join('"' + t.replace('"', '""') + '"' for t in (filters.query or "").split())
            sql, params = self._select(filters, with_snippet=True, match=quoted)
            rows = self.db.execute(sql + " LIMIT ? OFFSET ?", [*params, filters.limit, filters.offset]).fetchall()
        return [Hit(Article.model_validate_json(doc), snippet) for doc, snippet in rows]

    def iter_articles(self, filters: Filters) -> Iterator[Article]:
        sql, params = self._select(filters, with_snippet=False)
        for doc, _ in self.db.execute(sql, params):
            yield Article.model_validate_json(doc)

    def _select(self, f: Filters, *, with_snippet: bool, match: str | None = None) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if f.query:
            sql = ("SELECT a.doc, snippet(articles_fts, 1, '[', ']', '…', 12) FROM articles_fts "
                   "JOIN articles a ON a.rowid = articles_fts.rowid")
            where.append("articles_fts MATCH ?")
            params.append(match or f.query)
            order = "ORDER BY bm25(articles_fts)"
        else:
            sql = "SELECT a.doc, NULL FROM articles a"
            order = "ORDER BY COALESCE(a.published_at, a.fetched_at) DESC, a.id"
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
        if where:
            sql += " WHERE " + " AND ".join(where)
        return f"{sql} {order}", params

    def close(self) -> None:
        self.db.close()


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
