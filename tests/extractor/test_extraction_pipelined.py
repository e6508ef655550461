"""The extractor's step in two halves (:class:`services.extractor.service.Extraction`): ``start``
submits a batch's pages to the worker pool, ``process`` later takes their outcomes.

Real worker processes and the real ``analyse``; the task also appends the page's id to a log file
named in the page, so the test sees which pages the workers ran, and how many times.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.messages import PageMessage, encode
from services.extractor.pipeline import PageAnalysis, analyse
from services.extractor.service import Extraction
from services.extractor.workers import AnalysePool
from tests.extractor.test_extractor_workers import FakeRecord, page_message

pytestmark = pytest.mark.timeout(300)


def log_and_analyse(page: PageMessage) -> PageAnalysis:
    """``analyse``, after appending the page's id to the file named by the page's ``LOG:`` marker."""
    marker = re.search(r"LOG:(\S+?)<", page.html)
    if marker:
        with open(marker.group(1), "a", encoding="utf-8") as log:
            log.write(page.id + "\n")
    return analyse(page)


@pytest.fixture(scope="module")
def pool() -> Iterator[AnalysePool]:
    with AnalysePool(2, timeout_seconds=30, task=log_and_analyse) as pool:
        yield pool


def batch(log: Path, first_offset: int, count: int) -> list[FakeRecord]:
    return [FakeRecord("pages", 0, n, encode(page_message(n, f"LOG:{log}")))
            for n in range(first_offset, first_offset + count)]


def ran(log: Path) -> list[str]:
    return sorted(log.read_text().split()) if log.exists() else []


def test_two_started_batches_come_back_in_record_order_each_page_analysed_once(pool: AnalysePool,
                                                                               tmp_path: Path) -> None:
    log = tmp_path / "ran.log"
    one, two = batch(log, 0, 4), batch(log, 4, 4)
    extraction = Extraction(pool)
    extraction.start(one)
    extraction.start(two)  # both batches in the workers: the stage's two in flight
    first = extraction.process(one)
    assert [rec.offset for rec, _ in first.items] == [0, 1, 2, 3] and not first.dead
    assert [a.id for _, a in first.items] == ["a0", "a1", "a2", "a3"]
    second = extraction.process(two)
    assert [a.id for _, a in second.items] == ["a4", "a5", "a6", "a7"]
    assert ran(log) == sorted(f"a{n}" for n in range(8)), "each started page ran once, none again in process"


def test_an_undecodable_record_started_is_dead_lettered_when_processed(pool: AnalysePool, tmp_path: Path) -> None:
    records = [*batch(tmp_path / "ran.log", 0, 1), FakeRecord("pages", 0, 1, b"{not json")]
    extraction = Extraction(pool)
    extraction.start(records)
    processed = extraction.process(records)
    assert [a.id for _, a in processed.items] == ["a0"]
    assert [(d.record.offset, type(d.error).__name__) for d in processed.dead] == [(1, "MessageError")]


def test_a_batch_processed_again_or_never_started_is_analysed_then(pool: AnalysePool, tmp_path: Path) -> None:
    """A retried batch (RetryBatch: the first attempt took the outcomes) and a batch the stage did not
    start are submitted by ``process`` itself."""
    log = tmp_path / "ran.log"
    records = batch(log, 0, 3)
    extraction = Extraction(pool)
    extraction.start(records)
    assert [a.id for _, a in extraction.process(records).items] == ["a0", "a1", "a2"]
    assert [a.id for _, a in extraction.process(records).items] == ["a0", "a1", "a2"]
    assert [a.id for _, a in extraction.process(batch(log, 3, 1)).items] == ["a3"]
    assert ran(log) == ["a0", "a0", "a1", "a1", "a2", "a2", "a3"]


def test_a_subset_of_a_started_batch_takes_its_own_outcomes(pool: AnalysePool, tmp_path: Path) -> None:
    """The stage may process fewer records than it started (a record refused before processing, or one
    taken out as a dead letter); the rest of the batch is not run twice."""
    log = tmp_path / "ran.log"
    records = batch(log, 0, 4)
    extraction = Extraction(pool)
    extraction.start(records)
    assert [a.id for _, a in extraction.process(records[1:3]).items] == ["a1", "a2"]
    assert ran(log) == ["a0", "a1", "a2", "a3"]
