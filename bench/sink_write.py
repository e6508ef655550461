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
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from services.common.messages import Article, Entity, Place
from services.sink.store import Store, open_store

WORDS = ["government", "council", "minister", "report", "border", "troops", "election", "budget", "market", "energy", "prices", "city", "region", "officials", "statement", "agreement", "talks", "weapons", "strike", "village", "residents", "hospital", "school", "court", "ruling", "company", "workers", "union", "strike", "inflation", "bank", "rates", "climate", "flood", "storm", "season"]


def articles(n: int, seed: int = 7, prefix: str = "b") -> list[Article]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(820))[:5000]
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


def rate(n: int, fn: Callable[[], None]) -> float:
    started = time.perf_counter()
    fn()
    return n / (time.perf_counter() - started)


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


def measure(name: str, url: str, n: int, batch: int, baseline_n: int) -> dict[str, float]:
    store: Store = open_store(url)
    try:
        one_by_one = articles(baseline_n, seed=1, prefix="one")
        batched = articles(n, seed=2, prefix="bat")

        def write_one_by_one() -> None:
            for a in one_by_one:
                store.write_batch([a])

        def write_batched() -> None:
            for i in range(0, n, batch):
                store.write_batch(batched[i:i + batch])

        figures = {
            "one row per transaction": rate(baseline_n, write_one_by_one),
            f"batches of {batch}": rate(n, write_batched),
            f"redelivery, batches of {batch} (unchanged)": rate(n, write_batched),
        }
    finally:
        store.close()
    print(f"\n{name}")
    for label, value in figures.items():
        print(f"  {label:<45} {value:>9,.0f} articles/s")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--baseline", type=int, default=300, help="articles written one per transaction")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(f"{args.articles} articles of ~5 KB text and 20 tags each; baseline: {args.baseline} articles, "
          "one per transaction (the sink with a batch of 1)")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = measure("SQLite (WAL, synchronous=FULL)", f"sqlite:///{Path(tmp) / 'bench.db'}",
                                    args.articles, args.batch, args.baseline)
    with postgres_schema(args.postgres) as url:
        results["PostgreSQL"] = measure("PostgreSQL (COPY, one transaction per batch)", url,
                                        args.articles, args.batch, args.baseline)
    print("\nratios (same run)")
    for backend, figures in results.items():
        base, batched = figures["one row per transaction"], figures[f"batches of {args.batch}"]
        ratio = batched / base
        print(f"  {backend:<11} batched / one-row = {ratio:5.1f}x  (target >= 10x: {'met' if ratio >= 10 else 'NOT met'}); "
              f"batched {batched:,.0f}/s (target >= 2,000/s: {'met' if batched >= 2000 else 'NOT met'})")


if __name__ == "__main__":
    main()
