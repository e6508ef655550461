"""Extractor memory: PSS of every process of the real ``newsflow extractor`` tree, 1 and N workers.

For each worker count it starts the embedded broker and ``newsflow extractor`` with
``NEWSFLOW_WORKERS=n``, sends it real pages (``../shared/data/extraction/fundus``), waits until
their articles are on ``newsflow.extracted`` (so every worker has tagged pages and grown to its
working size), then reads ``/proc/<pid>/smaps_rollup`` of the service and all its descendants
(the forkserver and the workers). PSS splits each shared page between the processes that map
it, so the tree's PSS adds up to its real footprint (RSS would count shared pages once per process).

    .venv/bin/python bench/memory.py                  # 1 and 2 workers, 60 pages each
    .venv/bin/python bench/memory.py --workers 1 2 3 --pages 100

Targets (issue 20): the tree <= 300 MB with one worker, <= +60 MB per added worker.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from kafka import KafkaConsumer, TopicPartition

from bench.extraction_eval import DEFAULT_DATA, DataMissing
from bench.extractor_speed import page_messages
from services.common.broker import EmbeddedBroker
from services.common.kafka import ensure_topics, make_producer
from services.common.messages import PageMessage, encode
from services.common.settings import CommonSettings

TARGET_ONE, TARGET_PER_WORKER = 300.0, 60.0


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def pss_mb(pid: int) -> float:
    """Proportional set size of ``pid`` in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def role(pid: int, service: int) -> str:
    """service, forkserver, worker (a fork of the forkserver) or helper (multiprocessing's resource tracker)."""
    if pid == service:
        return "service"
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    if b"forkserver" not in raw:
        return "helper"
    return "forkserver" if _ppid(pid) == service else "worker"


def wait_extracted(settings: CommonSettings, n: int, timeout: float) -> int:
    consumer = KafkaConsumer(**settings.kafka_client_config(), enable_auto_commit=False)
    tp = TopicPartition(settings.topic_extracted, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    seen, deadline = 0, time.monotonic() + timeout
    while seen < n and time.monotonic() < deadline:
        seen += sum(len(b) for b in consumer.poll(timeout_ms=500).values())
    consumer.close(autocommit=False)
    return seen


def measure(workers: int, pages: list[PageMessage], timeout: float) -> list[tuple[int, str, float]]:
    """(pid, role, PSS MB) of each process of the extractor tree after it processed ``pages``."""
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="newsflow-memory-") as data:
        settings = CommonSettings(kafka_bootstrap_servers=broker.bootstrap)
        ensure_topics(settings)
        env = {**os.environ, "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "NEWSFLOW_WORKERS": str(workers),
               "NEWSFLOW_METRICS_PORT": "0", "NEWSFLOW_DATA_DIR": data, "NEWSFLOW_LOG_LEVEL": "WARNING"}
        proc = subprocess.Popen([sys.executable, "-m", "services", "extractor"], env=env, cwd=REPO_ROOT)
        try:
            producer = make_producer(settings)
            for page in pages:
                producer.send(settings.topic_pages, key=page.id.encode(), value=encode(page))
            producer.flush()
            producer.close()
            got = wait_extracted(settings, len(pages), timeout)
            if got < len(pages):
                raise RuntimeError(f"only {got} of {len(pages)} articles extracted within {timeout:.0f}s")
            time.sleep(1.0)
            return [(pid, role(pid, proc.pid), pss_mb(pid)) for pid in descendants(proc.pid)]
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="fundus test_data directory")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args(argv)
    try:
        pages = page_messages(args.data)[: args.pages]
    except DataMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"extractor tree PSS after {len(pages)} real pages, {datetime.now(UTC).date().isoformat()}")
    totals: dict[int, float] = {}
    for n in args.workers:
        procs = measure(n, pages, args.timeout)
        totals[n] = sum(p for _, _, p in procs)
        detail = ", ".join(f"{role} {p:.0f}" for _, role, p in sorted(procs, key=lambda t: t[1]))
        print(f"  {n} worker(s): {totals[n]:6.0f} MB  ({detail})", flush=True)
    one = totals.get(1)
    if one is not None:
        print(f"  target: <= {TARGET_ONE:.0f} MB with one worker: {one:.0f} MB")
        for n, total in totals.items():
            if n > 1:
                print(f"  per added worker ({n}): {(total - one) / (n - 1):.0f} MB (target <= {TARGET_PER_WORKER:.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
