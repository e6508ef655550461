"""``newsflow dlq``: list, show and re-drive dead letters.

A dead letter is the original record's bytes, untouched, with its origin and
the failure in ``newsflow.*`` headers (written by
:func:`services.common.stage.dead_letter_headers`).

Re-driving sends a dead letter back to its original topic (same key, same
value, its original headers, plus ``newsflow.redrive_of``) **once**: after
the re-driven record is durable, a *receipt* is appended to the dead-letter
topic itself: an empty-valued, key-less record whose
``newsflow.receipt_for`` header names the dead letter (``partition:offset``).
The DLQ is thereby its own ledger (same retention, works on any broker, no
extra topic or group); receipts are never listed as dead letters, and a
dead letter with a receipt is never sent again. If the process dies between
the re-drive and its receipt, the next re-drive sends it again: at least
once, which the idempotent pipeline absorbs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from kafka import KafkaProducer

from services.common import offsets as ofs
from services.common.kafka import make_consumer, make_producer
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)

PREFIX = "newsflow."
ORIGINAL_HEADER = "newsflow.original_header."
RECEIPT_HEADER = "newsflow.receipt_for"
REDRIVE_HEADER = "newsflow.redrive_of"


@dataclass(frozen=True)
class DlqRecord:
    """One record of the dead-letter topic, with its headers decoded."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int

    def header(self, name: str) -> str:
        for k, v in self.headers:
            if k == PREFIX + name:
                return v.decode("utf-8", "replace")
        return ""

    @property
    def ref(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def is_receipt(self) -> bool:
        return any(k == RECEIPT_HEADER for k, _ in self.headers)

    @property
    def stage(self) -> str:
        return self.header("stage")

    @property
    def error_class(self) -> str:
        return self.header("error_class")

    @property
    def failed_at(self) -> datetime:
        text = self.header("failed_at")
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k.removeprefix(ORIGINAL_HEADER), v) for k, v in self.headers if k.startswith(ORIGINAL_HEADER)]

    def original_topic(self) -> str:
        return self.header("original_topic")


def parse_ref(text: str) -> tuple[int, int]:
    """``"12"`` (partition 0) or ``"0:12"`` -> ``(partition, offset)``."""
    partition, sep, offset = text.strip().rpartition(":")
    if not offset.isdigit() or (sep and not partition.isdigit()):
        raise ValueError(f"{text!r} is not OFFSET or PARTITION:OFFSET")
    return (int(partition) if sep else 0), int(offset)


def read_all(settings: CommonSettings) -> list[DlqRecord]:
    """Every record of the dead-letter topic, read to its end without a consumer group
    (:func:`services.common.offsets.read_to_end`)."""
    consumer = make_consumer(settings)
    try:
        records = ofs.read_to_end(consumer, settings.topic_dlq)
    finally:
        consumer.close()
    return [DlqRecord(r.partition, r.offset, r.key, r.value, tuple(r.headers or ()), r.timestamp) for r in records]


@dataclass(frozen=True)
class Filter:
    stage: str | None = None
    error_class: str | None = None
    since: datetime | None = None

    def matches(self, letter: DlqRecord) -> bool:
        return ((self.stage is None or letter.stage == self.stage)
                and (self.error_class is None or letter.error_class == self.error_class)
                and (self.since is None or letter.failed_at >= self.since))


def dead_letters(records: list[DlqRecord], wanted: Filter) -> list[tuple[DlqRecord, bool]]:
    """The dead letters (not receipts) matching ``wanted``, each with whether it was re-driven."""
    redriven = {letter.header("receipt_for") for letter in records if letter.is_receipt}
    return [(letter, letter.ref in redriven) for letter in records
            if not letter.is_receipt and wanted.matches(letter)]


@dataclass
class RedriveResult:
    sent: list[DlqRecord]
    already: int
    skipped_no_origin: int


def redrive(settings: CommonSettings, wanted: Filter, *, dry_run: bool = False,
            producer: KafkaProducer | None = None) -> RedriveResult:
    """Send each matching, not yet re-driven dead letter back to its original topic, once."""
    letters = dead_letters(read_all(settings), wanted)
    todo = [letter for letter, done in letters if not done and letter.original_topic()]
    result = RedriveResult(sent=todo, already=sum(1 for _, done in letters if done),
                           skipped_no_origin=sum(1 for letter, done in letters
                                                 if not done and not letter.original_topic()))
    if result.skipped_no_origin:
        log.warning("%d dead letter(s) have no newsflow.original_topic header and were not re-driven",
                    result.skipped_no_origin)
    if dry_run or not todo:
        return result
    own = producer is None
    producer = producer or make_producer(settings)
    try:
        _send_back(producer, settings.topic_dlq, todo)
    finally:
        if own:
            producer.close(timeout=10)
    return result


def _send_back(producer: KafkaProducer, dlq_topic: str, todo: list[DlqRecord]) -> None:
    """Re-drive, wait until durable, then write the receipts and wait for those too."""
    futures = [producer.send(letter.original_topic(), key=letter.key, value=letter.value,
                             headers=[*letter.original_headers(), (REDRIVE_HEADER, f"{dlq_topic}:{letter.ref}".encode())])
               for letter in todo]
    producer.flush()
    for fut in futures:
        fut.get(timeout=30)
    receipts = [producer.send(dlq_topic, key=None, value=b"", partition=letter.partition,
                              headers=[(RECEIPT_HEADER, letter.ref.encode()),
                                       ("newsflow.redriven_at", datetime.now(UTC).isoformat().encode())])
                for letter in todo]
    producer.flush()
    for fut in receipts:
        fut.get(timeout=30)
    for letter in todo:
        log.info("re-drove dead letter %s to %s", letter.ref, letter.original_topic(),
                 extra={"topic": letter.original_topic(), "dlq_offset": letter.ref,
                        "key": (letter.key or b"").decode("utf-8", "replace")})
