"""The PostgreSQL backend (psycopg 3): production storage with the same behaviour as SQLite.

* Same decisions: :func:`services.sink.upsert.plan_batch` decides every write, as for SQLite.
* Fast writes: one batch is one transaction of a handful of statements, whatever its size: the
  stored state of all its ids is read with ``= ANY(%s) ... FOR UPDATE``, and the new rows go in
  with ``COPY`` (articles, revisions, tags). A constraint violation makes the batch redo itself
  one row per savepoint, so that only the culprit is rejected.
* Language-aware full-text search: ``fts`` is a generated ``tsvector`` (GIN-indexed) of the title
  and the whole text (migration 0005; 0002 had cut it to the first 2,000 characters for write
  speed, so SQLite found words PostgreSQL did not), built with the text search configuration of
  the article's language when PostgreSQL has one, else ``simple``. A query has SQLite's FTS5
  syntax, rendered as a ``tsquery`` (phrases, ``word*`` prefixes, ``OR``, ``NOT``), parsed with every
  configuration in use and the parts ORed.
* Outages: a lost connection raises ``psycopg.OperationalError`` (the sink retries it with its
  input paused); the next call reconnects.
* Reads run on a pool of connections (``psycopg_pool``, up to ``readers``; each connection is
  checked before it is lent, so reads recover after an outage), never on the writer's connection,
  several at once (:class:`~services.sink.reads.ReadLanes` keeps one for lookups). With a read
  timeout each read is a transaction that starts with ``SET LOCAL statement_timeout``; a cancelled
  statement is a :class:`~services.sink.store.QueryTimeout`, not an outage.
* Each schema is its own store: put ``options=-csearch_path%3Dmyschema`` in the URL to use one
  (the tests give every test its own schema that way).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from services.common.messages import Article
from services.common.sqlite import SchemaTooNew, check_not_newer, migrations_in
from services.common.urls import redact_url
from services.sink.query import (
    ARTICLE_COLUMNS,
    REVISION_COLUMNS,
    Dialect,
    SqlReads,
    TextSearch,
    current_rows,
    load_stored,
    revision_rows,
    select_articles,
    story_rows,
)
from services.sink.reads import DEFAULT_READ_CONNECTIONS, ReadLanes
from services.sink.store import (
    Filters,
    QueryTimeout,
    RowRejected,
    StoreError,
    WriteResult,
    tag_rows,
    write_isolating_rejects,
)
from services.sink.textquery import check_filters, tsquery_text
from services.sink.upsert import Plan, plan_batch

MIGRATIONS = "services.sink.migrations.postgres"
"""Versioned SQL files, the same ``NNNN_name.sql`` scheme as the SQLite ones (:mod:`services.common.sqlite`)."""
# ISO 639-1 code -> PostgreSQL text search configuration (those PostgreSQL 15 ships).
LANGUAGE_CONFIGS = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "da": "danish", "nl": "dutch",
    "en": "english", "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "hi": "hindi",
    "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian",
    "ne": "nepali", "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sr": "serbian", "es": "spanish", "sv": "swedish", "ta": "tamil",
    "tr": "turkish", "yi": "yiddish",
}
UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError)
"""Errors that mean "the database cannot be reached right now" (the next call reconnects)."""
REJECTED = (pg_errors.IntegrityError, pg_errors.DataError)
"""Errors that blame one row (constraint, bad value such as a NUL character), not the database."""
CONNECT_TIMEOUT_SECONDS = 5

_HEADLINE = "StartSel=[, StopSel=], MaxWords=24, MinWords=8, MaxFragments=1, FragmentDelimiter=\" … \""

POSTGRES = Dialect(
    mark="%s",
    sort_at="a.sort_at",
    nocase_equals="lower({column}) = lower({mark})",
    doc="doc::text",
    arrays=True,
    bind_time=lambda value: value,
    read_time=lambda value: value,  # psycopg reads timestamptz as an aware datetime
    no_limit=None,
    lock_rows=" FOR UPDATE",
    max_list=100_000,  # one array parameter: a whole batch in one statement
    prefix_like=True,  # id and story_id have text_pattern_ops indexes (migration 0003)
)


def _conninfo_params(url: str) -> dict[str, str]:
    """libpq parameters of ``url``. A malformed URL becomes a :class:`StoreError` that shows the URL
    with its password masked: libpq's own message (and so a chained exception) would echo it."""
    userinfo = url.partition("://")[2].rpartition("@")[0]
    password = userinfo.partition(":")[2]
    if "/" in password:
        raise StoreError(f"NEWSFLOW_SINK_URL {redact_url(url)} is not a valid URL: a '/' in the password "
                         "must be written %2F (percent-encode the password)")
    try:
        return {k: str(v) for k, v in conninfo_to_dict(url).items()}
    except psycopg.ProgrammingError as exc:
        reason = str(exc).split(":", 1)[0]  # the part before libpq quotes the URI
        raise StoreError(f"NEWSFLOW_SINK_URL {redact_url(url)} is not a valid PostgreSQL URL ({reason}); "
                         "percent-encode special characters in the password") from None


class PostgresStore(SqlReads):
    """One writer connection (reconnected after an outage; writes are serialised) and a pool of
    read connections; safe to share between threads."""

    dialect = POSTGRES

    def __init__(self, url: str, *, readers: int = DEFAULT_READ_CONNECTIONS, read_timeout: float | None = None) -> None:
        params = _conninfo_params(url)
        params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_SECONDS))
        params.setdefault("application_name", "newsflow-sink")
        self._conninfo = make_conninfo("", **params)
        self._address = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"
        self._lock = threading.RLock()
        self._db: psycopg.Connection[Any] | None = None
        self._configs: dict[str, str] = {}
        self.lanes = ReadLanes(readers, read_timeout)
        self._readers, self._read_timeout = readers, read_timeout
        self._pool: ConnectionPool[Any] | None = None
        self._pool_lock = threading.Lock()
        password = params.get("password") or ""
        try:
            self._connect()
        except psycopg.OperationalError as exc:
            reason = str(exc).replace(password, "***") if password else str(exc)
            raise StoreError(f"cannot connect to PostgreSQL at {self._address}: {reason}") from None

    # --- connection and schema ---------------------------------------------------
    def _connect(self) -> psycopg.Connection[Any]:
        """The live connection; reconnects (and re-checks the schema) after an outage."""
        if self._db is not None and not self._db.closed and not self._db.broken:
            return self._db
        if self._db is not None:
            self._db.close()
        self._db = psycopg.connect(self._conninfo, autocommit=True)
        self._migrate(self._db)
        available = {name for (name,) in self._db.execute("SELECT cfgname::text FROM pg_ts_config")}
        self._configs = {code: cfg for code, cfg in LANGUAGE_CONFIGS.items() if cfg in available}
        return self._db

    def _migrate(self, db: psycopg.Connection[Any]) -> None:
        """Apply the versioned SQL files not yet applied, under a lock (several processes may start)."""
        known = migrations_in(MIGRATIONS)
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(hashtext('newsflow-migrations:' || current_schema()))")
            db.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                       "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL)")
            applied = {int(v) for (v,) in db.execute("SELECT version FROM schema_migrations")}
            try:
                check_not_newer(self._address, max(applied, default=0), known)
            except SchemaTooNew as exc:
                raise StoreError(str(exc)) from exc
            for migration in known:
                if migration.version not in applied:
                    db.execute(migration.sql.encode())  # several statements, no parameters
                    db.execute("INSERT INTO schema_migrations VALUES (%s, now())", (migration.version,))

    def schema_version(self) -> int:
        return int(self._rows("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", ())[0][0])

    def fts_config(self, language: str | None) -> str:
        """The text search configuration of a language code ('en', 'pt-BR'...), else 'simple'."""
        code = (language or "").split("-", 1)[0].split("_", 1)[0].lower()
        return self._configs.get(code, "simple")

    # --- writing ----------------------------------------------------------------
    def write_batch(self, articles: Sequence[Article]) -> list[WriteResult | RowRejected]:
        """Upsert ``articles`` in one transaction; a rejected row does not stop the others."""
        with self._lock:
            db = self._connect()
            with db.transaction():
                return write_isolating_rejects(articles, lambda batch: self._attempt(db, batch), REJECTED)

    def _attempt(self, db: psycopg.Connection[Any], articles: Sequence[Article]) -> list[WriteResult]:
        def rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
            return db.execute(sql.encode(), params).fetchall()

        with db.transaction():  # a savepoint: a rejected attempt leaves nothing behind
            plan = plan_batch(articles, load_stored(rows, POSTGRES, {a.id for a in articles}), datetime.now(UTC))
            self._apply(db, plan)
        return plan.results

    def _apply(self, db: psycopg.Connection[Any], plan: Plan) -> None:
        now = datetime.now(UTC)
        with db.cursor() as cur:
            if plan.replaced:
                cur.execute("DELETE FROM article_tags WHERE article_id = ANY(%s)", (sorted(plan.replaced),))
                cur.execute("DELETE FROM articles WHERE id = ANY(%s)", (sorted(plan.replaced),))
            if plan.revisions:
                with cur.copy(f"COPY article_revisions ({REVISION_COLUMNS}) FROM STDIN".encode()) as copy:
                    for row in revision_rows(POSTGRES, plan):
                        copy.write_row(row)
            if plan.in_place:  # a story change: fts is not computed again (it depends on none of these)
                # binary arrays (%b): as text, psycopg would escape every JSON document in Python (~0.28 ms each)
                cur.execute("UPDATE articles a SET story_id = s.story_id, duplicate_of = s.duplicate_of, "
                            "doc = s.doc::jsonb FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[]) "
                            "AS s (story_id, duplicate_of, doc, id) WHERE a.id = s.id",
                            [list(column) for column in zip(*story_rows(plan), strict=True)])
            if len(plan.current) == len(plan.in_place):
                return
            with cur.copy(f"COPY articles ({ARTICLE_COLUMNS}, fts_config) FROM STDIN".encode()) as copy:
                for a, row in current_rows(POSTGRES, plan, now):
                    copy.write_row((*row, self.fts_config(a.language)))
            with cur.copy("COPY article_tags (article_id, kind, value, ref) FROM STDIN") as copy:
                for aid, (a, _) in plan.current.items():
                    if aid in plan.in_place:
                        continue
                    for kind, value, ref in tag_rows(a):
                        copy.write_row((a.id, kind, value, ref))

    # --- reading ------------------------------------------------------------------
    def _read_pool(self) -> ConnectionPool[Any]:
        """The read connections, opened on the first read (a writer that never reads holds none)."""
        if self._pool is not None:
            return self._pool
        with self._pool_lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self._conninfo, min_size=1, max_size=self._readers, kwargs={"autocommit": True},
                    check=ConnectionPool.check_connection, timeout=CONNECT_TIMEOUT_SECONDS,
                    name="newsflow-reads", open=True)
            return self._pool

    def _rows(self, sql: str, params: Sequence[Any], *, scan: bool = False) -> list[tuple[Any, ...]]:
        with self.lanes.lane(scan), self._read_pool().connection() as db:
            if self._read_timeout is None:
                rows: list[tuple[Any, ...]] = db.execute(sql.encode(), params).fetchall()
                return rows
            try:
                with db.transaction():
                    db.execute("SELECT set_config('statement_timeout', %s, true)",
                               (f"{round(self._read_timeout * 1000)}ms",))
                    rows = db.execute(sql.encode(), params).fetchall()
                    return rows
            except pg_errors.QueryCanceled:
                raise QueryTimeout(f"query cancelled after {self._read_timeout:g} s") from None

    def _ranked_match(self, query: str) -> TextSearch:
        """Parsed with every text search configuration in use, the parts ORed (``q.query``); the
        query's FTS5 syntax becomes tsquery syntax first (:func:`~services.sink.textquery.tsquery_text`)."""
        return TextSearch(
            # the index finds the articles matching the query in any language in use; the second test
            # keeps those matching it in their own language (else `a NOT b` parsed in German would keep
            # an English article that has b: German stems b differently)
            "a.fts @@ q.query AND a.fts @@ to_tsquery(a.fts_config, %s)",
            (tsquery_text(query), sorted({"simple", *self._configs.values()}), tsquery_text(query)),
            tables="articles a, q",
            with_q=("WITH q AS (SELECT newsflow_tsquery_any(to_tsquery(c, %s)) AS query "
                    "FROM unnest(%s::regconfig[]) AS c)"),
            snippet=f"ts_headline(a.fts_config, a.text, q.query, '{_HEADLINE}')",
            order="ts_rank_cd(a.fts, q.query) DESC, a.sort_at DESC, a.id",
        )

    def _match(self, query: str) -> TextSearch:
        return self._ranked_match(query)

    def iter_articles(self, filters: Filters) -> Iterator[Article]:
        """Streams with a server-side cursor: an export of the whole table stays small in memory
        (filters checked now, rows read as the caller iterates)."""
        return self._iter_articles(self._resolved(check_filters(filters)))

    def _iter_articles(self, filters: Filters) -> Iterator[Article]:
        sql, params = select_articles(POSTGRES, filters, self._text(filters), snippet=False)
        with self.lanes.lane(scan=True), self._read_pool().connection() as db:  # no timeout: an export is long
            with db.transaction(), db.cursor(name="newsflow_export") as cur:
                cur.itersize = 500
                cur.execute(sql.encode(), params)
                for doc, _ in cur:
                    yield Article.model_validate_json(doc)

    def close(self) -> None:
        with self._lock, self._pool_lock:
            if self._pool is not None:
                self._pool.close()
            if self._db is not None:
                self._db.close()
