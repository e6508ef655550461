"""The WebSub callback server: hubs verify intents (GET) and push content (POST) here.

Listens on ``NEWSFLOW_WEBSUB_LISTEN`` (aiohttp.web, in the fetcher's event loop); hubs reach it
through ``NEWSFLOW_WEBSUB_CALLBACK_URL``. The last path segment is the subscription's unguessable
id, looked up in the shared table, so any replica behind the public address answers any hub.

* **Verification** (``GET ?hub.mode=subscribe|unsubscribe&hub.topic=...&hub.challenge=...``): the
  challenge is echoed (200) only for a subscription this fetcher asked for, with the same topic;
  anything else is 404. ``hub.mode=denied`` marks the subscription denied (200).
* **Content distribution** (``POST``): unknown id 404; a feed no longer polled (left the list, disabled
  by its options, retired) 410 (the hub drops the subscription); a compressed body 415; a body over
  ``NEWSFLOW_MAX_FEED_BYTES`` 413; a missing or wrong ``X-Hub-Signature`` 403 (``docs/fetcher.md`` says
  why 403 and not the 2xx the recommendation suggests); a body that is not a feed 400. An accepted push
  is answered 202 at once and published in the background: its entries go through the poller's
  classify and publish path under the feed's lease, so every page is fetched by the SSRF-guarded
  client like a polled entry's. Every refusal is counted in ``newsflow_websub_pushes_total``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from aiohttp import web

from services.fetcher import metrics
from services.fetcher.leases import LeaseLost
from services.fetcher.parse import FeedParseError, ParsedFeed, ParsePool
from services.fetcher.poller import FeedPoller
from services.fetcher.settings import FetcherSettings
from services.fetcher.websub import RENEW_FRACTION, check_signature, stronger
from services.fetcher.websub_store import Subscription, SubscriptionStore

log = logging.getLogger(__name__)
MAX_PUSHES_IN_FLIGHT = 64  # pushes being published; more are answered 503 (the hub retries)
LEASE_WAIT_SECONDS = 600.0  # a push waits this long at most for a poll of the same feed to end
LEASE_POLL_SECONDS = 0.2


class Callbacks:
    """The callback app and the pushes it publishes (one per fetcher process)."""

    def __init__(self, settings: FetcherSettings, store: SubscriptionStore, parser: ParsePool,
                 poller: FeedPoller) -> None:
        self.settings = settings
        self.store = store
        self.parser = parser
        self.poller = poller
        self.tasks: set[asyncio.Task[None]] = set()
        self.runner: web.AppRunner | None = None
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.settings.max_feed_bytes + 1)
        app.router.add_route("GET", "/{path:.*}", self.verify)
        app.router.add_route("POST", "/{path:.*}", self.push)
        return app

    async def start(self) -> None:
        host, _, port = self.settings.websub_listen.rpartition(":")
        self.runner = web.AppRunner(self.app(), access_log=None)
        await self.runner.setup()
        # SO_REUSEPORT: replicas on one machine (newsflow up --scale fetcher=N) share the port; any answers any hub
        site = web.TCPSite(self.runner, host.strip("[]"), int(port), reuse_port=hasattr(socket, "SO_REUSEPORT"))
        await site.start()
        self.port = int(self.runner.addresses[0][1])
        log.info("WebSub callbacks listening on %s:%d", host, self.port)

    async def stop(self) -> None:
        """Stop listening; let pushes being published finish (bounded by the HTTP total timeout)."""
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        if self.tasks:
            _, pending = await asyncio.wait(set(self.tasks), timeout=self.settings.http_total_timeout_seconds)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    def _subscription(self, request: web.Request) -> Subscription | None:
        sub_id = request.match_info["path"].rstrip("/").rsplit("/", 1)[-1]
        return self.store.get(sub_id) if sub_id else None

    # --- intent verification ----------------------------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        q = request.query
        mode, topic = q.get("hub.mode", ""), q.get("hub.topic", "")
        mode_label = mode if mode in ("subscribe", "unsubscribe", "denied") else "subscribe"
        sub = self._subscription(request)
        if sub is None or topic != sub.topic:
            return self._verified(mode_label, False, sub, "no such subscription")
        if mode == "denied":
            self.store.set_state(sub.id, "denied", q.get("hub.reason", "denied by the hub")[:500])
            return self._verified(mode_label, True, sub, "the hub denied the subscription", body="")
        challenge = q.get("hub.challenge", "")
        if not challenge:
            return self._verified(mode_label, False, sub, "no hub.challenge")
        if mode == "subscribe" and sub.state in ("pending", "verified"):
            lease = q.get("hub.lease_seconds", "")
            granted = float(lease) if lease.isdigit() and int(lease) > 0 else float(self.settings.websub_lease_seconds)
            now = time.time()
            self.store.verified(sub.id, granted, now)
            self.store.poll_by(sub.feed_url, now + RENEW_FRACTION * granted)  # the renewal comes with a poll
            return self._verified(mode_label, True, sub, f"verified, lease {granted:g}s", body=challenge)
        if mode == "unsubscribe" and sub.state == "unsubscribing":
            self.store.forget(sub.id)
            return self._verified(mode_label, True, sub, "unsubscribed", body=challenge)
        return self._verified(mode_label, False, sub, f"not asked for ({mode!r} while {sub.state})")

    def _verified(self, mode: str, confirmed: bool, sub: Subscription | None, what: str,
                  body: str = "") -> web.Response:
        metrics.WEBSUB_VERIFICATIONS.labels(mode, "confirmed" if confirmed else "refused").inc()
        log.log(logging.INFO if confirmed else logging.WARNING, "WebSub %s verification: %s", mode, what,
                extra={"feed": sub.feed_url if sub else None})
        if not confirmed:
            return web.Response(status=404, text="unknown subscription\n")
        return web.Response(status=200, text=body, content_type="text/plain")

    # --- content distribution -----------------------------------------------------------------

    async def push(self, request: web.Request) -> web.Response:
        sub = self._subscription(request)
        if sub is None:
            return _refused("unknown_subscription", 404, "unknown subscription")
        if not self.store.feed_listed(sub.feed_url):
            self.store.forget(sub.id)  # 410: the hub deletes the subscription
            return _refused("not_polled", 410, "the feed is no longer polled (left the list, disabled, retired)", sub)
        if request.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity"):
            # aiohttp would decode it before the cap (a compression bomb) and the HMAC is over the bytes sent
            return _refused("encoding", 415, "a Content-Encoding: pushes are taken as sent, uncompressed", sub)
        body = await self._read_capped(request)
        if body is None:
            return _refused("too_large", 413, f"body over {self.settings.max_feed_bytes} bytes", sub)
        method = check_signature(request.headers.get("X-Hub-Signature"), body, sub.secret, sub.signature_method)
        if method is None:
            return _refused("bad_signature", 403, "missing or invalid X-Hub-Signature", sub)
        if stronger(method, sub.signature_method):
            self.store.signed_with(sub.id, method)
        try:
            parsed = await self.parser.parse(body, sub.topic, request.headers.get("Content-Type"))
        except FeedParseError as exc:
            return _refused("unparseable", 400, f"not a feed: {exc}", sub)
        if len(self.tasks) >= MAX_PUSHES_IN_FLIGHT:
            return _refused("busy", 503, "too many pushes in flight", sub)
        metrics.WEBSUB_PUSHES.labels("accepted").inc()
        task = asyncio.create_task(self.publish(sub, parsed))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return web.Response(status=202, text="accepted\n")

    async def _read_capped(self, request: web.Request) -> bytes | None:
        cap = self.settings.max_feed_bytes
        if request.content_length is not None and request.content_length > cap:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(65_536):
            size += len(chunk)
            if size > cap:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def publish(self, sub: Subscription, parsed: ParsedFeed) -> None:
        """Publish a push's new entries through the poller's path, under the feed's lease."""
        where = {"feed": sub.feed_url}
        deadline = time.monotonic() + LEASE_WAIT_SECONDS
        while (restore := self.store.lease_feed(sub.feed_url, time.time())) is None:
            if time.monotonic() > deadline or not self.store.feed_listed(sub.feed_url):
                metrics.WEBSUB_UNPUBLISHED.labels("lease_wait").inc()
                log.warning("pushed entries not published: the feed stayed leased (its polls pick them up)",
                            extra=where)
                return
            await asyncio.sleep(LEASE_POLL_SECONDS)
        released = False
        try:
            feed = self.poller.state.feed(sub.feed_url)
            if feed is None:
                return
            known, published, given_up, pending = await self.poller.publish_entries(feed, parsed)
            if pending:  # pages to retry or entries deferred: the next poll (soon) takes them
                restore = min(restore, time.time() + self.settings.min_poll_interval_seconds)
            with self.poller.state.transaction():
                self.poller.remember(feed, known, published, given_up)
                released = self.store.release_feed(sub.feed_url, restore)
            log.info("WebSub push: %d entries, %d published", len(parsed.entries), len(published), extra=where)
        except LeaseLost as exc:
            metrics.LEASES.labels("lost").inc()
            metrics.WEBSUB_UNPUBLISHED.labels("lost").inc()
            log.warning("%s", exc, extra=where)
        except Exception as exc:
            metrics.WEBSUB_UNPUBLISHED.labels("error").inc()
            log.error("WebSub push not published (the feed's polls pick it up): %r", exc, extra=where)
        finally:
            if not released:
                self.store.release_feed(sub.feed_url, restore)


def _refused(outcome: str, status: int, why: str, sub: Subscription | None = None) -> web.Response:
    metrics.WEBSUB_PUSHES.labels(outcome).inc()
    log.warning("WebSub push refused (%d): %s", status, why, extra={"feed": sub.feed_url if sub else None})
    return web.Response(status=status, text=f"{why}\n")
