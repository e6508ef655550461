"""Ops commands with no pipeline running answer in one line that says what is missing and what to
run, and exit with the documented "not running" code (3), instead of a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.common.broker import free_port
from services.ops.cli import NOT_RUNNING_EXIT_CODE

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", [
    ["status"], ["status", "--json"], ["dlq", "list"], ["dlq", "show", "0:1"], ["dlq", "redrive", "--dry-run"],
    ["topics", "describe"], ["topics", "ensure"], ["replay", "--stage", "sink", "--from-beginning", "--dry-run"],
])
def test_a_command_with_nothing_running_says_so_in_one_line(command: list[str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env |= {"NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}", "NEWSFLOW_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "services.cli", *command], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == NOT_RUNNING_EXIT_CODE, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "no Kafka broker answers" in lines[0] and "newsflow up" in lines[0]
