"""Story stage speed and memory: articles placed per second on one core, and RSS per article in
the window, at 20,000 and 100,000 articles in the story index.

The features are precomputed (the extractor's job) and no Kafka is involved: this is the stage's
processing, :func:`services.stories.placing.place_article` on a full
:class:`~services.stories.index.StoryIndex`. The corpus is synthetic but shaped like news: events
of ~10 articles sharing terms and entities, Zipf-distributed background words, 5% syndicated
copies (near-identical signatures).

Baseline, measured in the same run and the same way (each measurement in a fresh process, so
RSS is its own): a plain datasketch ``MinHashLSH`` (threshold 0.4, 64 permutations) holding the
same signatures as ``LeanMinHash`` objects, one query + one insert per article: the
near-duplicate lookup alone, which the story stage does on top of its clustering.

    .venv/bin/python -m bench.story_stage            # 20,000 and 100,000
    .venv/bin/python -m bench.story_stage --sizes 5000
"""

from __future__ import annotations

import argparse
import base64
import gc
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 - after the one-thread settings

from services.common.messages import Article, StoryFeatures  # noqa: E402
from services.stories.index import StoryIndex  # noqa: E402
from services.stories.placing import place_article  # noqa: E402

T0 = datetime(2026, 1, 5, tzinfo=UTC)
TIMED = 2000
VOCAB = 50_000


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def corpus(n: int, seed: int = 7) -> Iterator[tuple[str, StoryFeatures, datetime]]:
    """``n`` articles' (id, features, published), generated one at a time (nothing kept)."""
    rng = np.random.default_rng(seed)
    zipf = np.minimum(rng.zipf(1.3, size=4 * 60 * n), VOCAB - 1)
    signatures: dict[int, np.ndarray] = {}
    for i in range(n):
        event = int(rng.integers(0, max(1, n // 10)))
        ev = np.random.default_rng(event)
        event_terms = [f"ev{event}w{k}" for k in range(30)]
        event_ents = [f"p:person {event} {k}" for k in range(3)] + [f"g:geonames:{event % 5000}"]
        words = event_terms[: int(rng.integers(12, 30))] + [f"w{int(z)}" for z in zipf[i * 240 : i * 240 + 40]]
        terms = {w: round(1.0 + float(np.log1p(rng.integers(0, 6))), 4) for w in words[:60]}
        ents = {e: round(1.0 + float(rng.random()), 4) for e in event_ents[: int(rng.integers(1, 5))]}
        if i and rng.random() < 0.05:  # a syndicated copy of an earlier article
            base = signatures[int(rng.integers(max(0, i - 500), i))].copy()
            flip = rng.random(64) < 0.1
            base[flip] = rng.integers(0, 2**32, size=int(flip.sum()), dtype=np.uint32)
            sig = base
        else:
            sig = rng.integers(0, 2**32, size=64, dtype=np.uint32)
        signatures[i] = sig
        signatures.pop(i - 500, None)
        published = T0 + timedelta(minutes=i) - timedelta(hours=float(ev.random()) * 48)
        yield f"a{i}", StoryFeatures(signature=base64.b64encode(sig.astype("<u4").tobytes()).decode(),
                                     shingles=int(rng.integers(50, 900)), terms=terms, entities=ents), published


def primed(n: int) -> Iterator[tuple[str, StoryFeatures, datetime]]:
    """The corpus with its generator started: its own random arrays (~1.9 KB per article) are
    allocated before the RSS baseline is read, so they do not count as the index's memory."""
    stream = corpus(n)
    return itertools.chain([next(stream)], stream)


def measure_index(size: int) -> dict[str, float]:
    """Fill a story index with ``size`` articles, then place ``TIMED`` more (each at the full window)."""
    stream = primed(size + TIMED)
    gc.collect()
    before = rss_bytes()
    index = StoryIndex(window_days=3, max_items=size)
    for order, (aid, features, published) in enumerate(stream):
        index.insert(aid, features, published, story_id="story-" + aid, duplicate_of=None, seen_at=T0, order=order)
        if order + 1 == size:
            break
    gc.collect()
    per_item = (rss_bytes() - before) / size
    articles = [Article(id=aid, url="https://x.example/" + aid, source="x", text="", extractor_version="b",
                        content_hash="h", fetched_at=T0, published_at=published, story_features=features)
                for aid, features, published in stream]
    times = []
    started = time.process_time()
    for order, article in enumerate(articles, start=size):
        t = time.perf_counter()
        place_article(index, article, order=order)
        times.append(time.perf_counter() - t)
    cpu = time.process_time() - started
    return {"size": size, "per_second": len(articles) / cpu, "ms_mean": 1000 * statistics.mean(times),
            "ms_p99": 1000 * sorted(times)[int(0.99 * len(times))], "bytes_per_item": per_item,
            "in_index": len(index)}


def measure_lsh(size: int) -> dict[str, float]:
    """The baseline: datasketch MinHashLSH + LeanMinHash for the same signatures, query + insert."""
    from datasketch import LeanMinHash, MinHashLSH  # noqa: PLC0415 - the baseline's own import

    def lean(features: StoryFeatures) -> LeanMinHash:
        values = np.frombuffer(base64.b64decode(features.signature), dtype="<u4")
        return LeanMinHash(seed=7, hashvalues=values, scheme="affine32")

    stream = primed(size + TIMED)
    gc.collect()
    before = rss_bytes()
    lsh = MinHashLSH(threshold=0.4, num_perm=64)
    for i, (aid, features, _) in enumerate(stream):
        lsh.insert(aid, lean(features), check_duplication=False)
        if i + 1 == size:
            break
    gc.collect()
    per_item = (rss_bytes() - before) / size
    signatures = [(aid, lean(features)) for aid, features, _ in stream]
    started = time.process_time()
    for aid, mh in signatures:
        lsh.query(mh)
        lsh.insert(aid, mh, check_duplication=False)
    cpu = time.process_time() - started
    return {"size": size, "per_second": len(signatures) / cpu, "bytes_per_item": per_item}


def in_fresh_process(kind: str, size: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "bench.story_stage", "--one", kind, "--sizes", str(size)],
                         capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="20000,100000", help="articles in the window, comma-separated")
    ap.add_argument("--one", choices=["index", "lsh"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.one:
        print(json.dumps((measure_index if args.one == "index" else measure_lsh)(sizes[0])))
        return 0
    print(f"story stage, one core, features precomputed, {TIMED} placements timed at a full window")
    for size in sizes:
        ours, base = in_fresh_process("index", size), in_fresh_process("lsh", size)
        print(f"{size:>7} in window: {ours['per_second']:8.0f} articles/s placed "
              f"(mean {ours['ms_mean']:.2f} ms, p99 {ours['ms_p99']:.2f} ms), "
              f"{ours['bytes_per_item'] / 1024:.2f} KB RSS per article")
        print(f"{'':>7}  baseline MinHashLSH query+insert: {base['per_second']:8.0f} /s, "
              f"{base['bytes_per_item'] / 1024:.2f} KB per article")
        print(f"{'':>7}  ratios (story stage / baseline): speed {ours['per_second'] / base['per_second']:.2f}x, "
              f"memory {ours['bytes_per_item'] / base['bytes_per_item']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
