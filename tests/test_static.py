"""The house rules that a machine can check: mypy --strict on services/, ruff on everything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_mypy_strict_on_services() -> None:
    result = _run("mypy", "services")  # strict, pydantic plugin: [tool.mypy] in pyproject.toml
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def test_ruff() -> None:
    result = _run("ruff", "check", "services", "tests", "bench", "--output-format", "concise")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
