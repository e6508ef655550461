"""Step 3 of a stage whose output is a topic: produce every item and wait until all are durable."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from kafka import KafkaProducer
from kafka.errors import MessageSizeTooLargeError
from kafka.producer.future import FutureRecordMetadata

from services.common.deadletters import DeadLetter
from services.common.metrics import MESSAGES_PRODUCED
from services.common.records import Record
from services.common.steps import WriteFn

T = TypeVar("T")
Outgoing = tuple[bytes, bytes, list[tuple[str, bytes]]]
"""What to produce for one item: key, value, headers."""


def producing_writer(producer: KafkaProducer, topic: str, stage: str,
                     outgoing: Callable[[Record, T], Outgoing]) -> WriteFn[tuple[Record, T]]:
    """Send every ``(record, item)`` to ``topic`` (``acks=all``), flush, and wait for every send: a
    broker failure raises (wrap with ``retry_on`` to retry the batch); an item too large for the
    producer comes back as a dead letter of its input record."""

    def write(items: list[tuple[Record, T]]) -> list[DeadLetter]:
        sent: list[FutureRecordMetadata] = []
        dead: list[DeadLetter] = []
        for rec, item in items:
            key, value, headers = outgoing(rec, item)
            try:
                sent.append(producer.send(topic, key=key, value=value, headers=headers))
            except MessageSizeTooLargeError as exc:
                dead.append(DeadLetter(rec, exc))
        producer.flush()
        for fut in sent:
            fut.get(timeout=60)
        MESSAGES_PRODUCED.labels(stage, topic).inc(len(sent))
        return dead

    return write
