"""What an upsert batch does, decided in pure Python, shared by every backend.

Both backends load the stored state of the batch's article ids, ask
:func:`plan_batch` what to do, then apply the plan with their own SQL. Keeping
the decision here is what makes SQLite and PostgreSQL behave identically.

The rules, per article, in batch order:

* unknown id: **inserted** as revision 1;
* same ``(content_hash, extractor_version)`` as the current row, but another ``story_id`` or
  ``duplicate_of`` (the story stage re-placed it: ``newsflow replay --stage stories``, or a
  failover): **story_changed**: the current row's story fields are updated **in place** (same
  revision, no history row, its other fields as stored): a story is not a text revision, and the
  article's revisions stay the ones of its text. An article without a story (``story_id`` None:
  not placed) never erases a stored one;
* same ``(content_hash, extractor_version)`` as the current row, or as any kept
  revision: **unchanged** (a redelivery or a replay changes nothing);
* same extractor version but fetched *before* the current row: an older fetch
  arriving late, kept in the history only: **historical**;
* anything else: the current row moves to the history and the article becomes
  the current row with the next revision number: **updated**.

Times: an article's ``first_seen_at`` is the one it was first stored with (an update keeps it,
unless none was stored); every row, current or kept, records when it was stored (``stored_at``:
a story change keeps the row's; a revision keeps it when it moves to the history, next to
``replaced_at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from services.common.messages import Article

WriteResult = Literal["inserted", "updated", "story_changed", "unchanged", "historical"]


@dataclass
class Stored:
    """The stored state of one article id: its current row and what its history holds."""

    content_hash: str
    extractor_version: str
    fetched_at: datetime
    revision: int
    doc: str
    """The row's Article JSON ('' while ``article`` holds it unserialised: see :meth:`doc_json`)."""
    seen: set[tuple[str, str]] = field(default_factory=set)
    """``(content_hash, extractor_version)`` of every kept revision."""
    max_revision: int = 0
    """Highest revision number in the history (0 when it is empty)."""
    article: Article | None = None
    """The article of a row decided in this batch: serialised only if it is replaced in the batch."""
    story_id: str | None = None
    duplicate_of: str | None = None
    first_seen_at: datetime | None = None
    stored_at: datetime | None = None
    """When the current row was stored (None: in this batch)."""

    def keep_revision(self, content_hash: str, extractor_version: str, revision: int) -> None:
        """Note a revision the history holds."""
        self.seen.add((content_hash, extractor_version))
        self.max_revision = max(self.max_revision, revision)

    def next_revision(self) -> int:
        return max(self.revision, self.max_revision) + 1

    def doc_json(self) -> str:
        """The row's Article JSON. Serialising a 5 KB article costs ~15 µs: done only when needed."""
        if not self.doc and self.article is not None:
            self.doc = self.article.model_dump_json()
        return self.doc


@dataclass(frozen=True)
class RevisionRow:
    article_id: str
    revision: int
    content_hash: str
    extractor_version: str
    fetched_at: datetime
    replaced_at: datetime
    doc: str
    stored_at: datetime
    """When this version was stored (as the current row, or as a late older fetch)."""


@dataclass
class Plan:
    """The rows a batch writes: one result per input article, in order."""

    results: list[WriteResult] = field(default_factory=list)
    revisions: list[RevisionRow] = field(default_factory=list)
    current: dict[str, tuple[Article, int]] = field(default_factory=dict)
    """Article id -> (article, revision) to write as the current row."""
    replaced: set[str] = field(default_factory=set)
    """Ids whose current row exists in storage and must be deleted before ``current`` is written."""
    in_place: set[str] = field(default_factory=set)
    """Ids of ``current`` whose stored row changes only in its story fields (a story change): the
    backend updates ``story_id``, ``duplicate_of`` and ``doc`` in place instead of deleting and
    writing the row again, so its text is not indexed again (issue 20: a re-clustering of the whole
    topic re-indexed every article)."""
    stored_at: dict[str, datetime] = field(default_factory=dict)
    """Article id -> when its current row was stored, for rows of ``current`` that keep that time
    (a story change); the others are stored now."""


def plan_batch(articles: Sequence[Article], stored: dict[str, Stored], now: datetime) -> Plan:
    """Decide every article of a batch against ``stored`` (updated in place as the batch goes)."""
    existing = set(stored)
    plan = Plan()
    for a in articles:
        plan.results.append(_decide(a, stored, now, plan))
    plan.replaced = {aid for aid in plan.current if aid in existing} - plan.in_place
    return plan


def _decide(a: Article, stored: dict[str, Stored], now: datetime, plan: Plan) -> WriteResult:
    key = (a.content_hash, a.extractor_version)
    cur = stored.get(a.id)
    if cur is None:
        stored[a.id] = _as_stored(a, 1)
        plan.current[a.id] = (a, 1)
        return "inserted"
    if (cur.content_hash, cur.extractor_version) == key:
        return _restory(a, cur, plan) if _story_changed(a, cur) else "unchanged"
    if key in cur.seen:
        return "unchanged"
    if a.extractor_version == cur.extractor_version and a.fetched_at < cur.fetched_at:
        revision = cur.next_revision()
        plan.revisions.append(RevisionRow(a.id, revision, a.content_hash, a.extractor_version, a.fetched_at,
                                          now, a.model_dump_json(), stored_at=now))
        cur.keep_revision(a.content_hash, a.extractor_version, revision)
        return "historical"
    plan.revisions.append(RevisionRow(a.id, cur.revision, cur.content_hash, cur.extractor_version,
                                      cur.fetched_at, now, cur.doc_json(), stored_at=cur.stored_at or now))
    cur.keep_revision(cur.content_hash, cur.extractor_version, cur.revision)
    revision = cur.next_revision()
    a = _keep_first_seen(a, cur)
    plan.stored_at.pop(a.id, None)
    plan.in_place.discard(a.id)
    new = _as_stored(a, revision)
    new.seen, new.max_revision = cur.seen, cur.max_revision
    stored[a.id] = new
    plan.current[a.id] = (a, revision)
    return "updated"


def _keep_first_seen(a: Article, cur: Stored) -> Article:
    """``a`` with the ``first_seen_at`` the article was first stored with."""
    if cur.first_seen_at is None or a.first_seen_at == cur.first_seen_at:
        return a
    return a.model_copy(update={"first_seen_at": cur.first_seen_at})


def _story_changed(a: Article, cur: Stored) -> bool:
    return a.story_id is not None and (a.story_id, a.duplicate_of) != (cur.story_id, cur.duplicate_of)


def _restory(a: Article, cur: Stored, plan: Plan) -> WriteResult:
    """The current row again, as stored, with ``a``'s story fields: same revision, no history row."""
    current = cur.article if cur.article is not None else Article.model_validate_json(cur.doc_json())
    moved = current.model_copy(update={"story_id": a.story_id, "duplicate_of": a.duplicate_of})
    cur.article, cur.doc = moved, ""
    cur.story_id, cur.duplicate_of = a.story_id, a.duplicate_of
    plan.current[a.id] = (moved, cur.revision)
    if cur.stored_at is not None:  # the stored row (not one written earlier in this batch)
        plan.stored_at[a.id] = cur.stored_at
        plan.in_place.add(a.id)
    return "story_changed"


def _as_stored(a: Article, revision: int) -> Stored:
    return Stored(a.content_hash, a.extractor_version, a.fetched_at, revision, "", article=a,
                  story_id=a.story_id, duplicate_of=a.duplicate_of, first_seen_at=a.first_seen_at)
