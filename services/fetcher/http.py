"""HTTP for feeds and pages: timeouts, size caps, redirect limit, SSRF guard.

One ``httpx.AsyncClient`` serves every request, so thousands of feeds need a
few sockets and one thread, not thousands of threads. Every refusal is a
:class:`FetchError` with a short ``reason`` that is also a metric label.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from services.common import metrics
from services.common.config import FetcherSettings

HTML_TYPES = ("text/html", "application/xhtml+xml")


class FetchError(Exception):
    """A fetch that did not give a usable body; ``reason`` is a bounded metric label."""

    def __init__(self, reason: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes = b""
    redirected_permanently: bool = False
    elapsed: float = 0.0
    history: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _status_class(status: int) -> str:
    return f"{status // 100}xx"


class HttpClient:
    """Bounded, polite HTTP GET for the fetcher (one instance per process)."""

    def __init__(self, settings: FetcherSettings) -> None:
        self.settings = settings
        timeout = httpx.Timeout(
            connect=settings.http_connect_timeout_seconds,
            read=settings.http_read_timeout_seconds,
            write=settings.http_read_timeout_seconds,
            pool=settings.http_total_timeout_seconds,
        )
        self.client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,  # followed by hand: each hop goes through the SSRF guard
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            limits=httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=64),
        )

    async def get(
        self, url: str, *, kind: str, max_bytes: int, headers: dict[str, str] | None = None
    ) -> Response:
        """GET ``url`` following up to ``max_redirects`` redirects, within the total timeout."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.settings.http_total_timeout_seconds):
                return await self._get(url, kind, max_bytes, headers or {}, started)
        except TimeoutError as exc:
            metrics.FETCH_REFUSALS.labels("timeout").inc()
            raise FetchError("timeout", f"{url}: no complete response within "
                             f"{self.settings.http_total_timeout_seconds:g}s") from exc
        finally:
            metrics.FETCH_DURATION.labels(kind).observe(time.monotonic() - started)

    async def _get(
        self, url: str, kind: str, max_bytes: int, headers: dict[str, str], started: float
    ) -> Response:
        history: list[str] = []
        permanent = True
        for _ in range(self.settings.max_redirects + 1):
            await self.check_target(url)
            try:
                async with self.client.stream("GET", url, headers=headers) as resp:
                    metrics.HTTP_RESPONSES.labels(kind, _status_class(resp.status_code)).inc()
                    if resp.is_redirect and "location" in resp.headers:
                        history.append(url)
                        permanent = permanent and resp.status_code in (301, 308)
                        url = urljoin(url, resp.headers["location"])
                        continue
                    body = await _read_capped(resp, max_bytes) if resp.status_code == 200 else b""
            except httpx.TimeoutException as exc:
                metrics.FETCH_REFUSALS.labels("timeout").inc()
                raise FetchError("timeout", f"{url}: {type(exc).__name__}") from exc
            except httpx.HTTPError as exc:
                raise FetchError("network", f"{url}: {type(exc).__name__}: {exc}") from exc
            metrics.FETCHED_BYTES.labels(kind).inc(len(body))
            return Response(
                url=url, status=resp.status_code, headers={k.lower(): v for k, v in resp.headers.items()},
                body=body, redirected_permanently=bool(history) and permanent,
                elapsed=time.monotonic() - started, history=history,
            )
        metrics.FETCH_REFUSALS.labels("redirects").inc()
        raise FetchError("redirects", f"{history[0]}: more than {self.settings.max_redirects} redirects")

    async def check_target(self, url: str) -> None:
        """Refuse non-http(s) schemes and, unless allowed, hosts that resolve to private addresses."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            metrics.FETCH_REFUSALS.labels("scheme").inc()
            raise FetchError("scheme", f"refused: only http(s) URLs are fetched, not {url[:100]!r}")
        if self.settings.allow_private_networks:
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise FetchError("dns", f"{parts.hostname}: cannot resolve: {exc}") from exc
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global or address.is_multicast:
                metrics.FETCH_REFUSALS.labels("ssrf").inc()
                raise FetchError("ssrf", f"refused: {parts.hostname} resolves to non-public address {address}")

    async def aclose(self) -> None:
        await self.client.aclose()


async def _read_capped(resp: httpx.Response, max_bytes: int) -> bytes:
    """The decompressed body, refusing it once it passes ``max_bytes`` (a gzip bomb stops early)."""
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        metrics.FETCH_REFUSALS.labels("size").inc()
        raise FetchError("size", f"{resp.url}: Content-Length {declared} exceeds {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            metrics.FETCH_REFUSALS.labels("size").inc()
            raise FetchError("size", f"{resp.url}: body exceeds {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
