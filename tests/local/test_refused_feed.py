"""A feed the SSRF guard refuses does not fail silently: `up` says so on its console, `status`
lists it (and exits 1), and both name the setting that would allow it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from services.common.broker import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.slow
def test_a_refused_loopback_feed_shows_on_the_console_and_in_status(tmp_path: Path) -> None:
    feed = f"http://127.0.0.1:{free_port()}/feed.xml"  # loopback: refused unless allowed
    (tmp_path / "feeds.txt").write_text(feed + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env |= {"NEWSFLOW_DATA_DIR": str(tmp_path / "data"), "NEWSFLOW_METRICS_BASE_PORT": "0", "NEWSFLOW_API_PORT": "0"}
    up = subprocess.Popen([sys.executable, "-m", "services.cli", "up", "--feeds", str(tmp_path / "feeds.txt")],
                          cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in up.stdout or []], daemon=True).start()
    try:
        said = wait_for_line(lines, "feed never succeeded", up)
        assert feed in said and "NEWSFLOW_ALLOWED_NETWORKS" in said, said
        status = subprocess.run([sys.executable, "-m", "services.cli", "status", "--json"], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=120)
        assert status.returncode == 1, status.stdout + status.stderr
        failing = json.loads(status.stdout)["failing_feeds"]
        assert len(failing) == 1 and failing[0].startswith(feed) and "NEWSFLOW_ALLOWED_NETWORKS" in failing[0]
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(120)


def wait_for_line(lines: queue.Queue[str], text: str, proc: subprocess.Popen[str], timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            assert proc.poll() is None, "up exited:\n" + "".join(seen)
            continue
        seen.append(line)
        if text in line:
            return line
    raise AssertionError(f"no line with {text!r} within {timeout:.0f}s:\n" + "".join(seen))
