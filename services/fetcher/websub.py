"""WebSub (W3C Recommendation): feeds that announce a hub push their new content instead of waiting for a poll.

When a poll reads a feed whose document names a hub (``rel="hub"``) and itself (``rel="self"``),
the replica that polled it (under the feed's lease, so one replica per feed) subscribes: a form
POST to the hub through the SSRF-guarded client with ``hub.mode=subscribe``, the topic (the self
URL), a callback ``<NEWSFLOW_WEBSUB_CALLBACK_URL>/<id>`` whose last part is an unguessable id, the
lease asked for and a per-subscription secret. The hub verifies the intent with a GET on the
callback (:mod:`services.fetcher.websub_callbacks` echoes the challenge only for a subscription
the fetcher asked for) and from then on POSTs new content, signed ``X-Hub-Signature:
sha256=hex(HMAC(secret, body))``.

Renewal: a poll is scheduled by 80% of the granted lease at the latest, and the poll renews (the
same id and secret). A feed with a live subscription is polled at
``NEWSFLOW_WEBSUB_POLL_INTERVAL_SECONDS`` (a safety net for pushes that never come). A feed that
drops its hub, or is no longer polled (:meth:`Subscriber.leave_unpolled`), is unsubscribed.
Everything here is a pure decision (:func:`next_action`, :func:`check_signature`,
:func:`poll_delay`) plus :class:`Subscriber`, which talks to hubs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass

from services.fetcher import metrics
from services.fetcher.http import FetchError, HttpClient
from services.fetcher.settings import FetcherSettings
from services.fetcher.websub_store import Subscription, SubscriptionStore

log = logging.getLogger(__name__)

#: signature methods by strength; sha1 is accepted only from a hub that never signed with a stronger one
SIGNATURE_METHODS = {"sha1": 1, "sha256": 2, "sha384": 3, "sha512": 4}
RENEW_FRACTION = 0.8  # renew when this much of the granted lease has passed
RETRY_SECONDS = 3600.0  # a subscription the hub failed or never verified: asked again after this
DENIED_RETRY_SECONDS = 86_400.0


def sign(body: bytes, secret: str, method: str = "sha256") -> str:
    """The ``X-Hub-Signature`` value a hub sends for ``body``."""
    return f"{method}={hmac.new(secret.encode(), body, method).hexdigest()}"


def check_signature(header: str | None, body: bytes, secret: str, strongest_seen: str | None = None) -> str | None:
    """The method of a valid ``X-Hub-Signature``, else None: missing, malformed, an unknown method, a
    wrong digest, or ``sha1`` from a hub that already signed with a stronger method (a downgrade)."""
    if not header:
        return None
    method, sep, digest = header.strip().partition("=")
    method = method.strip().lower()
    if not sep or method not in SIGNATURE_METHODS:
        return None
    if method == "sha1" and SIGNATURE_METHODS.get(strongest_seen or "", 0) > SIGNATURE_METHODS["sha1"]:
        return None
    expected = hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()
    return method if hmac.compare_digest(expected.encode(), digest.strip().lower().encode()) else None


def stronger(method: str, than: str | None) -> bool:
    return SIGNATURE_METHODS[method] > SIGNATURE_METHODS.get(than or "", 0)


def renew_at(sub: Subscription) -> float | None:
    """When a verified subscription is renewed: at :data:`RENEW_FRACTION` of its granted lease."""
    if sub.state != "verified" or sub.verified_at is None or sub.lease_seconds is None:
        return None
    return sub.verified_at + RENEW_FRACTION * sub.lease_seconds


@dataclass(frozen=True)
class Action:
    kind: str  # subscribe, renew, unsubscribe, forget
    hub: str
    topic: str


def next_action(sub: Subscription | None, links: dict[str, str] | None, now: float) -> Action | None:
    """What to do after a successful poll, given the feed's links (None: a 304, no document read)."""
    if links is not None:
        hub, topic = links.get("hub"), links.get("self")
        if not hub or not topic:
            if sub is None:
                return None
            kind = "unsubscribe" if sub.state in ("verified", "pending") else "forget"
            return Action(kind, sub.hub, sub.topic)
        if sub is None or (sub.hub, sub.topic) != (hub, topic):
            return Action("subscribe", hub, topic)
    if sub is None:
        return None
    if sub.state == "verified":
        due = renew_at(sub)
        return Action("renew", sub.hub, sub.topic) if due is not None and now >= due else None
    if sub.state == "unsubscribing":
        return Action("forget", sub.hub, sub.topic) if now >= sub.requested_at + RETRY_SECONDS else None
    wait = DENIED_RETRY_SECONDS if sub.state == "denied" else RETRY_SECONDS
    return Action("subscribe", sub.hub, sub.topic) if now >= sub.requested_at + wait else None


def poll_delay(sub: Subscription | None, links: dict[str, str] | None, delay: float, now: float,
               settings: FetcherSettings) -> float:
    """The next poll's delay for a feed: the safety-net interval while its subscription is live, and
    never past the renewal time (but not sooner than the minimum interval)."""
    if sub is None or (links is not None and not (links.get("hub") and links.get("self"))):
        return delay
    if sub.live(now):
        delay = max(delay, settings.websub_poll_interval_seconds)
    due = renew_at(sub)
    if due is not None:
        delay = min(delay, max(due - now, settings.min_poll_interval_seconds))
    return delay


class Subscriber:
    """Sends subscribe, renew and unsubscribe requests to hubs (through the guarded client)."""

    def __init__(self, settings: FetcherSettings, http: HttpClient, store: SubscriptionStore) -> None:
        self.settings = settings
        self.http = http
        self.store = store
        self.callback_base = settings.websub_callback_url.get_secret_value().rstrip("/")
        self.links: dict[str, dict[str, str] | None] = {}  # feed url -> links its last poll saw

    def poll_delay(self, feed_url: str, links: dict[str, str] | None, delay: float) -> float:
        """The poller's :data:`~services.fetcher.poller.DelayHook`; remembers the links for :meth:`after_poll`."""
        self.links[feed_url] = links
        return poll_delay(self.store.for_feed(feed_url), links, delay, time.time(), self.settings)

    async def after_poll(self, feed_url: str, outcome: str) -> None:
        """After a poll of ``feed_url`` (by this replica, which held its lease): subscribe, renew, unsubscribe."""
        links = self.links.pop(feed_url, None)
        if outcome not in ("new", "not_modified"):
            return
        action = next_action(self.store.for_feed(feed_url), links, time.time())
        if action is None:
            return
        if action.kind == "forget":
            sub = self.store.for_feed(feed_url)
            if sub is not None:
                self.store.forget(sub.id)
            return
        await self.request(feed_url, action)

    async def leave_unpolled(self) -> None:
        """Unsubscribe (through the guarded client) every subscription whose feed is no longer polled: it left
        the list, was disabled or retired. One never live (failed, denied) is dropped; one already being
        unsubscribed is left to its verification (dropped after :data:`RETRY_SECONDS`). Counted by action."""
        now = time.time()
        for sub in self.store.not_polled():
            if sub.state in ("verified", "pending"):
                await self.request(sub.feed_url, Action("unsubscribe", sub.hub, sub.topic))
                metrics.WEBSUB_FEEDS_LEFT.labels("unsubscribed").inc()
                log.info("WebSub: the feed is no longer polled (left the list, disabled or retired): unsubscribed",
                         extra={"feed": sub.feed_url, "url": sub.hub})
            elif sub.state != "unsubscribing" or now >= sub.requested_at + RETRY_SECONDS:
                self.store.forget(sub.id)
                metrics.WEBSUB_FEEDS_LEFT.labels("forgotten").inc()

    async def request(self, feed_url: str, action: Action) -> bool:
        """Send ``action`` to its hub; True when the hub accepted it (2xx: it verifies the intent next)."""
        now = time.time()
        if action.kind == "unsubscribe":
            sub = self.store.for_feed(feed_url)
            if sub is None:
                return False
            self.store.set_state(sub.id, "unsubscribing")
        else:
            sub = self.store.requested(feed_url, action.topic, action.hub, now)  # committed before the hub calls
        form = {"hub.mode": "unsubscribe" if action.kind == "unsubscribe" else "subscribe",
                "hub.topic": sub.topic, "hub.callback": f"{self.callback_base}/{sub.id}"}
        if action.kind != "unsubscribe":
            form |= {"hub.lease_seconds": str(self.settings.websub_lease_seconds), "hub.secret": sub.secret}
        try:
            resp = await self.http.post_form(sub.hub, form, kind="hub")
            error = None if 200 <= resp.status < 300 else f"hub answered HTTP {resp.status}: {resp.body[:200]!r}"
        except FetchError as exc:
            error = f"hub request failed: {exc}"
        metrics.WEBSUB_REQUESTS.labels(action.kind, "failed" if error else "accepted").inc()
        where = {"feed": feed_url, "url": sub.hub}
        if error is None:
            log.info("WebSub %s request accepted by the hub (it verifies the intent next)", action.kind, extra=where)
            return True
        log.warning("WebSub %s request failed (asked again later; the feed is polled meanwhile): %s",
                    action.kind, error, extra=where)
        if action.kind == "renew":
            self.store.set_state(sub.id, "verified", error)  # pushes go on until the lease ends; the next poll retries
        else:
            self.store.set_state(sub.id, "failed", error)
        return False

    def report(self) -> None:
        """The subscriptions-by-state gauge (the shared table: the same on every replica)."""
        counts = self.store.counts_by_state()
        for state in metrics.WEBSUB_STATES:
            metrics.WEBSUB_SUBSCRIPTIONS.labels(state).set(counts.get(state, 0))
