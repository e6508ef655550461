"""Serving reads concurrently: a store lends each read a connection of its own (a pool per
backend), and :class:`ReadLanes` keeps searches from taking all of them.

Searches and story listings (*scans*: full-text matching, ranking, grouping) may hold at most
all but one of the read connections at once; a lookup by id never waits behind them. A scan
that finds every scan slot busy waits up to the read timeout, then gives up with
:class:`~services.sink.store.QueryTimeout`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from services.sink import metrics
from services.sink.store import QueryTimeout

__all__ = ["DEFAULT_READ_CONNECTIONS", "ReadLanes"]

DEFAULT_READ_CONNECTIONS = 4


class ReadLanes:
    """At most ``connections - 1`` scans at once (at least one), so that lookups keep a connection."""

    def __init__(self, connections: int, timeout: float | None) -> None:
        if connections < 2:
            raise ValueError(f"a store needs at least 2 read connections, not {connections}")
        self.connections, self.timeout = connections, timeout
        self.scans = connections - 1
        self._scan_slots = threading.BoundedSemaphore(self.scans)

    @contextmanager
    def lane(self, scan: bool) -> Iterator[None]:
        """Hold a scan slot for the block (when ``scan``); count the reads in progress."""
        if scan and not self._scan_slots.acquire(timeout=self.timeout):
            raise QueryTimeout(f"{self.scans} searches already running for {self.timeout:g} s; retry later")
        gauge = metrics.STORE_READS_IN_PROGRESS.labels("scan" if scan else "lookup")
        gauge.inc()
        try:
            yield
        finally:
            gauge.dec()
            if scan:
                self._scan_slots.release()
