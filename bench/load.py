"""Load benchmark: N feeds on a local server, every article through the whole pipeline.

    .venv/bin/python bench/load.py                          # 1,000 feeds x 10 = 10,000 articles
    .venv/bin/python bench/load.py --feeds 10000 --per-feed 10   # 100,000 articles
    .venv/bin/python bench/load.py --real 120 --workers 1 2      # 120 real pages, 1 then 2 workers

Runs the real ``newsflow up --feeds`` (embedded broker, SQLite) against a generated news
site (tests/hostile/sites.py). Two phases:

1. **Backlog**: every article exists when the run starts. Measures each stage's
   throughput (records per second over the stage's busy window: fetcher pages produced,
   extractor pages processed, sink rows written) and the peak RSS of each service (process
   tree: the extractor's worker processes count). The extractor's rate here is the
   baseline "measured rate" the other stages are compared with.
2. **Steady half rate**: new articles published at half the extractor's measured rate for
   ``--steady-seconds``; end-to-end latency p50/p99 from each item's publish time (the
   feed's pubDate) to storage, from the sink's ``newsflow_publish_to_stored_seconds``
   histogram (bucket-interpolated, delta over the phase). The poll interval is 1-2 s.

Targets (issue #10): no stage slower than the extractor; p99 < 5 s beyond the poll
interval at half rate; each service < 300 MB RSS. Figures are ratios against the
extractor measured in the same run, never absolute thresholds.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile.pipeline import UpRun, ids_of, metric_value, rss_bytes, tree_rss_bytes
from hostile.sites import NewsSite

SERVICES = ("fetcher", "extractor", "sink")
COUNTERS = {
    "fetcher": ("newsflow_messages_produced_total", {"stage": "fetcher"}),
    "extractor": ("newsflow_pages_processed_total", {}),
    "sink": ("newsflow_sink_rows_written_total", {}),
}
HIST = "newsflow_publish_to_stored_seconds"


class Sampler(threading.Thread):
    """Every ``every`` seconds: each stage's counter and each service's RSS; keeps the peaks."""

    def __init__(self, run: UpRun, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.run_ = run
        self.every = every
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.peak_rss: dict[str, int] = dict.fromkeys(SERVICES, 0)  # the service process itself
        self.peak_tree: dict[str, int] = dict.fromkeys(SERVICES, 0)  # with its worker processes
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            counts: dict[str, float] = {}
            for svc in SERVICES:
                try:
                    name, labels = COUNTERS[svc]
                    counts[svc] = metric_value(self.run_.metrics(svc), name, labels)
                    pid = self.run_.pid(svc)
                    self.peak_rss[svc] = max(self.peak_rss[svc], rss_bytes(pid))
                    self.peak_tree[svc] = max(self.peak_tree[svc], tree_rss_bytes(pid))
                except Exception:
                    continue
            self.samples.append((time.monotonic(), counts))

    def rate(self, svc: str, since: float = 0.0) -> tuple[float, float]:
        """(records, records per second over the busy window: first to last increase)."""
        points = [(t, c[svc]) for t, c in self.samples if svc in c and t >= since]
        if len(points) < 2:
            return 0.0, 0.0
        base = points[0][1]
        moving = [(t, v) for t, v in points if v > base]
        if not moving:
            return 0.0, 0.0
        start = max(t for t, v in points if v == base)
        end, last = max(moving, key=lambda p: (p[1], -p[0]))
        end = min(t for t, v in points if v == last)
        return last - base, (last - base) / max(end - start, 1e-9)


def stored_latencies(db: Path, ids: set[str]) -> list[float]:
    """stored_at - published_at, in seconds, of the stored rows among ``ids``."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, published_at, stored_at FROM articles").fetchall()
    finally:
        conn.close()
    return [(datetime.fromisoformat(stored) - datetime.fromisoformat(pub)).total_seconds()
            for aid, pub, stored in rows if aid in ids and pub and stored]


def histogram(text: str) -> dict[float, float]:
    """Cumulative bucket counts of the latency histogram, by upper bound."""
    out: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(HIST + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
    return out


def quantile(delta: dict[float, float], q: float) -> float:
    """Linear interpolation inside the bucket holding the q-quantile (Prometheus' method)."""
    bounds = sorted(delta)
    total = delta[bounds[-1]] if bounds else 0
    if not total:
        return float("nan")
    rank, prev_bound, prev_count = q * total, 0.0, 0.0
    for bound in bounds:
        if delta[bound] >= rank:
            if bound == float("inf"):
                return prev_bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / max(delta[bound] - prev_count, 1e-9)
        prev_bound, prev_count = bound, delta[bound]
    return prev_bound


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--per-feed", type=int, default=10)
    ap.add_argument("--steady-seconds", type=float, default=60)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--workers", type=int, nargs="+", default=[1], help="NEWSFLOW_WORKERS of the extractor "
                    "(with --real: one run per value, e.g. 1 2)")
    ap.add_argument("--real", type=int, default=0, metavar="N",
                    help="N real fundus pages instead of generated ones; prints CPU per article and PSS per "
                         "service tree and compares with standalone analyse (bench/load_real.py)")
    ap.add_argument("--profile", type=Path, default=None, metavar="DIR",
                    help="with --real: py-spy record each service tree into DIR (collapsed stacks)")
    args = ap.parse_args(argv)
    if args.real:
        from bench import load_real  # only this mode needs the extractor and the fundus data

        return load_real.main(args.real, args.workers, args.timeout, args.profile)

    data = Path(tempfile.mkdtemp(prefix="newsflow-load-"))
    site = NewsSite(args.feeds, args.per_feed, window=max(args.per_feed, 20)).start()
    total = args.feeds * args.per_feed
    run = UpRun(data / "data", site.feed_urls(), env={
        "NEWSFLOW_CONCURRENCY": "64", "NEWSFLOW_PER_HOST_CONCURRENCY": "64", "NEWSFLOW_PARSE_WORKERS": "0",
        "NEWSFLOW_WORKERS": str(args.workers[0]), "NEWSFLOW_LOG_LEVEL": "WARNING",
    })
    print(f"load: {args.feeds} feeds x {args.per_feed} = {total} articles; data in {data}", flush=True)
    started = time.monotonic()
    run.start()
    sampler = Sampler(run)
    sampler.start()
    try:
        while len(run.stored_ids()) < total:
            if time.monotonic() - started > args.timeout:
                print(f"TIMEOUT: {len(run.stored_ids())}/{total} stored", flush=True)
                return 1
            time.sleep(2)
        backlog_s = time.monotonic() - started
        rates = {svc: sampler.rate(svc) for svc in SERVICES}
        extractor_rate = rates["extractor"][1]
        print(f"\nphase 1, backlog of {total}: all stored in {backlog_s:.1f}s "
              f"({total / backlog_s:.1f} articles/s end to end)")
        for svc in SERVICES:
            n, r = rates[svc]
            print(f"  {svc:<9} {n:>8.0f} records  {r:8.1f}/s  ({r / max(extractor_rate, 1e-9):.2f}x the extractor)"
                  f"  peak RSS {sampler.peak_rss[svc] / 2**20:4.0f} MB (tree {sampler.peak_tree[svc] / 2**20:4.0f} MB)")

        half = extractor_rate / 2
        before = histogram(run.metrics("sink"))
        phase_start, published, new_urls = time.monotonic(), 0, list[str]()
        while time.monotonic() - phase_start < args.steady_seconds:
            due = int(half * (time.monotonic() - phase_start)) - published
            if due > 0:
                new_urls += site.publish(due)
                published += due
            time.sleep(0.2)
        target = total + published
        drain_deadline = time.monotonic() + 120
        while len(run.stored_ids()) < target and time.monotonic() < drain_deadline:
            time.sleep(1)
        after = histogram(run.metrics("sink"))
        delta = {b: after.get(b, 0) - before.get(b, 0) for b in after}
        h50, h99 = quantile(delta, 0.5), quantile(delta, 0.99)
        exact = sorted(stored_latencies(run.data_dir / "newsflow.db", ids_of(new_urls)))
        p50, p99 = (exact[len(exact) // 2], exact[min(len(exact) - 1, int(len(exact) * 0.99))]) if exact \
            else (float("nan"), float("nan"))
        stored = len(run.stored_ids())
        print(f"\nphase 2, steady at half the extractor's rate ({half:.1f} articles/s for {args.steady_seconds:.0f}s,"
              f" {published} articles; {stored - total} stored):")
        print(f"  publish -> stored latency p50 {p50:.2f}s  p99 {p99:.2f}s  max {exact[-1] if exact else 0:.2f}s "
              f"(stored_at - published_at of {len(exact)} rows; poll interval 1-2 s; target p99 < 7 s)")
        print(f"  newsflow_publish_to_stored_seconds (bucket-interpolated): p50 {h50:.2f}s  p99 {h99:.2f}s")
        print("\npeak RSS per service process: " + ", ".join(
            f"{svc} {sampler.peak_rss[svc] / 2**20:.0f} MB" for svc in SERVICES) + "  (target < 300 MB each)")
        print("peak RSS per process tree (sum over workers; shared pages counted twice): " + ", ".join(
            f"{svc} {sampler.peak_tree[svc] / 2**20:.0f} MB" for svc in SERVICES))
        slowest = min(SERVICES, key=lambda s: rates[s][1] or float("inf"))
        print(f"bottleneck: {slowest}")
        return 0
    finally:
        sampler.stopping.set()
        run.stop()
        site.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
