"""Extraction quality gate (like trafilatura's tests/eval_gate.py).

Scores ``extract_page`` and plain ``trafilatura.extract`` on the whole fundus set
(258 real pages, ``../shared/data/extraction/fundus/test_data``; ~20 s) and fails when
quality drops below the pinned floors. Floors sit a little under the figures measured
with EXTRACTOR_VERSION 2025.4-tf2.3.1 (the visible lead) (F1 0.961, CJK F1 0.901, title 0.845 with the
typography-insensitive title comparison of ``bench.extraction_eval.norm_title``, authors 0.866,
date 0.981, worse-than-plain 2.3 %). Raise them when quality improves.

The data lives outside the repository. Without it the gate is skipped locally but
fails under CI (``CI=true``), where ``../shared`` must be checked out beside the clone.
"""

from __future__ import annotations

import os

import pytest

from bench.extraction_eval import DEFAULT_DATA, Comparison, compare, load_pages

F1_FLOOR = 0.959
CJK_F1_FLOOR = 0.895
WORSE_THAN_PLAIN_MAX = 0.03
TITLE_FLOOR = 0.835
AUTHORS_FLOOR = 0.86
DATE_FLOOR = 0.975

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def result() -> Comparison:
    if not DEFAULT_DATA.is_dir():
        msg = f"fundus test data not found at {DEFAULT_DATA} (needs ../shared/data beside the repo)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + "; CI must provide it")
        pytest.skip(msg)
    return compare(load_pages(DEFAULT_DATA))


def test_mean_f1(result: Comparison) -> None:
    assert result.ours.f1 >= F1_FLOOR, result.ours
    assert result.ours.f1 > result.plain.f1, (result.ours.f1, result.plain.f1)


def test_cjk_f1(result: Comparison) -> None:
    assert result.ours.cjk_f1 >= CJK_F1_FLOOR, result.ours


def test_rarely_worse_than_plain_trafilatura(result: Comparison) -> None:
    assert result.worse_fraction <= WORSE_THAN_PLAIN_MAX, result.worse


def test_metadata_accuracy(result: Comparison) -> None:
    ours = result.ours
    assert ours.title_acc is not None and ours.title_acc >= TITLE_FLOOR
    assert ours.authors_acc is not None and ours.authors_acc >= AUTHORS_FLOOR
    assert ours.date_acc is not None and ours.date_acc >= DATE_FLOOR


def test_no_crashes(result: Comparison) -> None:
    crashes = [p for p in result.pages if p["error"] and "no article text" not in p["error"]]
    assert not crashes, crashes
