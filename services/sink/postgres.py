"""The PostgreSQL backend (psycopg 3): production storage with the same behaviour as SQLite.

* Same decisions: :func:`services.sink.upsert.plan_batch` decides every write, as for SQLite.
* Fast writes: one batch is one transaction of a handful of statements, whatever its size: the
  stored state of all its ids is read with ``= ANY(%s) ... FOR UPDATE``, and the new rows go in
  with ``COPY`` (articles, revisions, tags). A constraint violation makes the batch redo itself
  one row per savepoint, so that only the culprit is rejected.
* Language-aware full-text search: ``fts`` is a generated ``tsvector`` (GIN-indexed) of the title
  and the first 2,000 characters of the text (migration 0002: the whole text capped writes near
  1,000 articles/s), built with the text search configuration of the article's language when
  PostgreSQL has one, else ``simple``. A query is parsed with every configuration in use and the parts ORed.
* Outages: a lost connection raises ``psycopg.OperationalError`` (the sink retries it with its
  input paused); the next call reconnects.
* Each schema is its own store: put ``options=-csearch_path%3Dmyschema`` in the URL to use one
  (the tests give every test its own schema that way).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from services.common.messages import Article
from services.sink.store import (
    Filters,
    Hit,
    RowRejected,
    StoreError,
    Story,
    StoryArticle,
    _migrations,
    newer_schema_error,
    tag_rows,
    write_isolating_rejects,
)
from services.sink.upsert import Plan, Stored, WriteResult, plan_batch

# ISO 639-1 code -> PostgreSQL text search configuration (those PostgreSQL 15 ships).
LANGUAGE_CONFIGS = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "da": "danish", "nl": "dutch",
    "en": "english", "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "hi": "hindi",
    "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian",
    "ne": "nepali", "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sr": "serbian", "es": "spanish", "sv": "swedish", "ta": "tamil",
    "tr": "turkish", "yi": "yiddish",
}
REJECTED = (pg_errors.IntegrityError, pg_errors.DataError)
"""Errors that blame one row (constraint, bad value such as a NUL character), not the database."""
CONNECT_TIMEOUT_SECONDS = 5

_ARTICLE_COLUMNS = ("id, url, canonical_url, source, feed_url, title, authors, published_at, updated_at, "
                    "language, text, summary, access, story_id, duplicate_of, extractor_version, "
                    "content_hash, fetched_at, first_seen_at, stored_at, revision, doc, fts_config")
_HEADLINE = "StartSel=[, StopSel=], MaxWords=24, MinWords=8, MaxFragments=1, FragmentDelimiter=\" … \""


class PostgresStore:
    """One connection (reconnected after an outage); safe to share between threads (calls are serialised)."""

    def __init__(self, url: str) -> None:
        params = conninfo_to_dict(url)
        params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_SECONDS))
        params.setdefault("application_name", "newsflow-sink")
        self._conninfo = make_conninfo("", **params)
        self._address = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"
        self._lock = threading.RLock()
        self._db: psycopg.Connection[Any] | None = None
        self._configs: dict[str, str] = {}
        try:
            self._connect()
        except psycopg.OperationalError as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {self._address}: {exc}") from exc

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
        known = _migrations("postgres")
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(hashtext('newsflow-migrations:' || current_schema()))")
            db.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                       "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL)")
            applied = {int(v) for (v,) in db.execute("SELECT version FROM schema_migrations")}
            if applied and (error := newer_schema_error(self._address, max(applied), known)):
                raise error
            for version, sql in known:
                if version not in applied:
                    db.execute(sql.encode())  # several statements, no parameters
                    db.execute("INSERT INTO schema_migrations VALUES (%s, now())", (version,))

    def schema_version(self) -> int:
        with self._lock:
            row = self._connect().execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        return int(row[0]) if row else 0

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
        with db.transaction():  # a savepoint: a rejected attempt leaves nothing behind
            plan = plan_batch(articles, self._load(db, sorted({a.id for a in articles})), datetime.now(UTC))
            self._apply(db, plan)
        return plan.results

    @staticmethod
    def _load(db: psycopg.Connection[Any], ids: list[str]) -> dict[str, Stored]:
        stored: dict[str, Stored] = {}
        with db.cursor() as cur:
            cur.execute("SELECT id, content_hash, extractor_version, fetched_at, revision, doc::text "
                        "FROM articles WHERE id = ANY(%s) FOR UPDATE", (ids,))
            for aid, chash, version, fetched, revision, doc in cur:
                stored[aid] = Stored(chash, version, fetched, int(revision), doc)
            cur.execute("SELECT article_id, content_hash, extractor_version, revision FROM article_revisions "
                        "WHERE article_id = ANY(%s)", (ids,))
            for aid, chash, version, revision in cur:
                if aid in stored:
                    stored[aid].seen.add((chash, version))
                    stored[aid].max_revision = max(stored[aid].max_revision, int(revision))
        return stored

    def _apply(self, db: psycopg.Connection[Any], plan: Plan) -> None:
        now = datetime.now(UTC)
        with db.cursor() as cur:
            if plan.replaced:
                cur.execute("DELETE FROM article_tags WHERE article_id = ANY(%s)", (sorted(plan.replaced),))
                cur.execute("DELETE FROM articles WHERE id = ANY(%s)", (sorted(plan.replaced),))
            if plan.revisions:
                with cur.copy("COPY article_revisions (article_id, revision, content_hash, extractor_version, "
                              "fetched_at, replaced_at, doc) FROM STDIN") as copy:
                    for r in plan.revisions:
                        copy.write_row((r.article_id, r.revision, r.content_hash, r.extractor_version,
                                        r.fetched_at, r.replaced_at, r.doc))
            if not plan.current:
                return
            with cur.copy(f"COPY articles ({_ARTICLE_COLUMNS}) FROM STDIN") as copy:
                for a, revision in plan.current.values():
                    copy.write_row((a.id, a.url, a.canonical_url, a.source, a.feed_url, a.title,
                                    json.dumps(a.authors), a.published_at, a.updated_at, a.language, a.text,
                                    a.summary, a.access, a.story_id, a.duplicate_of, a.extractor_version,
                                    a.content_hash, a.fetched_at, a.first_seen_at, now, revision,
                                    a.model_dump_json(), self.fts_config(a.language)))
            with cur.copy("COPY article_tags (article_id, kind, value, ref) FROM STDIN") as copy:
                for a, _ in plan.current.values():
                    for kind, value, ref in tag_rows(a):
                        copy.write_row((a.id, kind, value, ref))

    # --- reading ------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connect().execute(sql.encode(), params).fetchall()

    def ping(self) -> None:
        self._rows("SELECT 1", ())

    def count(self) -> int:
        return int(self._rows("SELECT count(*) FROM articles", ())[0][0])

    def get(self, article_id: str) -> Article | None:
        rows = self._rows("SELECT doc::text FROM articles WHERE id = %s", (article_id,))
        return Article.model_validate_json(rows[0][0]) if rows else None

    def history(self, article_id: str) -> list[tuple[int, Article, str]]:
        """Every kept version, oldest first: (revision, article, when it was replaced or stored)."""
        rows = self._rows(
            "SELECT revision, doc::text, replaced_at FROM article_revisions WHERE article_id = %s "
            "UNION ALL SELECT revision, doc::text, stored_at FROM articles WHERE id = %s ORDER BY 1",
            (article_id, article_id),
        )
        return [(int(r), Article.model_validate_json(d), t.astimezone(UTC).isoformat()) for r, d, t in rows]

    def search(self, filters: Filters) -> list[Hit]:
        sql, params = self._select(filters, snippet=bool(filters.query))
        rows = self._rows(sql + " LIMIT %s OFFSET %s", [*params, _limit(filters), filters.offset])
        return [Hit(Article.model_validate_json(doc), snippet) for doc, snippet in rows]

    def iter_articles(self, filters: Filters) -> Iterator[Article]:
        """Streams with a server-side cursor: an export of the whole table stays small in memory."""
        sql, params = self._select(filters, snippet=False)
        with self._lock:
            db = self._connect()
            with db.transaction(), db.cursor(name="newsflow_export") as cur:
                cur.itersize = 500
                cur.execute(sql.encode() + b" LIMIT %s OFFSET %s", [*params, _limit(filters), filters.offset])
                for doc, _ in cur:
                    yield Article.model_validate_json(doc)

    def stories(self, filters: Filters, min_articles: int = 2) -> list[Story]:
        """Recent stories with at least ``min_articles`` articles, one of which matches ``filters``."""
        with_q, where, params = self._where(filters)
        where.append("a.story_id IS NOT NULL")
        rows = self._rows(
            f"{with_q} SELECT a.story_id, MAX(a.sort_at) AS latest FROM articles a{', q' if with_q else ''} "
            f"WHERE {' AND '.join(where)} GROUP BY a.story_id "
            "HAVING (SELECT count(*) FROM articles b WHERE b.story_id = a.story_id) >= %s "
            "ORDER BY latest DESC, a.story_id LIMIT %s OFFSET %s",
            [*params, min_articles, _limit(filters), filters.offset],
        )
        found = [Story(sid, latest) for sid, latest in rows]
        by_id = {s.story_id: s for s in found}
        for sid, aid, title, source, url, published in self._rows(
            "SELECT story_id, id, title, source, url, published_at FROM articles WHERE story_id = ANY(%s) "
            "ORDER BY sort_at DESC, id", (list(by_id),),
        ):
            by_id[sid].articles.append(StoryArticle(aid, title, source, url, published))
        return found

    def _select(self, f: Filters, *, snippet: bool) -> tuple[str, list[Any]]:
        with_q, where, params = self._where(f)
        if with_q:
            columns = f"a.doc::text, ts_headline(a.fts_config, a.text, q.query, '{_HEADLINE}')" if snippet \
                else "a.doc::text, NULL"
            sql = f"{with_q} SELECT {columns} FROM articles a, q"
            order = "ORDER BY ts_rank_cd(a.fts, q.query) DESC, a.sort_at DESC, a.id"
        else:
            sql, order = "SELECT a.doc::text, NULL FROM articles a", "ORDER BY a.sort_at DESC, a.id"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return f"{sql} {order}", params

    def _where(self, f: Filters) -> tuple[str, list[str], list[Any]]:
        """(WITH clause defining ``q.query``, filter clauses on ``articles a``, parameters)."""
        with_q, where, params = "", list[str](), list[Any]()
        if f.query:
            with_q = ("WITH q AS (SELECT newsflow_tsquery_any(websearch_to_tsquery(c, %s)) AS query "
                      "FROM unnest(%s::regconfig[]) AS c)")
            params += [f.query, sorted({"simple", *self._configs.values()})]
            where.append("a.fts @@ q.query")
        for kind, value in (("place", f.place), ("person", f.person),
                            ("organisation", f.organisation), ("topic", f.topic)):
            if value:
                where.append("EXISTS (SELECT 1 FROM article_tags t WHERE t.article_id = a.id "
                             "AND t.kind = %s AND (lower(t.value) = lower(%s) OR t.ref = %s))")
                params += [kind, value, value]
        if f.story:
            where.append("a.story_id = %s")
            params.append(f.story)
        if f.source:
            where.append("lower(a.source) = lower(%s)")
            params.append(f.source)
        if f.since:
            where.append("a.sort_at >= %s")
            params.append(f.since)
        return with_q, where, params

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()


def _limit(f: Filters) -> int | None:
    return None if f.limit < 0 else f.limit
