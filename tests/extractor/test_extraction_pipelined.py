"""The extractor's step in two halves (:class:`services.extractor.service.Extraction`): ``start``
submits a batch's pages to the worker pool, ``process`` later takes their outcomes.

Real worker processes and the real task (``extract_record``); the task also appends the page's id to
a log file named in the page, so the test sees which pages the workers ran, and how many times.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.messages import Article, MessageError, PageMessage, decode, encode
from services.common.steps import Processed
from services.extractor.pipeline import extract_record
from services.extractor.service import Extraction, Item
from services.extractor.task import ArticleRecord
from services.extractor.workers import AnalysePool
from tests.common.fakes import Rec
from tests.extractor.test_extractor_workers import page_message

pytestmark = pytest.mark.timeout(300)


Pool = AnalysePool[bytes | None, ArticleRecord]


def log_and_extract(value: bytes | None) -> ArticleRecord:
    """``extract_record``, after appending the page's id to the file named by the page's ``LOG:`` marker."""
    try:
        page = decode(PageMessage, value)
    except MessageError:
        return extract_record(value)  # raises it again, as the real task does
    marker = re.search(r"LOG:(\S+?)<", page.html)
    if marker:
        with open(marker.group(1), "a", encoding="utf-8") as log:
            log.write(page.id + "\n")
    return extract_record(value)


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    with AnalysePool(2, timeout_seconds=30, task=log_and_extract) as pool:
        yield pool


def ids(processed: Processed[Item]) -> list[str]:
    """The ids of the articles a step produced, from their encoded records (the key is the id too)."""
    articles = [decode(Article, record.value) for _, record in processed.items]
    assert [record.key for _, record in processed.items] == [a.id.encode() for a in articles]
    return [a.id for a in articles]


def batch(log: Path, first_offset: int, count: int) -> list[Rec]:
    return [Rec("pages", 0, n, None, encode(page_message(n, f"LOG:{log}")))
            for n in range(first_offset, first_offset + count)]


def ran(log: Path) -> list[str]:
    return sorted(log.read_text().split()) if log.exists() else []


def test_two_started_batches_come_back_in_record_order_each_page_analysed_once(pool: Pool,
                                                                               tmp_path: Path) -> None:
    log = tmp_path / "ran.log"
    one, two = batch(log, 0, 4), batch(log, 4, 4)
    extraction = Extraction(pool)
    extraction.start(one)
    extraction.start(two)  # both batches in the workers: the stage's two in flight
    first = extraction.process(one)
    assert [rec.offset for rec, _ in first.items] == [0, 1, 2, 3] and not first.dead
    assert ids(first) == ["a0", "a1", "a2", "a3"]
    second = extraction.process(two)
    assert ids(second) == ["a4", "a5", "a6", "a7"]
    assert ran(log) == sorted(f"a{n}" for n in range(8)), "each started page ran once, none again in process"


def test_an_undecodable_record_started_is_dead_lettered_when_processed(pool: Pool, tmp_path: Path) -> None:
    records = [*batch(tmp_path / "ran.log", 0, 1), Rec("pages", 0, 1, None, b"{not json")]
    extraction = Extraction(pool)
    extraction.start(records)
    processed = extraction.process(records)
    assert ids(processed) == ["a0"]
    assert [(d.record.offset, type(d.error).__name__) for d in processed.dead] == [(1, "MessageError")]


def test_a_batch_processed_again_or_never_started_is_analysed_then(pool: Pool, tmp_path: Path) -> None:
    """A retried batch (RetryBatch: the first attempt took the outcomes) and a batch the stage did not
    start are submitted by ``process`` itself."""
    log = tmp_path / "ran.log"
    records = batch(log, 0, 3)
    extraction = Extraction(pool)
    extraction.start(records)
    assert ids(extraction.process(records)) == ["a0", "a1", "a2"]
    assert ids(extraction.process(records)) == ["a0", "a1", "a2"]
    assert ids(extraction.process(batch(log, 3, 1))) == ["a3"]
    assert ran(log) == ["a0", "a0", "a1", "a1", "a2", "a2", "a3"]


def test_a_subset_of_a_started_batch_takes_its_own_outcomes(pool: Pool, tmp_path: Path) -> None:
    """The stage may process fewer records than it started (a record refused before processing, or one
    taken out as a dead letter); the rest of the batch is not run twice."""
    log = tmp_path / "ran.log"
    records = batch(log, 0, 4)
    extraction = Extraction(pool)
    extraction.start(records)
    assert ids(extraction.process(records[1:3])) == ["a1", "a2"]
    # the two left out still take the outcomes of their first start (waiting for them: a3 may still be
    # running when the subset's outcomes are in)
    assert ids(extraction.process([records[0], records[3]])) == ["a0", "a3"]
    assert ran(log) == ["a0", "a1", "a2", "a3"]
