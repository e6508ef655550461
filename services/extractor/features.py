"""An article's story features: what the story stage places it by, computed here, in the extractor.

The story stage (``newsflow stories-worker``) has one active member for the whole deployment,
so everything per-article and expensive happens in the extractor's (many) replicas instead:

* ``signature``: MinHash (64 permutations, datasketch's ``affine32`` scheme, seed 7) over the
  word 5-gram shingles of title + text (3-grams under 60 words), and the number of distinct
  shingles (the story index estimates containment from it: a syndicated copy in another page's
  wrapper); computed here with numpy, bit for bit what datasketch 2.0 computes
  (``tests/extractor/test_features_minhash.py`` compares them): importing datasketch imported
  scipy, ~46 MB in every extractor process (issue 20);
* ``terms``: the 60 most frequent index terms of the text (first 8,000 characters) and the title
  (counted 3 times), each weighted ``1 + log(count)``; stopwords, short words and numbers out, a
  light plural strip;
* ``entities``: people (1.5), organisations (1.0), places (countries 0.6, others 1.2), each
  times ``1 + log(mentions)``.

The result is a :class:`~services.common.messages.StoryFeatures` on the Article
(``StoryFeatures.FORMAT`` names this recipe); :mod:`services.stories.index` scores with them.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections import Counter
from collections.abc import Collection

import numpy as np

from services.common.messages import StoryFeatures, Tags
from services.extractor.tagging.lexicon import STOPWORDS

NUM_PERM = 64
_SEED = 7
TOP_TERMS = 60
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_EXTRA_STOP = frozenset([
    "also", "could", "would", "said", "says", "told", "just", "like", "one", "two", "new", "year",
    "years", "time", "people", "week", "weeks", "day", "days", "month", "months", "last", "first",
    "get", "got", "make", "made", "many", "much", "well", "percent", "per", "cent", "according",
    "including", "since", "still", "even", "back", "way", "ago", "around", "among", "while",
    "later", "early",
])


def _permutations(seed: int, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutations ``h -> a * h + b mod 2**32`` (odd ``a``), drawn as it draws them."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


_A, _B = _permutations(_SEED, NUM_PERM)


def story_features(text: str, title: str | None, tags: Tags) -> StoryFeatures:
    """The features of one article (pure: runs wherever the article is extracted)."""
    words = _WORD.findall(((title + "\n" + text) if title else text).lower())
    signature, shingles = minhash(words)
    return StoryFeatures(
        signature=base64.b64encode(signature.astype("<u4").tobytes()).decode("ascii"),
        shingles=shingles,
        terms=terms(text, title),
        entities=entities(tags),
    )


def minhash(words: list[str]) -> tuple[np.ndarray, int]:
    """MinHash hash values over the word shingles, and the number of distinct shingles."""
    n = 5 if len(words) >= 60 else 3
    shingles = {" ".join(words[i : i + n]).encode("utf-8") for i in range(max(1, len(words) - n + 1))}
    return minhash_values(shingles), len(shingles)


def minhash_values(items: Collection[bytes]) -> np.ndarray:
    """The MinHash of ``items`` as datasketch's ``MinHash(64, seed=7, scheme="affine32")`` computes it.

    Each item's 32-bit hash is the first 4 bytes of its SHA-1 (little-endian), pre-mixed with the
    MurmurHash3 finalizer, then permuted by every ``(a, b)``; the signature is the minimum of each
    permutation over the items (all ones for no item). uint32 arithmetic wraps: that is the mod 2**32.
    """
    if not items:
        return np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    hv = np.frombuffer(b"".join(hashlib.sha1(x).digest()[:4] for x in items), dtype="<u4").astype(np.uint32)
    hv = hv ^ (hv >> np.uint32(16))
    hv = hv * np.uint32(0x85EBCA6B)
    hv = hv ^ (hv >> np.uint32(13))
    hv = hv * np.uint32(0xC2B2AE35)
    hv = hv ^ (hv >> np.uint32(16))
    values: np.ndarray = (hv.reshape(-1, 1) * _A + _B).min(axis=0)
    return values


def _norm(w: str) -> str | None:
    """Lower-cased word -> index term: no possessive, a light plural strip; None for stopwords."""
    if w.endswith(("'s", "’s")):
        w = w[:-2]
    if len(w) < 3 or w in STOPWORDS or w in _EXTRA_STOP or w.isdigit():
        return None
    if len(w) > 4 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-2] if w.endswith("ies") is False and w.endswith("es") and w[-3] in "sxz" else w[:-1]
    return w


def terms(text: str, title: str | None) -> dict[str, float]:
    """The top index terms, most frequent first, weighted ``1 + log(count)`` (4 decimals)."""
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
    return {w: round(1.0 + math.log(c), 4) for w, c in tf.most_common(TOP_TERMS)}


def _salience(n_mentions: int) -> float:
    return 1.0 + math.log(max(n_mentions, 1))


def entities(tags: Tags) -> dict[str, float]:
    """Entity keys weighted by kind and by how often the article mentions them (4 decimals)."""
    ents: dict[str, float] = {}
    for p in tags.people:
        ents["p:" + p.name.lower()] = 1.5 * _salience(len(p.mentions))
    for o in tags.organisations:
        ents["o:" + o.name.lower()] = 1.0 * _salience(len(o.mentions))
    for pl in tags.places:
        ents["g:" + pl.place_id] = (0.6 if pl.kind == "country" else 1.2) * _salience(len(pl.mentions))
    return {k: round(v, 4) for k, v in ents.items()}
