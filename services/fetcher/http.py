"""HTTP for feeds and pages: timeouts, size caps, redirect limit, SSRF guard, per-host politeness.

One ``aiohttp.ClientSession`` serves every request, so thousands of feeds need
a few sockets and one thread, not thousands of threads. Every refusal is a
:class:`FetchError` with a short ``reason`` that is also a metric label.

Why aiohttp (and not httpx, used before): its connection pool is a dict of
idle connections per host, and its HTTP parser is in C. httpcore's pool
scanned every connection for every queued request (quadratic in the pool
size) and httpx + anyio cost about 1 ms of CPU per request, which on a small
machine competed with the parse processes; see ``docs/fetcher.md``.

The SSRF guard (:mod:`services.fetcher.guard`) sits where connections are made: every hop's
URL becomes the ``yarl.URL`` the session is given (:func:`~services.fetcher.guard.guarded_url`:
scheme, canonical host, IP literal), host names are resolved by its resolver (every address
checked, no second lookup), and every socket is opened by its socket factory, which checks the
address and port connected to. TLS still verifies the certificate for the URL's host name (SNI)
and the ``Host`` header comes from the URL.

Bodies are decompressed here, not by aiohttp, with a hard output limit per
step, so a gzip bomb is refused after at most ``max_bytes`` of output.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Protocol
from urllib.parse import urljoin

import aiohttp
import yarl

from services.fetcher import metrics
from services.fetcher.feedoptions import HostHeaders
from services.fetcher.guard import GuardedResolver, RefusedTarget, TargetPolicy, guarded_url
from services.fetcher.settings import FetcherSettings

HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
READ_CHUNK_BYTES = 65_536


class FetchError(Exception):
    """A fetch that did not give a usable body; ``reason`` is a bounded metric label."""

    def __init__(self, reason: str, message: str, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


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


# --- per-host politeness ------------------------------------------------------------------------

class SharedHostLimits(Protocol):
    """Host slots and start times shared by every fetcher replica (the state store implements it)."""

    def acquire_host(self, host: str, concurrency: int, min_delay: float, now: float) -> tuple[int | None, float]: ...
    def release_host(self, host: str, slot: int) -> None: ...


SHARED_RETRY_SECONDS = (0.02, 0.5)  # first and longest pause before asking again for a busy host's slot


class HostGate:
    """A concurrency limit and a minimum delay between request starts, per host.

    Shared by feed polls and page fetches, so one site sees the fetcher's
    total load. Hosts idle for a while are forgotten, which keeps it bounded.
    With ``shared`` (a running fetcher: its state store), the limits hold for
    all replicas together: the local semaphore still bounds this process, and
    each request start also takes one of the host's slots in the shared store,
    which keeps the host's next allowed start time too.
    """

    def __init__(self, concurrency: int, min_delay: float, shared: SharedHostLimits | None = None) -> None:
        self.concurrency = concurrency
        self.min_delay = min_delay
        self.shared = shared
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._next_start: dict[str, float] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def slot(self, url: str | yarl.URL, min_delay: float = 0.0) -> AsyncIterator[None]:
        """A request start on ``url``'s host; the next start waits the larger of ``min_delay`` (a site's
        Crawl-delay) and the gate's own delay (no request starts before an earlier one's delay passed)."""
        host = _host_key(url)
        delay = max(self.min_delay, min_delay)
        if len(self._slots) > 1024:
            self.prune()
        self._users[host] = self._users.get(host, 0) + 1
        sem = self._slots.setdefault(host, asyncio.Semaphore(self.concurrency))
        try:
            async with sem:
                if self.shared is None:
                    await self._wait_turn(host, delay)
                    yield
                else:
                    shared_slot = await self._shared_turn(self.shared, host, delay)
                    try:
                        yield
                    finally:
                        self.shared.release_host(host, shared_slot)
        finally:
            self._users[host] -= 1
            if not self._users[host]:
                del self._users[host]
                if self._next_start.get(host, 0) <= time.monotonic():
                    self._slots.pop(host, None)
                    self._next_start.pop(host, None)

    async def _wait_turn(self, host: str, delay: float) -> None:
        while True:
            now = time.monotonic()
            start = self._next_start.get(host, 0.0)
            if start <= now:
                if delay > 0:
                    self._next_start[host] = now + delay
                return
            await asyncio.sleep(start - now)

    async def _shared_turn(self, shared: SharedHostLimits, host: str, delay: float) -> int:
        """One of the host's slots across replicas, once its next start time has come."""
        pause, longest = SHARED_RETRY_SECONDS
        waited = False
        while True:
            slot, wait = shared.acquire_host(host, self.concurrency, delay, time.time())
            if slot is not None:
                if waited:
                    metrics.HOST_WAITS.inc()
                return slot
            waited = True
            await asyncio.sleep(wait if wait > 0 else pause)
            pause = min(pause * 2, longest)

    def prune(self) -> None:
        """Forget hosts nobody uses whose delay has passed."""
        now = time.monotonic()
        for host in [h for h in self._slots if h not in self._users and self._next_start.get(h, 0) <= now]:
            del self._slots[host]
            self._next_start.pop(host, None)

    def __len__(self) -> int:
        return len(self._slots)


def _host_key(url: str | yarl.URL) -> str:
    """The host as the client connects to it (``１２７.０.０.１`` and ``127.0.0.1`` share a gate)."""
    try:
        return ((url if isinstance(url, yarl.URL) else yarl.URL(url)).raw_host or "").lower()
    except (ValueError, TypeError):
        return ""


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
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class HttpClient:
    """Bounded, polite HTTP GET for the fetcher (one instance per process)."""

    def __init__(self, settings: FetcherSettings, shared_hosts: SharedHostLimits | None = None) -> None:
        self.settings = settings
        self.policy = TargetPolicy.from_settings(settings)
        self.gate = HostGate(settings.per_host_concurrency, settings.per_host_min_delay_seconds, shared_hosts)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        """The session, made on first use (aiohttp wants a running event loop)."""
        if self._session is None:
            s = self.settings
            connector = aiohttp.TCPConnector(
                limit=s.concurrency, limit_per_host=0,  # per-host limits are the HostGate's
                resolver=GuardedResolver(self.policy), ttl_dns_cache=10,  # cached answers were checked
                socket_factory=self.policy.socket_factory,  # the address and port of every connect, checked
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, connect=s.http_total_timeout_seconds,
                                              sock_connect=s.http_connect_timeout_seconds,
                                              sock_read=s.http_read_timeout_seconds),
                headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
                auto_decompress=False,  # decoded by read_capped, with a cap on the output
                trust_env=False,  # a proxy would resolve names itself, around the SSRF guard
            )
        return self._session

    async def get(
        self, url: str, *, kind: str, max_bytes: int, headers: dict[str, str] | None = None,
        min_delay: float = 0.0, truncate: bool = False,
        host_headers: HostHeaders | None = None,
    ) -> Response:
        """GET ``url`` following up to ``max_redirects`` redirects, within the total timeout.

        Waits for the URL's host slot first (per-host concurrency and delay; ``min_delay``, a site's
        Crawl-delay, raises the delay before the host's next request). With ``truncate`` a body past
        ``max_bytes`` is cut there instead of refused (robots.txt: RFC 9309 parses the first 500 KiB).
        ``host_headers`` (a feed's own headers, auth, user agent) are added to the hops on the feed's origin only.
        """
        started = time.monotonic()
        try:
            target = self._target(url)
            async with self.gate.slot(target, min_delay), asyncio.timeout(self.settings.http_total_timeout_seconds):
                return await self._get(target, kind, max_bytes, headers or {}, started, truncate, host_headers)
        except TimeoutError as exc:
            metrics.FETCH_REFUSALS.labels("timeout").inc()
            raise FetchError("timeout", f"{url}: no complete response within "
                             f"{self.settings.http_total_timeout_seconds:g}s") from exc
        finally:
            metrics.FETCH_DURATION.labels(kind).observe(time.monotonic() - started)

    async def _get(
        self, target: yarl.URL, kind: str, max_bytes: int, headers: dict[str, str], started: float,
        truncate: bool = False,
        host_headers: HostHeaders | None = None,
    ) -> Response:
        history: list[str] = []
        permanent = True
        session = self._client()
        url = str(target)
        for hop in range(self.settings.max_redirects + 1):
            if hop:
                target = self._target(url)  # every hop's URL, as the client will use it
            # a feed's own headers (per-feed options) go to its origin only, whatever the redirects
            hop_headers = headers | host_headers.for_url(target) if host_headers else headers
            try:
                async with session.get(target, headers=hop_headers, allow_redirects=False) as resp:
                    status = resp.status
                    metrics.HTTP_RESPONSES.labels(kind, _status_class(status)).inc()
                    if status in REDIRECT_STATUSES and "location" in resp.headers:
                        history.append(url)
                        permanent = permanent and status in (301, 308)
                        url = urljoin(url, resp.headers["location"].strip())
                        continue
                    body = await read_capped(resp, url, max_bytes, truncate) if status == 200 else b""
                    resp_headers = _lower_headers(resp.headers.items())
            except TimeoutError as exc:  # aiohttp's connect/read timeouts (the total one is outside)
                metrics.FETCH_REFUSALS.labels("timeout").inc()
                raise FetchError("timeout", f"{url}: {type(exc).__name__}") from exc
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, RefusedTarget) or "refused: " in str(exc.os_error):
                    metrics.FETCH_REFUSALS.labels("ssrf").inc()  # by the resolver or the socket factory
                    raise FetchError("ssrf", str(exc.os_error)) from exc
                raise FetchError("network", f"{url}: {type(exc).__name__}: {exc}") from exc
            except aiohttp.InvalidURL as exc:
                metrics.FETCH_REFUSALS.labels("scheme").inc()
                raise FetchError("scheme", f"refused: not a valid http(s) URL: {url[:100]!r}") from exc
            except aiohttp.ClientError as exc:
                raise FetchError("network", f"{url}: {type(exc).__name__}: {exc}") from exc
            metrics.FETCHED_BYTES.labels(kind).inc(len(body))
            if kind == "feed" and body.startswith(GZIP_MAGIC):  # a sitemap.xml.gz served as a gzip file
                body = gunzip_file(body, url, max_bytes)
            return Response(
                url=url, status=status, headers=resp_headers,
                body=body, redirected_permanently=bool(history) and permanent,
                elapsed=time.monotonic() - started, history=history,
            )
        metrics.FETCH_REFUSALS.labels("redirects").inc()
        raise FetchError("redirects", f"{history[0]}: more than {self.settings.max_redirects} redirects")

    async def post_form(self, url: str, form: dict[str, str], *, kind: str, max_bytes: int = 65_536) -> Response:
        """POST a form to ``url`` (a WebSub hub) through the same guard, gate and timeouts; no redirects.

        Raises :class:`FetchError` like :meth:`get`; any status comes back (the caller judges it).
        """
        started = time.monotonic()
        target = self._target(url)
        try:
            async with self.gate.slot(target), asyncio.timeout(self.settings.http_total_timeout_seconds):
                async with self._client().post(target, data=form, allow_redirects=False) as resp:
                    metrics.HTTP_RESPONSES.labels(kind, _status_class(resp.status)).inc()
                    body = await read_capped(resp, url, max_bytes)
                    return Response(url=url, status=resp.status, headers=_lower_headers(resp.headers.items()),
                                    body=body, elapsed=time.monotonic() - started)
        except TimeoutError as exc:
            metrics.FETCH_REFUSALS.labels("timeout").inc()
            raise FetchError("timeout", f"{url}: no complete response within "
                             f"{self.settings.http_total_timeout_seconds:g}s") from exc
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, RefusedTarget) or "refused: " in str(exc.os_error):
                metrics.FETCH_REFUSALS.labels("ssrf").inc()
                raise FetchError("ssrf", str(exc.os_error)) from exc
            raise FetchError("network", f"{url}: {type(exc).__name__}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise FetchError("network", f"{url}: {type(exc).__name__}: {exc}") from exc

    def _target(self, url: str) -> yarl.URL:
        """The URL object the session is given, checked by the guard (scheme, host form, IP literal)."""
        try:
            return guarded_url(url, self.policy)
        except RefusedTarget as exc:
            metrics.FETCH_REFUSALS.labels(exc.reason).inc()
            raise FetchError(exc.reason, str(exc)) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _lower_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names lower-cased; repeated headers joined with ", " (as HTTP allows)."""
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


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


GZIP_MAGIC = b"\x1f\x8b"


def gunzip_file(body: bytes, url: str, max_bytes: int) -> bytes:
    """A gzip file's content (a ``sitemap.xml.gz`` sent without Content-Encoding), refused past ``max_bytes``."""
    try:
        out = _Decoder("gzip").feed(body, max_bytes)
    except FetchError:
        metrics.FETCH_REFUSALS.labels("encoding").inc()
        raise
    if len(out) > max_bytes:
        metrics.FETCH_REFUSALS.labels("size").inc()
        raise FetchError("size", f"{url}: decompressed gzip file exceeds {max_bytes} bytes")
    return out


async def read_capped(resp: aiohttp.ClientResponse, url: str, max_bytes: int, truncate: bool = False) -> bytes:
    """The decoded body, refused once it passes ``max_bytes`` (a gzip bomb stops early); with
    ``truncate``, its first ``max_bytes`` instead."""
    declared = resp.headers.get("content-length")
    encoding = resp.headers.get("content-encoding", "").strip().lower()
    if declared and declared.isdigit() and int(declared) > max_bytes and not truncate:
        metrics.FETCH_REFUSALS.labels("size").inc()
        raise FetchError("size", f"{url}: Content-Length {declared} exceeds {max_bytes} bytes")
    try:
        decoder = _Decoder(encoding)
    except FetchError:
        metrics.FETCH_REFUSALS.labels("encoding").inc()
        raise
    chunks: list[bytes] = []
    size = 0
    async for raw in resp.content.iter_chunked(READ_CHUNK_BYTES):
        try:
            chunk = decoder.feed(raw, max_bytes - size)
        except FetchError:
            metrics.FETCH_REFUSALS.labels("encoding").inc()
            raise
        size += len(chunk)
        if size > max_bytes and truncate:
            chunks.append(chunk[: len(chunk) - (size - max_bytes)])
            break
        if size > max_bytes:
            metrics.FETCH_REFUSALS.labels("size").inc()
            what = "decompressed body" if encoding not in ("", "identity") else "body"
            raise FetchError("size", f"{url}: {what} exceeds {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
