"""WebSub subscriptions in the fetcher's shared state (``websub_subscriptions``; migration 0005/0004).

One row per feed (its listed URL), shared by every replica through the SQLite file or PostgreSQL:
the replica that polls the feed (under the feed's lease) subscribes and renews; any replica that
receives a hub's call (verification or push) answers it from the row, found by the unguessable
``id`` in the callback path. The same SQL runs on both stores (``?`` placeholders, see
:mod:`services.fetcher.pgstate`).

A push is published under the feed's own lease (:meth:`SubscriptionStore.lease_feed`), like a
poll: a push and a poll of the same feed never publish at the same time, and a replica that dies
mid-push leaves a feed that is simply due at the lease's end.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from services.fetcher.leases import DUE
from services.fetcher.state import FetcherState

SUB_COLUMNS = ("feed_url, id, topic, hub, secret, state, lease_seconds, requested_at, verified_at, expires_at, "
               "signature_method, last_error")


@dataclass(frozen=True)
class Subscription:
    feed_url: str
    id: str
    topic: str
    hub: str
    secret: str
    state: str  # pending, verified, failed, denied, unsubscribing
    lease_seconds: float | None
    requested_at: float
    verified_at: float | None
    expires_at: float | None
    signature_method: str | None
    last_error: str | None

    def live(self, now: float) -> bool:
        """Verified and within its lease: the hub pushes, polling can slow down to the safety net."""
        return self.state == "verified" and (self.expires_at or 0) > now

    def callback_path(self) -> str:
        return f"/websub/{self.id}"


class SubscriptionStore:
    """The subscriptions table over a :class:`FetcherState`'s connection (its transactions too)."""

    def __init__(self, state: FetcherState) -> None:
        self.state = state
        self.db = state.db

    def get(self, sub_id: str) -> Subscription | None:
        row = self.db.execute(f"SELECT {SUB_COLUMNS} FROM websub_subscriptions WHERE id = ?", (sub_id,)).fetchone()
        return Subscription(*row) if row else None

    def for_feed(self, feed_url: str) -> Subscription | None:
        row = self.db.execute(f"SELECT {SUB_COLUMNS} FROM websub_subscriptions WHERE feed_url = ?",
                              (feed_url,)).fetchone()
        return Subscription(*row) if row else None

    def by_feed(self) -> dict[str, Subscription]:
        """Every subscription by its feed's URL (``feeds status``)."""
        return {row[0]: Subscription(*row) for row in self.db.execute(
            f"SELECT {SUB_COLUMNS} FROM websub_subscriptions").fetchall()}

    def requested(self, feed_url: str, topic: str, hub: str, now: float) -> Subscription:
        """A (re)subscription is about to be sent: the row exists (committed) before the hub calls back.

        The same hub and topic keep their id and secret (a renewal: pushes in flight stay valid); a new
        hub or topic gets a new id and secret (the old hub's pushes are then unknown: 404).
        """
        with self.state.transaction():
            old = self.for_feed(feed_url)
            if old is not None and (old.hub, old.topic) == (hub, topic):
                self.db.execute("UPDATE websub_subscriptions SET requested_at = ?, state = CASE WHEN state = "
                                "'verified' THEN state ELSE 'pending' END WHERE feed_url = ?", (now, feed_url))
            else:
                self.db.execute("DELETE FROM websub_subscriptions WHERE feed_url = ?", (feed_url,))
                self.db.execute(
                    "INSERT INTO websub_subscriptions (feed_url, id, topic, hub, secret, state, requested_at) "
                    "VALUES (?, ?, ?, ?, ?, 'pending', ?)",
                    (feed_url, secrets.token_urlsafe(24), topic, hub, secrets.token_hex(32), now))
        sub = self.for_feed(feed_url)
        assert sub is not None
        return sub

    def set_state(self, sub_id: str, state: str, error: str | None = None) -> None:
        self.db.execute("UPDATE websub_subscriptions SET state = ?, last_error = ? WHERE id = ?",
                        (state, error[:500] if error else None, sub_id))

    def verified(self, sub_id: str, lease_seconds: float, now: float) -> None:
        self.db.execute("UPDATE websub_subscriptions SET state = 'verified', lease_seconds = ?, verified_at = ?, "
                        "expires_at = ?, last_error = NULL WHERE id = ?",
                        (lease_seconds, now, now + lease_seconds, sub_id))

    def poll_by(self, feed_url: str, at: float) -> None:
        """Bring the feed's next poll to ``at`` at the latest (a renewal the hub's granted lease needs sooner);
        a feed being polled is left alone (its poll schedules the renewal itself)."""
        self.db.execute("UPDATE feeds SET next_poll_at = ? WHERE url = ? AND next_poll_at > ? AND lease_owner IS NULL",
                        (at, feed_url, at))

    def forget(self, sub_id: str) -> None:
        self.db.execute("DELETE FROM websub_subscriptions WHERE id = ?", (sub_id,))

    def signed_with(self, sub_id: str, method: str) -> None:
        """The strongest signature method the hub has used so far (sha1 is refused after a better one)."""
        self.db.execute("UPDATE websub_subscriptions SET signature_method = ? WHERE id = ?", (method, sub_id))

    def counts_by_state(self) -> dict[str, int]:
        return {str(s): int(n) for s, n in self.db.execute(
            "SELECT state, COUNT(*) FROM websub_subscriptions GROUP BY state").fetchall()}

    # --- a push under the feed's lease ----------------------------------------------------------

    def feed_listed(self, feed_url: str) -> bool:
        """Whether the feed is still polled (listed, not disabled by the list, not retired: the schedule's
        :data:`~services.fetcher.leases.DUE`): its pushes are wanted."""
        return self.db.execute(f"SELECT 1 FROM feeds WHERE url = ? AND {DUE}", (feed_url,)).fetchone() is not None

    def not_polled(self) -> list[Subscription]:
        """Subscriptions whose feed is no longer polled: it left the list, was disabled or retired."""
        return [Subscription(*row) for row in self.db.execute(
            f"SELECT {SUB_COLUMNS} FROM websub_subscriptions WHERE feed_url NOT IN (SELECT url FROM feeds WHERE {DUE})"
        ).fetchall()]

    def lease_feed(self, feed_url: str, now: float) -> float | None:
        """Take ``feed_url``'s lease for a push (as a claim does); returns its ``next_poll_at`` to restore
        afterwards, or None when another poll or push holds it (or the feed left the list)."""
        owner = self.state.owner or "local"
        until = now + self.state.lease_seconds
        with self.state.transaction():
            row = self.db.execute(
                f"SELECT next_poll_at FROM feeds WHERE url = ? AND {DUE} "
                f"AND (lease_owner IS NULL OR lease_until <= ?){self.state.for_update}", (feed_url, now)).fetchone()
            if row is None:
                return None
            self.db.execute("UPDATE feeds SET lease_owner = ?, lease_until = ?, next_poll_at = ? WHERE url = ?",
                            (owner, until, until, feed_url))
        return float(row[0])

    def release_feed(self, feed_url: str, next_poll_at: float) -> bool:
        """End the push's lease, with the feed's schedule as it was (or sooner); False when it was lost."""
        return self.db.execute(
            "UPDATE feeds SET lease_owner = NULL, lease_until = NULL, next_poll_at = ? WHERE url = ? "
            "AND lease_owner = ?", (next_poll_at, feed_url, self.state.owner or "local")).rowcount == 1
