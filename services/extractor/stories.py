"""Streaming near-duplicate detection and same-story clustering.

* ``duplicate_of``: MinHash over word 5-gram shingles, candidates from an LSH index
  (datasketch), published within ``window_days``; the earliest stored article whose estimated
  Jaccard similarity is at least ``DUP_THRESHOLD``, or which contains (or is contained in) the new
  text for ``DUP_CONTAINMENT`` of its shingles (a syndicated copy in another page's wrapper).
* ``story_id``: single-pass clustering. Candidates come from an inverted index over the
  article's people, organisations, places and top terms (never a scan of everything), limited to
  articles published within ``STORY_WINDOW_FACTOR * window_days`` (a story runs for days: the
  two seed articles are 4.7 days apart). Each candidate is scored by TF-IDF cosine similarity of
  the texts (at least ``MIN_COSINE``) mixed with the cosine of the salience-weighted entities; the
  article joins the story of the best candidate over ``STORY_THRESHOLD``, else it starts one.

The index is bounded (``max_items``, and the story window behind the newest article seen) and,
with a path, persisted in SQLite: every placement is committed, and the in-memory indexes are
rebuilt from the file when it is reopened. The file's schema is the numbered SQL files of
:mod:`services.extractor.migrations`, applied by :func:`services.common.sqlite.migrate`.

This is the extractor's state, not tagging: it consumes the tagger's :class:`Tags`.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import re
import sqlite3
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from services.common.messages import Tags
from services.common.sqlite import migrate
from services.extractor.tagging.lexicon import STOPWORDS

NUM_PERM = 64
_SCHEME = "affine32"  # fixed, so that stored signatures stay comparable across datasketch upgrades
DUP_THRESHOLD = 0.7
DUP_LSH_THRESHOLD = 0.4  # LSH finds candidates from here; DUP_* decide
DUP_CONTAINMENT = 0.8
DUP_MIN_SHINGLES = 30
STORY_WINDOW_FACTOR = 2.0
STORY_THRESHOLD = 0.28
MIN_COSINE = 0.20
MAX_CANDIDATES = 60
MAX_POSTING = 5000  # a key shared by more stored articles than this is too common to find candidates
MIGRATIONS = "services.extractor.migrations"
#: stored signatures are comparable only with the same format, permutations and scheme
_SIGNATURE_FORMAT = f"2/{NUM_PERM}/{_SCHEME}"
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_DAY = 86400.0
_EXTRA_STOP = frozenset(
    [
        "also",
        "could",
        "would",
        "said",
        "says",
        "told",
        "just",
        "like",
        "one",
        "two",
        "new",
        "year",
        "years",
        "time",
        "people",
        "week",
        "weeks",
        "day",
        "days",
        "month",
        "months",
        "last",
        "first",
        "get",
        "got",
        "make",
        "made",
        "many",
        "much",
        "well",
        "percent",
        "per",
        "cent",
        "according",
        "including",
        "since",
        "still",
        "even",
        "back",
        "way",
        "ago",
        "around",
        "among",
        "while",
        "later",
        "early",
    ]
)


def _ts(dt: datetime | None) -> float:
    if dt is None:
        return time.time()
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _story_id(article_id: str) -> str:
    return "story-" + hashlib.sha1(article_id.encode("utf-8")).hexdigest()[:16]


_PERMS: tuple[object, ...] = ()


def _minhash(words: list[str]) -> tuple[LeanMinHash, int]:
    global _PERMS
    n = 5 if len(words) >= 60 else 3
    shingles = {" ".join(words[i : i + n]).encode("utf-8") for i in range(max(1, len(words) - n + 1))}
    if not _PERMS:
        m = MinHash(num_perm=NUM_PERM, seed=7, scheme=_SCHEME)
        _PERMS = (m.permutations,)
    m = MinHash(num_perm=NUM_PERM, seed=7, permutations=_PERMS[0], scheme=_SCHEME)
    m.update_batch(list(shingles))
    return LeanMinHash(m), len(shingles)


def _norm(w: str) -> str | None:
    """Lower-cased word -> index term: no possessive, a light plural strip; None for stopwords."""
    if w.endswith(("'s", "’s")):
        w = w[:-2]
    if len(w) < 3 or w in STOPWORDS or w in _EXTRA_STOP or w.isdigit():
        return None
    if len(w) > 4 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-2] if w.endswith("ies") is False and w.endswith("es") and w[-3] in "sxz" else w[:-1]
    return w


def _terms(text: str, title: str | None) -> dict[str, float]:
    tf: Counter[str] = Counter()
    for w in _WORD.findall(text[:8000].lower()):
        n = _norm(w)
        if n:
            tf[n] += 1
    if title:
        for w in _WORD.findall(title.lower()):
            n = _norm(w)
            if n:
                tf[n] += 3
    # Interned: the same words recur across thousands of indexed articles; one string object each.
    return {sys.intern(w): 1.0 + math.log(c) for w, c in tf.most_common(60)}


def _salience(n_mentions: int) -> float:
    return 1.0 + math.log(max(n_mentions, 1))


def _entities(tags: Tags) -> dict[str, float]:
    """Entity keys weighted by kind and by how often the article mentions them."""
    ents: dict[str, float] = {}
    for p in tags.people:
        ents["p:" + p.name.lower()] = 1.5 * _salience(len(p.mentions))
    for o in tags.organisations:
        ents["o:" + o.name.lower()] = 1.0 * _salience(len(o.mentions))
    for pl in tags.places:
        ents["g:" + pl.place_id] = (0.6 if pl.kind == "country" else 1.2) * _salience(len(pl.mentions))
    return ents


def _near_duplicate(mh: LeanMinHash, size: int, other: _Item) -> bool:
    j = float(mh.jaccard(other.mh))
    if j >= DUP_THRESHOLD:
        return True
    small = min(size, other.size)
    if small < DUP_MIN_SHINGLES or j <= 0.0:
        return False
    shared = j * (size + other.size) / (1.0 + j)  # |A & B| from J and the set sizes
    return shared / small >= DUP_CONTAINMENT


@dataclass(frozen=True, slots=True)
class Placement:
    """Where :meth:`StoryIndex.place` put an article.

    ``new_story``: this article started ``story_id`` (no near-duplicate, no similar article in the
    window, not a revision of an article already placed). ``revision``: the article id was placed
    before; it keeps the story it had.
    """

    story_id: str
    duplicate_of: str | None
    new_story: bool
    revision: bool = False

    @property
    def kind(self) -> str:
        """``duplicate`` | ``new_story`` | ``joined_story`` (the label of
        ``newsflow_story_assignments_total``; a revision keeping its story counts as joined)."""
        if self.duplicate_of:
            return "duplicate"
        return "new_story" if self.new_story else "joined_story"


@dataclass(slots=True)
class _Item:
    seq: int
    story_id: str
    duplicate_of: str | None
    ts: float
    mh: LeanMinHash
    size: int  # number of distinct shingles
    terms: dict[str, float]
    ents: dict[str, float]

    def index_keys(self) -> list[str]:
        top = sorted(self.terms.items(), key=lambda kv: -kv[1])[:12]
        return list(self.ents) + ["t:" + w for w, _ in top]


class StoryIndex:
    """Streaming near-duplicate + same-story clustering. Bounded, survives restarts."""

    def __init__(self, path: str | Path | None = None, *, window_days: float = 3.0, max_items: int = 50_000) -> None:
        self.window = float(window_days) * _DAY
        self.story_window = self.window * STORY_WINDOW_FACTOR
        self.max_items = int(max_items)
        self._lock = threading.RLock()
        self._items: dict[str, _Item] = {}
        self._lsh = MinHashLSH(threshold=DUP_LSH_THRESHOLD, num_perm=NUM_PERM)
        self._post: dict[str, set[str]] = {}
        self._df: Counter[str] = Counter()
        self._heap: list[tuple[float, int, str]] = []  # (ts, seq, id), lazily cleaned
        self._seq = 0
        self._newest = -math.inf
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._open(Path(path))

    # persistence -------------------------------------------------------------------------------
    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        migrate(db, MIGRATIONS, where=str(path))
        row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (_SIGNATURE_FORMAT,))
        elif row[0] != _SIGNATURE_FORMAT:  # signatures written by an incompatible version: start again
            db.execute("DELETE FROM items")
            db.execute("UPDATE meta SET value=? WHERE key='schema'", (_SIGNATURE_FORMAT,))
        self._db = db
        self._load(db)
        self._evict()

    def _load(self, db: sqlite3.Connection) -> None:
        """Rebuild the in-memory indexes from the stored items, in placement order."""
        for aid, seq, sid, dup, ts, blob, size, terms, ents in db.execute(
            "SELECT article_id, seq, story_id, duplicate_of, ts, minhash, size, terms, ents FROM items ORDER BY seq"
        ):
            dtype = np.uint32 if len(blob) == 4 * NUM_PERM else np.uint64
            mh = LeanMinHash(seed=7, hashvalues=np.frombuffer(blob, dtype=dtype), scheme=_SCHEME)
            item = _Item(int(seq), str(sid), dup, float(ts), mh, int(size), json.loads(terms), json.loads(ents))
            self._add(str(aid), item)
            self._seq = max(self._seq, int(seq))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._items)

    # in-memory indexes -------------------------------------------------------------------------
    def _add(self, aid: str, item: _Item) -> None:
        self._items[aid] = item
        self._lsh.insert(aid, item.mh, check_duplication=False)
        for k in item.index_keys():
            self._post.setdefault(k, set()).add(aid)
        for w in item.terms:
            self._df[w] += 1
        heapq.heappush(self._heap, (item.ts, item.seq, aid))
        self._newest = max(self._newest, item.ts)

    def _remove(self, aid: str) -> None:
        item = self._items.pop(aid, None)
        if item is None:
            return
        self._lsh.remove(aid)
        for k in item.index_keys():
            s = self._post.get(k)
            if s is not None:
                s.discard(aid)
                if not s:
                    del self._post[k]
        for w in item.terms:
            self._df[w] -= 1
            if self._df[w] <= 0:
                del self._df[w]
        if self._db is not None:
            self._db.execute("DELETE FROM items WHERE article_id=?", (aid,))

    def _evict(self) -> None:
        horizon = self._newest - self.story_window
        while self._heap:
            ts, seq, aid = self._heap[0]
            item = self._items.get(aid)
            if item is None or item.seq != seq:
                heapq.heappop(self._heap)
                continue
            if ts < horizon:
                heapq.heappop(self._heap)
                self._remove(aid)
                continue
            break
        if len(self._items) > self.max_items:
            # oldest first by insertion order
            excess = len(self._items) - self.max_items
            for aid in sorted(self._items, key=lambda a: self._items[a].seq)[:excess]:
                self._remove(aid)

    # scoring -----------------------------------------------------------------------------------
    def _idf(self, w: str) -> float:
        n = len(self._items) + 1
        return math.log((n + 10) / (self._df.get(w, 0) + 1))

    def _cosine(self, a: dict[str, float], b: dict[str, float]) -> float:
        if len(a) > len(b):
            a, b = b, a
        dot = 0.0
        for w, x in a.items():
            y = b.get(w)
            if y is not None:
                dot += x * y * self._idf(w) ** 2
        na = math.sqrt(sum((x * self._idf(w)) ** 2 for w, x in a.items()))
        nb = math.sqrt(sum((y * self._idf(w)) ** 2 for w, y in b.items()))
        return dot / (na * nb) if na and nb else 0.0

    @staticmethod
    def _overlap(a: dict[str, float], b: dict[str, float]) -> float:
        """Cosine similarity of the salience-weighted entity vectors."""
        if len(a) > len(b):
            a, b = b, a
        dot = sum(w * b[k] for k, w in a.items() if k in b)
        na = math.sqrt(sum(w * w for w in a.values()))
        nb = math.sqrt(sum(w * w for w in b.values()))
        return dot / (na * nb) if na and nb else 0.0

    def score(self, terms: dict[str, float], ents: dict[str, float], other: _Item) -> float:
        """Similarity in [0, 1]; 0 unless the texts themselves are similar enough (``MIN_COSINE``)."""
        cos = self._cosine(terms, other.terms)
        if cos < MIN_COSINE:
            return 0.0
        return 0.65 * cos + 0.35 * self._overlap(ents, other.ents)

    # the API -----------------------------------------------------------------------------------
    def place(
        self,
        article_id: str,
        text: str,
        tags: Tags,
        published_at: datetime | None,
        title: str | None = None,
    ) -> Placement:
        """Place an article: its story (and the first copy it duplicates, if any); remember it, and
        say whether it started a new story."""
        with self._lock:
            ts = _ts(published_at)
            mh, size = _minhash(_WORD.findall(((title + "\n" + text) if title else text).lower()))
            terms, ents = _terms(text, title), _entities(tags)
            previous = self._items.get(article_id)
            if previous is not None:  # a revision of an article we have: keep its story
                self._remove(article_id)
            story: str | None = previous.story_id if previous else None
            duplicate_of: str | None = None
            first = self._first_copy(article_id, mh, size, ts)
            if first is not None:
                root = self._items[first].duplicate_of
                duplicate_of = root if root and root in self._items else first
                story = story or self._items[first].story_id
            if story is None:
                story = self._best_story(article_id, ts, terms, ents)
            new_story = story is None
            story = story or _story_id(article_id)
            self._seq += 1
            self._store(article_id, _Item(self._seq, story, duplicate_of, ts, mh, size, terms, ents))
            self._evict()
            return Placement(story, duplicate_of, new_story, previous is not None)

    def _first_copy(self, article_id: str, mh: LeanMinHash, size: int, ts: float) -> str | None:
        """The earliest stored near-duplicate within the window, if any."""
        # never a duplicate of itself or of its own copies (a revision of the first copy stays the first)
        dups = [
            d
            for d in self._lsh.query(mh)
            if d != article_id and d in self._items and self._items[d].duplicate_of != article_id
        ]
        dups = [
            d
            for d in dups
            if abs(self._items[d].ts - ts) <= self.window and _near_duplicate(mh, size, self._items[d])
        ]
        return min(dups, key=lambda d: self._items[d].seq) if dups else None

    def _store(self, article_id: str, item: _Item) -> None:
        """Index the item and, with a file, write it (committed at once: autocommit)."""
        self._add(article_id, item)
        if self._db is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO items VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    article_id,
                    item.seq,
                    item.story_id,
                    item.duplicate_of,
                    item.ts,
                    np.asarray(item.mh.hashvalues).tobytes(),
                    item.size,
                    json.dumps(item.terms),
                    json.dumps(item.ents),
                ),
            )

    def _best_story(self, article_id: str, ts: float, terms: dict[str, float], ents: dict[str, float]) -> str | None:
        votes: dict[str, float] = {}
        top_terms = sorted(terms.items(), key=lambda kv: -kv[1])[:12]
        keys = [(k, w) for k, w in ents.items()] + [("t:" + t, 0.5) for t, _ in top_terms]
        for k, w in keys:
            post = self._post.get(k)
            if not post or len(post) > MAX_POSTING:
                continue
            for aid in post:
                votes[aid] = votes.get(aid, 0.0) + w
        best: tuple[float, str] | None = None
        for aid in heapq.nlargest(MAX_CANDIDATES, votes, key=votes.__getitem__):
            other = self._items.get(aid)
            if other is None or aid == article_id or abs(other.ts - ts) > self.story_window:
                continue
            s = self.score(terms, ents, other)
            if s >= STORY_THRESHOLD and (best is None or s > best[0]):
                best = (s, other.story_id)
        return best[1] if best else None
