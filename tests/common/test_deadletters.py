"""Unit tests of the consumer-stage skeleton's pure parts: dead-letter headers and the limit."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

import services
from services.common.deadletters import dead_letter_headers
from services.common.steps import DeadLetterLimit


@dataclass(frozen=True)
class Rec:
    topic: str = "newsflow.pages"
    partition: int = 2
    offset: int = 41
    timestamp: int = 0
    key: bytes | None = b"abc123"
    value: bytes | None = b"\xff raw"
    headers: list[tuple[str, bytes]] = field(default_factory=lambda: [("trace", b"t1")])


def test_dead_letter_headers_name_origin_error_time_and_version() -> None:
    headers = dict(dead_letter_headers(Rec(), "extractor", ValueError("bad page " + "x" * 5000)))
    assert headers["newsflow.original_topic"] == b"newsflow.pages"
    assert headers["newsflow.original_partition"] == b"2"
    assert headers["newsflow.original_offset"] == b"41"
    assert headers["newsflow.original_key"] == b"abc123"
    assert headers["newsflow.stage"] == b"extractor"
    assert headers["newsflow.error_class"] == b"ValueError"
    assert headers["newsflow.error_message"].startswith(b"bad page") and len(headers["newsflow.error_message"]) <= 2000
    assert headers["newsflow.failed_at"].decode().startswith("20")
    assert headers["newsflow.version"] == services.__version__.encode()
    assert headers["newsflow.original_header.trace"] == b"t1"


def test_dead_letter_headers_without_key() -> None:
    assert dict(dead_letter_headers(Rec(key=None, headers=[]), "sink", KeyError("x")))["newsflow.original_key"] == b""


def test_limit_waits_for_a_minimum_sample() -> None:
    limit = DeadLetterLimit(max_ratio=0.5, window=200)
    limit.record(ok=0, failed=19)
    assert not limit.tripped()
    limit.record(ok=0, failed=1)
    assert limit.tripped()


def test_limit_trips_only_above_the_ratio() -> None:
    limit = DeadLetterLimit(max_ratio=0.5, window=20)
    limit.record(ok=10, failed=10)
    assert limit.ratio() == pytest.approx(0.5) and not limit.tripped()
    limit.record(ok=0, failed=1)
    assert limit.tripped()


def test_limit_stays_tripped_once_tripped() -> None:
    limit = DeadLetterLimit(max_ratio=0.1, window=10)
    limit.record(ok=0, failed=10)
    limit.record(ok=100, failed=0)
    assert limit.ratio() == 0 and limit.tripped()


def test_limit_window_forgets_old_failures() -> None:
    limit = DeadLetterLimit(max_ratio=0.5, window=20)
    limit.record(ok=0, failed=5)
    limit.record(ok=40, failed=0)
    assert limit.ratio() == 0 and not limit.tripped()
