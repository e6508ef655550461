"""Dead-letter bookkeeping: references, filters, and receipts that make a re-drive happen once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.ops.dlq import RECEIPT_HEADER, DlqRecord, Filter, dead_letters, parse_ref


def letter(offset: int, stage: str = "sink", error: str = "MessageError", when: str = "2026-11-02T10:00:00+00:00",
           receipt_for: str | None = None) -> DlqRecord:
    if receipt_for:
        return DlqRecord(0, offset, None, b"", ((RECEIPT_HEADER, receipt_for.encode()),), 0)
    headers = (("newsflow.stage", stage.encode()), ("newsflow.error_class", error.encode()),
               ("newsflow.failed_at", when.encode()), ("newsflow.original_topic", b"newsflow.articles"),
               ("newsflow.original_header.trace", b"t1"))
    return DlqRecord(0, offset, b"k", b"v", headers, 0)


def test_parse_ref() -> None:
    assert parse_ref("12") == (0, 12)
    assert parse_ref("2:7") == (2, 7)
    with pytest.raises(ValueError):
        parse_ref("x:1")


def test_receipts_mark_letters_redriven_and_are_not_listed() -> None:
    records = [letter(0), letter(1, stage="extractor"), letter(2, receipt_for="0:0")]
    listed = dead_letters(records, Filter())
    assert [(d.offset, done) for d, done in listed] == [(0, True), (1, False)]


def test_filters() -> None:
    records = [letter(0), letter(1, stage="extractor", error="TimeoutError"),
               letter(2, when="2026-11-01T00:00:00+00:00")]
    assert [d.offset for d, _ in dead_letters(records, Filter(stage="extractor"))] == [1]
    assert [d.offset for d, _ in dead_letters(records, Filter(error_class="MessageError"))] == [0, 2]
    since = Filter(since=datetime(2026, 11, 2, tzinfo=UTC))
    assert [d.offset for d, _ in dead_letters(records, since)] == [0, 1]


def test_original_headers_are_restored() -> None:
    assert letter(0).original_headers() == [("trace", b"t1")]
    assert letter(0).original_topic() == "newsflow.articles"
