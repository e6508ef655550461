"""Extractor-stage speed: ``analyse`` (extract + tag, no Kafka) vs plain ``trafilatura.extract``.

Runs both on the same pages (``../shared/data/extraction/fundus``), in the same run and
process, interleaved page by page so that load from other processes on the machine hits
both alike; prints pages/s of each and the ratio (target: >= 0.8). It also times
``extract_page`` alone, so the tagging share of ``analyse`` is reported exactly, and the worker's
whole task (``extract_record``: decode the record, ``analyse``, build and encode the article), so
what the pipeline's worker does beyond ``analyse`` is reported too. With
``--workers`` it then runs the same pages through :class:`services.extractor.workers.AnalysePool`
with 1 and with N worker processes and prints the speed-up.

    .venv/bin/python bench/extractor_speed.py                # single process, 3 rounds
    .venv/bin/python bench/extractor_speed.py --workers 2    # + pool speed-up 1 -> 2
    .venv/bin/python bench/extractor_speed.py --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import trafilatura

from bench.extraction_eval import DEFAULT_DATA, DataMissing, load_pages
from services.common.messages import FeedEntry, PageMessage, encode
from services.extractor.extract import ExtractionError, extract_page
from services.extractor.htmlprocessing import bounded_text
from services.extractor.pipeline import analyse, extract_record
from services.extractor.tagging import tag
from services.extractor.workers import AnalysePool


def page_messages(data: Path) -> list[PageMessage]:
    """The fundus pages as the extractor stage receives them (decoded HTML + a bare feed entry)."""
    out: list[PageMessage] = []
    now = datetime.now(UTC)
    for i, page in enumerate(load_pages(data)):
        url = page.url or f"https://example.org/{page.name}"
        entry = FeedEntry(feed_url="https://example.org/feed", entry_id=url, link=url)
        out.append(
            PageMessage(
                id=f"p{i:04d}", url=url, final_url=url, status=200, html=bounded_text(page.html()),
                fetched_at=now, entry=entry,
            )
        )
    return out


def _plain(page: PageMessage) -> object:
    return trafilatura.extract(page.html)


def _extract_only(page: PageMessage) -> object:
    return extract_page(page.html, url=page.final_url, entry=page.entry)


def _timed(fn: Callable[[PageMessage], object], page: PageMessage, errors: dict[str, int]) -> float:
    """Seconds ``fn`` took on ``page``; a failure still counts its time and is tallied by class."""
    t0 = time.perf_counter()
    try:
        fn(page)
    except Exception as exc:  # the stage would dead-letter the page; count it
        key = type(exc).__name__
        errors[key] = errors.get(key, 0) + 1
    return time.perf_counter() - t0


def _tag_extracted(page: PageMessage) -> float:
    """Seconds ``tag`` takes on the text ``extract_page`` gives (the extraction is not timed)."""
    try:
        ex = extract_page(page.html, url=page.final_url, entry=page.entry)
    except ExtractionError:
        return 0.0
    t0 = time.perf_counter()
    try:
        tag(ex.text, title=ex.title, categories=page.entry.categories, url=page.final_url,
            language_hint=ex.language_hint)
    except Exception:  # the failure is counted under "analyse"; its time still counts
        return time.perf_counter() - t0
    return time.perf_counter() - t0


def single_process(pages: list[PageMessage], rounds: int) -> dict[str, Any]:
    """Best-of-``rounds`` seconds per system; each round interleaves the systems page by page."""
    raw = {page.id: encode(page) for page in pages}  # a record's value, as the worker gets it
    systems: dict[str, Callable[[PageMessage], object]] = {
        "plain": _plain,
        "extract": _extract_only,
        "analyse": analyse,
        "record": lambda page: extract_record(raw[page.id]),  # the worker's whole task
    }
    best = dict.fromkeys([*systems, "tag"], float("inf"))
    errors: dict[str, dict[str, int]] = {name: {} for name in systems}
    for _ in range(rounds):
        totals = dict.fromkeys(best, 0.0)
        for page in pages:
            for name, fn in systems.items():
                totals[name] += _timed(fn, page, errors[name])
            totals["tag"] += _tag_extracted(page)
        best = {name: min(best[name], totals[name]) for name in best}
    n = len(pages)
    return {
        "pages": n,
        "plain_pages_per_s": n / best["plain"],
        "extract_pages_per_s": n / best["extract"],
        "analyse_pages_per_s": n / best["analyse"],
        "ratio_analyse_vs_plain": best["plain"] / best["analyse"],
        "ratio_extract_vs_plain": best["plain"] / best["extract"],
        "tag_seconds": best["tag"],
        "extract_seconds": best["extract"],
        "analyse_seconds": best["analyse"],
        "record_pages_per_s": n / best["record"],
        "record_extra_ms_per_page": (best["record"] - best["analyse"]) / n * 1000,
        "tag_share_of_analyse": best["tag"] / (best["tag"] + best["extract"]),
        "errors_per_round": {name: {k: v // rounds for k, v in errs.items()} for name, errs in errors.items()},
    }


def pool_speedup(pages: list[PageMessage], workers: int, timeout: float) -> dict[str, float]:
    """Wall time of the whole set through a pool of 1 and of ``workers`` processes."""
    out: dict[str, float] = {}
    for n in (1, workers):
        with AnalysePool(n, timeout_seconds=timeout, task=analyse) as pool:
            pool.run(pages[:4])  # start-up and imports are not part of the throughput
            t0 = time.perf_counter()
            results = pool.run(pages)
            secs = time.perf_counter() - t0
        failed = sum(1 for r in results if isinstance(r, BaseException))
        out[f"workers_{n}_pages_per_s"] = len(pages) / secs
        out[f"workers_{n}_failed"] = failed
    out["speedup"] = out[f"workers_{workers}_pages_per_s"] / out["workers_1_pages_per_s"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="fundus test_data directory")
    ap.add_argument("--rounds", type=int, default=3, help="single-process rounds (best is kept)")
    ap.add_argument("--workers", type=int, default=0, help="also measure a pool of 1 vs N workers")
    ap.add_argument("--timeout", type=float, default=30.0, help="per-page timeout in the pool")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead")
    args = ap.parse_args(argv)
    try:
        pages = page_messages(args.data)
    except DataMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    res: dict[str, Any] = single_process(pages, max(args.rounds, 1))
    if args.workers > 1:
        res.update(pool_speedup(pages, args.workers, args.timeout))
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"extractor speed, {len(pages)} pages from {args.data}, best of {args.rounds} interleaved rounds")
    print(f"  plain trafilatura.extract  {res['plain_pages_per_s']:7.1f} pages/s")
    print(f"  extract_page               {res['extract_pages_per_s']:7.1f} pages/s"
          f"   ratio vs plain {res['ratio_extract_vs_plain']:.2f}")
    print(f"  analyse (extract + tag)    {res['analyse_pages_per_s']:7.1f} pages/s"
          f"   ratio vs plain {res['ratio_analyse_vs_plain']:.2f}  (target >= 0.80)")
    print(f"  worker's task (extract_record: decode + analyse + build + encode) {res['record_pages_per_s']:7.1f} pages/s,"
          f" +{res['record_extra_ms_per_page']:.2f} ms a page beyond analyse")
    print(f"  tagging share of analyse   {res['tag_share_of_analyse']:7.1%}"
          f"   (tag {res['tag_seconds']:.2f} s, extract {res['extract_seconds']:.2f} s per round)")
    for name, errs in res["errors_per_round"].items():
        if errs:
            print(f"  failures per round, {name}: {errs}")
    if args.workers > 1:
        print(f"  pool, 1 worker             {res['workers_1_pages_per_s']:7.1f} pages/s")
        print(f"  pool, {args.workers} workers            {res[f'workers_{args.workers}_pages_per_s']:7.1f} pages/s"
              f"   speed-up {res['speedup']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
