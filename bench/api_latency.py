"""API latency of cheap requests alone and while expensive searches run, SQLite and PostgreSQL.

    .venv/bin/python bench/api_latency.py [--articles 400] [--expensive 4] [--cheap 100]
                                          [--postgres postgresql://postgres@127.0.0.1:5432/test]

A cheap request is a lookup by id (``GET /articles/{id}``, 200, and an unknown id, 404). An
expensive one is a search every article matches, ranked, with snippets, 200 per page (within
the query limits: ``the OR and OR gov* OR pre* OR sta* OR con*``). For each backend the cheap
requests' p50/p95 latency is measured alone, then while ``--expensive`` clients search without
pause, and the ratio is printed: all in one run, so it holds on a shared, noisy machine.

Two designs of the API's store are measured the same way: ``pool``, this one (read connections,
a scan lane that leaves one for lookups, see ``services/sink/reads.py``), and ``one lock``, the
same store behind one lock that every call takes, as the API was before issue 15.
Articles are those of ``bench/sink_write.py`` (~5 KB of real English news text, 20 tags).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script: bench/ is a package of the repository root
    sys.path.insert(0, str(REPO_ROOT))

from bench.sink_write import articles, postgres_schema, sqlite_file
from services.sink.api import ApiServer, open_api_store
from services.sink.backends import open_store
from services.sink.settings import SinkSettings
from services.sink.store import Store

EXPENSIVE_QUERY = "the OR and OR gov* OR pre* OR sta* OR con*"


class OneLock:
    """The store as the API used it before: every call takes one lock."""

    def __init__(self, store: Store) -> None:
        self._store, self._lock = store, threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)

        def locked(*args: Any, **kw: Any) -> Any:
            with self._lock:
                return method(*args, **kw)
        return locked


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cheap_latencies(client: httpx.Client, ids: list[str], n: int) -> list[float]:
    took = []
    for i in range(n):
        path = f"/articles/{ids[i % len(ids)]}" if i % 2 else f"/articles/no-such-{i}"
        start = time.perf_counter()
        response = client.get(path)
        took.append(time.perf_counter() - start)
        assert response.status_code == (200 if i % 2 else 404), response.text
    return took


def searching(url: str, stop: threading.Event, took: list[float]) -> None:
    with httpx.Client(base_url=url, timeout=300) as client:
        while not stop.is_set():
            start = time.perf_counter()
            response = client.get("/articles", params={"q": EXPENSIVE_QUERY, "limit": 200})
            took.append(time.perf_counter() - start)
            assert response.status_code in (200, 503), response.text


def measure(store: Store, settings: SinkSettings, ids: list[str], expensive: int, cheap: int) -> dict[str, float]:
    server = ApiServer(store, settings).start()
    try:
        with httpx.Client(base_url=server.url, timeout=300) as client:
            cheap_latencies(client, ids, 10)  # warm up
            alone = cheap_latencies(client, ids, cheap)
            stop, searches = threading.Event(), []  # type: ignore[var-annotated]
            clients = [threading.Thread(target=searching, args=(server.url, stop, searches)) for _ in range(expensive)]
            for t in clients:
                t.start()
            time.sleep(1.0)  # every search client has a request in flight
            loaded = cheap_latencies(client, ids, max(10, cheap // 2))
            stop.set()
            for t in clients:
                t.join()
    finally:
        server.stop()
    return {"alone_p50": percentile(alone, 0.5), "alone_p95": percentile(alone, 0.95),
            "loaded_p50": percentile(loaded, 0.5), "loaded_p95": percentile(loaded, 0.95),
            "search_p50": statistics.median(searches) if searches else float("nan"), "searches": len(searches)}


def run_backend(name: str, fresh: Callable[[], AbstractContextManager[str]], n: int, expensive: int,
                cheap: int) -> None:
    with fresh() as url:
        writer = open_store(url)
        batch = articles(n)
        writer.write_batch(batch)
        writer.close()
        settings = SinkSettings(sink_url=url, api_port=0, api_rate_per_second=100_000,  # type: ignore[arg-type]
                                api_rate_burst=100_000, api_query_timeout_seconds=120)
        ids = [a.id for a in batch[:50]]
        for design, wrap in (("pool", lambda s: s), ("one lock", OneLock)):
            r = measure(wrap(open_api_store(settings)), settings, ids, expensive, cheap)
            print(f"| {name} | {design} | {r['alone_p50'] * 1000:.1f} / {r['alone_p95'] * 1000:.1f} ms "
                  f"| {r['loaded_p50'] * 1000:.1f} / {r['loaded_p95'] * 1000:.1f} ms "
                  f"| {r['loaded_p50'] / r['alone_p50']:.1f}x / {r['loaded_p95'] / r['alone_p95']:.1f}x "
                  f"| {r['search_p50'] * 1000:.0f} ms ({r['searches']:.0f}) |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--expensive", type=int, default=4, help="clients searching without pause")
    parser.add_argument("--cheap", type=int, default=100, help="cheap requests measured alone (half as many under load)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"{args.articles} articles; {args.expensive} clients searching {EXPENSIVE_QUERY!r} (limit 200) without pause")
    print("| backend | store | cheap alone p50 / p95 | cheap under load p50 / p95 | under load / alone p50 / p95 "
          "| search p50 (searches) |")
    print("| --- | --- | --- | --- | --- | --- |")
    tmp = Path(tempfile.mkdtemp(prefix="newsflow-api-bench-"))

    run_backend("SQLite", lambda: sqlite_file(tmp), args.articles, args.expensive, args.cheap)
    if not args.no_postgres:
        run_backend("PostgreSQL", lambda: postgres_schema(args.postgres), args.articles, args.expensive, args.cheap)


if __name__ == "__main__":
    main()
