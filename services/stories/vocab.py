"""Interned index keys: each term (``t:<word>``) and entity key of the story index is one integer id.

An id counts the stored articles that carry its key (for a term: its document frequency, which
the TF-IDF weights use) and, separately, those indexing it in the inverted index (``live``); an
id no article carries any more is freed and reused, so the vocabulary follows the window instead
of growing for ever.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class Vocabulary:
    def __init__(self, capacity: int = 1024) -> None:
        self._ids: dict[str, int] = {}
        self._names: list[str | None] = []
        self._free: list[int] = []
        self.count = np.zeros(capacity, dtype=np.int64)  # articles carrying the key
        self.live = np.zeros(capacity, dtype=np.int64)  # articles indexing the key (inverted index)

    def __len__(self) -> int:
        return len(self._ids)

    def lookup(self, keys: list[str]) -> np.ndarray:
        """The ids of ``keys``; -1 for a key no stored article carries."""
        get = self._ids.get
        return np.fromiter((get(k, -1) for k in keys), dtype=np.int32, count=len(keys))

    def add(self, keys: list[str]) -> np.ndarray:
        """The ids of ``keys`` (new ones created), each counted once more."""
        out = np.empty(len(keys), dtype=np.int32)
        for i, key in enumerate(keys):
            kid = self._ids.get(key)
            if kid is None:
                kid = self._new(key)
            out[i] = kid
        np.add.at(self.count, out, 1)
        return out

    def release(self, ids: np.ndarray) -> None:
        """Count ``ids`` once less; free those no article carries any more."""
        np.subtract.at(self.count, ids, 1)
        for kid in ids[self.count[ids] <= 0]:
            name = self._names[int(kid)]
            if name is not None:
                del self._ids[name]
                self._names[int(kid)] = None
                self._free.append(int(kid))

    def idf_function(self, n: int) -> Callable[[np.ndarray], np.ndarray]:
        """``log((n + 10) / (df + 1))`` for an array of ids (an unknown id, -1, has df 0)."""
        count = self.count

        def idf(ids: np.ndarray) -> np.ndarray:
            df = np.where(ids >= 0, count[np.maximum(ids, 0)], 0)
            return np.log((n + 10) / (df + 1.0))

        return idf

    def _new(self, key: str) -> int:
        if self._free:
            kid = self._free.pop()
            self._names[kid] = key
        else:
            kid = len(self._names)
            self._names.append(key)
            if kid >= len(self.count):
                self.count = np.concatenate([self.count, np.zeros(len(self.count), dtype=np.int64)])
                self.live = np.concatenate([self.live, np.zeros(len(self.live), dtype=np.int64)])
        self._ids[key] = kid
        self.count[kid] = 0
        self.live[kid] = 0
        return kid
