"""Helpers for tests that scrape a live pipeline: run `newsflow up --demo` in a data directory,
read the metrics ports from run.json, wait for storage, scrape /metrics, find tools.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
DEMO_ARTICLES = 8


def require_tool(name: str) -> str:
    """Path of a binary (promtool, prometheus); fails in CI when missing, skips elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package `prometheus`; scripts/services installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@dataclass(frozen=True)
class LivePipeline:
    data_dir: Path
    run: dict[str, object]

    @property
    def ports(self) -> dict[str, int]:
        ports = self.run["metrics_ports"]
        assert isinstance(ports, dict)
        return {str(k): int(v) for k, v in ports.items()}

    @property
    def bootstrap(self) -> str:
        return str(self.run["bootstrap"])

    def stored(self) -> int:
        db = sqlite3.connect(self.data_dir / "newsflow.db")
        try:
            return int(db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
        except sqlite3.OperationalError:
            return 0  # the sink has not created its tables yet
        finally:
            db.close()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted((self.data_dir / "logs").glob("*.log")))


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return resp.read().decode()


def wait_for(what: str, check: object, timeout: float, pipeline: LivePipeline | None = None) -> None:
    """Poll ``check()`` until true; fail with ``what`` (and the service logs) at the deadline."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{pipeline.logs() if pipeline else ''}")
        time.sleep(0.5)


@contextmanager
def demo_pipeline(data_dir: Path, lag_refresh_seconds: float = 1.0) -> Iterator[LivePipeline]:
    """`newsflow up --demo` (not --once: it keeps running) until the with-block ends; waits until
    the three /metrics endpoints answer and every demo article is stored."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env.update({"NEWSFLOW_DATA_DIR": str(data_dir), "NEWSFLOW_LAG_REFRESH_SECONDS": str(lag_refresh_seconds)})
    out = open(data_dir / "up.out", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", "up", "--demo"], env=env, stdout=out,
                            stderr=subprocess.STDOUT, cwd=data_dir.parent)
    try:
        run_file = data_dir / "run.json"
        wait_for("run.json", lambda: run_file.exists() or proc.poll() is not None, 90)
        assert proc.poll() is None, (data_dir / "up.out").read_text()
        live = LivePipeline(data_dir, json.loads(run_file.read_text()))
        for port in live.ports.values():
            wait_for(f"/metrics on port {port}", lambda p=port: bool(scrape(p)), 60, live)
        wait_for(f"{DEMO_ARTICLES} stored articles", lambda: live.stored() >= DEMO_ARTICLES, 120, live)
        yield live
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()
