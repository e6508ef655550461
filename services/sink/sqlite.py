"""The SQLite backend: the embedded default (WAL mode; one writer, the sink, and many readers).

Its schema is the versioned files of ``services/sink/migrations/sqlite``, applied by the one
SQLite migration runner (:mod:`services.common.sqlite`). Full-text search is FTS5 over the title
and the whole text; a query that passes :mod:`services.sink.textquery` but is still not valid FTS5
syntax (``Kharkiv)``, ``x:y``) is searched as plain terms, and if even that fails it is a
:class:`~services.sink.store.BadQuery`.

Reads run on their own connections (:class:`Readers`, ``query_only``; in WAL mode they neither
wait for the writer nor block it), one statement per borrowed connection, so several run at once
(the sqlite3 module releases the GIL while SQLite works). With a read timeout, a progress handler
aborts a statement past its deadline (:class:`~services.sink.store.QueryTimeout`).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.common import sqlite as migrations
from services.common.messages import Article
from services.sink.query import (
    ARTICLE_COLUMNS,
    REVISION_COLUMNS,
    Dialect,
    SqlReads,
    TextSearch,
    chunks,
    current_rows,
    load_stored,
    revision_rows,
    select_articles,
    story_rows,
)
from services.sink.reads import DEFAULT_READ_CONNECTIONS, ReadLanes
from services.sink.store import (
    BadQuery,
    Filters,
    Hit,
    QueryTimeout,
    RowRejected,
    StoreError,
    WriteResult,
    tag_rows,
    write_isolating_rejects,
)
from services.sink.textquery import check_filters
from services.sink.upsert import Plan, plan_batch

MIGRATIONS = "services.sink.migrations.sqlite"
UNAVAILABLE = (sqlite3.OperationalError,)
"""Errors that mean "the database cannot be used right now" (locked, disk I/O...)."""
REJECTED = (sqlite3.IntegrityError,)
"""Errors that blame one row (constraint, NUL character: see migration 0002)."""
PROGRESS_OPS = 1000
"""Virtual machine instructions between two looks at a read's deadline (FTS5 work inside one
instruction is not counted: the query limits of :mod:`services.sink.textquery` bound it)."""
_FTS_SYNTAX = ("fts5:", "no such column", "unknown special query", "unterminated string")
"""How SQLite's messages for a MATCH expression it cannot parse begin."""


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


class Readers:
    """Up to ``size`` read-only connections to one database file, lent one statement at a time."""

    def __init__(self, path: Path, size: int, timeout: float | None) -> None:
        self.path, self.size, self.timeout = path, size, timeout
        self._free: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        db = self._take()
        try:
            yield db
        finally:
            self._free.put(db)

    def _take(self) -> sqlite3.Connection:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._all) < self.size:
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA query_only=ON")
                self._all.append(db)
                return db
        return self._free.get()

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run one statement on a free connection, cancelled past the read timeout."""
        with self.connection() as db:
            if self.timeout is None:
                return db.execute(sql, params).fetchall()
            deadline = time.monotonic() + self.timeout
            db.set_progress_handler(_past(deadline), PROGRESS_OPS)
            try:
                return db.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                if str(exc) == "interrupted" and time.monotonic() >= deadline:
                    raise QueryTimeout(f"query cancelled after {self.timeout:g} s") from None
                raise
            finally:
                db.set_progress_handler(None, 0)

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                db.close()
            self._all.clear()


def _past(deadline: float) -> Callable[[], int]:
    return lambda: int(time.monotonic() >= deadline)


class SqliteStore(SqlReads):
    """SQLite in WAL mode: the embedded default. One writer (the sink), many readers."""

    dialect = SQLITE

    def __init__(self, path: Path, *, readers: int = DEFAULT_READ_CONNECTIONS,
                 read_timeout: float | None = None) -> None:
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
        self.lanes = ReadLanes(readers, read_timeout)
        self.readers = Readers(path, readers, read_timeout)

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
            plan = plan_batch(articles, load_stored(self._write_rows, SQLITE, {a.id for a in articles}),
                              datetime.now(UTC))
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
        self.db.executemany(f"INSERT INTO article_revisions ({REVISION_COLUMNS}) "
                            f"VALUES ({SQLITE.marks(REVISION_COLUMNS.count(',') + 1)})", revision_rows(SQLITE, plan))
        marks = SQLITE.marks(ARTICLE_COLUMNS.count(",") + 1)
        self.db.executemany(
            f"INSERT INTO articles ({ARTICLE_COLUMNS}) VALUES ({marks})",
            [row for _, row in current_rows(SQLITE, plan, now)],
        )
        self.db.executemany(
            "INSERT INTO article_tags (article_id, kind, value, ref) VALUES (?, ?, ?, ?)",
            [(a.id, kind, value, ref) for aid, (a, _) in plan.current.items() if aid not in plan.in_place
             for kind, value, ref in tag_rows(a)],
        )
        # a story change: the row stays (the FTS5 triggers fire only on a change of title or text)
        self.db.executemany("UPDATE articles SET story_id = ?, duplicate_of = ?, doc = ? WHERE id = ?",
                            story_rows(plan))

    def _write_rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows read by the writer, inside its transaction."""
        return self.db.execute(sql, params).fetchall()

    # --- reading ------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any], *, scan: bool = False) -> list[tuple[Any, ...]]:
        with self.lanes.lane(scan):
            return self.readers.rows(sql, params)

    def _ranked_match(self, query: str) -> TextSearch:
        return TextSearch("articles_fts MATCH ?", (query,),
                          tables="articles_fts JOIN articles a ON a.rowid = articles_fts.rowid",
                          snippet="snippet(articles_fts, 1, '[', ']', '…', 12)", order="bm25(articles_fts)")

    def _match(self, query: str) -> TextSearch:
        return TextSearch("a.rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)", (_plain_terms(query),))

    def search(self, filters: Filters) -> list[Hit]:
        """Full-text search with FTS5 syntax (``"exact phrase"``, ``term*``, ``OR``); else as plain terms."""
        check_filters(filters)
        try:
            return super().search(filters)
        except sqlite3.OperationalError as exc:
            if not filters.query or not _fts_syntax(exc):
                raise
        try:
            return super().search(replace(filters, query=_plain_terms(filters.query)))
        except sqlite3.OperationalError as exc:
            if _fts_syntax(exc):
                raise BadQuery(f"q is not a valid search ({exc})") from None
            raise

    def iter_articles(self, filters: Filters) -> Iterator[Article]:
        """Every matching article (filters checked now, rows read as the caller iterates)."""
        return self._iter_articles(self._resolved(check_filters(filters)))

    def _iter_articles(self, filters: Filters) -> Iterator[Article]:
        try:
            rows = self.db.execute(*select_articles(SQLITE, filters, self._text(filters), snippet=False))
        except sqlite3.OperationalError as exc:  # as search() does: not FTS5 syntax -> plain terms
            if not filters.query or not _fts_syntax(exc):
                raise
            plain = replace(filters, query=_plain_terms(filters.query))
            rows = self.db.execute(*select_articles(SQLITE, plain, self._text(plain), snippet=False))
        for doc, _ in rows:
            yield Article.model_validate_json(doc)

    def close(self) -> None:
        self.readers.close()
        self.db.close()


def _fts_syntax(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite rejected the MATCH expression (not the database: locked, I/O, interrupted)."""
    return str(exc).startswith(_FTS_SYNTAX)


def _plain_terms(query: str) -> str:
    """A query that is not valid FTS5 syntax, as plain quoted terms."""
    return " ".join('"' + t.replace('"', '""') + '"' for t in query.split())
