"""When each article passed each stage of a ``newsflow up`` run, from what the run itself recorded.

Every record on a topic carries the time its producer made it (Kafka's CreateTime), and every
stored row its ``stored_at``: so after a run, without any probe in the services, the first and last
moment of each stage is known to the millisecond: pages on ``newsflow.pages`` (the fetcher), on
``newsflow.extracted`` (the extractor), on ``newsflow.articles`` (the story stage) and stored (the
sink). ``bench/load.py --real`` prints it, to tell the pipeline's fill and drain (the first article
through every stage, the last one after the extractor) from its steady pace.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

TOPICS = (("pages", "newsflow.pages"), ("extracted", "newsflow.extracted"), ("articles", "newsflow.articles"))


def topic_times(bootstrap: str, topic: str, since: float, timeout: float = 30.0) -> list[float]:
    """CreateTime (epoch seconds) of every record on ``topic`` made at or after ``since``, sorted."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        times: list[float] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                times.extend(r.timestamp / 1000 for r in batch if r.timestamp / 1000 >= since)
        return sorted(times)
    finally:
        consumer.close(autocommit=False)


def stored_times(db: Path, since: float) -> list[float]:
    """``stored_at`` (epoch seconds) of every article row stored at or after ``since``, sorted."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        stamps = [datetime.fromisoformat(row[0]).timestamp() for row in conn.execute("SELECT stored_at FROM articles")]
    finally:
        conn.close()
    return sorted(t for t in stamps if t >= since)


@dataclass(frozen=True)
class Span:
    """One stage's records of a run: how many, and the first and last, in seconds after ``origin``."""

    name: str
    count: int
    first: float
    last: float

    @property
    def rate(self) -> float:
        """Records per second between the first and the last (its steady pace: no fill, no drain)."""
        return (self.count - 1) / (self.last - self.first) if self.count > 1 and self.last > self.first else 0.0


def spans(bootstrap: str, db: Path, origin: float) -> list[Span]:
    """Each stage's span of the records made since ``origin`` (epoch seconds), in pipeline order."""
    series = [(name, topic_times(bootstrap, topic, origin)) for name, topic in TOPICS]
    series.append(("stored", stored_times(db, origin)))
    return [Span(name, len(t), t[0] - origin, t[-1] - origin) for name, t in series if t]


def describe(found: list[Span]) -> str:
    """``pages 240 at +0.03..+1.05 s; extracted 239 at +0.41..+13.2 s (17.8/s between) ...``."""
    return "; ".join(f"{s.name} {s.count} at +{s.first:.2f}..+{s.last:.2f} s ({s.rate:.1f}/s between)" for s in found)
