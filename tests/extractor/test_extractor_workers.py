"""The extractor's worker pool and processing step: order, per-page timeout, crashes, dead letters.

Real worker processes and the real task (``extract_record``: a page record's bytes in, the encoded
article out); only the hang and the crash are provoked by small module-level tasks (worker processes
import them by name), since no real page is known to hang trafilatura deterministically.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from services.common.messages import Article, FeedEntry, PageMessage, decode, encode
from services.extractor.pipeline import extract_record
from services.extractor.service import Extraction
from services.extractor.tagging import gazetteer, language
from services.extractor.task import ArticleRecord, ExtractionError
from services.extractor.workers import AnalysePool, ExtractionTimeout, WorkerCrashed
from tests.common.fakes import Rec

PARA = (
    "The city council voted on Tuesday to expand the harbour ferry service after a year of record "
    "ridership, officials said, adding that two new boats would arrive in spring. Residents who spoke "
    "at the meeting welcomed the plan but asked for later evening sailings."
)


def html_page(title: str, marker: str = "") -> str:
    paras = "".join(f"<p>{PARA} ({title} {i})</p>" for i in range(4))
    return (
        f"<html lang='en'><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"{paras}<p>{marker}</p></article></body></html>"
    )


def page_message(n: int, marker: str = "") -> PageMessage:
    url = f"https://harbour.example/news/{n}"
    return PageMessage(
        id=f"a{n}", url=url, final_url=url, status=200, html=html_page(f"Story number {n}", marker),
        fetched_at=datetime(2024, 6, 1, tzinfo=UTC),
        entry=FeedEntry(feed_url="https://harbour.example/feed", entry_id=url, link=url),
    )


def raw(n: int, marker: str = "") -> bytes:
    """Page ``n`` as a ``newsflow.pages`` record's value."""
    return encode(page_message(n, marker))


def hang_on_marker(value: bytes | None) -> ArticleRecord:
    """Like extract_record, but a page marked HANG never finishes (a stand-in for pathological HTML)."""
    if value and b"HANG" in value:
        time.sleep(3600)
    return extract_record(value)


def die_on_marker(value: bytes | None) -> ArticleRecord:
    """Like extract_record, but the worker process dies on a page marked DIE (as on a segfault)."""
    if value and b"DIE" in value:
        os._exit(9)
    return extract_record(value)


def refuse_cold_worker(value: bytes | None) -> ArticleRecord:
    """Like extract_record, but fails if the worker had not loaded the tagger's data before its first page."""
    if gazetteer._GAZ is None or language._MODEL is None:
        raise RuntimeError("cold worker: the gazetteer / language model were not loaded before the page")
    return extract_record(value)


@pytest.fixture(scope="module")
def hang_pool() -> Iterator[AnalysePool[bytes | None, ArticleRecord]]:
    with AnalysePool(2, timeout_seconds=3, task=hang_on_marker) as pool:
        yield pool


def test_workers_load_the_tagger_before_their_first_page() -> None:
    """The per-page time limit measures the page: model loading (~1.4 s) happens in the worker's
    initializer, before pebble starts the first page's clock."""
    with AnalysePool(2, timeout_seconds=20, task=refuse_cold_worker) as pool:
        outcomes = pool.run([raw(n) for n in range(4)])
    assert [type(o) for o in outcomes] == [ArticleRecord] * 4, outcomes


def test_results_come_back_in_input_order(hang_pool: AnalysePool[bytes | None, ArticleRecord]) -> None:
    outcomes = hang_pool.run([raw(n) for n in range(6)])
    assert [type(o) for o in outcomes] == [ArticleRecord] * 6
    for n, outcome in enumerate(outcomes):
        assert isinstance(outcome, ArticleRecord)
        article = decode(Article, outcome.value)
        assert outcome.key == article.id.encode() == f"a{n}".encode()
        assert article.title == f"Story number {n}"
        assert f"Story number {n} 0" in article.text
        assert article.language == "en"
        assert outcome.url == article.url and outcome.text_chars == len(article.text)
        assert outcome.seconds > 0


def test_slow_page_is_cut_off_and_the_rest_goes_on(hang_pool: AnalysePool[bytes | None, ArticleRecord]) -> None:
    outcomes = hang_pool.run([raw(0), raw(1, "HANG"), raw(2), raw(3)])  # the page's timeout ends the hang
    assert isinstance(outcomes[1], ExtractionTimeout)
    assert [isinstance(o, ArticleRecord) for o in outcomes] == [True, False, True, True]
    # the killed worker was replaced: the pool still has both workers and still works
    again = hang_pool.run([raw(n) for n in range(4)])
    assert all(isinstance(o, ArticleRecord) for o in again)


def test_worker_death_is_retried_once_then_reported() -> None:
    with AnalysePool(1, timeout_seconds=20, task=die_on_marker) as pool:
        outcomes = pool.run([raw(0), raw(1, "DIE"), raw(2)])
    assert isinstance(outcomes[0], ArticleRecord) and isinstance(outcomes[2], ArticleRecord)
    assert isinstance(outcomes[1], WorkerCrashed)


def test_the_tasks_errors_come_back_as_the_error() -> None:
    empty = page_message(0).model_copy(update={"html": "<html><body><nav>x</nav></body></html>"})
    with AnalysePool(1, timeout_seconds=20) as pool:  # the service's own task
        outcomes = pool.run([encode(empty), b"{not json", None])
    assert isinstance(outcomes[0], ExtractionError)
    assert [type(o).__name__ for o in outcomes[1:]] == ["MessageError", "MessageError"]


def test_pool_refuses_zero_workers() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AnalysePool(0, timeout_seconds=1)


def test_processor_keeps_record_order_and_dead_letters_bad_and_slow_pages(
    hang_pool: AnalysePool[bytes | None, ArticleRecord],
) -> None:
    records = [
        Rec("pages", 0, 10, None, encode(page_message(0))),
        Rec("pages", 0, 11, None, b"{not json"),
        Rec("pages", 0, 12, None, encode(page_message(2, "HANG"))),
        Rec("pages", 0, 13, None, encode(page_message(3))),
        Rec("pages", 0, 14, None, encode(page_message(4))),
    ]
    processed = Extraction(hang_pool).process(records)
    assert [rec.offset for rec, _ in processed.items] == [10, 13, 14]
    articles: list[Article] = [decode(Article, a.value) for _, a in processed.items]
    assert [a.id for a in articles] == ["a0", "a3", "a4"]
    assert all(a.extractor_version for a in articles)
    failed = {f.record.offset: type(f.error).__name__ for f in processed.dead}
    assert failed == {11: "MessageError", 12: "ExtractionTimeout"}
    # no story here: the story stage places them, by the features computed here
    assert all(a.story_id is None and a.duplicate_of is None for a in articles)
    assert all(a.story_features is not None and a.story_features.shingles > 30 for a in articles)

