"""``run.json``: what ``newsflow up`` records in the data directory so that the other commands
run from the same directory find the running pipeline (broker, storage, ports, pids)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

RUN_FILE = "run.json"


@dataclass
class RunInfo:
    """What ``up`` records in the data directory for the other commands."""

    bootstrap: str
    embedded_broker: bool
    sink_url: str  # with its password masked: run.json holds no secret
    metrics_ports: dict[str, int]
    pids: dict[str, int] = field(default_factory=dict)
    demo_base_url: str | None = None
    api_url: str | None = None  # the read-only HTTP API the first sink serves (None: disabled)
    started_at: float = field(default_factory=time.time)
    supervisor_pid: int = field(default_factory=os.getpid)


def read_run_info(data_dir: Path) -> RunInfo | None:
    """The pipeline ``up`` runs from ``data_dir``, or None when there is no readable record."""
    try:
        return RunInfo(**json.loads((data_dir / RUN_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_run_info(data_dir: Path, info: RunInfo) -> None:
    """Replace ``run.json`` atomically (readers never see half a file)."""
    tmp = data_dir / f"{RUN_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # owner-only, from the first byte
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(asdict(info), indent=2))
    tmp.replace(data_dir / RUN_FILE)
