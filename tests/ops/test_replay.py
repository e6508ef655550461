"""Replay planning logic: option parsing, estimates, and when a replay counts as caught up."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from services.ops.replay import (
    PartitionRange,
    PlainProgress,
    ReplayPlan,
    StartPoint,
    caught_up,
    parse_offsets,
    parse_time,
    replay_group,
)


def test_parse_offsets() -> None:
    assert parse_offsets("0:120,1:95") == {0: 120, 1: 95}
    assert parse_offsets(" 2:0 ") == {2: 0}


@pytest.mark.parametrize("bad", ["", "0", "0:", "a:1", "0:-1", "0:1,0:2"])
def test_parse_offsets_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="--offsets"):
        parse_offsets(bad)


def test_parse_time_accepts_z_and_dates_and_defaults_to_utc() -> None:
    assert parse_time("2026-11-01T00:00Z") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_time("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time("yesterday")


def test_start_point_needs_exactly_one() -> None:
    StartPoint(from_beginning=True)
    with pytest.raises(ValueError, match="exactly one"):
        StartPoint()
    with pytest.raises(ValueError, match="exactly one"):
        StartPoint(from_beginning=True, offsets={0: 1})


def test_replay_group_name() -> None:
    assert replay_group("newsflow-extractor", datetime(2026, 11, 2, 3, 4, 5, tzinfo=UTC)) == \
        "newsflow-extractor-replay-20261102T030405Z"


def plan(*ranges: PartitionRange) -> ReplayPlan:
    return ReplayPlan("extractor", "pages", "g-replay", "g", False, ranges)


def test_estimate_and_dry_run_report() -> None:
    p = plan(PartitionRange(0, 10, 50), PartitionRange(1, 60, 50), PartitionRange(2, 0, 90, until=30))
    assert [r.estimate for r in p.ranges] == [40, 0, 30] and p.estimate == 70
    text = "\n".join(p.describe())
    assert "partition 0: start 10, end 50, ~40" in text and "until offset 30" in text
    assert "approximate" in text and "live group g untouched" in text


def test_caught_up_needs_the_recorded_end_and_idle_time() -> None:
    p = plan(PartitionRange(0, 0, 10), PartitionRange(1, 0, 5))
    assert not caught_up(p, {0: 10, 1: 4}, idle_for=99, idle_seconds=5)  # partition 1 not there yet
    assert not caught_up(p, {0: 10, 1: 5}, idle_for=1, idle_seconds=5)  # still receiving
    assert caught_up(p, {0: 12, 1: 5}, idle_for=5, idle_seconds=5)


def test_caught_up_with_until_needs_no_idle_time() -> None:
    p = plan(PartitionRange(0, 0, 10, until=4))
    assert not caught_up(p, {0: 3}, idle_for=0, idle_seconds=5)
    assert caught_up(p, {0: 4}, idle_for=0, idle_seconds=5)


def test_plain_progress_prints_no_line_twice_while_waiting_for_idle() -> None:
    out = io.StringIO()
    progress = PlainProgress(every=0.0, out=out)
    for done in (0, 5, 10, 10, 10, 10):
        progress.update(done, 10, 1.0 + done)
    progress.close()
    lines = out.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["replayed 0 of ~10 message(s)", "replayed 5 of ~10 message(s)",
                                                      "replayed 10 of ~10 message(s)"]
