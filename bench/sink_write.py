"""Sink write throughput: batched upserts vs one row per transaction, SQLite and PostgreSQL.

    .venv/bin/python bench/sink_write.py [--articles 5000] [--batch 500] [--baseline 500] [--rounds 1]
                                         [--writers 2] [--postgres postgresql://postgres@127.0.0.1:5432/test]

Articles are realistic in size: ~5 KB of text and 20 tags each. Every figure is measured
in the same run, so the ratios hold on a shared, noisy machine even when the absolute
rates do not. PostgreSQL runs in a throwaway schema, dropped afterwards.
``--text-search-only``: just the PostgreSQL backend's CPU per article of ``to_tsvector`` (whole
text, first 2,000 characters, ``simple``) and of ``INSERT ... SELECT`` of the staged rows into tables
with pglz or lz4 TOAST compression, with or without the ``fts`` column and its GIN index.
Besides one-row and batched writes: the same batches on a store without its full-text index
(the share of the write that is the engine's text indexing), a replay (all unchanged) and a
pass of story changes (``replay --stage stories``); CPU per article of this process and, for a
PostgreSQL server on this machine, of its backend (from /proc); and, on PostgreSQL, ``--writers``
stores writing disjoint batches at once (sink replicas), as a ratio to one.
Targets (issue #6, issue 20): >= 2,000 articles/s batched on both backends with whole-text search,
or a profile showing the engine's indexing as the limit; >= 10x the one-row baseline.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

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
            yield (f"{base_url}{'&' if '?' in base_url else '?'}options={quote(f'-csearch_path={schema}')}"
                   f"&application_name={schema}")  # finds the store's backend (backend_seconds)
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def sqlite_file(tmp: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp / f'bench_{uuid.uuid4().hex[:12]}.db'}"


def strip_search_index(url: str) -> None:
    """Remove the full-text index from a migrated store: the same writes without the engine's text indexing."""
    if url.startswith("sqlite:///"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        for trigger in ("articles_fts_insert", "articles_fts_delete", "articles_fts_update"):
            db.execute(f"DROP TRIGGER {trigger}")
        db.commit()
        db.close()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("ALTER TABLE articles DROP COLUMN fts")  # its GIN index goes with it


def backend_seconds(url: str) -> Callable[[], float] | None:
    """CPU seconds used so far by the PostgreSQL backend that serves the store opened on ``url``
    (found by the URL's application_name, read from /proc: a server on this machine), else None."""
    if url.startswith("sqlite:///"):
        return None
    import psycopg

    name = parse_qs(urlparse(url).query).get("application_name", [""])[0]
    with psycopg.connect(url, autocommit=True) as db:
        pids = [pid for (pid,) in db.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND pid <> pg_backend_pid()", (name,))]
    if len(pids) != 1 or not Path(f"/proc/{pids[0]}/stat").exists():
        return None
    stat, tick = Path(f"/proc/{pids[0]}/stat"), os.sysconf("SC_CLK_TCK")

    def seconds() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    return seconds


@dataclass
class Pass:
    """One pass of ``write_batch`` calls: wall seconds, this process's CPU and the database backend's CPU."""

    articles: int
    wall: float
    client_cpu: float
    server_cpu: float | None

    def rate(self) -> float:
        return self.articles / self.wall

    def cpu_ms(self) -> str:
        server = "" if self.server_cpu is None else f", PostgreSQL backend {self.server_cpu / self.articles * 1e3:.3f}"
        return f"CPU ms/article: sink {self.client_cpu / self.articles * 1e3:.3f}{server}"


def timed_writes(url: str, passes: list[list[list[Article]]]) -> list[Pass]:
    """One :class:`Pass` per list of batches in ``passes``, in order, on one store."""
    store: Store = open_store(url)
    server = backend_seconds(url)
    try:
        out = []
        for batches in passes:
            s0, c0, started = server() if server else 0.0, time.process_time(), time.perf_counter()
            for b in batches:
                store.write_batch(b)
            wall, cpu = time.perf_counter() - started, time.process_time() - c0
            out.append(Pass(sum(map(len, batches)), wall, cpu, server() - s0 if server else None))
        return out
    finally:
        store.close()


def in_batches(items: list[Article], batch: int) -> list[list[Article]]:
    return [items[i:i + batch] for i in range(0, len(items), batch)]


def restoried(items: list[Article]) -> list[Article]:
    """The same articles placed in other stories: what ``replay --stage stories`` sends the sink."""
    return [a.model_copy(update={"story_id": f"{a.story_id}-again"}) for a in items]


def measure(name: str, fresh_store: Callable[[], AbstractContextManager[str]], batched: list[Article],
            batch: int, baseline_n: int) -> dict[str, Pass]:
    """Baseline, batched and unindexed runs of the *same* articles through ``Store.write_batch``,
    each on a fresh store.

    The baseline is the first ``baseline_n`` articles, one ``write_batch`` call (one transaction) each:
    what the sink does with a batch size of 1. "without the search index" is the batched pass on a
    store whose full-text index was removed (:func:`strip_search_index`): the ratio to it is the
    share of the write inside the engine's text indexing.
    """
    with fresh_store() as url:
        (one_row,) = timed_writes(url, [[[a] for a in batched[:baseline_n]]])
    with fresh_store() as url:
        first, replay, story = timed_writes(url, [in_batches(batched, batch), in_batches(batched, batch),
                                                  in_batches(restoried(batched), batch)])
    with fresh_store() as url:
        open_store(url).close()
        strip_search_index(url)
        (bare,) = timed_writes(url, [in_batches(batched, batch)])
    figures = {
        "one row per transaction": one_row,
        f"batches of {batch}": first,
        f"batches of {batch}, without the search index": bare,
        f"replay, batches of {batch} (all unchanged)": replay,
        f"story changes, batches of {batch}": story,
    }
    print(f"\n{name}")
    for label, p in figures.items():
        print(f"  {label:<48} {p.rate():>9,.0f} articles/s   {p.cpu_ms()}")
    per_article = first.wall / first.articles
    per_commit = max(one_row.wall / one_row.articles - per_article, 0.0)
    print(f"  time per article: one-row {one_row.wall / one_row.articles * 1e3:.3f} ms = batched "
          f"{per_article * 1e3:.3f} ms + {per_commit * 1e3:.3f} ms of transaction (commit, fsync, round trips)")
    print(f"  with / without the search index: {first.rate() / bare.rate():.2f}x the rate; "
          f"{1 - bare.wall / first.wall:.0%} of the batched time is the engine's text indexing")
    return figures


TEXT_SEARCH_STEPS = {
    "the texts alone (read, no parsing)": "SELECT sum(length(text)) FROM staged",
    "ts_parse: the parser's tokens only": "SELECT count(*) FROM staged, ts_parse('default', text)",
    "to_tsvector('simple', text)": "SELECT sum(length(to_tsvector('simple', text))) FROM staged",
    "to_tsvector('english', text)": "SELECT sum(length(to_tsvector('english', text))) FROM staged",
    "to_tsvector('english', left(text, 2000))": "SELECT sum(length(to_tsvector('english', left(text, 2000)))) FROM staged",
    "fts as stored (title A || text B)": ("SELECT sum(length(setweight(to_tsvector(cfg, COALESCE(title, '')), 'A') "
                                          "|| setweight(to_tsvector(cfg, text), 'B'))) FROM staged"),
}

_ROW = "CREATE TEMPORARY TABLE variant (title text, text text COMPRESSION {c}, cfg regconfig, doc jsonb COMPRESSION {c}"
_FTS = ("fts tsvector GENERATED ALWAYS AS (setweight(to_tsvector(cfg, COALESCE(title, '')), 'A') "
        "|| setweight(to_tsvector(cfg, {text}), 'B')) STORED")
#: the same rows into tables that differ in one respect each (TOAST compression; the ``fts`` column + GIN)
ROW_VARIANTS = {
    "row alone, pglz": _ROW.format(c="pglz") + ")",
    "row alone, lz4": _ROW.format(c="lz4") + ")",
    "row + fts of the first 2,000 chars + GIN": (_ROW.format(c="lz4") + ", " + _FTS.format(text="left(text, 2000)")
                                                 + "); CREATE INDEX ON variant USING gin (fts)"),
    "row + fts of the whole text + GIN": (_ROW.format(c="lz4") + ", " + _FTS.format(text="text")
                                          + "); CREATE INDEX ON variant USING gin (fts)"),
}


def text_search_profile(fresh_store: Callable[[], AbstractContextManager[str]], batched: list[Article]) -> None:
    """PostgreSQL backend CPU per article of each step of the ``fts`` column, on the same texts
    staged in a temporary table (server on this machine only: read from /proc)."""
    import psycopg

    with fresh_store() as url, psycopg.connect(url, autocommit=True) as db:
        stat = Path(f"/proc/{db.info.backend_pid}/stat")
        if not stat.exists():
            return
        db.execute("CREATE TEMPORARY TABLE staged (title text, text text, cfg regconfig, doc jsonb)")
        with db.cursor() as cur, cur.copy("COPY staged FROM STDIN") as copy:
            for a in batched:
                copy.write_row((a.title, a.text, "english", a.model_dump_json()))

        def cpu() -> float:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        print("  PostgreSQL backend CPU ms/article of the full-text column's steps (same texts, in SQL):")
        for label, sql in TEXT_SEARCH_STEPS.items():
            before = cpu()
            db.execute(sql).fetchall()
            print(f"    {label:<40} {(cpu() - before) / len(batched) * 1e3:6.3f}")
        print("  PostgreSQL backend CPU ms/article of INSERT ... SELECT of the staged rows (title, text, doc JSON):")
        for label, ddl in ROW_VARIANTS.items():
            db.execute("DROP TABLE IF EXISTS variant")
            db.execute(ddl)
            before = cpu()
            # text || '' and doc::text::jsonb: fresh values, compressed on insert (a staged value would be
            # copied still compressed by the staging table's method)
            db.execute("INSERT INTO variant (title, text, cfg, doc) SELECT title, text || '', cfg, doc::text::jsonb "
                       "FROM staged")
            print(f"    {label:<40} {(cpu() - before) / len(batched) * 1e3:6.3f}")
        db.execute("DROP TABLE IF EXISTS variant")


def concurrent_writers(fresh_store: Callable[[], AbstractContextManager[str]], batched: list[Article],
                       batch: int, writers: int) -> float:
    """Articles/s of ``writers`` stores writing disjoint halves (thirds...) of the batches at once, on one
    fresh database: sink replicas, each with its own partitions and its own database connection.
    Threads stand for the replicas (a PostgreSQL store waits for its server without the GIL)."""
    batches = in_batches(batched, batch)
    with fresh_store() as url:
        stores = [open_store(url) for _ in range(writers)]
        try:
            started = time.perf_counter()
            with ThreadPoolExecutor(writers) as pool:
                done = [pool.submit(lambda s, part: [s.write_batch(b) for b in part], store, batches[i::writers])
                        for i, store in enumerate(stores)]
                for future in done:
                    future.result()
            rate = len(batched) / (time.perf_counter() - started)
        finally:
            for store in stores:
                store.close()
    print(f"  {writers} writers at once (sink replicas), batches of {batch}: {rate:>9,.0f} articles/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--baseline", type=int, default=500, help="of the same articles, written one per transaction")
    parser.add_argument("--rounds", type=int, default=1, help="repeat everything; the summary gives ranges")
    parser.add_argument("--writers", type=int, default=2,
                        help="PostgreSQL: this many stores writing at once (sink replicas); 1: skip")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--text-search-only", action="store_true",
                        help="only the PostgreSQL per-article profile (to_tsvector steps, row variants), --rounds times")
    args = parser.parse_args()
    if args.text_search_only:
        batched = articles(args.articles, seed=2, prefix="bat")
        print(f"{args.articles} articles of ~5 KB real text, {datetime.now(UTC):%Y-%m-%d}, load average "
              f"{os.getloadavg()[0]:.1f}")
        for _ in range(args.rounds):
            text_search_profile(lambda: postgres_schema(args.postgres), batched)
        return
    source = f"real English news paragraphs ({len(PARAGRAPHS)})" if PARAGRAPHS else "synthetic words (../shared absent)"
    print(f"{args.articles} articles of ~5 KB text ({source}) and 20 tags each; baseline: the first "
          f"{args.baseline} of them, one per transaction (the sink with a batch of 1); each run on a fresh store")
    batched = articles(args.articles, seed=2, prefix="bat")
    results: dict[str, list[dict[str, Pass]]] = {"SQLite": [], "PostgreSQL": []}
    together: list[float] = []
    for round_no in range(1, args.rounds + 1):
        print(f"\n=== round {round_no} of {args.rounds}")
        with tempfile.TemporaryDirectory() as tmp:
            results["SQLite"].append(measure("SQLite (WAL, synchronous=FULL)", lambda: sqlite_file(Path(tmp)),
                                             batched, args.batch, args.baseline))
        results["PostgreSQL"].append(measure("PostgreSQL (COPY, one transaction per batch)",
                                             lambda: postgres_schema(args.postgres), batched, args.batch,
                                             args.baseline))
        text_search_profile(lambda: postgres_schema(args.postgres), batched)
        if args.writers > 1:  # SQLite has one writer by design: concurrent transactions would queue
            together.append(concurrent_writers(lambda: postgres_schema(args.postgres), batched, args.batch, args.writers)
                            / results["PostgreSQL"][-1][f"batches of {args.batch}"].rate())
    summary(results, args.batch)
    if together:
        print(f"  PostgreSQL  {args.writers} writers at once / 1 writer: "
              f"{min(together):.2f}-{max(together):.2f}x")


def summary(results: dict[str, list[dict[str, Pass]]], batch: int) -> None:
    def span(values: list[float], fmt: str) -> str:
        low, high = format(min(values), fmt), format(max(values), fmt)
        return low if low == high else f"{low}-{high}"

    print(f"\nsummary over {len(next(iter(results.values())))} round(s) (ratios within each run)")
    for backend, runs in results.items():
        rates = [r[f"batches of {batch}"].rate() for r in runs]
        one_row = [r[f"batches of {batch}"].rate() / r["one row per transaction"].rate() for r in runs]
        indexed = [r[f"batches of {batch}"].rate() / r[f"batches of {batch}, without the search index"].rate()
                   for r in runs]
        print(f"  {backend:<11} batched {span(rates, ',.0f')}/s (target >= 2,000/s: "
              f"{'met' if min(rates) >= 2000 else 'NOT met'}); batched / one-row {span(one_row, '.1f')}x; "
              f"with / without the search index {span(indexed, '.2f')}x")


if __name__ == "__main__":
    main()
