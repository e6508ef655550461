"""The stage loop without Kafka: a fake consumer and producer and a fake clock.

Covers the loop's promises: offsets are committed only after the output is durable, a
batch that cannot be made durable pauses the input and is retried whole, dead letters go
out before the commit, the dead-letter limit stops the stage, and SIGTERM drains the
batch in hand. Pipelined (a stage with a ``start``, two batches in flight): commits stay in
order and only for durable output, a retried batch keeps the later one waiting, a stop drains
both or drops the one not durable. The same loop runs against the real broker in tests/integration.
"""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Callable, Sequence

import pytest

from services.common.deadletters import DeadLetter
from services.common.health import Health
from services.common.records import Record
from services.common.settings import ConsumerSettings
from services.common.stage import LINGER_SECONDS, Stage, build_stage, consume
from services.common.steps import Processed, RetryBatch, StageStopped
from tests.common.fakes import FakeClock, FakeConsumer, FakeProducer

TOPIC = "in"
pytestmark = pytest.mark.timeout(60)  # a loop that never ends fails instead of hanging the suite


def settings(**overrides: object) -> ConsumerSettings:
    base: dict[str, object] = {"batch_max_records": 10, "batch_max_seconds": 1.0, "dlq_window": 10,
                               "dlq_max_ratio": 0.5, "topic_dlq": "dlq", "shutdown_timeout_seconds": 30}
    return ConsumerSettings(**(base | overrides))  # type: ignore[arg-type]


class Output:
    """A stage's output: ``write`` produces into ``events`` as the real writers do."""

    def __init__(self, events: list[tuple[str, object]], fail_times: int = 0) -> None:
        self.events = events
        self.fail_times = fail_times
        self.written: list[bytes] = []
        self.started: list[bytes] = []
        self.before_write: Callable[[], None] = lambda: None

    def start(self, records: Sequence[Record]) -> None:
        self.started.extend(r.value or b"" for r in records)
        self.events.append(("start", len(records)))

    def process(self, records: Sequence[Record]) -> Processed[Record]:
        out: Processed[Record] = Processed()
        for rec in records:
            if (rec.value or b"").startswith(b"poison"):
                out.dead.append(DeadLetter(rec, ValueError("poison")))
            else:
                out.items.append(rec)
        return out

    def write(self, items: list[Record]) -> list[DeadLetter]:
        self.before_write()
        if self.fail_times:
            self.fail_times -= 1
            self.events.append(("write_failed", len(items)))
            raise RetryBatch("storage unavailable")
        self.written.extend(r.value or b"" for r in items)
        self.events.append(("durable", len(items)))
        return []


def make_stage(values: dict[int, list[bytes]], fail_times: int = 0, pipelined: bool = False,
               **overrides: object) -> tuple[Stage, FakeConsumer, FakeProducer, Output, FakeClock]:
    clock = FakeClock()
    consumer = FakeConsumer(clock, TOPIC, values)
    producer = FakeProducer(consumer.events)
    output = Output(consumer.events, fail_times)
    stage = build_stage(name="test", settings=settings(**overrides), input_topic=TOPIC, process=output.process,
                        write=output.write, health=Health(), consumer=consumer, producer=producer,  # type: ignore[arg-type]
                        clock=clock, start=output.start if pipelined else None)
    return stage, consumer, producer, output, clock


def kinds(events: list[tuple[str, object]]) -> list[str]:
    return [kind for kind, _ in events if kind != "poll"]


def test_offsets_are_committed_only_after_the_output_is_durable() -> None:
    stage, consumer, _, output, _ = make_stage({0: [b"a", b"b"], 1: [b"c"]})
    assert stage.run_once() == 3
    assert kinds(consumer.events) == ["durable", "commit"]
    assert consumer.committed == {0: 2, 1: 1}
    assert sorted(output.written) == [b"a", b"b", b"c"]


def test_a_batch_that_is_not_durable_pauses_the_input_and_is_retried_whole_with_backoff() -> None:
    stage, consumer, _, output, clock = make_stage({0: [b"a", b"b"]}, fail_times=3)
    assert stage.run_once() == 2
    assert kinds(consumer.events) == ["write_failed", "pause", "write_failed", "pause", "write_failed", "pause",
                                      "durable", "resume", "commit"]
    assert clock.waits == [0.5, 1.0, 2.0]
    assert output.written == [b"a", b"b"] and consumer.committed == {0: 2}
    assert stage.health.report()["checks"]["storage"] is True  # type: ignore[index]


def test_a_stop_while_retrying_commits_nothing() -> None:
    stage, consumer, _, output, _ = make_stage({0: [b"a"]}, fail_times=100)
    stage.stopping.set()  # as if SIGTERM arrived while storage is down
    assert stage.run_once() == 1
    assert consumer.committed == {} and output.written == []


def test_dead_letters_are_durable_before_the_commit_and_name_their_origin() -> None:
    stage, consumer, producer, output, _ = make_stage({0: [b"a", b"poison", b"c"]})
    stage.run_once()
    assert kinds(consumer.events) == ["durable", "send", "flush", "commit"]
    [(topic, key, value, headers)] = producer.sent
    assert (topic, key, value) == ("dlq", b"k0-1", b"poison")
    assert dict(headers)["newsflow.original_offset"] == b"1"
    assert consumer.committed == {0: 3} and output.written == [b"a", b"c"]


def test_a_raised_dead_letter_takes_out_its_record_and_the_rest_is_written() -> None:
    stage, consumer, producer, output, _ = make_stage({0: [b"a", b"raise", b"c"]})

    def write(items: list[Record]) -> list[DeadLetter]:
        for rec in items:
            if rec.value == b"raise":
                raise DeadLetter(rec, ValueError("row rejected"))
        return output.write(items)

    stage.step = build_stage(name="test", settings=stage.settings, input_topic=TOPIC, process=output.process,
                             write=write, health=Health(), consumer=consumer, producer=producer,  # type: ignore[arg-type]
                             ).step
    stage.run_once()
    assert output.written == [b"a", b"c"]
    assert [s[2] for s in producer.sent] == [b"raise"] and consumer.committed == {0: 3}


def test_the_dead_letter_limit_stops_the_stage_and_leaves_the_rest_uncommitted() -> None:
    stage, consumer, producer, _, clock = make_stage({0: [b"poison"] * 60}, batch_max_records=20)
    stage.run_once()  # 20 of 20 dead-lettered: the limit trips
    with pytest.raises(StageStopped):
        stage.run_once()  # the next batch is refused before it is processed
    clock.stop_after_waits = 3
    stage.run()  # the third batch is refused too: the loop reports it, pauses its input and stays stopped
    assert len(producer.sent) == 20 and consumer.committed == {0: 20}
    assert ("pause", 1) in consumer.events
    assert stage.stopped_by is not None and stage.health.report()["checks"]["dlq_limit"] is False  # type: ignore[index]


def test_sigterm_drains_the_batch_in_hand_then_closes() -> None:
    stage, consumer, producer, output, _ = make_stage({0: [b"a", b"b", b"c"]}, batch_max_records=2)
    output.before_write = lambda: os.kill(os.getpid(), signal.SIGTERM)  # arrives while the batch is in hand
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        stage.install_signal_handlers()
        stage.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert output.written == [b"a", b"b"] and consumer.committed == {0: 2}, "the batch in hand finished"
    assert consumer.closed and producer.closed


@pytest.mark.parametrize("pipelined", [False, True])
@pytest.mark.parametrize("partitions", [1, 3])
def test_everything_is_committed_once_across_batches(partitions: int, pipelined: bool) -> None:
    values = {p: [f"{p}-{i}".encode() for i in range(25)] for p in range(partitions)}
    stage, consumer, _, output, _ = make_stage(values, batch_max_records=7, pipelined=pipelined)
    while stage.run_once():
        pass
    assert sorted(output.written) == sorted(v for vals in values.values() for v in vals)
    assert consumer.committed == dict.fromkeys(range(partitions), 25)
    commits = [offsets for kind, offsets in consumer.events if kind == "commit"]
    assert len(commits) == 4 * partitions - (partitions - 1) // 2, "one commit per batch, nothing twice"
    if pipelined:
        assert sorted(output.started) == sorted(output.written), "every record started once, and only once"


# --- pipelined: two batches in flight ---------------------------------------------------------

def committed_in_order(consumer: FakeConsumer) -> list[int]:
    """The partition-0 offsets of the commits, in order (asserting they only grow)."""
    offsets = [off[0] for kind, off in consumer.events if kind == "commit" and isinstance(off, dict)]
    assert offsets == sorted(set(offsets)), "commits strictly in order, none repeated"
    return offsets


def test_pipelined_the_next_batch_starts_before_this_one_is_written_and_commits_stay_in_order() -> None:
    stage, consumer, _, output, _ = make_stage({0: [str(i).encode() for i in range(10)]}, batch_max_records=4,
                                               pipelined=True)
    assert stage.run_once() == 4 and kinds(consumer.events) == ["start"], "started, nothing written yet"
    assert stage.run_once() == 4
    assert kinds(consumer.events) == ["start", "start", "durable", "commit"], "batch 2 started before 1 is written"
    assert consumer.committed == {0: 4}, "only the durable batch is committed, not the one in flight"
    while stage.run_once():
        pass
    assert kinds(consumer.events) == ["start", "start", "durable", "commit", "start", "durable", "commit",
                                      "durable", "commit"]
    assert committed_in_order(consumer) == [4, 8, 10]
    assert output.written == [str(i).encode() for i in range(10)], "nothing lost, nothing reordered"


def test_pipelined_a_retried_batch_keeps_the_later_one_waiting_and_it_finishes_after() -> None:
    stage, consumer, _, output, clock = make_stage({0: [str(i).encode() for i in range(9)]}, fail_times=2,
                                                   batch_max_records=3, pipelined=True)
    stage.run_once()
    stage.run_once()  # batch 1 fails twice while batch 2 is in flight
    assert kinds(consumer.events) == ["start", "start", "write_failed", "pause", "write_failed", "pause",
                                      "durable", "resume", "commit"]
    assert consumer.committed == {0: 3} and clock.waits == [0.5, 1.0]
    while stage.run_once():
        pass
    assert committed_in_order(consumer) == [3, 6, 9]
    assert output.written == [str(i).encode() for i in range(9)]


def test_pipelined_a_stop_while_the_older_batch_retries_commits_nothing_and_drops_the_later_one() -> None:
    stage, consumer, _, output, clock = make_stage({0: [str(i).encode() for i in range(9)]}, fail_times=100,
                                                   batch_max_records=3, pipelined=True)
    clock.stop_after_waits = 2  # SIGTERM while storage is down, batch 2 in flight
    stage.run()
    assert consumer.committed == {} and output.written == [], "neither batch is durable: nothing committed"
    assert output.started == [str(i).encode() for i in range(6)] and consumer.closed


def test_pipelined_sigterm_drains_both_batches_in_flight_then_closes() -> None:
    stage, consumer, producer, output, _ = make_stage({0: [str(i).encode() for i in range(9)]},
                                                      batch_max_records=3, pipelined=True)
    output.before_write = lambda: os.kill(os.getpid(), signal.SIGTERM)  # arrives while batch 1 is written
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        stage.install_signal_handlers()
        stage.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert committed_in_order(consumer) == [3, 6], "batch 2, in flight, was finished too; batch 3 never consumed"
    assert output.written == [str(i).encode() for i in range(6)]
    assert consumer.closed and producer.closed


def test_pipelined_dead_letters_are_durable_before_their_own_batch_is_committed() -> None:
    stage, consumer, producer, output, _ = make_stage({0: [b"a", b"poison1", b"c", b"poison2"]},
                                                      batch_max_records=2, pipelined=True)
    while stage.run_once():
        pass
    assert kinds(consumer.events) == ["start", "start", "durable", "send", "flush", "commit",
                                      "durable", "send", "flush", "commit"]
    assert [s[2] for s in producer.sent] == [b"poison1", b"poison2"]
    assert committed_in_order(consumer) == [2, 4] and output.written == [b"a", b"c"]


def test_pipelined_the_dead_letter_limit_drops_the_later_batch_uncommitted() -> None:
    stage, consumer, producer, _, clock = make_stage({0: [b"poison"] * 80}, batch_max_records=20, pipelined=True)
    stage.run_once()
    stage.run_once()  # batch 1: 20 of 20 dead-lettered, the limit trips
    with pytest.raises(StageStopped):
        stage.run_once()  # batch 2 is refused before it is processed; batch 3, in flight, is dropped
    clock.stop_after_waits = 2
    stage.run()  # batch 4 is refused too; the stage stays stopped; closing finds nothing in flight
    assert len(producer.sent) == 20 and consumer.committed == {0: 20}
    assert stage.stopped_by is not None and consumer.closed


def test_pipelined_records_over_the_size_limit_are_not_started() -> None:
    stage, consumer, _, output, _ = make_stage({0: [b"a", b"x" * (LIMIT + 1), b"c"]}, max_message_bytes=LIMIT,
                                               pipelined=True)
    while stage.run_once():
        pass
    assert output.started == [b"a", b"c"] and output.written == [b"a", b"c"] and consumer.committed == {0: 3}


LIMIT = 64 * 1024


def test_a_record_over_the_size_limit_is_refused_before_processing_and_the_stage_moves_on() -> None:
    stage, consumer, producer, output, _ = make_stage({0: [b"a", b"x" * (LIMIT + 1), b"c"]}, max_message_bytes=LIMIT)
    stage.run_once()
    assert output.written == [b"a", b"c"] and consumer.committed == {0: 3}
    [(_, _, value, headers)] = producer.sent
    h = dict(headers)
    assert h["newsflow.error_class"] == b"RecordTooLarge"
    assert h["newsflow.original_size"] == str(LIMIT + 1).encode() and h["newsflow.value_truncated"] == b"true"
    assert len(value or b"") + sum(len(k) + len(v) for k, v in headers) < LIMIT


def test_a_dead_letter_of_a_record_just_under_the_limit_is_cut_to_fit_with_its_size_and_hash() -> None:
    near = b"poison" + b"y" * (LIMIT - 200)  # fits as a record, not with ~500 bytes of headers
    stage, consumer, producer, _, _ = make_stage({0: [near]}, max_message_bytes=LIMIT)
    stage.run_once()
    [(_, _, value, headers)] = producer.sent
    h = dict(headers)
    assert h["newsflow.error_class"] == b"ValueError", "processed, then dead-lettered as usual"
    assert h["newsflow.original_sha256"] == hashlib.sha256(near).hexdigest().encode()
    assert near.startswith(value or b"") and len(value or b"") + sum(len(k) + len(v) for k, v in headers) < LIMIT
    assert consumer.committed == {0: 1}


def test_a_lone_record_waits_only_the_linger_not_the_whole_batch_time() -> None:
    """One pushed article is not held for max_seconds in every stage: with records in hand a poll
    waits LINGER_SECONDS for more; an empty topic still waits the whole batch time."""
    clock = FakeClock()
    consumer = FakeConsumer(clock, "t", {0: [b"one"]})
    started = clock.monotonic()
    records = consume(consumer, max_records=100, max_seconds=5.0, clock=clock)  # type: ignore[arg-type]
    assert [r.value for r in records] == [b"one"]
    assert clock.monotonic() - started == pytest.approx(LINGER_SECONDS)
    started = clock.monotonic()
    assert consume(consumer, max_records=100, max_seconds=5.0, clock=clock) == []  # type: ignore[arg-type]
    assert clock.monotonic() - started == pytest.approx(5.0)
