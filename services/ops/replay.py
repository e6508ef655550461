"""``newsflow replay``: reprocess a stage's input topic from a chosen point.

Steps: parse the start point -> plan (per partition: start, recorded end,
optional ``--until`` bound) -> either print the plan (``--dry-run``) or run
the stage's real processing in this process, with its consumer assigned to
the planned partitions and seeked to the start offsets -> stop when caught up.

Two modes:

* **fresh group** (default): offsets are committed under a new group
  ``<group>-replay-<UTC timestamp>``; the live group keeps running and its
  offsets are never touched.
* **reset the live group** (``--reset-live-group``): refused while the broker
  lists active members of the live group (``DescribeGroups``, see
  :mod:`services.common.offsets`); otherwise the live group's committed offsets
  are moved to the start offsets first (so an interrupted replay resumes when
  the service starts), then the replay commits under the live group.

"Caught up" is never decided from end offsets alone (tansu undercounts them):
the replay stops when every partition's position has passed the end offset
recorded at the start **and** no record arrived for ``replay_idle_seconds``;
with ``--until``, when every partition's position reached its bound.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from services.common import offsets as ofs
from services.common.deadletters import DeadLetter
from services.common.health import Health
from services.common.kafka import make_admin
from services.common.records import Record
from services.common.settings import ConsumerSettings
from services.common.stage import Stage
from services.common.steps import StageStopped, Step, StepWrapper
from services.extractor import service as extractor_service
from services.extractor.settings import ExtractorSettings
from services.sink import service as sink_service
from services.sink.settings import SinkSettings
from services.stories import service as stories_service
from services.stories.settings import StoriesSettings

log = logging.getLogger(__name__)

StageName = Literal["extractor", "stories", "sink"]


class ReplayRefused(RuntimeError):
    """The replay cannot run safely as asked (the message says why and what to do)."""


# --- step 1: the start point -----------------------------------------------------

@dataclass(frozen=True)
class StartPoint:
    """Exactly one of: the beginning, a time, or explicit offsets per partition."""

    from_beginning: bool = False
    since: datetime | None = None
    offsets: dict[int, int] | None = None

    def __post_init__(self) -> None:
        given = sum([self.from_beginning, self.since is not None, self.offsets is not None])
        if given != 1:
            raise ValueError("give exactly one of --from-beginning, --since or --offsets")


def parse_offsets(text: str) -> dict[int, int]:
    """``"0:120,1:95"`` -> ``{0: 120, 1: 95}``; a clear ``ValueError`` otherwise."""
    out: dict[int, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        partition, sep, offset = part.partition(":")
        if not sep or not partition.strip().isdigit() or not offset.strip().isdigit():
            raise ValueError(f"--offsets: {part!r} is not PARTITION:OFFSET (e.g. 0:120,1:95)")
        if int(partition) in out:
            raise ValueError(f"--offsets: partition {int(partition)} given twice")
        out[int(partition)] = int(offset)
    if not out:
        raise ValueError("--offsets: no PARTITION:OFFSET pairs given")
    return out


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``2026-11-01T00:00Z``, ``2026-11-01``); naive times are UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. 2026-11-01T00:00Z)") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


# --- step 2: the plan ----------------------------------------------------------------

@dataclass(frozen=True)
class PartitionRange:
    """One partition of a replay: from ``start`` to the recorded ``end`` or ``until``."""

    partition: int
    start: int
    end: int
    until: int | None = None

    @property
    def estimate(self) -> int:
        """How many messages would be replayed (approximate: end offsets can undercount)."""
        return max(0, (self.until if self.until is not None else self.end) - self.start)


@dataclass(frozen=True)
class ReplayPlan:
    stage: StageName
    topic: str
    group: str
    live_group: str
    reset_live_group: bool
    ranges: tuple[PartitionRange, ...]

    @property
    def estimate(self) -> int:
        return sum(r.estimate for r in self.ranges)

    def describe(self) -> list[str]:
        """The ``--dry-run`` report: one line per partition, then the total."""
        mode = (f"resetting live group {self.live_group}" if self.reset_live_group
                else f"fresh group {self.group} (live group {self.live_group} untouched)")
        lines = [f"replay {self.stage}: topic {self.topic}, {mode}"]
        for r in self.ranges:
            bound = f"until offset {r.until}" if r.until is not None else f"end {r.end}"
            lines.append(f"  partition {r.partition}: start {r.start}, {bound}, ~{r.estimate} message(s)")
        lines.append(f"  total ~{self.estimate} message(s) (approximate: the broker's end offsets "
                     "may undercount; the replay itself runs until the topic is idle)")
        return lines


def replay_group(live_group: str, now: datetime | None = None) -> str:
    return f"{live_group}-replay-{(now or datetime.now(UTC)).strftime('%Y%m%dT%H%M%SZ')}"


def plan_replay(
    consumer: KafkaConsumer,
    *,
    stage: StageName,
    topic: str,
    live_group: str,
    start: StartPoint,
    until: datetime | None = None,
    reset_live_group: bool = False,
) -> ReplayPlan:
    """Start, recorded end and bound per partition of ``topic``."""
    tps = ofs.partitions(consumer, topic)
    known = {tp.partition for tp in tps}
    ends = ofs.end_offsets(consumer, tps)
    if start.offsets is not None:
        unknown = sorted(set(start.offsets) - known)
        if unknown:
            raise ValueError(f"--offsets: {topic} has no partition {unknown[0]} (partitions: {sorted(known)})")
        starts: dict[int, int | None] = {p: o for p, o in start.offsets.items()}
    elif start.since is not None:
        starts = ofs.offsets_at(consumer, tps, _ms(start.since))
    else:
        starts = {p: o for p, o in ofs.beginning_offsets(consumer, tps).items()}
    bounds = ofs.offsets_at(consumer, tps, _ms(until)) if until is not None else {}
    ranges = []
    for tp in tps:
        first = starts.get(tp.partition, "skip")
        if first == "skip":
            continue  # --offsets named other partitions only
        end = ends[tp.partition]
        begin = end if first is None else int(first)  # None: nothing that recent
        bound = bounds.get(tp.partition)  # None: nothing after --until here, so replay to the end
        ranges.append(PartitionRange(tp.partition, begin, end, bound))
    group = live_group if reset_live_group else replay_group(live_group)
    return ReplayPlan(stage, topic, group, live_group, reset_live_group, tuple(ranges))


# --- step 3: guard the live group ----------------------------------------------------

def reset_live_offsets(settings: ConsumerSettings, plan: ReplayPlan) -> None:
    """Move the stopped live group to the plan's start offsets; refuse while it has members."""
    admin = make_admin(settings)
    try:
        try:
            state = ofs.group_state(admin, plan.live_group)
        except ofs.GroupStateUnknown as exc:
            raise ReplayRefused(f"cannot tell whether group {plan.live_group} is active ({exc}); "
                                "refusing to reset its offsets") from exc
        if state.active:
            raise ReplayRefused(
                f"consumer group {plan.live_group} has {len(state.members)} active member(s) "
                f"(state {state.state}); stop the {plan.stage} service first, or replay into a fresh "
                "group (drop --reset-live-group)")
        admin.alter_group_offsets(plan.live_group, {
            TopicPartition(plan.topic, r.partition): OffsetAndMetadata(r.start, "", -1) for r in plan.ranges
        })
        log.info("reset group %s to the replay start", plan.live_group,
                 extra={"group": plan.live_group, "topic": plan.topic,
                        "offsets": {r.partition: r.start for r in plan.ranges}})
    finally:
        admin.close()


# --- step 4: run -------------------------------------------------------------------------

class ProgressReporter(Protocol):
    def update(self, done: int, total: int, rate: float) -> None: ...
    def close(self) -> None: ...


@dataclass
class ReplayResult:
    group: str
    consumed: int = 0
    replayed: int = 0
    outside_range: int = 0
    seconds: float = 0.0
    stopped_by_dlq_limit: bool = False
    positions: dict[int, int] = field(default_factory=dict)


StageBuilder = Callable[[ConsumerSettings, Health, Sequence[StepWrapper]], Stage]


def build_stage_for(stage: StageName) -> StageBuilder:
    """The real service's stage builder (the replay runs the same code the service runs). The story
    stage replays with an empty index (no rebuild from its output): it re-clusters what it reads."""
    if stage == "extractor":
        return lambda s, h, steps: extractor_service.build(_as(ExtractorSettings, s), h, steps=steps)
    if stage == "stories":
        return lambda s, h, steps: stories_service.build(_as(StoriesSettings, s), h, steps=steps, rebuild=False)
    return lambda s, h, steps: sink_service.build(_as(SinkSettings, s), h, steps=steps)


def _as(cls: type[Any], settings: ConsumerSettings) -> Any:
    if not isinstance(settings, cls):
        raise TypeError(f"{cls.__name__} expected, got {type(settings).__name__}")
    return settings


def run_replay(
    plan: ReplayPlan,
    settings: ConsumerSettings,
    *,
    build: StageBuilder | None = None,
    progress: ProgressReporter | None = None,
) -> ReplayResult:
    """Reprocess the plan's ranges with the stage's real processing; returns what happened."""
    if plan.reset_live_group:
        reset_live_offsets(settings, plan)
    stage_settings = settings.model_copy(update={"group_id": plan.group})
    bounded = RangeBound(plan)
    stage = (build or build_stage_for(plan.stage))(stage_settings, Health(), (bounded,))
    result = ReplayResult(plan.group)
    report = progress or PlainProgress()
    started = time.monotonic()
    try:
        _assign(stage.consumer, plan)
        _drive(stage, plan, settings.replay_idle_seconds, result, report, started)
    finally:
        report.close()
        stage.close()
    result.outside_range = bounded.outside
    result.replayed = result.consumed - bounded.outside
    result.seconds = time.monotonic() - started
    return result


def _assign(consumer: KafkaConsumer, plan: ReplayPlan) -> None:
    """Take the planned partitions directly (no group join: the live group is not rebalanced)."""
    consumer.unsubscribe()
    tps = [TopicPartition(plan.topic, r.partition) for r in plan.ranges]
    consumer.assign(tps)
    for r in plan.ranges:
        consumer.seek(TopicPartition(plan.topic, r.partition), r.start)


def _drive(stage: Stage, plan: ReplayPlan, idle_seconds: float, result: ReplayResult,
           report: ProgressReporter, started: float) -> None:
    total = plan.estimate
    last_record = time.monotonic()
    while True:
        try:
            n = stage.run_once()
        except StageStopped as exc:
            result.stopped_by_dlq_limit = True
            log.error("replay stopped: %s (see `newsflow dlq list`)", exc)
            return
        result.consumed += n
        now = time.monotonic()
        if n:
            last_record = now
        total = max(total, result.consumed)
        report.update(result.consumed, total, result.consumed / max(now - started, 1e-6))
        result.positions = _positions(stage.consumer, plan)
        _pause_finished(stage.consumer, plan, result.positions)
        if caught_up(plan, result.positions, idle_for=now - last_record, idle_seconds=idle_seconds):
            return


def _positions(consumer: KafkaConsumer, plan: ReplayPlan) -> dict[int, int]:
    return {r.partition: int(consumer.position(TopicPartition(plan.topic, r.partition))) for r in plan.ranges}


def _pause_finished(consumer: KafkaConsumer, plan: ReplayPlan, positions: dict[int, int]) -> None:
    """A partition that reached its ``--until`` bound reads no further."""
    done = [TopicPartition(plan.topic, r.partition) for r in plan.ranges
            if r.until is not None and positions.get(r.partition, 0) >= r.until]
    if done:
        consumer.pause(*done)


def caught_up(plan: ReplayPlan, positions: dict[int, int], *, idle_for: float, idle_seconds: float) -> bool:
    """Done when every bounded partition reached ``--until`` and every other partition passed the
    end recorded at the start while the topic stayed idle for ``idle_seconds`` (never from end
    offsets alone: the embedded broker undercounts them)."""
    open_ended = False
    for r in plan.ranges:
        pos = positions.get(r.partition, r.start)
        if r.until is not None:
            if pos < r.until:
                return False
            continue
        open_ended = True
        if pos < r.end:
            return False
    return not open_ended or idle_for >= idle_seconds


class RangeBound:
    """A step wrapper: records at or past a partition's ``--until`` bound are not replayed
    (counted as outside the range, and logged once per batch)."""

    def __init__(self, plan: ReplayPlan) -> None:
        self.bounds = {r.partition: r.until for r in plan.ranges if r.until is not None}
        self.outside = 0

    def __call__(self, next_step: Step) -> Step:
        def step(records: Sequence[Record]) -> list[DeadLetter]:
            inside = [r for r in records if r.offset < self.bounds.get(r.partition, r.offset + 1)]
            skipped = len(records) - len(inside)
            if skipped:
                self.outside += skipped
                log.info("%d record(s) past --until not replayed", skipped)
            return next_step(inside) if inside else []

        return step


# --- progress ----------------------------------------------------------------------------

class PlainProgress:
    """A line at most every ``every`` seconds while the count moves (none while the replay only
    waits for the topic to stay idle), and a last one, for logs and pipes."""

    def __init__(self, every: float = 2.0, out: Any = None) -> None:
        self.every = every
        self.out = out or sys.stderr
        self._last = float("-inf")
        self._line = ""
        self._printed_done: int | None = None
        self._done = 0

    def update(self, done: int, total: int, rate: float) -> None:
        self._done = done
        self._line = f"replayed {done} of ~{total} message(s), {rate:.1f} msg/s, ~{max(0, total - done)} remaining"
        if done != self._printed_done and time.monotonic() - self._last >= self.every:
            self._print()

    def close(self) -> None:
        if self._line and self._done != self._printed_done:
            self._print()

    def _print(self) -> None:
        self._last = time.monotonic()
        self._printed_done = self._done
        print(self._line, file=self.out, flush=True)


class RichProgress:
    """A progress bar with messages/s and remaining count, for a terminal."""

    def __init__(self, description: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:.1f} msg/s, ~{task.fields[remaining]} remaining"),
            TimeElapsedColumn(),
        )
        self._task = self._progress.add_task(description, total=None, rate=0.0, remaining="?")
        self._progress.start()

    def update(self, done: int, total: int, rate: float) -> None:
        self._progress.update(self._task, completed=done, total=total, rate=rate,
                              remaining=max(0, total - done))

    def close(self) -> None:
        self._progress.stop()
