"""HTTP for feeds and pages: timeouts, size caps, redirect limit, SSRF guard, per-host politeness.

One ``httpx.AsyncClient`` serves every request, so thousands of feeds need a
few sockets and one thread, not thousands of threads. Every refusal is a
:class:`FetchError` with a short ``reason`` that is also a metric label.

The SSRF guard lives in the connection layer (:class:`GuardedBackend`, an
``httpcore`` network backend): the host name is resolved there, every address
is checked, and the socket is opened to the checked address itself. A DNS
answer that changes between a check and the connect (DNS rebinding) therefore
cannot slip past: there is no second lookup. TLS still verifies the
certificate against the URL's host name (httpcore passes it as SNI), and the
``Host`` header comes from the URL, so nothing else changes.

Bodies are decompressed here, not by httpx, with a hard output limit per
step, so a gzip bomb is refused after at most ``max_bytes`` of output.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
import zlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from services.common import metrics
from services.common.config import FetcherSettings

HTML_TYPES = ("text/html", "application/xhtml+xml")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class FetchError(Exception):
    """A fetch that did not give a usable body; ``reason`` is a bounded metric label."""

    def __init__(self, reason: str, message: str, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class RefusedTarget(httpcore.ConnectError):
    """Raised inside httpcore when a connect target is refused; carries the reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


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


# --- SSRF guard ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class TargetPolicy:
    """Which addresses may be connected to: public ones, plus an explicit allow-list."""

    allow_all: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: FetcherSettings) -> TargetPolicy:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for item in (x.strip() for x in settings.allowed_networks.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower())
        return cls(settings.allow_private_networks, tuple(networks), frozenset(hosts))

    def address_allowed(self, host: str, address: IPAddress) -> bool:
        if self.allow_all or host.lower() in self.allowed_hosts:
            return True
        if any(address in net for net in self.allowed_networks):
            return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return address.is_global and not address.is_multicast


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve, check every address, then connect to a checked address (no second lookup)."""

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.resolve(host, port)
        for address in addresses:
            if not self.policy.address_allowed(host, address):
                raise RefusedTarget("ssrf", f"refused: {host} resolves to non-public address {address}")
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(str(address), port, timeout=timeout,
                                                    local_address=local_address, socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"{host}: no address to connect to")

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host}: cannot resolve: {exc}") from exc
        return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool built on :class:`GuardedBackend`.

    httpx does not expose ``network_backend``; replacing the pool it built is
    the documented-by-usage way (the pool is the transport's only state).
    """

    def __init__(self, policy: TargetPolicy, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy),
        )


# --- per-host politeness ------------------------------------------------------------------------

class HostGate:
    """A concurrency limit and a minimum delay between request starts, per host.

    Shared by feed polls and page fetches, so one site sees the fetcher's
    total load. Hosts idle for a while are forgotten, which keeps it bounded.
    """

    def __init__(self, concurrency: int, min_delay: float) -> None:
        self.concurrency = concurrency
        self.min_delay = min_delay
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._next_start: dict[str, float] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = (urlsplit(url).hostname or "").lower()
        if len(self._slots) > 1024:
            self.prune()
        self._users[host] = self._users.get(host, 0) + 1
        sem = self._slots.setdefault(host, asyncio.Semaphore(self.concurrency))
        try:
            async with sem:
                await self._wait_turn(host)
                yield
        finally:
            self._users[host] -= 1
            if not self._users[host]:
                del self._users[host]
                if self._next_start.get(host, 0) <= time.monotonic():
                    self._slots.pop(host, None)
                    self._next_start.pop(host, None)

    async def _wait_turn(self, host: str) -> None:
        if self.min_delay <= 0:
            return
        while True:
            now = time.monotonic()
            start = self._next_start.get(host, 0.0)
            if start <= now:
                self._next_start[host] = now + self.min_delay
                return
            await asyncio.sleep(start - now)

    def prune(self) -> None:
        """Forget hosts nobody uses whose delay has passed."""
        now = time.monotonic()
        for host in [h for h in self._slots if h not in self._users and self._next_start.get(h, 0) <= now]:
            del self._slots[host]
            self._next_start.pop(host, None)

    def __len__(self) -> int:
        return len(self._slots)


# --- the client ---------------------------------------------------------------------------------

def _status_class(status: int) -> str:
    return f"{status // 100}xx"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class HttpClient:
    """Bounded, polite HTTP GET for the fetcher (one instance per process)."""

    def __init__(self, settings: FetcherSettings) -> None:
        self.settings = settings
        self.gate = HostGate(settings.per_host_concurrency, settings.per_host_min_delay_seconds)
        timeout = httpx.Timeout(
            connect=settings.http_connect_timeout_seconds,
            read=settings.http_read_timeout_seconds,
            write=settings.http_read_timeout_seconds,
            pool=settings.http_total_timeout_seconds,
        )
        limits = httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency)
        self.client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,  # followed by hand: each hop is checked and counted
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            transport=GuardedTransport(TargetPolicy.from_settings(settings), limits),
            trust_env=False,  # a proxy would resolve names itself, around the SSRF guard
        )

    async def get(
        self, url: str, *, kind: str, max_bytes: int, headers: dict[str, str] | None = None
    ) -> Response:
        """GET ``url`` following up to ``max_redirects`` redirects, within the total timeout.

        Waits for the URL's host slot first (per-host concurrency and delay).
        """
        started = time.monotonic()
        try:
            async with self.gate.slot(url), asyncio.timeout(self.settings.http_total_timeout_seconds):
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
            check_scheme(url)
            try:
                async with self.client.stream("GET", url, headers=headers) as resp:
                    metrics.HTTP_RESPONSES.labels(kind, _status_class(resp.status_code)).inc()
                    if resp.is_redirect and "location" in resp.headers:
                        history.append(url)
                        permanent = permanent and resp.status_code in (301, 308)
                        url = urljoin(url, resp.headers["location"].strip())
                        continue
                    body = await read_capped(resp, max_bytes) if resp.status_code == 200 else b""
            except httpx.TimeoutException as exc:
                metrics.FETCH_REFUSALS.labels("timeout").inc()
                raise FetchError("timeout", f"{url}: {type(exc).__name__}") from exc
            except httpx.HTTPError as exc:
                cause = exc.__cause__ or exc.__context__
                if isinstance(cause, RefusedTarget):
                    metrics.FETCH_REFUSALS.labels(cause.reason).inc()
                    raise FetchError(cause.reason, str(cause)) from exc
                raise FetchError("network", f"{url}: {type(exc).__name__}: {exc}") from exc
            metrics.FETCHED_BYTES.labels(kind).inc(len(body))
            return Response(
                url=url, status=resp.status_code, headers={k.lower(): v for k, v in resp.headers.items()},
                body=body, redirected_permanently=bool(history) and permanent,
                elapsed=time.monotonic() - started, history=history,
            )
        metrics.FETCH_REFUSALS.labels("redirects").inc()
        raise FetchError("redirects", f"{history[0]}: more than {self.settings.max_redirects} redirects")

    async def aclose(self) -> None:
        await self.client.aclose()


def check_scheme(url: str) -> None:
    """Refuse anything but absolute http(s) URLs (``file:``, ``ftp:``, ``gopher:``, ...)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        metrics.FETCH_REFUSALS.labels("scheme").inc()
        raise FetchError("scheme", f"refused: only http(s) URLs are fetched, not {url[:100]!r}")


class _Decoder:
    """Incremental gzip/deflate/identity decoding whose output per step is bounded."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        if encoding in ("gzip", "x-gzip"):
            self._z: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
        elif encoding in ("", "identity"):
            self._z = None
        else:
            raise FetchError("encoding", f"unsupported Content-Encoding {encoding!r} (asked for gzip, deflate)")
        self._first = True

    def feed(self, data: bytes, limit: int) -> bytes:
        """Decoded bytes of ``data``, at most ``limit + 1`` of them (more means over the cap)."""
        if self._z is None:
            return data
        try:
            if self._first and self.encoding == "deflate" and data and (data[0] & 0x0F) != 8:
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
            self._first = False
            out = self._z.decompress(data, limit + 1)
        except zlib.error as exc:
            raise FetchError("encoding", f"corrupt {self.encoding} body: {exc}") from exc
        return out  # longer than ``limit`` exactly when the cap is passed (output stops at limit + 1)


async def read_capped(resp: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body, refused once it passes ``max_bytes`` (a gzip bomb stops early)."""
    declared = resp.headers.get("content-length")
    encoding = resp.headers.get("content-encoding", "").strip().lower()
    if declared and declared.isdigit() and int(declared) > max_bytes:
        metrics.FETCH_REFUSALS.labels("size").inc()
        raise FetchError("size", f"{resp.url}: Content-Length {declared} exceeds {max_bytes} bytes")
    try:
        decoder = _Decoder(encoding)
    except FetchError:
        metrics.FETCH_REFUSALS.labels("encoding").inc()
        raise
    chunks: list[bytes] = []
    size = 0
    async for raw in resp.aiter_raw():
        try:
            chunk = decoder.feed(raw, max_bytes - size)
        except FetchError:
            metrics.FETCH_REFUSALS.labels("encoding").inc()
            raise
        size += len(chunk)
        if size > max_bytes:
            metrics.FETCH_REFUSALS.labels("size").inc()
            what = "decompressed body" if encoding not in ("", "identity") else "body"
            raise FetchError("size", f"{resp.url}: {what} exceeds {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
