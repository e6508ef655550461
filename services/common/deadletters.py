"""Dead letters: a record a stage could not process goes to the dead-letter topic, with its
origin and the error in headers and its value untouched, and is counted.

A dead letter must always fit: a value that would push the dead letter past the producer's
``max_message_bytes`` is cut to fit, and the headers say so (``newsflow.value_truncated``) with
the original size and SHA-256, so that a record at the size limit can never stop a stage.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from kafka import KafkaProducer

import services
from services.common.logs import record_fields
from services.common.metrics import DEAD_LETTERS
from services.common.records import Record

log = logging.getLogger(__name__)


class DeadLetter(Exception):
    """"Dead-letter this record": bad input, not a bad moment. Returned (in a batch's
    results) or raised by a step; the stage sends the record to the dead-letter topic,
    carries on with the rest of the batch and commits past it."""

    def __init__(self, record: Record, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.record = record
        self.error = error


def dead_letter_headers(record: Record, stage: str, error: BaseException) -> list[tuple[str, bytes]]:
    """Headers that say where a dead letter came from and why (the value stays untouched)."""
    key = record.key if isinstance(record.key, bytes) else b""
    return [
        ("newsflow.original_topic", record.topic.encode()),
        ("newsflow.original_partition", str(record.partition).encode()),
        ("newsflow.original_offset", str(record.offset).encode()),
        ("newsflow.original_key", key),
        ("newsflow.stage", stage.encode()),
        ("newsflow.error_class", type(error).__name__.encode()),
        ("newsflow.error_message", str(error)[:2000].encode("utf-8", "replace")),
        ("newsflow.failed_at", datetime.now(UTC).isoformat().encode()),
        ("newsflow.version", services.__version__.encode()),
    ] + [(f"newsflow.original_header.{k}", v) for k, v in (record.headers or [])]


RECORD_OVERHEAD_BYTES = 512
"""What a record adds to its key, value and headers on the wire (lengths, varints, batch header): a generous bound."""


def fitted(value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]],
           max_bytes: int) -> tuple[bytes | None, list[tuple[str, bytes]]]:
    """The dead letter's value and headers, the value cut so that the whole record fits ``max_bytes``."""
    room = max_bytes - RECORD_OVERHEAD_BYTES - len(key or b"") - sum(len(k) + len(v) + 8 for k, v in headers) - 256
    if value is None or len(value) <= room:
        return value, headers
    marks = [("newsflow.value_truncated", b"true"), ("newsflow.original_size", str(len(value)).encode()),
             ("newsflow.original_sha256", hashlib.sha256(value).hexdigest().encode())]
    return value[:max(0, room)], headers + marks


def send_dead_letters(producer: KafkaProducer, topic: str, stage: str, dead: list[DeadLetter],
                      max_bytes: int) -> None:
    """Produce every dead letter (cut to fit ``max_bytes``) and wait until they are durable
    (raises if one could not be written)."""
    if not dead:
        return
    futures = []
    for letter in dead:
        rec, error = letter.record, letter.error
        log.warning("dead-lettering record: %s: %s", type(error).__name__, error,
                    extra={**record_fields(rec), "stage": stage, "error_class": type(error).__name__})
        value, headers = fitted(rec.value, rec.key, dead_letter_headers(rec, stage, error), max_bytes)
        futures.append(producer.send(topic, key=rec.key, value=value, headers=headers))
        DEAD_LETTERS.labels(stage, type(error).__name__).inc()
    producer.flush()
    for fut in futures:
        fut.get(timeout=30)
