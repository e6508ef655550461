"""The SQLite backend: the embedded default (WAL mode; one writer, the sink, and many readers).

Its schema is the versioned files of ``services/sink/migrations/sqlite``, applied by the one
SQLite migration runner (:mod:`services.common.sqlite`). Full-text search is FTS5 over the title
and the whole text; a query that is not valid FTS5 syntax is searched as plain terms.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.common import sqlite as migrations
from services.common.messages import Article
from services.sink.query import (
    ARTICLE_COLUMNS,
    Dialect,
    SqlReads,
    TextSearch,
    article_row,
    chunks,
    load_stored,
    revision_rows,
    select_articles,
)
from services.sink.store import Filters, Hit, RowRejected, StoreError, WriteResult, tag_rows, write_isolating_rejects
from services.sink.upsert import Plan, plan_batch

MIGRATIONS = "services.sink.migrations.sqlite"
UNAVAILABLE = (sqlite3.OperationalError,)
"""Errors that mean "the database cannot be used right now" (locked, disk I/O...)."""
REJECTED = (sqlite3.IntegrityError,)
"""Errors that blame one row (constraint, NUL character: see migration 0002)."""


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


SQLITE = Dialect(
    mark="?",
    sort_at="COALESCE(a.published_at, a.fetched_at)",
    nocase_equals="{column} = {mark} COLLATE NOCASE",
    doc="doc",
    arrays=False,
    bind_time=_iso,
    read_time=datetime.fromisoformat,
    no_limit=-1,
)


class SqliteStore(SqlReads):
    """SQLite in WAL mode: the embedded default. One writer (the sink), many readers."""

    dialect = SQLITE

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
        try:
            migrations.migrate(self.db, MIGRATIONS, where=str(path))
        except migrations.SchemaTooNew as exc:
            raise StoreError(str(exc)) from exc

    def schema_version(self) -> int:
        return migrations.schema_version(self.db)

    # --- writing ----------------------------------------------------------------
    def write_batch(self, articles: Sequence[Article]) -> list[WriteResult | RowRejected]:
        """Upsert ``articles`` in one transaction; a rejected row does not stop the others."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            results = write_isolating_rejects(articles, self._attempt, REJECTED)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return results

    def _attempt(self, articles: Sequence[Article]) -> list[WriteResult]:
        self.db.execute("SAVEPOINT batch")
        try:
            plan = plan_batch(articles, load_stored(self._rows, SQLITE, {a.id for a in articles}), datetime.now(UTC))
            self._apply(plan)
        except BaseException:
            self.db.execute("ROLLBACK TO batch")
            self.db.execute("RELEASE batch")
            raise
        self.db.execute("RELEASE batch")
        return plan.results

    def _apply(self, plan: Plan) -> None:
        now = datetime.now(UTC)
        for part in chunks(sorted(plan.replaced), SQLITE.max_list):
            clause, ids = SQLITE.one_of("id", part)
            self.db.execute(f"DELETE FROM articles WHERE {clause}", ids)  # their tags go with them (foreign key)
        self.db.executemany("INSERT INTO article_revisions VALUES (?, ?, ?, ?, ?, ?, ?)", revision_rows(SQLITE, plan))
        marks = SQLITE.marks(ARTICLE_COLUMNS.count(",") + 1)
        self.db.executemany(
            f"INSERT INTO articles ({ARTICLE_COLUMNS}) VALUES ({marks})",
            [article_row(SQLITE, a, revision, now) for a, revision in plan.current.values()],
        )
        self.db.executemany(
            "INSERT INTO article_tags (article_id, kind, value, ref) VALUES (?, ?, ?, ?)",
            [(a.id, kind, value, ref) for a, _ in plan.current.values() for kind, value, ref in tag_rows(a)],
        )

    # --- reading ------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, params).fetchall()

    def _ranked_match(self, query: str) -> TextSearch:
        return TextSearch("articles_fts MATCH ?", (query,),
                          tables="articles_fts JOIN articles a ON a.rowid = articles_fts.rowid",
                          snippet="snippet(articles_fts, 1, '[', ']', '…', 12)", order="bm25(articles_fts)")

    def _match(self, query: str) -> TextSearch:
        return TextSearch("a.rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)", (_plain_terms(query),))

    def search(self, filters: Filters) -> list[Hit]:
        """Full-text search with FTS5 syntax (``"exact phrase"``, ``term*``, ``OR``); else as plain terms."""
        try:
            return super().search(filters)
        except sqlite3.OperationalError:
            if not filters.query:
                raise
            return super().search(replace(filters, query=_plain_terms(filters.query)))

    def iter_articles(self, filters: Filters) -> Iterator[Article]:
        for doc, _ in self.db.execute(*select_articles(SQLITE, filters, self._text(filters), snippet=False)):
            yield Article.model_validate_json(doc)

    def close(self) -> None:
        self.db.close()


def _plain_terms(query: str) -> str:
    """A query that is not valid FTS5 syntax, as plain quoted terms."""
    return " ".join('"' + t.replace('"', '""') + '"' for t in query.split())
