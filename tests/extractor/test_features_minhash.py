"""The story signature's MinHash (numpy, services/extractor/features.py) is bit for bit datasketch's.

Signatures are stored with the stories and compared across versions (``StoryFeatures.FORMAT``), so
the reimplementation must give datasketch 2.0's ``MinHash(num_perm=64, seed=7, scheme="affine32")``
hash values exactly, for every text. datasketch is a dev dependency, for this test only.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

datasketch = pytest.importorskip("datasketch")

from services.extractor.features import _WORD, NUM_PERM, minhash, minhash_values

GOLD = Path(__file__).resolve().parents[1] / "data" / "tagging_gold.jsonl"


def reference(words: list[str]) -> np.ndarray:
    """The recipe as features.py ran it on datasketch (5-gram shingles, 3-grams under 60 words)."""
    n = 5 if len(words) >= 60 else 3
    shingles = {" ".join(words[i : i + n]).encode("utf-8") for i in range(max(1, len(words) - n + 1))}
    m = datasketch.MinHash(num_perm=NUM_PERM, seed=7, scheme="affine32")
    m.update_batch(list(shingles))
    return np.asarray(m.hashvalues, dtype=np.uint32)


def texts() -> list[str]:
    with GOLD.open(encoding="utf-8") as f:
        gold = [str(json.loads(line)["text"]) for line in f if line.strip()]
    rnd = random.Random(20)
    vocab = ["kyiv", "straße", "東京", "el", "niño", "o'brien", "news", "2026", "a", "zürich", "ÉTÉ", "x" * 40]
    made = [" ".join(rnd.choice(vocab) for _ in range(rnd.randrange(0, 400))) for _ in range(150)]
    short = [" ".join(t.split()[:50]) for t in gold]  # under 60 words: 3-gram shingles
    return [*gold, *short, *made, "", "one", "two words", "exactly three words", "😀 emoji only 😀"]


def test_signatures_equal_datasketch_on_every_text() -> None:
    cases = texts()
    assert len(cases) > 250
    for text in cases:
        words = _WORD.findall(text.lower())
        values, shingles = minhash(words)
        assert values.dtype == np.uint32 and values.shape == (NUM_PERM,)
        assert values.tobytes() == reference(words).tobytes(), text[:80]
        assert shingles >= 1


def test_single_items_and_no_items_equal_datasketch() -> None:
    for item in (b"", b"a", "ümlaut".encode(), bytes(range(256)), b"x" * 10_000):
        m = datasketch.MinHash(num_perm=NUM_PERM, seed=7, scheme="affine32")
        m.update(item)
        assert minhash_values([item]).tobytes() == np.asarray(m.hashvalues, dtype=np.uint32).tobytes()
    empty = datasketch.MinHash(num_perm=NUM_PERM, seed=7, scheme="affine32")
    assert minhash_values([]).tobytes() == np.asarray(empty.hashvalues, dtype=np.uint32).tobytes()
