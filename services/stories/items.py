"""What the story index keeps of an article, and the vectorised scoring over a few of them.

An :class:`Item` holds its arrays in one ``bytes`` record (one object instead of a signature and
four numpy arrays: ~500 bytes less per article)::

    signature (NUM_PERM uint32) | entity norm (float32) | term ids (int32) | term weights (float32)
    | entity ids (int32) | entity weights (float32)

Term ids are the vocabulary ids of the article's terms, most frequent first; ``n_terms`` says
where the terms end. The scoring functions take the concatenated sections of the candidates
(:func:`sections`), so a placement joins a few byte strings instead of looping over arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

NUM_PERM = 64
INDEX_TERMS = 12  # top terms that go into the inverted index (all terms are scored)
SIG_BYTES = 4 * NUM_PERM
_TERMS_AT = SIG_BYTES + 4


@dataclass(slots=True)
class Item:
    article_id: str
    slot: int
    order: int
    story_id: str
    duplicate_of: str | None
    size: int  # distinct shingles
    ts: float  # published
    seen_ms: int  # fetched (eviction clock), milliseconds
    n_terms: int
    record: bytes  # see the module's docstring

    @property
    def term_ids(self) -> np.ndarray:
        return np.frombuffer(self.record, np.int32, self.n_terms, _TERMS_AT)

    @property
    def term_w(self) -> np.ndarray:
        return np.frombuffer(self.record, np.float32, self.n_terms, _TERMS_AT + 4 * self.n_terms)

    @property
    def ent_ids(self) -> np.ndarray:
        at = _TERMS_AT + 8 * self.n_terms
        return np.frombuffer(self.record, np.int32, (len(self.record) - at) // 8, at)

    def index_keys(self) -> list[int]:
        """The inverted index's keys of this article: its entities and its top terms."""
        top = np.argsort(-self.term_w, kind="stable")[:INDEX_TERMS]
        term_ids = self.term_ids
        return [int(k) for k in self.ent_ids] + [int(term_ids[i]) for i in top]


def pack(signature: bytes, term_ids: np.ndarray, term_w: np.ndarray, ent_ids: np.ndarray,
         ent_w: np.ndarray) -> bytes:
    """One record (``term_w`` and ``ent_w`` float32, the ids int32)."""
    ent_norm = np.sqrt(np.dot(ent_w, ent_w)).astype(np.float32)
    return b"".join((signature, ent_norm.tobytes(), term_ids.astype(np.int32).tobytes(), term_w.tobytes(),
                     ent_ids.astype(np.int32).tobytes(), ent_w.tobytes()))


@dataclass(frozen=True, slots=True)
class Sections:
    """The candidates' records, concatenated section by section."""

    term_ids: np.ndarray
    term_w: np.ndarray
    term_len: np.ndarray
    ent_ids: np.ndarray
    ent_w: np.ndarray
    ent_len: np.ndarray
    ent_norm: np.ndarray  # float64


def sections(items: list[Item]) -> Sections:
    recs = [it.record for it in items]
    nts = [it.n_terms for it in items]
    ends = [_TERMS_AT + 8 * n for n in nts]
    halves = [(len(r) - e) // 2 for r, e in zip(recs, ends, strict=True)]
    join = b"".join
    return Sections(
        term_ids=np.frombuffer(join([r[_TERMS_AT : _TERMS_AT + 4 * n] for r, n in zip(recs, nts, strict=True)]),
                               np.int32),
        term_w=np.frombuffer(join([r[_TERMS_AT + 4 * n : e] for r, n, e in zip(recs, nts, ends, strict=True)]),
                             np.float32),
        term_len=np.array(nts, dtype=np.int64),
        ent_ids=np.frombuffer(join([r[e : e + h] for r, e, h in zip(recs, ends, halves, strict=True)]), np.int32),
        ent_w=np.frombuffer(join([r[e + h :] for r, e, h in zip(recs, ends, halves, strict=True)]), np.float32),
        ent_len=np.array(halves, dtype=np.int64) // 4,
        ent_norm=np.frombuffer(join([r[SIG_BYTES:_TERMS_AT] for r in recs]), np.float32).astype(np.float64),
    )


def _starts(lengths: np.ndarray) -> np.ndarray:
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    return starts


def _matches(q_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``ids``: its position in ``q_ids`` (sorted positions via argsort) and whether it is there."""
    order = np.argsort(q_ids)
    sorted_q = q_ids[order]
    pos = np.searchsorted(sorted_q, ids)
    pos[pos >= len(sorted_q)] = 0
    hit = (sorted_q[pos] == ids) & (ids >= 0)
    return order[pos], hit


def segment_cosines(ids: np.ndarray, weights: np.ndarray, lengths: np.ndarray,
                    idf: Callable[[np.ndarray], np.ndarray], q_ids: np.ndarray, q_wi: np.ndarray) -> np.ndarray:
    """TF-IDF cosine of the query with each candidate (segments of ``ids``; none empty)."""
    starts = _starts(lengths)
    wi = weights.astype(np.float64) * idf(ids)
    where, hit = _matches(q_ids, ids)
    dots = np.add.reduceat(np.where(hit, wi * q_wi[where], 0.0), starts)
    norms = np.sqrt(np.add.reduceat(wi * wi, starts)) * math.sqrt(float(np.dot(q_wi, q_wi)))
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def segment_dots(ids: np.ndarray, weights: np.ndarray, lengths: np.ndarray, q_ids: np.ndarray,
                 q_w: np.ndarray) -> np.ndarray:
    """Dot product of the query's entity weights with each candidate's (segments of ``ids``)."""
    out = np.zeros(len(lengths))
    nonempty = np.flatnonzero(lengths)
    if not len(q_ids) or not len(nonempty):
        return out
    where, hit = _matches(q_ids, ids)
    out[nonempty] = np.add.reduceat(np.where(hit, weights.astype(np.float64) * q_w[where], 0.0),
                                    _starts(lengths[nonempty]))
    return out
