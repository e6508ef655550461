"""What fetcher replicas share: leases on due feeds, the feed list, per-host politeness.

Every replica (on one machine with the SQLite file, on many with PostgreSQL) runs the same loop
over the same tables; nothing else coordinates them (``docs/scaling.md`` says why).

* **Leases.** :meth:`SharedSchedule.claim` takes up to ``limit`` due feeds in one transaction:
  ``SELECT ... ORDER BY next_poll_at LIMIT n`` on the partial index ``feeds_due`` (``FOR UPDATE
  SKIP LOCKED`` in PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises claims), then sets
  ``lease_owner``, ``lease_until`` and pushes ``next_poll_at`` to the lease's end. A lease held by
  a replica that died is therefore just a feed that is due again when the lease ends, and the next
  claim takes it over. The holder renews its leases while it polls (:meth:`renew_leases`,
  :meth:`holds`); every write of the feed's row after a poll is guarded by ``lease_owner`` (see
  :class:`LeaseLost`) and releases the lease.
* **The feed list.** :meth:`replace_feed_list` makes the ``listed`` column (and each feed's
  ``options`` and ``disabled``: :mod:`services.fetcher.feedoptions`) match a list (a
  removed feed keeps its history; a re-added retired feed is polled again). The table is what
  replicas poll, so a change made through any replica reaches all of them.
* **Hosts.** :meth:`acquire_host` / :meth:`release_host`: a request start needs one of the
  host's ``concurrency`` slots (rows of ``host_slots`` that expire, so a killed replica's slots
  free themselves) and the host's ``next_start`` time to have come.

The work of one scheduler wake-up does not grow with the number of feeds: a claim and
:meth:`next_due_at` are index range scans of what is due.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from services.fetcher.feedoptions import FeedOptions

FEED_COLUMNS = ("url, etag, last_modified, next_poll_at, error_count, state, moved_to, last_error, last_status, "
                "entries_per_day, options")
# Polled: listed, not disabled by the list, not retired. The partial index feeds_due has the listed and
# state terms (so every query with DUE can use it; a disabled feed is one more row it skips).
DUE = "listed = 1 AND disabled = 0 AND state != 'retired'"
FEED_LIST = "main"


class LeaseLost(Exception):
    """This replica's lease on a feed was taken over (it stalled past the lease): drop the poll's results."""

    def __init__(self, url: str) -> None:
        super().__init__(f"{url}: lease taken over by another fetcher replica; this poll's results are dropped")
        self.url = url


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Db(Protocol):
    """What the state needs of a connection: sqlite3's, or the PostgreSQL adapter's (``?`` placeholders)."""

    @property
    def in_transaction(self) -> bool: ...
    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor: ...
    def close(self) -> None: ...


class SharedSchedule:
    """Leases, the feed list and host slots over :attr:`db` (mixed into ``FetcherState``)."""

    db: Db
    owner: str | None
    lease_seconds: float
    host_hold_seconds: float
    for_update: str = ""  # " FOR UPDATE" where rows can be locked (PostgreSQL)
    skip_locked: str = ""  # " FOR UPDATE SKIP LOCKED" (PostgreSQL)

    def transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    # --- leases --------------------------------------------------------------------------------

    def claim(self, now: float, limit: int | None, due_by: float | None = None,
              unpolled_since: float | None = None) -> tuple[list[Any], int]:
        """Lease up to ``limit`` feeds due by ``due_by`` (default ``now``), oldest first; with
        ``unpolled_since``, only feeds nobody polled since then (one pass of ``--once``).

        Returns the rows (``FEED_COLUMNS``) and how many were taken over from an expired lease.
        """
        owner = self._owner()
        until = now + self.lease_seconds
        limit_sql = " LIMIT ?" if limit is not None else ""
        pass_sql = " AND (last_polled_at IS NULL OR last_polled_at < ?)" if unpolled_since is not None else ""
        params: tuple[Any, ...] = ((now if due_by is None else due_by, now)
                                   + ((unpolled_since,) if unpolled_since is not None else ())
                                   + ((limit,) if limit is not None else ()))
        with self.transaction():
            rows = self.db.execute(
                f"SELECT {FEED_COLUMNS}, lease_owner FROM feeds WHERE {DUE} AND next_poll_at <= ? "
                f"AND (lease_owner IS NULL OR lease_until <= ?){pass_sql} ORDER BY next_poll_at{limit_sql}"
                f"{self.skip_locked}", params).fetchall()
            if rows:
                self.db.executemany("UPDATE feeds SET lease_owner = ?, lease_until = ?, next_poll_at = ? WHERE url = ?",
                                    [(owner, until, until, row[0]) for row in rows])
        taken_over = sum(1 for row in rows if row[-1] is not None)
        return [tuple(row[:-1]) for row in rows], taken_over

    def renew_leases(self, now: float) -> int:
        """Extend every lease this replica holds; returns how many it holds."""
        until = now + self.lease_seconds
        return self.db.execute("UPDATE feeds SET lease_until = ?, next_poll_at = ? WHERE lease_owner = ?",
                               (until, until, self._owner())).rowcount

    def holds(self, url: str, now: float) -> bool:
        """Whether this replica still holds ``url``'s lease (renewing it); always true without an owner."""
        if self.owner is None:
            return True
        until = now + self.lease_seconds
        return self.db.execute("UPDATE feeds SET lease_until = ?, next_poll_at = ? WHERE url = ? AND lease_owner = ?",
                               (until, until, url, self.owner)).rowcount == 1

    def release_leases(self, now: float) -> int:
        """Give back every lease held (feeds claimed but not polled to the end are due again now)."""
        return self.db.execute("UPDATE feeds SET lease_owner = NULL, lease_until = NULL, next_poll_at = ? "
                               "WHERE lease_owner = ?", (now, self._owner())).rowcount

    def guarded_feed_update(self, url: str, assignments: str, params: Sequence[Any], *, release: bool) -> None:
        """``UPDATE feeds SET <assignments>`` of ``url``, only while this replica holds its lease.

        ``release`` ends the lease too (the poll is over). Raises :class:`LeaseLost` when another
        replica took the feed over; without an owner (tools, tests) the update is unconditional.
        """
        if release:
            assignments += ", lease_owner = NULL, lease_until = NULL"
        if self.owner is None:
            self.db.execute(f"UPDATE feeds SET {assignments} WHERE url = ?", (*params, url))
            return
        cursor = self.db.execute(f"UPDATE feeds SET {assignments} WHERE url = ? AND lease_owner = ?",
                                 (*params, url, self.owner))
        if cursor.rowcount != 1:
            raise LeaseLost(url)

    def unpolled_since(self, since: float) -> tuple[int, float | None]:
        """How many listed feeds nobody polled since ``since``, and when the first lease on one of
        them ends (None: none is leased): what a ``--once`` pass still waits for."""
        left, lease_end = self.db.execute(
            f"SELECT COUNT(*), MIN(lease_until) FROM feeds WHERE {DUE} "
            "AND (last_polled_at IS NULL OR last_polled_at < ?)", (since,)).fetchone()
        return int(left), (float(lease_end) if lease_end is not None else None)

    def next_due_at(self) -> float | None:
        """When the next listed feed is due (a leased one: when its lease ends)."""
        (value,) = self.db.execute(f"SELECT MIN(next_poll_at) FROM feeds WHERE {DUE}").fetchone()
        return float(value) if value is not None else None

    def counts_by_state(self) -> dict[str, int]:
        """Listed feeds by state, ``disabled`` for those the list disables (one scan: call it now and then,
        not at every wake-up)."""
        return {str(s): int(n) for s, n in self.db.execute(
            "SELECT CASE WHEN disabled = 1 THEN 'disabled' ELSE state END, COUNT(*) FROM feeds WHERE listed = 1 "
            "GROUP BY 1").fetchall()}

    def _owner(self) -> str:
        if self.owner is None:
            raise RuntimeError("leases need a FetcherState opened with an owner id")
        return self.owner

    # --- the feed list -------------------------------------------------------------------------

    def replace_feed_list(self, urls: list[str], now: float, options: Mapping[str, FeedOptions] | None = None) -> bool:
        """Make the listed feeds exactly ``urls``, with their ``options``; False when the table already
        holds this list.

        New feeds are due now; removed ones keep their history (``listed = 0``); a retired feed
        that comes back to the list is polled again. A listed feed's options (none: NULL) and its
        ``disabled`` flag are the list's.
        """
        known = options or {}
        stored = [(known[u].to_json(), int(known[u].disabled)) if u in known else (None, 0) for u in urls]
        lines = (u if o is None else f"{u}\t{o}" for u, (o, _) in zip(urls, stored, strict=True))
        digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
        with self.transaction():
            row = self.db.execute(f"SELECT digest FROM feed_lists WHERE name = ?{self.for_update}",
                                  (FEED_LIST,)).fetchone()
            if row is not None and row[0] == digest:
                return False
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS listed_now (url TEXT PRIMARY KEY)")
            self.db.execute("DELETE FROM listed_now")
            self.db.executemany("INSERT INTO listed_now (url) VALUES (?) ON CONFLICT DO NOTHING", [(u,) for u in urls])
            self.db.execute("INSERT INTO feeds (url) SELECT url FROM listed_now WHERE true ON CONFLICT (url) DO NOTHING")
            self.db.execute("UPDATE feeds SET listed = 1, next_poll_at = CASE WHEN state = 'retired' THEN 0 "
                            "ELSE next_poll_at END, state = CASE WHEN state = 'retired' THEN 'active' ELSE state END "
                            "WHERE listed = 0 AND url IN (SELECT url FROM listed_now)")
            self.db.execute("UPDATE feeds SET listed = 0 WHERE listed = 1 AND url NOT IN (SELECT url FROM listed_now)")
            self.db.executemany("UPDATE feeds SET options = ?, disabled = ? WHERE url = ?",
                                [(o, d, u) for u, (o, d) in zip(urls, stored, strict=True)])
            self.db.execute("DELETE FROM listed_now")
            self.db.execute("INSERT INTO feed_lists (name, digest, synced_at) VALUES (?, ?, ?) ON CONFLICT (name) "
                            "DO UPDATE SET digest = excluded.digest, synced_at = excluded.synced_at",
                            (FEED_LIST, digest, now))
        return True

    # --- per-host politeness -------------------------------------------------------------------

    def acquire_host(self, host: str, concurrency: int, min_delay: float, now: float) -> tuple[int | None, float]:
        """A request slot on ``host`` for every replica together: ``(slot, 0)``, or ``(None, seconds to wait)``.

        The wait is known when the host's next start time has not come; when all slots are busy it
        is 0 (ask again shortly).
        """
        owner = self.owner or "local"
        with self.transaction():
            # The host's row is the lock that serialises slot choices in PostgreSQL; SQLite's write lock
            # does that already, so without a delay (no start time to keep) its row is not needed there.
            if min_delay > 0 or self.for_update:
                wait = self._host_wait(host, now)
                if wait > 0:
                    return None, wait
            busy = {int(s) for (s,) in self.db.execute("SELECT slot FROM host_slots WHERE host = ? AND until > ?",
                                                       (host, now))}
            free = next((i for i in range(concurrency) if i not in busy), None)
            if free is None:
                return None, 0.0
            self.db.execute("INSERT INTO host_slots (host, slot, owner, until) VALUES (?, ?, ?, ?) ON CONFLICT "
                            "(host, slot) DO UPDATE SET owner = excluded.owner, until = excluded.until",
                            (host, free, owner, now + self.host_hold_seconds))
            if min_delay > 0 or self.for_update:
                self.db.execute("UPDATE hosts SET next_start = ? WHERE host = ?", (now + min_delay, host))
        return free, 0.0

    def _host_wait(self, host: str, now: float) -> float:
        """Seconds until ``host``'s next request may start (its row locked in PostgreSQL)."""
        self.db.execute("INSERT INTO hosts (host, next_start) VALUES (?, 0) ON CONFLICT (host) DO NOTHING", (host,))
        (next_start,) = self.db.execute(f"SELECT next_start FROM hosts WHERE host = ?{self.for_update}",
                                        (host,)).fetchone()
        return max(0.0, float(next_start) - now)

    def release_host(self, host: str, slot: int) -> None:
        self.db.execute("DELETE FROM host_slots WHERE host = ? AND slot = ? AND owner = ?",
                        (host, slot, self.owner or "local"))

    def forget_hosts(self, now: float) -> int:
        """Drop expired slots and hosts idle for an hour (the tables stay as small as the active hosts)."""
        with self.transaction():
            n = self.db.execute("DELETE FROM host_slots WHERE until < ?", (now,)).rowcount
            n += self.db.execute("DELETE FROM hosts WHERE next_start < ? AND host NOT IN (SELECT host FROM host_slots)",
                                 (now - 3600,)).rowcount
        return n
