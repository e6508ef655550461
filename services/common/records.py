"""What newsflow reads of a consumed Kafka record (kafka-python's ``ConsumerRecord``, typed)."""

from __future__ import annotations

from typing import Protocol


class Record(Protocol):
    """A consumed record: where it came from, its key (the article id) and its bytes."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> list[tuple[str, bytes]] | None: ...
