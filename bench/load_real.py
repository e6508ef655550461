"""``bench/load.py --real N``: the whole pipeline on N real pages, with CPU and PSS per service tree.

A local site serves N real news pages (``../shared/data/extraction/fundus``, every k-th page so
that every country is in) under feeds of 10 items each. The feeds stay empty until every service
of ``newsflow up`` has started and gone quiet (the extractor's forkserver has loaded the tagger),
then list all pages at once: a backlog. For each extractor worker count (``--workers 1 2``):

* **end to end stored/s**: the N pages (minus those ``analyse`` rejects) from the first page
  request to the last row stored in SQLite (that row's own ``stored_at``);
* **CPU per article of each stage**: utime + stime (``/proc/<pid>/stat``) of the service's whole
  process tree (the extractor's forkserver and workers count) from the moment the feeds open to
  the last row, divided by the articles stored;
* **timeline**: the first and last record of the run on each topic (Kafka CreateTime) and in
  SQLite (``stored_at``), with each stage's pace between them (:mod:`bench.timeline`): what is
  fill and drain, what is steady pace;
* **PSS of each service tree** (``/proc/<pid>/smaps_rollup``; shared pages split between the
  processes that map them, so trees add up), the peak of 0.5 s samples.

Baseline, in the same run: standalone ``analyse`` (extract + tag, no Kafka) over the same pages in
one process, before the first and after the last ``up``; the 1-worker target is >= 0.9x of it and
the 2-worker target >= 1.8x the 1-worker figure (on 2 idle cores: on a shared machine, say so).
"""

from __future__ import annotations

import gc
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
for _p in (REPO_ROOT, REPO_ROOT / "tests"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from hostile.pipeline import UpRun, children, service_of
from hostile.sites import LocalSite, _Handler

from bench.extraction_eval import DEFAULT_DATA, load_pages
from bench.extractor_speed import page_messages
from bench.timeline import Span, describe, spans
from services.common.messages import PageMessage
from services.extractor.pipeline import analyse

STAGES = ("fetcher", "extractor", "stories", "sink")
COMMAND = {"stories": "stories-worker"}
TICK = os.sysconf("SC_CLK_TCK")
PER_FEED = 10
WARM = 4  # pages through the whole pipeline before the measured ones: the extractor's pool starts lazily


class RealSite(LocalSite):
    """Feeds of ``PER_FEED`` real pages each; empty until :meth:`open`."""

    def __init__(self, pages: list[bytes]) -> None:
        super().__init__()
        self.pages = pages
        self.feeds = (len(pages) + PER_FEED - 1) // PER_FEED
        self.opened = threading.Event()
        self.first_hit: float | None = None
        self.first_hit_wall = 0.0  # the same moment on the wall clock (Kafka timestamps, stored_at)
        self.last_hit = 0.0
        self.published = datetime.now(UTC)

    def feed_urls(self) -> list[str]:
        return [f"{self.base_url}/w/rss.xml"] + [f"{self.base_url}/f{f}/rss.xml" for f in range(self.feeds)]

    def warm_xml(self) -> bytes:
        """The warm-up feed: WARM pages under other URLs, listed from the start (not measured)."""
        entries = "".join(f"<item><title>Warm {n}</title><link>{self.base_url}/w/a{n}</link></item>"
                          for n in range(WARM))
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Warm-up</title>'
                f"<link>{self.base_url}/w/</link>{entries}</channel></rss>").encode()

    def page_url(self, n: int) -> str:
        return f"{self.base_url}/f{n // PER_FEED}/a{n}"

    def feed_xml(self, feed: int) -> bytes:
        items = range(feed * PER_FEED, min(len(self.pages), (feed + 1) * PER_FEED)) if self.opened.is_set() else []
        entries = "".join(
            f"<item><title>Story {n}</title><link>{self.page_url(n)}</link><guid>{self.page_url(n)}</guid>"
            f"<pubDate>{format_datetime(self.published)}</pubDate></item>" for n in items)
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Paper {feed}</title>'
                f"<link>{self.base_url}/f{feed}/</link>{entries}</channel></rss>").encode()

    def handle(self, req: object) -> None:
        r = cast(_Handler, req)
        parts = urlsplit(r.path).path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "w":
            if parts[1] == "rss.xml":
                return r.reply(200, self.warm_xml(), {"Content-Type": "application/rss+xml"})
            return r.reply(200, self.pages[int(parts[1][1:]) % len(self.pages)], {"Content-Type": "text/html"})
        if len(parts) == 2 and parts[0][1:].isdigit():
            if parts[1] == "rss.xml" and int(parts[0][1:]) < self.feeds:
                return r.reply(200, self.feed_xml(int(parts[0][1:])), {"Content-Type": "application/rss+xml"})
            if parts[1][:1] == "a" and parts[1][1:].isdigit() and int(parts[1][1:]) < len(self.pages):
                if self.first_hit is None:
                    self.first_hit, self.first_hit_wall = time.monotonic(), time.time()
                self.last_hit = time.monotonic()
                return r.reply(200, self.pages[int(parts[1][1:])], {"Content-Type": "text/html"})
        r.reply(404, b"not found", {"Content-Type": "text/plain"})


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children(p))
    return out


def cpu_seconds(pids: Iterable[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / TICK


def pss_mb(pids: Iterable[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total / 1024


def schedstat(pids: Iterable[int]) -> tuple[float, float]:
    """Seconds on a core and seconds waiting for one (runnable, not running), summed over ``pids``."""
    run = wait = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/schedstat").read_text().split()
        except OSError:
            continue
        run, wait = run + int(fields[0]), wait + int(fields[1])
    return run / 1e9, wait / 1e9


@dataclass
class Trees:
    """The process trees of the running services (and the rest of ``up``: supervisor, broker)."""

    run: UpRun
    roots: dict[str, int] = field(default_factory=dict)

    def find(self) -> None:
        assert self.run.proc is not None
        self.roots = {}
        for child in children(self.run.proc.pid):
            name = service_of(child)
            for stage in STAGES:
                if name == COMMAND.get(stage, stage):
                    self.roots[stage] = child

    def tree(self, stage: str) -> list[int]:
        return descendants(self.roots[stage])

    def cpu(self) -> dict[str, float]:
        out = {s: cpu_seconds(self.tree(s)) for s in self.roots}
        assert self.run.proc is not None
        out["whole up"] = cpu_seconds(descendants(self.run.proc.pid))
        return out

    def workers(self) -> list[int]:
        """The extractor's worker processes (forks of its forkserver, two levels below it)."""
        root = self.roots["extractor"]
        return [w for server in children(root) for w in children(server)]

    def main_cpu(self) -> dict[str, float]:
        return {s: cpu_seconds([pid]) for s, pid in self.roots.items()}

    def pss(self) -> dict[str, float]:
        out = {s: pss_mb(self.tree(s)) for s in self.roots}
        assert self.run.proc is not None
        out["whole up"] = pss_mb(descendants(self.run.proc.pid))
        return out


def baseline(pages: list[PageMessage]) -> tuple[float, int]:
    """Standalone ``analyse`` in this process: (pages/s, pages it rejects)."""
    for page in pages[:3]:  # load the tagger and warm up, untimed
        try:
            analyse(page)
        except Exception:
            pass
    gc.collect()
    failed, t0 = 0, time.perf_counter()
    for page in pages:
        try:
            analyse(page)
        except Exception:
            failed += 1
    return len(pages) / (time.perf_counter() - t0), failed


QUIET_CORES = 0.2
"""The four services idle use ~0.08 of a core together (their polls, lag reporters, metrics; 2026-11-29);
loading the tagger takes a whole core for seconds."""


def wait_quiet(trees: Trees, timeout: float = 90) -> None:
    """Until the four services' trees use < :data:`QUIET_CORES` over a second (startup and loading are done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        trees.find()
        if set(trees.roots) == set(STAGES):
            a = sum(v for k, v in trees.cpu().items() if k in STAGES)
            time.sleep(1.0)
            if sum(v for k, v in trees.cpu().items() if k in STAGES) - a < QUIET_CORES:
                return
        else:
            time.sleep(0.5)
    raise RuntimeError("the services did not go quiet")


def profilers(trees: Trees, workers: int, out: Path | None) -> list[subprocess.Popen[bytes]]:
    """``py-spy record`` of each service tree (with its subprocesses) into ``out``, raw (collapsed) stacks."""
    if out is None:
        return []
    out.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    return [subprocess.Popen([str(spy), "record", "--subprocesses", "--idle", "-r", "50", "--format", "raw", "-o",
                              str(out / f"{stage}-w{workers}.txt"), "--pid", str(pid)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for stage, pid in trees.roots.items()]


def one_run(raw: list[bytes], expected: int, workers: int, timeout: float,
            profile: Path | None = None) -> dict[str, object]:
    data = Path(tempfile.mkdtemp(prefix="newsflow-load-real-"))
    site = RealSite(raw).start()
    run = UpRun(data / "data", site.feed_urls(), env={
        "NEWSFLOW_WORKERS": str(workers), "NEWSFLOW_LOG_LEVEL": "WARNING", "NEWSFLOW_CONCURRENCY": "32",
        "NEWSFLOW_PER_HOST_CONCURRENCY": "32", "NEWSFLOW_PARSE_WORKERS": "0",
    })
    try:
        run.start()
        trees = Trees(run)
        deadline = time.monotonic() + timeout
        while len(run.stored_ids()) < WARM - 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        wait_quiet(trees)
        spies = profilers(trees, workers, profile)
        cpu0, main0, peak = trees.cpu(), trees.main_cpu(), trees.pss()
        pool = trees.workers()
        sched0 = schedstat(pool)
        site.opened.set()
        opened, stored, last_change = time.monotonic(), 0, time.monotonic()
        warm = len(run.stored_ids())
        while stored < expected and time.monotonic() - opened < timeout:
            time.sleep(0.5)
            peak = {k: max(v, peak.get(k, 0.0)) for k, v in trees.pss().items()}
            now_stored = len(run.stored_ids()) - warm
            if now_stored != stored:
                stored, last_change = now_stored, time.monotonic()
        cpu1, main1 = trees.cpu(), trees.main_cpu()
        sched1 = schedstat(pool)
        for spy in spies:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        start = site.first_hit or opened
        timeline = spans(str(run.run_info()["bootstrap"]), run.data_dir / "newsflow.db", site.first_hit_wall)
        # the end: the last row's own stored_at (exact), not when the 0.5 s sampling above saw it
        end = start + timeline[-1].last if timeline and timeline[-1].name == "stored" else last_change
        return {"workers": workers, "stored": stored, "seconds": end - start, "rate": stored / max(end - start, 1e-9),
                "cpu": {s: (cpu1[s] - cpu0[s]) / max(stored, 1) * 1000 for s in cpu0},
                "main": {s: (main1[s] - main0[s]) / max(stored, 1) * 1000 for s in main0},
                "cores": {s: (cpu1[s] - cpu0[s]) / max(end - start, 1e-9) for s in cpu0}, "pss": peak,
                "fetched": site.last_hit - start, "timeline": timeline,
                "workers_sched": (sched1[0] - sched0[0], sched1[1] - sched0[1], (end - opened) * len(pool))}
    finally:
        run.stop()
        site.stop()
        shutil.rmtree(data, ignore_errors=True)


def ceiling(ms_per_article: float) -> float:
    """Articles per second the machine's cores could give if the whole pipeline's CPU per article were
    spread over them perfectly: what no worker count can exceed."""
    return (os.cpu_count() or 1) * 1000 / max(ms_per_article, 1e-9)


def main(n: int, workers: list[int], timeout: float, profile: Path | None = None) -> int:
    everything = load_pages(DEFAULT_DATA)
    step = max(1, len(everything) // n)
    chosen = {p.path for p in everything[::step][:n]}
    raw = [p.html() for p in everything if p.path in chosen]
    messages = [m for m, p in zip(page_messages(DEFAULT_DATA), everything, strict=True) if p.path in chosen]
    print(f"load --real: {len(raw)} real fundus pages (every {step}th), {datetime.now(UTC).date().isoformat()}, "
          f"{os.cpu_count()} cores (shared machine: load average {os.getloadavg()[0]:.1f} at start)", flush=True)
    before, failed = baseline(messages)
    print(f"  standalone analyse, 1 process: {before:.1f} pages/s ({failed} rejected)", flush=True)
    results = []
    for w in workers:
        res = one_run(raw, len(raw) - failed, w, timeout, profile)
        results.append(res)
        print(f"  up, {w} worker(s): {res['stored']} stored in {res['seconds']:.1f}s = {res['rate']:.1f} stored/s "
              f"(last page served at +{res['fetched']:.1f}s)",
              flush=True)
    after, _ = baseline(messages)
    base = (before + after) / 2
    print(f"  standalone analyse again: {after:.1f} pages/s; baseline (mean) {base:.1f} pages/s")
    for res in results:
        cpu, main_, cores, pss = (cast(dict[str, float], res[k]) for k in ("cpu", "main", "cores", "pss"))
        print(f"\n  {res['workers']} worker(s): {res['rate']:.1f} stored/s = {cast(float, res['rate']) / base:.2f}x "
              f"standalone analyse (target >= 0.9x with 1 worker)")
        for s in STAGES:
            print(f"    {s:<9} CPU {cpu[s]:6.1f} ms/article (main process {main_[s]:5.1f}; {cores[s]:.2f} cores)"
                  f"   PSS {pss[s]:5.0f} MB")
        print(f"    whole up (supervisor, broker, services) PSS peak {pss['whole up']:.0f} MB; CPU "
              f"{cpu['whole up']:.1f} ms/article: {os.cpu_count()} cores hold at most "
              f"{ceiling(cpu['whole up']):.1f} stored/s = {ceiling(cpu['whole up']) / base:.2f}x standalone analyse")
        run, queued, span = cast(tuple[float, float, float], res["workers_sched"])
        print(f"    extractor workers, share of their time from the feeds opening to the last row: running "
              f"{run / span:.0%}, waiting for a core {queued / span:.0%}, waiting for work {1 - (run + queued) / span:.0%}")
        print(f"    timeline after the first page request: {describe(cast(list[Span], res['timeline']))}")
    if len(results) >= 2:
        one = cast(float, results[0]["rate"])
        for res in results[1:]:
            most = ceiling(cast(dict[str, float], res["cpu"])["whole up"])
            print(f"\n  {res['workers']} workers / 1 worker: {cast(float, res['rate']) / one:.2f}x "
                  f"(target >= 1.8x with 2 workers on 2 idle cores; this run's CPU per article allows at most "
                  f"{most / one:.2f}x on {os.cpu_count()} cores)")
    return 0
