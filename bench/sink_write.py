"""Sink write throughput: batched upserts vs one row per transaction, SQLite and PostgreSQL.

    .venv/bin/python bench/sink_write.py [--articles 5000] [--batch 500] [--baseline 300]
                                         [--postgres postgresql://postgres@127.0.0.1:5432/test]

Articles are realistic in size: ~5 KB of text and 20 tags each. Every figure is measured
in the same run, so the ratios hold on a shared, noisy machine even when the absolute
rates do not. PostgreSQL runs in a throwaway schema, dropped afterwards.
Targets (issue #6): >= 2,000 articles/s batched, and >= 10x the one-row baseline.
"""

from __future__ import annotations

import argparse
import glob
import json
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from services.common.messages import Article, Entity, Place
from services.sink.backends import open_store
from services.sink.store import Store

REPO = Path(__file__).resolve().parents[1]
FUNDUS = REPO.parent / "shared" / "data" / "extraction" / "fundus" / "test_data"
ENGLISH_COUNTRIES = ("us", "uk", "ca", "au", "ind", "za")
TEXT_CHARS = 5000
WORDS = ["government", "council", "minister", "report", "border", "troops", "election", "budget", "market", "energy", "prices", "city", "region", "officials", "statement", "agreement", "talks", "weapons", "strike", "village", "residents", "hospital", "school", "court", "ruling", "company", "workers", "union", "strike", "inflation", "bank", "rates", "climate", "flood", "storm", "season"]


def real_paragraphs() -> list[str]:
    """Paragraphs of real English news bodies (../shared/data fundus fixtures), or [] when absent.

    Real text matters here: the vocabulary size drives the cost of PostgreSQL's tsvector and GIN
    index and of TOAST compression; a 36-word synthetic text flatters all three.
    """
    paragraphs: list[str] = []
    for country in ENGLISH_COUNTRIES:
        for path in sorted(glob.glob(str(FUNDUS / country / "*.json"))):
            with open(path, encoding="utf-8") as f:
                for version in json.load(f).values():
                    for section in (version.get("body") or {}).get("sections", []):
                        paragraphs += [p for p in section.get("paragraphs", []) if p.strip()]
    return paragraphs


PARAGRAPHS = real_paragraphs()


def article_text(rng: random.Random) -> str:
    """~5 KB of text: consecutive real paragraphs from a random place, else synthetic words."""
    if not PARAGRAPHS:
        return " ".join(rng.choice(WORDS) for _ in range(820))[:TEXT_CHARS]
    i, parts, size = rng.randrange(len(PARAGRAPHS)), [], 0
    while size < TEXT_CHARS:
        parts.append(PARAGRAPHS[i % len(PARAGRAPHS)])
        size += len(parts[-1]) + 2
        i += 1
    return "\n\n".join(parts)[:TEXT_CHARS]


def articles(n: int, seed: int = 7, prefix: str = "b") -> list[Article]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = article_text(rng)
        out.append(Article(
            id=f"{prefix}{i:07}", url=f"https://news.example/{prefix}/{i}", source=f"outlet{i % 40}.example",
            title=f"Story {i}: " + " ".join(rng.choice(WORDS) for _ in range(8)), text=text, language="en",
            authors=["A. Writer"], extractor_version="bench", content_hash=f"h{prefix}{i}",
            fetched_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i),
            published_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i),
            places=[Place(name=f"Place {i % 97 + k}", place_id=f"geonames:{i % 97 + k}", kind="city")
                    for k in range(5)],
            people=[Entity(name=f"Person {i % 89 + k}") for k in range(5)],
            organisations=[Entity(name=f"Org {i % 53 + k}") for k in range(4)],
            topics=["politics", "economy"], keywords=[f"kw{i % 31 + k}" for k in range(4)],
            story_id=f"story{i // 3}",
        ))
    return out


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{base_url}{'&' if '?' in base_url else '?'}options={quote(f'-csearch_path={schema}')}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def sqlite_file(tmp: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp / f'bench_{uuid.uuid4().hex[:12]}.db'}"


def timed_writes(url: str, batches: list[list[Article]], repeat: int = 1) -> list[float]:
    """Seconds taken by ``repeat`` passes of ``store.write_batch`` over ``batches``, on one store."""
    store: Store = open_store(url)
    try:
        seconds = []
        for _ in range(repeat):
            started = time.perf_counter()
            for b in batches:
                store.write_batch(b)
            seconds.append(time.perf_counter() - started)
        return seconds
    finally:
        store.close()


def measure(name: str, fresh_store: Callable[[], AbstractContextManager[str]], batched: list[Article],
            batch: int, baseline_n: int) -> dict[str, float]:
    """Baseline and batched runs of the *same* articles through ``Store.write_batch``, each on a fresh store.

    The baseline is the first ``baseline_n`` articles, one ``write_batch`` call (one transaction) each:
    what the sink does with a batch size of 1.
    """
    n = len(batched)
    with fresh_store() as url:
        (one_row,) = timed_writes(url, [[a] for a in batched[:baseline_n]])
    with fresh_store() as url:
        first, replay = timed_writes(url, [batched[i:i + batch] for i in range(0, n, batch)], repeat=2)
    figures = {
        "one row per transaction": baseline_n / one_row,
        f"batches of {batch}": n / first,
        f"replay, batches of {batch} (all unchanged)": n / replay,
    }
    print(f"\n{name}")
    for label, value in figures.items():
        print(f"  {label:<45} {value:>9,.0f} articles/s")
    per_article = first / n
    per_commit = max(one_row / baseline_n - per_article, 0.0)
    print(f"  time per article: one-row {one_row / baseline_n * 1e3:.3f} ms = batched {per_article * 1e3:.3f} ms "
          f"+ {per_commit * 1e3:.3f} ms of transaction (commit, fsync, round trips)")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--baseline", type=int, default=500, help="of the same articles, written one per transaction")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    source = f"real English news paragraphs ({len(PARAGRAPHS)})" if PARAGRAPHS else "synthetic words (../shared absent)"
    print(f"{args.articles} articles of ~5 KB text ({source}) and 20 tags each; baseline: the first "
          f"{args.baseline} of them, one per transaction (the sink with a batch of 1); each run on a fresh store")
    batched = articles(args.articles, seed=2, prefix="bat")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = measure("SQLite (WAL, synchronous=FULL)", lambda: sqlite_file(Path(tmp)), batched,
                                    args.batch, args.baseline)
    results["PostgreSQL"] = measure("PostgreSQL (COPY, one transaction per batch)",
                                    lambda: postgres_schema(args.postgres), batched, args.batch, args.baseline)
    print("\nratios (same run)")
    for backend, figures in results.items():
        base, rate_batched = figures["one row per transaction"], figures[f"batches of {args.batch}"]
        ratio = rate_batched / base
        print(f"  {backend:<11} batched / one-row = {ratio:5.1f}x  (target >= 10x: {'met' if ratio >= 10 else 'NOT met'}); "
              f"batched {rate_batched:,.0f}/s (target >= 2,000/s: {'met' if rate_batched >= 2000 else 'NOT met'})")


if __name__ == "__main__":
    main()
