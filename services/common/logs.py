"""Logging: one JSON object per line in production, readable text on a TTY.

Context such as topic, partition, offset and article id is passed with
``extra={...}`` and appears as fields of the JSON line.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from services.common.records import Record

_STD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def record_fields(record: Record) -> dict[str, Any]:
    """``extra=`` fields locating a consumed record: topic, partition, offset and article id
    (records are keyed by article id)."""
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "article_id": record.key.decode("utf-8", "replace") if record.key else None,
    }


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        event.update({k: v for k, v in vars(record).items() if k not in _STD_ATTRS})
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s %(levelname)-7s " + service + ": %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STD_ATTRS}
        return base + ("  " + " ".join(f"{k}={v}" for k, v in extras.items()) if extras else "")


def setup(service: str, fmt: str = "auto", level: str = "INFO") -> None:
    """Configure the root logger once for ``service``."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if use_json else TextFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kafka", "httpx", "httpcore", "trafilatura", "htmldate", "courlan"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
