"""Soak: a steady article rate through the whole pipeline, memory sampled every minute.

    .venv/bin/python bench/soak.py                   # 5 minutes at 10 articles/s
    .venv/bin/python bench/soak.py --minutes 30      # the issue's full soak

Runs the real ``newsflow up --feeds`` (embedded broker, SQLite) against a generated news
site whose feeds get ``--rate`` new articles per second. Every ``--sample-seconds`` it
prints each service's RSS (process tree), the broker's RSS, each service tree's PSS (shared
pages split between the processes that map them: the tree's real footprint; see
bench/memory.py) and how many articles are stored; at the end, the trend per service: the
least-squares slope of RSS and of PSS over time after the first sample (warm-up), in MB per
10 minutes, whether every article was stored, and the PSS of each process of the extractor's
tree (service, forkserver, workers) at the last sample.
The embedded broker keeps every record in memory by design (retention is not enforced),
so its growth is reported but is not a leak of newsflow's.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile.pipeline import UpRun, ids_of, rss_bytes, tree_rss_bytes
from hostile.sites import NewsSite

from bench.memory import descendants, pss_mb, role

SERVICES = ("fetcher", "extractor", "stories-worker", "sink")


def slope_mb_per_10min(points: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS (bytes) over time (seconds), in MB per 10 minutes."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    slope = sum((t - mx) * (v - my) for t, v in points) / var
    return slope * 600 / 2**20


def _label(service: str) -> str:
    return service.removesuffix("-worker")


def tree_pss_bytes(pid: int) -> int:
    return int(sum(pss_mb(p) for p in descendants(pid)) * 2**20)


def trend(name: str, points: list[tuple[float, int]]) -> str:
    steady = points[1:]
    first, last = (steady[0][1], steady[-1][1]) if steady else (0, 0)
    return (f"  {name:<13} {slope_mb_per_10min(steady):+7.1f} MB per 10 min  "
            f"({first / 2**20:.0f} -> {last / 2**20:.0f} MB over {len(steady)} samples)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--rate", type=float, default=10, help="new articles per second")
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--sample-seconds", type=float, default=60)
    ap.add_argument("--env", action="append", default=[], metavar="NEWSFLOW_X=VALUE",
                    help="a setting for the services, e.g. NEWSFLOW_STORY_MAX_ITEMS=3000 (repeatable)")
    args = ap.parse_args(argv)
    extra_env = dict(item.split("=", 1) for item in args.env)

    data = Path(tempfile.mkdtemp(prefix="newsflow-soak-"))
    site = NewsSite(args.feeds, 1, window=20).start()
    run = UpRun(data / "data", site.feed_urls(), env={"NEWSFLOW_LOG_LEVEL": "WARNING",
                                                       "NEWSFLOW_PER_HOST_CONCURRENCY": "32", **extra_env}).start()
    print(f"soak: {args.minutes:g} min at {args.rate:g} articles/s over {args.feeds} feeds; data in {data}", flush=True)
    series: dict[str, list[tuple[float, int]]] = {s: [] for s in (*SERVICES, "broker")}
    pss: dict[str, list[tuple[float, int]]] = {s: [] for s in SERVICES}
    started = time.monotonic()
    published, next_sample = 0, started + args.sample_seconds
    try:
        print(f"{'min':>5} {'stored':>8} " + " ".join(f"{_label(s):>10}" for s in series) + "   (RSS MB)  "
              + " ".join(f"{_label(s):>10}" for s in pss) + "   (PSS MB)", flush=True)
        while time.monotonic() - started < args.minutes * 60:
            due = int(args.rate * (time.monotonic() - started)) - published
            if due > 0:
                site.publish(due)
                published += due
            if time.monotonic() >= next_sample:
                next_sample += args.sample_seconds
                t = time.monotonic() - started
                for svc in SERVICES:
                    try:
                        series[svc].append((t, tree_rss_bytes(run.pid(svc))))
                        pss[svc].append((t, tree_pss_bytes(run.pid(svc))))
                    except LookupError:
                        series[svc].append((t, 0))
                        pss[svc].append((t, 0))
                series["broker"].append((t, rss_bytes(run.broker_pid())))
                print(f"{t / 60:5.1f} {len(run.stored_ids()):8d} "
                      + " ".join(f"{series[s][-1][1] / 2**20:10.0f}" for s in series) + "             "
                      + " ".join(f"{pss[s][-1][1] / 2**20:10.0f}" for s in pss), flush=True)
            time.sleep(0.2)
        expected = ids_of(site.article_urls())
        deadline = time.monotonic() + 120
        while not expected <= set(run.stored_ids()) and time.monotonic() < deadline:
            time.sleep(1)
        stored = run.stored_ids()
        missing = len(expected - set(stored))
        print(f"\nstored {len(set(stored))} of {len(expected)} published (missing {missing}, "
              f"duplicates {len(stored) - len(set(stored))})")
        print("memory trend after warm-up (least-squares slope):")
        for name, points in series.items():
            print(trend(f"{_label(name)} RSS", points))
        for name, points in pss.items():
            print(trend(f"{_label(name)} PSS", points))
        try:
            service = run.pid("extractor")
            parts = sorted((role(p, service), pss_mb(p)) for p in descendants(service))
            print("extractor tree PSS now: " + ", ".join(f"{r} {mb:.0f}" for r, mb in parts) + " MB")
        except LookupError:
            pass
        return 0 if missing == 0 else 1
    finally:
        run.stop()
        site.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
