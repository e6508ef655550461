"""In-memory stand-ins for the Kafka consumer and producer and a fake clock, so that the stage
loop runs in unit tests without a broker (as arroyo's LocalBroker + MockedClock do)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = 0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class FakeClock:
    """Time moves only when the code under test waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []
        self.stop_after_waits: int | None = None  # then every wait returns "event set" (a stop arrived)

    def monotonic(self) -> float:
        return self.now

    def wait(self, event: threading.Event, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        if self.stop_after_waits is not None and len(self.waits) >= self.stop_after_waits:
            event.set()
        return event.is_set()


class FakeConsumer:
    """One topic's partitions in memory; ``events`` records polls, commits, pauses in order."""

    def __init__(self, clock: FakeClock, topic: str, values: dict[int, list[bytes]]) -> None:
        self.clock = clock
        self.topic = topic
        self.logs = {p: [Rec(topic, p, i, f"k{p}-{i}".encode(), v) for i, v in enumerate(vals)]
                     for p, vals in values.items()}
        self.positions = dict.fromkeys(values, 0)
        self.committed: dict[int, int] = {}
        self._paused: set[TopicPartition] = set()
        self.events: list[tuple[str, Any]] = []
        self.closed = False

    def subscribe(self, topics: Iterable[str], listener: Any = None) -> None:
        assert list(topics) == [self.topic]

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(self.topic, p) for p in self.logs}

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[TopicPartition, list[Rec]]:
        out: dict[TopicPartition, list[Rec]] = {}
        budget = max_records or 10**9
        for p, log in sorted(self.logs.items()):
            tp = TopicPartition(self.topic, p)
            if tp in self._paused or budget <= 0:
                continue
            batch = log[self.positions[p]:self.positions[p] + budget]
            if batch:
                out[tp] = batch
                self.positions[p] += len(batch)
                budget -= len(batch)
        if not out:
            self.clock.now += timeout_ms / 1000  # an empty poll blocks for its timeout
        self.events.append(("poll", sum(len(b) for b in out.values())))
        return out

    def pause(self, *tps: TopicPartition) -> None:
        self._paused.update(tps)
        self.events.append(("pause", len(tps)))

    def resume(self, *tps: TopicPartition) -> None:
        self._paused.difference_update(tps)
        self.events.append(("resume", len(tps)))

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        for tp, meta in offsets.items():
            self.committed[tp.partition] = meta.offset
        self.events.append(("commit", {tp.partition: m.offset for tp, m in offsets.items()}))

    def topics(self) -> set[str]:
        return {self.topic}

    def close(self, autocommit: bool = True) -> None:
        self.closed = True


class FakeFuture:
    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> None:
        if self.error is not None:
            raise self.error


class FakeProducer:
    """Keeps what was sent; ``durable`` is what had been flushed when each event happened."""

    def __init__(self, events: list[tuple[str, Any]]) -> None:
        self.events = events
        self.sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
        self.closed = False

    def send(self, topic: str, key: bytes | None = None, value: bytes | None = None,
             headers: list[tuple[str, bytes]] | None = None) -> FakeFuture:
        self.sent.append((topic, key, value, headers or []))
        self.events.append(("send", topic))
        return FakeFuture()

    def flush(self, timeout: float | None = None) -> None:
        self.events.append(("flush", None))

    def close(self, timeout: float | None = None) -> None:
        self.closed = True
