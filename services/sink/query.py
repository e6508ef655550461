"""The SQL every backend shares, written once and spelled per dialect.

A :class:`Dialect` says how a backend spells what differs (parameter marks, case-insensitive
comparison, when an article counts as published, how times are bound and read, lists as
parameters); a :class:`TextSearch` is a backend's full-text part of a query (FTS5 or
``tsvector``). From these, this module builds the WHERE clause of every filter, the article
and story queries, and the reads of :class:`SqlReads`, which both backends inherit.

Every value goes to the database as a bound parameter; the SQL is spliced only from literals
of this module and of the dialects (column lists, marks, clause lists).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from services.common.messages import Article
from services.sink.store import AmbiguousId, Filters, Hit, Story, StoryArticle, check_prefix
from services.sink.textquery import check_filters
from services.sink.upsert import Plan, Stored

ARTICLE_COLUMNS = ("id, url, canonical_url, source, feed_url, title, authors, published_at, updated_at, "
                   "language, text, summary, access, story_id, duplicate_of, extractor_version, "
                   "content_hash, fetched_at, first_seen_at, stored_at, revision, doc, image, media, tags")
TAG_KINDS = ("place", "person", "organisation", "topic")
"""Filters that match an article's tags (by name, any case, or by reference such as a gazetteer id)."""

RESOLVE_CANDIDATES = 100
"""The most ids an ambiguous prefix counts (beyond: "more than 100")."""

Rows = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
"""Runs one statement with its parameters and returns its rows."""


@dataclass(frozen=True)
class Dialect:
    """How one SQL dialect spells what the shared queries need."""

    mark: str
    """A bound parameter: ``?`` or ``%s``."""
    sort_at: str
    """When an article counts as published (else fetched), as an expression on ``articles a``."""
    nocase_equals: str
    """Text equal ignoring case, a template with ``{column}`` and ``{mark}``."""
    doc: str
    """The article document column, read as JSON text."""
    arrays: bool
    """A list binds as one array parameter (``= ANY(%s)``) rather than one mark per value."""
    bind_time: Callable[[datetime | None], Any]
    read_time: Callable[[Any], datetime]
    no_limit: int | None
    """What ``LIMIT`` binds to for "every row" (``Filters.limit`` < 0)."""
    lock_rows: str = ""
    """Suffix of a SELECT that locks the rows it reads until the transaction ends."""
    max_list: int = 500
    """The most values :meth:`one_of` binds in one statement (callers split longer lists)."""
    prefix_like: bool = False
    """A prefix match is ``LIKE 'prefix%'`` (an index with ``text_pattern_ops`` serves it), not a
    range of binary-ordered text (SQLite's default collation)."""

    def nocase(self, column: str) -> str:
        return self.nocase_equals.format(column=column, mark=self.mark)

    def marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    def one_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` is one of ``values`` (at most :attr:`max_list` of them)."""
        if self.arrays:
            return f"{column} = ANY({self.mark})", [list(values)]
        return f"{column} IN ({self.marks(len(values))})", list(values)

    def starts_with(self, column: str, prefix: str) -> tuple[str, list[Any]]:
        """``column`` starts with ``prefix``, in a form the column's index can serve."""
        if self.prefix_like:
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return f"{column} LIKE {self.mark}", [escaped + "%"]
        return f"{column} >= {self.mark} AND {column} < {self.mark}", [prefix, prefix + "\U0010ffff"]

    def limit(self, f: Filters) -> int | None:
        return self.no_limit if f.limit < 0 else f.limit

    def time_or_none(self, value: Any) -> datetime | None:
        return None if value is None else self.read_time(value)


@dataclass(frozen=True)
class TextSearch:
    """A backend's full-text part of a query on ``articles a``."""

    clause: str
    """The WHERE clause that keeps the matching articles."""
    params: tuple[Any, ...]
    """Its parameters, in the order they appear (those of ``with_q`` first)."""
    tables: str = "articles a"
    """The FROM list (``articles a`` joined with what ``clause`` needs)."""
    with_q: str = ""
    """A WITH clause that comes before the SELECT."""
    snippet: str = "NULL"
    """The matching passage, as a column."""
    order: str = ""
    """ORDER BY list, best match first."""


@dataclass
class Where:
    """WHERE clauses (ANDed) and their parameters, in order."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> Where:
        self.clauses.append(clause)
        self.params.extend(params)
        return self

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""


def where(f: Filters, d: Dialect, text: TextSearch | None = None) -> Where:
    """The one WHERE-clause builder: what ``f`` asks of ``articles a`` (``text``, its full-text match, first)."""
    found = Where()
    if text is not None:
        found.add(text.clause, *text.params)
    mark, sort_at, clause = d.mark, d.sort_at, d.nocase("t.value")
    for kind in TAG_KINDS:
        if value := getattr(f, kind):
            found.add("EXISTS (SELECT 1 FROM article_tags t WHERE t.article_id = a.id "
                      f"AND t.kind = {mark} AND ({clause} OR t.ref = {mark}))", kind, value, value)
    if f.story:
        found.add(f"a.story_id = {mark}", f.story)
    if f.source:
        found.add(d.nocase("a.source"), f.source)
    if f.since:
        found.add(f"{sort_at} >= {mark}", d.bind_time(f.since))
    return found


def select_articles(d: Dialect, f: Filters, text: TextSearch | None, *, snippet: bool) -> tuple[str, list[Any]]:
    """One page of ``(doc, snippet)`` rows matching ``f``: best match first with ``text``, else newest first."""
    clauses = where(f, d, text)
    where_sql, mark = clauses.sql(), d.mark
    columns = f"a.{d.doc}, {text.snippet if text is not None and snippet else 'NULL'}"
    tables = text.tables if text is not None else "articles a"
    order = text.order if text is not None else f"{d.sort_at} DESC, a.id"
    with_q = text.with_q + " " if text is not None and text.with_q else ""
    sql = f"{with_q}SELECT {columns} FROM {tables}{where_sql} ORDER BY {order} LIMIT {mark} OFFSET {mark}"
    return sql, [*clauses.params, d.limit(f), f.offset]


def select_stories(d: Dialect, f: Filters, min_articles: int, text: TextSearch | None) -> tuple[str, list[Any]]:
    """One page of ``(story_id, latest)`` rows: stories of ``min_articles`` or more, one of which matches ``f``."""
    clauses = where(f, d, text).add("a.story_id IS NOT NULL")
    tables = text.tables if text is not None else "articles a"
    with_q = text.with_q + " " if text is not None and text.with_q else ""
    where_sql, mark, sort_at = clauses.sql(), d.mark, d.sort_at
    sql = (f"{with_q}SELECT a.story_id, MAX({sort_at}) AS latest FROM {tables}{where_sql} GROUP BY a.story_id "
           f"HAVING (SELECT COUNT(*) FROM articles b WHERE b.story_id = a.story_id) >= {mark} "
           f"ORDER BY latest DESC, a.story_id LIMIT {mark} OFFSET {mark}")
    return sql, [*clauses.params, min_articles, d.limit(f), f.offset]


def load_stored(rows: Rows, d: Dialect, ids: Iterable[str]) -> dict[str, Stored]:
    """The stored state of ``ids`` (absent ids are new), rows locked where the dialect can."""
    stored: dict[str, Stored] = {}
    doc, lock_rows = d.doc, d.lock_rows
    for part in chunks(sorted(ids), d.max_list):
        clause, params = d.one_of("id", part)
        for aid, chash, version, fetched, revision, json_doc, story_id, duplicate_of, first_seen, stored_at in rows(
            f"SELECT id, content_hash, extractor_version, fetched_at, revision, {doc}, story_id, duplicate_of, "
            f"first_seen_at, stored_at FROM articles WHERE {clause}{lock_rows}", params,
        ):
            stored[aid] = Stored(chash, version, d.read_time(fetched), int(revision), json_doc,
                                 story_id=story_id, duplicate_of=duplicate_of,
                                 first_seen_at=d.time_or_none(first_seen), stored_at=d.read_time(stored_at))
        clause, params = d.one_of("article_id", part)
        for aid, chash, version, revision in rows(
            f"SELECT article_id, content_hash, extractor_version, revision FROM article_revisions WHERE {clause}", params,
        ):
            if aid in stored:
                stored[aid].keep_revision(chash, version, int(revision))
    return stored


REVISION_COLUMNS = "article_id, revision, content_hash, extractor_version, fetched_at, replaced_at, doc, stored_at"


def revision_rows(d: Dialect, plan: Plan) -> list[tuple[Any, ...]]:
    """``article_revisions`` rows of ``plan``, in the order of :data:`REVISION_COLUMNS`."""
    return [(r.article_id, r.revision, r.content_hash, r.extractor_version, d.bind_time(r.fetched_at),
             d.bind_time(r.replaced_at), r.doc, d.bind_time(r.stored_at)) for r in plan.revisions]


def current_rows(d: Dialect, plan: Plan, now: datetime) -> Iterator[tuple[Article, tuple[Any, ...]]]:
    """``articles`` rows of ``plan`` to write whole: (article, row), stored ``now`` unless they keep
    their time. Rows updated in place (:func:`story_rows`) are not among them."""
    for aid, (a, revision) in plan.current.items():
        if aid not in plan.in_place:
            yield a, article_row(d, a, revision, plan.stored_at.get(aid, now))


def story_rows(plan: Plan) -> list[tuple[str | None, str | None, str, str]]:
    """``(story_id, duplicate_of, doc, id)`` of the stored rows whose story alone changed (``plan.in_place``)."""
    rows = []
    for aid in sorted(plan.in_place):
        a, _ = plan.current[aid]
        rows.append((a.story_id, a.duplicate_of, a.model_dump_json(), aid))
    return rows


def article_row(d: Dialect, a: Article, revision: int, stored_at: datetime) -> tuple[Any, ...]:
    """An ``articles`` row, in the order of :data:`ARTICLE_COLUMNS`."""
    return (a.id, a.url, a.canonical_url, a.source, a.feed_url, a.title, json.dumps(a.authors),
            d.bind_time(a.published_at), d.bind_time(a.updated_at), a.language, a.text, a.summary, a.access,
            a.story_id, a.duplicate_of, a.extractor_version, a.content_hash, d.bind_time(a.fetched_at),
            d.bind_time(a.first_seen_at), d.bind_time(stored_at), revision, a.model_dump_json(), a.image,
            json.dumps([m.model_dump(mode="json") for m in a.media]), json.dumps(a.tags))


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class SqlReads(ABC):
    """Reading a store, the same on every backend: a backend gives its dialect, ``_rows`` and full-text parts.

    Filters are checked first (:func:`~services.sink.textquery.check_filters`): what either engine
    would reject, or what is over a query limit, is a :class:`~services.sink.store.BadQuery`.
    """

    dialect: Dialect

    @abstractmethod
    def _rows(self, sql: str, params: Sequence[Any], *, scan: bool = False) -> list[tuple[Any, ...]]:
        """Run one read statement on a read connection and return its rows; ``scan``: a search or
        story listing, which takes a scan lane (:class:`~services.sink.reads.ReadLanes`)."""

    @abstractmethod
    def _ranked_match(self, query: str) -> TextSearch:
        """The full-text part of a search: ranks, and gives a snippet."""

    @abstractmethod
    def _match(self, query: str) -> TextSearch:
        """The full-text part of a filter (stories): keeps the matching articles only."""

    def ping(self) -> None:
        self._rows("SELECT 1", ())

    def count(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM articles", ())[0][0])

    def get(self, article_id: str) -> Article | None:
        doc, mark = self.dialect.doc, self.dialect.mark
        rows = self._rows(f"SELECT {doc} FROM articles WHERE id = {mark}", (article_id,))
        return Article.model_validate_json(rows[0][0]) if rows else None

    def resolve(self, kind: Literal["article", "story"], prefix: str) -> str | None:
        """The id ``prefix`` names: itself when an id equals it, else the one id starting with it."""
        if "\x00" in prefix:
            return None  # no id holds a NUL (and PostgreSQL would refuse the parameter)
        d, column = self.dialect, "id" if kind == "article" else "story_id"
        if self._rows(f"SELECT 1 FROM articles WHERE {column} = {d.mark} LIMIT 1", (prefix,)):
            return prefix
        clause, params = d.starts_with(column, prefix)
        rows = self._rows(f"SELECT DISTINCT {column} FROM articles WHERE {clause} LIMIT {d.mark}",
                          (*params, RESOLVE_CANDIDATES + 1))
        if rows:
            check_prefix(kind, prefix)  # refused only when it would have found something: else "no article"
        if len(rows) > 1:
            raise AmbiguousId(kind, prefix, min(len(rows), RESOLVE_CANDIDATES), more=len(rows) > RESOLVE_CANDIDATES)
        return str(rows[0][0]) if rows else None

    def _resolved(self, filters: Filters) -> Filters:
        """``filters`` with a story id prefix replaced by the story's id (unknown: left as it is)."""
        if not filters.story:
            return filters
        story = self.resolve("story", filters.story)
        return replace(filters, story=story) if story else filters

    def history(self, article_id: str) -> list[tuple[int, Article, str]]:
        """Every kept version, oldest first: (revision, article, when it was stored)."""
        d = self.dialect
        doc, mark = d.doc, d.mark
        rows = self._rows(
            f"SELECT revision, {doc}, COALESCE(stored_at, replaced_at) FROM article_revisions WHERE article_id = {mark} "
            f"UNION ALL SELECT revision, {doc}, stored_at FROM articles WHERE id = {mark} ORDER BY 1",
            (article_id, article_id),
        )
        return [(int(r), Article.model_validate_json(json_doc), d.read_time(t).astimezone(UTC).isoformat())
                for r, json_doc, t in rows]

    def _text(self, filters: Filters) -> TextSearch | None:
        return self._ranked_match(filters.query) if filters.query else None

    def search(self, filters: Filters) -> list[Hit]:
        filters = self._resolved(check_filters(filters))
        sql, params = select_articles(self.dialect, filters, self._text(filters), snippet=True)
        return [Hit(Article.model_validate_json(doc), snippet) for doc, snippet in self._rows(sql, params, scan=True)]

    def stories(self, filters: Filters, min_articles: int = 2) -> list[Story]:
        """Recent stories with at least ``min_articles`` articles, one of which matches ``filters``."""
        d = self.dialect
        filters = self._resolved(check_filters(filters))
        text = self._match(filters.query) if filters.query else None
        rows = self._rows(*select_stories(d, filters, min_articles, text), scan=True)
        found = [Story(sid, d.time_or_none(latest)) for sid, latest in rows]
        by_id, sort_at = {s.story_id: s for s in found}, d.sort_at
        for part in chunks(list(by_id), d.max_list):
            clause, params = d.one_of("a.story_id", part)
            for sid, aid, title, source, url, published in self._rows(
                f"SELECT a.story_id, a.id, a.title, a.source, a.url, a.published_at FROM articles a WHERE {clause} "
                f"ORDER BY {sort_at} DESC, a.id", params,
            ):
                by_id[sid].articles.append(StoryArticle(aid, title, source, url, d.time_or_none(published)))
        return found
