"""Drive a real ``newsflow up --feeds`` run from a test or a benchmark.

:class:`UpRun` starts ``python -m services.cli up --feeds FILE`` in a fresh data
directory (embedded broker, three service processes), finds the pids and metrics ports
in ``run.json``, and offers what the fault tests need: kill a service or the broker,
read a service's ``/metrics``, read the stored ids. Nothing is mocked: it is the
command an operator runs.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from services.common.urls import article_id

FAST_POLLING = {
    "NEWSFLOW_POLL_INTERVAL_SECONDS": "1",
    "NEWSFLOW_MIN_POLL_INTERVAL_SECONDS": "1",
    "NEWSFLOW_MAX_POLL_INTERVAL_SECONDS": "2",
    "NEWSFLOW_PER_HOST_MIN_DELAY_SECONDS": "0",
    "NEWSFLOW_PER_HOST_CONCURRENCY": "8",
    "NEWSFLOW_ALLOWED_NETWORKS": "127.0.0.1/32",
    "NEWSFLOW_PARSE_WORKERS": "1",
    "NEWSFLOW_API_ENABLED": "false",
    "NEWSFLOW_METRICS_BASE_PORT": "0",
}


def ids_of(urls: list[str]) -> set[str]:
    return {article_id(u) for u in urls}


class UpRun:
    """``newsflow up --feeds`` as a child process (its own session, so it can be signalled as a group)."""

    def __init__(self, data_dir: Path, feeds: list[str], env: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.feeds_file = data_dir / "feeds.txt"
        self.feeds_file.write_text("\n".join(feeds) + "\n")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
        self.env.update({"NEWSFLOW_DATA_DIR": str(data_dir), **FAST_POLLING, **(env or {})})
        self.proc: subprocess.Popen[bytes] | None = None
        self.out = data_dir / "up.out"

    def start(self, timeout: float = 60) -> UpRun:
        with self.out.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "up", "--feeds", str(self.feeds_file)],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"newsflow up exited with {self.proc.returncode}:\n{self.tail()}")
            if self.run_info().get("pids", {}).keys() >= {"fetcher", "extractor", "sink"}:
                return self
            time.sleep(0.2)
        raise AssertionError(f"newsflow up did not start within {timeout}s:\n{self.tail()}")

    def run_info(self) -> dict[str, object]:
        try:
            return dict(json.loads((self.data_dir / "run.json").read_text()))
        except (OSError, ValueError):
            return {}

    def pid(self, service: str) -> int:
        """The service's current pid, read from the process table of the supervisor's children."""
        assert self.proc is not None
        for child in children(self.proc.pid):
            if service_of(child) == service:
                return child
        raise LookupError(f"no running {service} process")

    def broker_pid(self) -> int:
        assert self.proc is not None
        for child in children(self.proc.pid):
            if " broker --listener-url " in cmdline(child):
                return child
        raise LookupError("no running broker process")

    def kill(self, service: str, sig: int = signal.SIGKILL) -> int:
        pid = self.pid(service)
        os.kill(pid, sig)
        return pid

    def metrics_port(self, service: str) -> int:
        ports = self.run_info().get("metrics_ports", {})
        assert isinstance(ports, dict)
        return int(ports[service])

    def metrics(self, service: str) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port(service)}/metrics", timeout=5).text

    def stored_ids(self) -> list[str]:
        """Every stored article id (a list: a duplicate row would show twice)."""
        db = self.data_dir / "newsflow.db"
        if not db.exists():
            return []
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return [row[0] for row in conn.execute("SELECT id FROM articles")]
        except sqlite3.OperationalError:
            return []  # the sink has not created its tables yet
        finally:
            conn.close()

    def revisions(self) -> list[tuple[str, int]]:
        conn = sqlite3.connect(f"file:{self.data_dir / 'newsflow.db'}?mode=ro", uri=True, timeout=10)
        try:
            return [(r[0], r[1]) for r in conn.execute("SELECT id, revision FROM articles")]
        finally:
            conn.close()

    def stop(self, timeout: float = 60) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()

    def tail(self, chars: int = 3000) -> str:
        parts = [f"--- up\n{self.out.read_text()[-chars:]}" if self.out.exists() else ""]
        for log in sorted((self.data_dir / "logs").glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def service_of(pid: int) -> str | None:
    """The service a ``newsflow up`` child runs: ``python -m services.cli NAME`` (services/up.py
    ``command``), or an entry module of its own, ``python -m services.NAME``."""
    parts = cmdline(pid).split()
    if len(parts) >= 4 and parts[1:3] == ["-m", "services.cli"]:
        return parts[3]
    if len(parts) >= 3 and parts[1] == "-m" and parts[2].startswith("services.") and parts[2] != "services.cli":
        return parts[2].removeprefix("services.")
    return None


def rss_bytes(pid: int, field: str = "VmRSS") -> int:
    """Resident memory (``VmRSS``) or its peak (``VmHWM``) of one process, in bytes; 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss_bytes(pid: int) -> int:
    """RSS of a process and all its descendants (the extractor's worker processes count)."""
    return rss_bytes(pid) + sum(tree_rss_bytes(c) for c in children(pid))


def metric_value(text: str, name: str, labels: Mapping[str, str] | None = None) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, label_text = head.partition("{")
        if metric != name:
            continue
        if labels and not all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            continue
        total += float(value)
    return total
