"""The story index: near-duplicates and same-story clusters, placed from precomputed features.

The extractor computes each article's :class:`~services.common.messages.StoryFeatures`
(``services/extractor/features.py``); this index only compares them, so that one process
places every article of the deployment:

* ``duplicate_of``: candidates from a banded LSH over the MinHash signature (16 bands of 4, the
  bands datasketch chooses for threshold 0.4 at 64 permutations), published within
  ``window_days``; the first placed article whose estimated Jaccard similarity is at least
  ``DUP_THRESHOLD``, or which contains (or is contained in) the new one for ``DUP_CONTAINMENT``
  of its shingles (a syndicated copy in another page's wrapper).
* ``story_id``: single-pass clustering. Candidates come from an inverted index over the article's
  entities and top terms (never a scan of everything), the ``MAX_CANDIDATES`` with the most
  votes; those published within ``STORY_WINDOW_FACTOR * window_days`` are scored by TF-IDF
  cosine of the terms (at least ``MIN_COSINE``) mixed with the cosine of the salience-weighted
  entities; the article joins the story of the best candidate over ``STORY_THRESHOLD``, else it
  starts one: ``story-<sha1 of its article id>``, so the id does not depend on who placed it.

"First" is by ``order``: the stage passes the input offset (one partition, so one total order),
and the same order comes back with every article on a rebuild, so a rebuilt index answers as
the live one did. A placement with an ``order`` not newer than the article's stored one is a
redelivery: it gets the stored answer unchanged.

Bounds: ``max_items`` (the lowest orders go first) and the story window behind the newest
``seen`` time (the stage passes the fetch time: when articles were *fetched*, not published, so
an old article arriving after new ones is still compared). Both evictions pop heaps (lazily
cleaned), never sort the items. Term and entity keys are interned to integer ids; scoring of the
candidates is vectorised (numpy).
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import numpy as np

from services.common.messages import StoryFeatures
from services.stories.items import INDEX_TERMS, NUM_PERM, SIG_BYTES, Item, pack, sections, segment_cosines, segment_dots
from services.stories.vocab import Vocabulary

BANDS, ROWS = 16, 4
DUP_THRESHOLD = 0.7
DUP_CONTAINMENT = 0.8
DUP_MIN_SHINGLES = 30
STORY_WINDOW_FACTOR = 2.0
STORY_THRESHOLD = 0.28
MIN_COSINE = 0.20
MAX_CANDIDATES = 60
MAX_POSTING = 5000  # a key shared by more stored articles than this is too common to find candidates
TERM_VOTE = 0.5
_DAY = 86400.0
_SLOT_BITS = 24


class FeaturesRefused(ValueError):
    """Features this index cannot compare (another signature format or size)."""


def story_id_for(article_id: str) -> str:
    """The id of the story an article starts."""
    return "story-" + hashlib.sha1(article_id.encode("utf-8")).hexdigest()[:16]


def timestamp(dt: datetime | None) -> float:
    """Seconds since the epoch (naive times are UTC; None is now)."""
    if dt is None:
        return time.time()
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True, slots=True)
class Placement:
    """Where :meth:`StoryIndex.place` put an article.

    ``new_story``: this article started ``story_id``. ``revision``: the article id was placed
    before; it keeps the story it had. ``repeated``: a redelivery (an order not newer than the
    stored one): the stored answer, unchanged.
    """

    story_id: str
    duplicate_of: str | None
    new_story: bool
    revision: bool = False
    repeated: bool = False

    @property
    def kind(self) -> str:
        """``duplicate`` | ``new_story`` | ``joined_story`` (the label of
        ``newsflow_story_assignments_total``; a revision keeping its story counts as joined)."""
        if self.duplicate_of:
            return "duplicate"
        return "new_story" if self.new_story else "joined_story"


def _band_keys(signature: bytes) -> list[int]:
    step = 4 * ROWS
    return [int.from_bytes(signature[i * step : (i + 1) * step], "little") << 4 | i for i in range(BANDS)]


def _jaccard(a: bytes, b: bytes) -> float:
    """Of two signatures (or records, which start with theirs)."""
    return float(np.count_nonzero(np.frombuffer(a, np.uint32, NUM_PERM) == np.frombuffer(b, np.uint32, NUM_PERM))) / NUM_PERM


def _near_duplicate(signature: bytes, size: int, other: Item) -> bool:
    j = _jaccard(signature, other.record)
    if j >= DUP_THRESHOLD:
        return True
    small = min(size, other.size)
    if small < DUP_MIN_SHINGLES or j <= 0.0:
        return False
    shared = j * (size + other.size) / (1.0 + j)  # |A & B| from J and the set sizes
    return shared / small >= DUP_CONTAINMENT


def _signature(features: StoryFeatures) -> bytes:
    if features.format != StoryFeatures.FORMAT:
        raise FeaturesRefused(f"story features of format {features.format!r} (this index compares "
                              f"{StoryFeatures.FORMAT!r})")
    raw = base64.b64decode(features.signature)
    if len(raw) != SIG_BYTES:
        raise FeaturesRefused(f"a signature of {len(raw)} bytes ({SIG_BYTES} expected)")
    return raw


class StoryIndex:
    """Streaming near-duplicate + same-story clustering over features. Bounded; in memory only
    (the stage rebuilds it from its own output, see :mod:`services.stories.rebuild`)."""

    def __init__(self, *, window_days: float = 3.0, max_items: int = 50_000) -> None:
        self.window = float(window_days) * _DAY
        self.story_window = self.window * STORY_WINDOW_FACTOR
        self.max_items = int(max_items)
        self._lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        """Forget everything (before a rebuild)."""
        with self._lock:
            capacity = 1 << max(10, (2 * self.max_items + 2).bit_length())
            if capacity > 1 << _SLOT_BITS:
                raise ValueError(f"max_items {self.max_items} is too large")
            self._mask = capacity - 1
            self._slots: list[Item | None] = [None] * capacity
            self._slot_seq = np.full(capacity, -1, dtype=np.int64)  # seq in each slot; -1 free
            self._slot_order = np.zeros(capacity, dtype=np.int64)  # the order of the item in each slot
            self._scratch_at = np.zeros(capacity, dtype=np.int32)  # _tally's
            self._scratch_votes = np.zeros(capacity, dtype=np.float64)
            self._seq = 0
            self._items: dict[str, Item] = {}
            self._lsh: dict[int, str | list[str]] = {}
            self._post: dict[int, array[int]] = {}  # key id -> seqs (lazily cleaned)
            self._vocab = Vocabulary()
            self._by_order: list[int] = []  # (order << SLOT_BITS | slot): max_items eviction
            self._by_seen: list[int] = []  # (seen_ms << SLOT_BITS | slot): window eviction
            self._newest_seen = -(1 << 62)
            self._next_order = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._items

    # the API -----------------------------------------------------------------------------------
    def place(self, article_id: str, features: StoryFeatures, published_at: datetime | None, *,
              seen_at: datetime | None = None, order: int | None = None) -> Placement:
        """Place an article: its story (and the first copy it duplicates, if any); remember it.

        ``published_at`` (None: now) decides the windows it is compared within; ``seen_at``
        (default: ``published_at``) is the eviction clock; ``order`` (default: after everything
        placed) decides which copy is first. Raises :class:`FeaturesRefused`."""
        signature = _signature(features)
        with self._lock:
            previous = self._items.get(article_id)
            if previous is not None and order is not None and order <= previous.order:
                return Placement(previous.story_id, previous.duplicate_of, False, revision=True, repeated=True)
            ts = timestamp(published_at)
            if previous is not None:  # a revision of an article we have: keep its story
                self._remove(previous)
            story: str | None = previous.story_id if previous else None
            duplicate_of: str | None = None
            first = self._first_copy(article_id, signature, features.shingles, ts)
            if first is not None:
                root = first.duplicate_of
                duplicate_of = root if root and root in self._items else first.article_id
                story = story or first.story_id
            q_terms = self._vocab.lookup(["t:" + w for w in features.terms])
            q_ents = self._vocab.lookup(list(features.entities))
            if story is None:
                story = self._best_story(article_id, ts, features, q_terms, q_ents)
            new_story = story is None
            story = story or story_id_for(article_id)
            self._insert(article_id, features, signature, story, duplicate_of, ts,
                         timestamp(seen_at) if seen_at else ts, order)
            return Placement(story, duplicate_of, new_story, previous is not None)

    def insert(self, article_id: str, features: StoryFeatures, published_at: datetime | None, *,
               story_id: str, duplicate_of: str | None, seen_at: datetime | None = None,
               order: int | None = None) -> bool:
        """Remember an article placed before (a rebuild from the stage's output), as it was placed.
        A record older (by ``order``) than the stored one for the same id is ignored: False; one
        of the same order replaces it (read later: a replay re-placed it)."""
        signature = _signature(features)
        with self._lock:
            previous = self._items.get(article_id)
            if previous is not None:
                if order is not None and order < previous.order:
                    return False
                self._remove(previous)
            ts = timestamp(published_at)
            self._insert(article_id, features, signature, story_id, duplicate_of, ts,
                         timestamp(seen_at) if seen_at else ts, order)
            return True

    def stored(self, article_id: str) -> tuple[str, str | None] | None:
        """``(story_id, duplicate_of)`` of a remembered article."""
        item = self._items.get(article_id)
        return (item.story_id, item.duplicate_of) if item else None

    # candidates --------------------------------------------------------------------------------
    def _first_copy(self, article_id: str, signature: bytes, size: int, ts: float) -> Item | None:
        """The first (lowest order) stored near-duplicate published within the window, if any."""
        best: Item | None = None
        for key in _band_keys(signature):
            bucket = self._lsh.get(key)
            for aid in (bucket,) if isinstance(bucket, str) else bucket or ():
                other = self._items[aid]
                if aid == article_id or other.duplicate_of == article_id:
                    continue  # never a copy of itself or of its own copies
                if best is not None and other.order >= best.order:
                    continue
                if abs(other.ts - ts) <= self.window and _near_duplicate(signature, size, other):
                    best = other
        return best

    def _votes(self, q_terms: np.ndarray, q_term_w: np.ndarray, q_ents: np.ndarray,
               q_ent_w: np.ndarray) -> list[Item]:
        """The stored articles sharing the most (weighted) index keys: at most ``MAX_CANDIDATES``,
        most votes first, ties by order."""
        top = np.argsort(-q_term_w, kind="stable")[:INDEX_TERMS]
        keys = [(int(k), float(w)) for k, w in zip(q_ents, q_ent_w, strict=True)]
        keys += [(int(q_terms[i]), TERM_VOTE) for i in top]
        arrays, weights, lengths = [], [], []
        live = self._vocab.live
        for key, w in keys:
            post = self._post.get(key)
            if post is None or key < 0 or live[key] > MAX_POSTING:
                continue
            arrays.append(np.frombuffer(post, dtype=np.int64))
            weights.append(w)
            lengths.append(len(post))
        if not arrays:
            return []
        seqs = np.concatenate(arrays)
        del arrays
        w_all = np.repeat(np.array(weights), lengths)
        slots = seqs & self._mask
        alive = self._slot_seq[slots] == seqs
        found, votes = self._tally(slots[alive], w_all[alive])
        if len(votes) > MAX_CANDIDATES:  # the best ones (ties at the cut kept), then ordered
            # the cut from the negated votes: numpy's partition is slow on many equal values at the top
            keep = votes >= -np.partition(-votes, MAX_CANDIDATES - 1)[MAX_CANDIDATES - 1]
            found, votes = found[keep], votes[keep]
        ranked = np.lexsort((found, self._slot_order[found], -votes))[:MAX_CANDIDATES]
        held = self._slots
        return cast("list[Item]", [held[slot] for slot in found[ranked].tolist()])  # alive: all there

    def _tally(self, slots: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The distinct ``slots`` and the sum of their ``weights`` (added in array order), without
        a sort or a pass over every slot: two scratch arrays, left zeroed."""
        at = np.arange(len(slots), dtype=np.int32)
        self._scratch_at[slots] = at  # the last occurrence of each slot wins
        found = slots[self._scratch_at[slots] == at]
        np.add.at(self._scratch_votes, slots, weights)
        votes = self._scratch_votes[found]
        self._scratch_votes[found] = 0.0
        nonzero = votes != 0
        return found[nonzero], votes[nonzero]

    def _best_story(self, article_id: str, ts: float, features: StoryFeatures, q_terms: np.ndarray,
                    q_ents: np.ndarray) -> str | None:
        q_term_w = np.fromiter(features.terms.values(), dtype=np.float32, count=len(features.terms))
        q_ent_w = np.fromiter(features.entities.values(), dtype=np.float32, count=len(features.entities))
        candidates = [c for c in self._votes(q_terms, q_term_w, q_ents, q_ent_w)
                      if c.article_id != article_id and abs(c.ts - ts) <= self.story_window and c.n_terms]
        if not candidates or not len(q_terms):
            return None
        scores = self._scores(candidates, q_terms, q_term_w, q_ents, q_ent_w)
        best = int(np.argmax(scores))
        return candidates[best].story_id if scores[best] >= STORY_THRESHOLD else None

    # scoring -----------------------------------------------------------------------------------
    def _scores(self, cands: list[Item], q_terms: np.ndarray, q_term_w: np.ndarray, q_ents: np.ndarray,
                q_ent_w: np.ndarray) -> np.ndarray:
        """``0.65 * cosine(TF-IDF terms) + 0.35 * cosine(entities)`` per candidate; 0 under ``MIN_COSINE``."""
        idf = self._vocab.idf_function(len(self._items) + 1)
        q_wi = q_term_w.astype(np.float64) * idf(q_terms)
        sec = sections(cands)
        cos = segment_cosines(sec.term_ids, sec.term_w, sec.term_len, idf, q_terms, q_wi)
        ent_dots = segment_dots(sec.ent_ids, sec.ent_w, sec.ent_len, q_ents, q_ent_w.astype(np.float64))
        q_ent_norm = float(np.sqrt(np.dot(q_ent_w, q_ent_w)))
        norms = sec.ent_norm * q_ent_norm
        overlap = np.divide(ent_dots, norms, out=np.zeros_like(ent_dots), where=norms > 0)
        return np.where(cos >= MIN_COSINE, 0.65 * cos + 0.35 * overlap, 0.0)

    # storage -----------------------------------------------------------------------------------
    def _insert(self, article_id: str, features: StoryFeatures, signature: bytes, story_id: str,
                duplicate_of: str | None, ts: float, seen: float, order: int | None) -> None:
        seq = self._seq
        self._seq += 1
        slot = seq & self._mask
        occupant = self._slots[slot]
        if occupant is not None:  # the ring went round: the oldest placement goes
            self._remove(occupant)
        if order is None:
            order = self._next_order
        self._next_order = max(self._next_order, order + 1)
        term_ids = self._vocab.add(["t:" + w for w in features.terms])
        ent_ids = self._vocab.add(list(features.entities))
        ent_w = np.fromiter(features.entities.values(), dtype=np.float32, count=len(features.entities))
        term_w = np.fromiter(features.terms.values(), dtype=np.float32, count=len(features.terms))
        item = Item(article_id, slot, order, story_id, duplicate_of, features.shingles, ts, int(seen * 1000),
                    len(term_ids), pack(signature, term_ids, term_w, ent_ids, ent_w))
        self._items[article_id] = item
        self._slots[slot] = item
        self._slot_seq[slot] = seq
        self._slot_order[slot] = order
        for key in _band_keys(signature):
            bucket = self._lsh.get(key)
            if bucket is None:
                self._lsh[key] = article_id
            elif isinstance(bucket, str):
                self._lsh[key] = [bucket, article_id]
            else:
                bucket.append(article_id)
        for key in item.index_keys():
            self._post.setdefault(key, array("q")).append(seq)
            self._vocab.live[key] += 1
        heapq.heappush(self._by_order, order << _SLOT_BITS | slot)
        heapq.heappush(self._by_seen, item.seen_ms << _SLOT_BITS | slot)
        self._newest_seen = max(self._newest_seen, item.seen_ms)
        self._evict()

    def _remove(self, item: Item) -> None:
        del self._items[item.article_id]
        self._slots[item.slot] = None
        seq = int(self._slot_seq[item.slot])
        self._slot_seq[item.slot] = -1
        for key in _band_keys(item.record):
            bucket = self._lsh[key]
            if isinstance(bucket, str):
                del self._lsh[key]
            else:
                bucket.remove(item.article_id)
                if len(bucket) == 1:
                    self._lsh[key] = bucket[0]
        for key in item.index_keys():
            self._unpost(key, seq)
        self._vocab.release(item.term_ids)
        self._vocab.release(item.ent_ids)

    def _unpost(self, key: int, seq: int) -> None:
        live = self._vocab.live
        live[key] -= 1
        post = self._post[key]
        if live[key] <= 0:
            del self._post[key]
        elif len(post) > 2 * live[key] + 8:  # mostly dead entries: keep the live ones
            seqs = np.frombuffer(post, dtype=np.int64)
            kept = seqs[self._slot_seq[seqs & self._mask] == seqs]
            del seqs
            fresh = array("q")
            fresh.frombytes(kept.tobytes())
            self._post[key] = fresh

    def _evict(self) -> None:
        horizon = self._newest_seen - int(self.story_window * 1000)
        self._pop_while(self._by_seen, lambda key: key < horizon, _seen_of)
        self._pop_while(self._by_order, lambda key: len(self._items) > self.max_items, _order_of)
        for heap, field in ((self._by_seen, "seen_ms"), (self._by_order, "order")):
            if len(heap) > 2 * len(self._items) + 64:  # mostly stale entries: rebuild it
                heap[:] = [getattr(it, field) << _SLOT_BITS | it.slot for it in self._items.values()]
                heapq.heapify(heap)

    def _pop_while(self, heap: list[int], evict: Callable[[int], bool], key_of: Callable[[Item], int]) -> None:
        """Remove the items at the top of ``heap`` while ``evict(their key)``; stale entries go too."""
        mask = (1 << _SLOT_BITS) - 1
        while heap:
            key, slot = heap[0] >> _SLOT_BITS, heap[0] & mask
            item = self._slots[slot]
            if item is None or key_of(item) != key:
                heapq.heappop(heap)  # stale: that item is gone or was placed again
                continue
            if not evict(key):
                return
            heapq.heappop(heap)
            self._remove(item)


def _seen_of(item: Item) -> int:
    return item.seen_ms


def _order_of(item: Item) -> int:
    return item.order
