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

``--fetcher``: the fetcher instead, started as ``newsflow up`` starts it (``python -m services.cli
fetcher``) against a local server of ``--feeds`` RSS feeds that link the real fundus pages (served
from 127.0.0.1, with their HTML); once every page is on ``newsflow.pages`` (fetched, published), the
RSS, peak RSS and PSS of the fetcher and its parse processes. Target: fetcher RSS <= 150 MB.

    .venv/bin/python bench/memory.py --fetcher --pages 300

``--up-demo``: the whole idle ``newsflow up --demo`` (a fresh data directory): ``--settle`` seconds
after it started, the PSS of every process below it, summed by the service each belongs to (the
supervisor, broker, fetcher, extractor, stories, sink with its API). Target: <= 600 MB.

    .venv/bin/python bench/memory.py --up-demo --settle 50
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
from http.server import ThreadingHTTPServer
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from kafka import KafkaConsumer, TopicPartition

from bench.extraction_eval import DEFAULT_DATA, DataMissing, load_pages
from bench.extractor_speed import page_messages
from bench.local_site import serve
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
    return wait_topic(settings, settings.topic_extracted, n, timeout)


def wait_topic(settings: CommonSettings, topic: str, n: int, timeout: float) -> int:
    """Records on ``topic`` (every partition) once ``n`` are there (or ``timeout`` passed)."""
    consumer = KafkaConsumer(**settings.kafka_client_config(), enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    seen, deadline = 0, time.monotonic() + timeout
    while seen < n and time.monotonic() < deadline:
        seen += sum(len(b) for b in consumer.poll(timeout_ms=500).values())
    consumer.close(autocommit=False)
    return seen


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a supervisor would; killed if it has not stopped within 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


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
            stop(proc)


# --- the fetcher ----------------------------------------------------------------------------------

def serve_site(pages: list[bytes], feeds: int) -> ThreadingHTTPServer:
    """RSS feeds ``/feed/<k>.xml`` linking the real pages ``/page/<i>`` (the pages split between the feeds)."""
    def feed(k: int, base: str) -> bytes:
        items = "".join(f"<item><title>Page {i}</title><link>{base}/page/{i}</link><guid>{base}/page/{i}</guid>"
                        f"<description>Page {i} of feed {k}</description>"
                        f"<pubDate>Mon, 06 Jan 2025 {i % 24:02d}:00:00 GMT</pubDate></item>"
                        for i in range(k, len(pages), feeds))
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {k}</title>'
                f"<link>{base}/</link>{items}</channel></rss>").encode()

    where: list[str] = []

    def route(path: str) -> tuple[bytes, str] | None:
        kind, _, name = path.strip("/").partition("/")
        if kind == "feed":
            return feed(int(name.split(".")[0]), where[0]), "application/rss+xml"
        if kind == "page" and name.isdigit() and int(name) < len(pages):
            return pages[int(name)], "text/html"
        return None

    server = serve(route)
    where.append(f"http://127.0.0.1:{server.server_port}")
    return server


def _status_mb(pid: int, key: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure_fetcher(pages: list[bytes], feeds: int, timeout: float, command: list[str]
                    ) -> list[tuple[int, str, float, float, float]]:
    """(pid, role, RSS, peak RSS, PSS in MB) of the fetcher and its parse processes once every page is published."""
    server = serve_site(pages, feeds)
    base = f"http://127.0.0.1:{server.server_port}"
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="newsflow-memory-") as data:
        settings = CommonSettings(kafka_bootstrap_servers=broker.bootstrap)
        ensure_topics(settings)
        feeds_file = Path(data) / "feeds.txt"
        feeds_file.write_text("".join(f"{base}/feed/{k}.xml\n" for k in range(feeds)))
        env = {**os.environ, "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "NEWSFLOW_METRICS_PORT": "0",
               "NEWSFLOW_DATA_DIR": data, "NEWSFLOW_LOG_LEVEL": "WARNING", "NEWSFLOW_FEEDS_FILE": str(feeds_file),
               "NEWSFLOW_ALLOW_PRIVATE_NETWORKS": "true", "NEWSFLOW_PER_HOST_MIN_DELAY_SECONDS": "0",
               "NEWSFLOW_PER_HOST_CONCURRENCY": "8"}
        proc = subprocess.Popen([sys.executable, "-m", *command], env=env, cwd=REPO_ROOT)
        try:
            got = wait_topic(settings, settings.topic_pages, len(pages), timeout)
            if got < len(pages):
                raise RuntimeError(f"only {got} of {len(pages)} pages published within {timeout:.0f}s")
            time.sleep(1.0)
            return [(pid, "fetcher" if pid == proc.pid else "parse process", _status_mb(pid, "VmRSS"),
                     _status_mb(pid, "VmHWM"), pss_mb(pid)) for pid in descendants(proc.pid)]
        finally:
            stop(proc)
            server.shutdown()


def fetcher_main(args: argparse.Namespace) -> int:
    try:
        pages = [page.html() for page in load_pages(args.data)[: args.pages]]
    except DataMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"fetcher memory after fetching {len(pages)} real pages from {args.feeds} feeds, "
          f"{datetime.now(UTC).date().isoformat()} ({sum(map(len, pages)) / 1e6:.1f} MB of HTML)")
    command = ["services.cli", "fetcher"]  # as newsflow up and the containers start it
    print(f"  started as: python -m {' '.join(command)}")
    procs = measure_fetcher(pages, args.feeds, args.timeout, command)
    for pid, role, rss, peak, pss in sorted(procs, key=lambda t: t[1]):
        print(f"  {role:<14} pid {pid}: RSS {rss:5.0f} MB, peak {peak:5.0f} MB, PSS {pss:5.0f} MB")
    main_rss = next(rss for _, role, rss, _, _ in procs if role == "fetcher")
    print(f"  fetcher process RSS {main_rss:.0f} MB (target <= 150); whole tree: RSS "
          f"{sum(p[2] for p in procs):.0f} MB, PSS {sum(p[4] for p in procs):.0f} MB")
    return 0


def up_demo_main(args: argparse.Namespace) -> int:
    """PSS of an idle ``newsflow up --demo``, by service."""
    with tempfile.TemporaryDirectory(prefix="newsflow-up-demo-") as tmp:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(Path(tmp) / "up.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "services.cli", "up", "--demo", "--data-dir", tmp],
                                    env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=REPO_ROOT)
            try:
                time.sleep(args.settle)
                by_service: dict[str, float] = {}
                for pid in descendants(proc.pid):
                    name = _service_of(pid, proc.pid)
                    by_service[name] = by_service.get(name, 0.0) + pss_mb(pid)
            finally:
                stop(proc)
    total = sum(by_service.values())
    print(f"idle `newsflow up --demo`, {args.settle:.0f} s after start, "
          f"{datetime.now(UTC).date().isoformat()}: PSS {total:.0f} MB (target <= 600)")
    for name, mb in sorted(by_service.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<12} {mb:6.0f} MB")
    return 0


def _service_of(pid: int, supervisor: int) -> str:
    """The service a process below ``newsflow up`` belongs to: the child of the supervisor it descends from."""
    if pid == supervisor:
        return "supervisor"
    while (parent := _ppid(pid)) not in (supervisor, 0, 1):
        pid = parent
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    if b"broker" in words:
        return "broker"
    module = next((w.decode() for w in words[2:4] if w.startswith(b"services.") or w.isalpha()), "?")
    if module == "services.cli" and len(words) > 3:
        return words[3].decode()
    return module.removeprefix("services.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="fundus test_data directory")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--fetcher", action="store_true", help="measure the fetcher (real pages from local feeds)")
    ap.add_argument("--feeds", type=int, default=20, help="--fetcher: feeds the pages are split between")
    ap.add_argument("--up-demo", action="store_true", help="measure a whole idle `newsflow up --demo`")
    ap.add_argument("--settle", type=float, default=50, help="--up-demo: seconds after start to measure")
    args = ap.parse_args(argv)
    if args.up_demo:
        return up_demo_main(args)
    if args.fetcher:
        return fetcher_main(args)
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
