"""A known PostgreSQL password must appear in no output channel: the `up` banner and its --once
line, run.json, every service's log, `status --json`, `config show`, the metrics endpoints, and
the errors about malformed URLs (libpq echoes the URI it could not parse)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import traceback
from pathlib import Path

import httpx
import pytest

from services.sink.backends import open_store
from services.sink.store import StoreError
from tests.sink.test_store import postgres_schema

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Pg-S3cret-do-not-print"


def env_for(data_dir: Path, sink_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    return env | {"NEWSFLOW_DATA_DIR": str(data_dir), "NEWSFLOW_SINK_URL": sink_url,
                  "NEWSFLOW_METRICS_BASE_PORT": "0", "NEWSFLOW_API_PORT": "0"}


@pytest.mark.parametrize("url", [
    f"postgresql://newsflow:{PASSWORD}%zz@127.0.0.1/news",  # not a valid escape
    f"postgresql://newsflow:ab/{PASSWORD}==@127.0.0.1/news",  # a '/' in a base64 password
    f"postgresql://newsflow:{PASSWORD}@[::1/news",  # an unclosed '['
])
def test_a_malformed_url_is_reported_without_its_password(url: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert PASSWORD not in str(caught.value) and "***" in str(caught.value)
    assert PASSWORD not in "".join(traceback.format_exception(caught.value)), "nor in a chained exception"
    out = subprocess.run([sys.executable, "-m", "services.cli", "articles", "search", "x"], cwd=REPO,
                         env=env_for(tmp_path, url), capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and PASSWORD not in out.stdout + out.stderr, out.stderr[-2000:]


@pytest.mark.integration
@pytest.mark.slow
def test_no_output_channel_of_a_running_pipeline_shows_the_password(tmp_path: Path) -> None:
    with postgres_schema() as base:
        url = base.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@", 1)  # trust auth ignores it
        assert PASSWORD in url
        data_dir = tmp_path / "data"
        env = env_for(data_dir, url)
        up = subprocess.Popen([sys.executable, "-m", "services.cli", "up", "--demo", "--once"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seen = watch_while_running(data_dir, env, up)
        out, _ = up.communicate(timeout=300)
        assert up.returncode == 0, out[-3000:]
        assert "items stored in postgresql://postgres:***@" in out
        for name, text in [("up console", out), *seen.items(),
                           *((f"log {p.name}", p.read_text(errors="replace")) for p in (data_dir / "logs").iterdir())]:
            assert PASSWORD not in text, name
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


def watch_while_running(data_dir: Path, env: dict[str, str], up: subprocess.Popen[str]) -> dict[str, str]:
    """run.json, `status --json`, `config show` and every /metrics, read while `up` runs."""
    run_file = data_dir / "run.json"
    deadline = time.monotonic() + 120
    while not run_file.exists():
        assert time.monotonic() < deadline and up.poll() is None, f"up never wrote run.json: {up.communicate()[0]}"
        time.sleep(0.05)
    seen = {"run.json": run_file.read_text()}
    assert stat.S_IMODE(run_file.stat().st_mode) == 0o600
    for args in (["status", "--json"], ["config", "show", "sink"]):
        done = subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)
        seen[" ".join(args)] = done.stdout + done.stderr
    for name, port in json.loads(seen["run.json"])["metrics_ports"].items():
        try:
            seen[f"metrics {name}"] = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except httpx.HTTPError:
            pass  # not up yet: its log is checked afterwards
    return seen
