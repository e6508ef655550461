"""The SSRF guard: which addresses the fetcher may connect to, judged where it connects.

Three checks, all on what the HTTP client (aiohttp, whose URLs are ``yarl.URL`` objects) will
actually use, never on a separate parse of the URL text:

1. :func:`guarded_url` turns every URL into the ``yarl.URL`` the client is then given (so the
   client does not parse the text again) and refuses it when the host is not written in a
   canonical form: the host as written must survive the client's IDNA/ASCII normalisation
   unchanged (``１２７.０.０.１``, ``127。0。0。1``, ``ⓛⓞⓒⓐⓛⓗⓞⓢⓣ``, percent-escapes, zone ids and
   every numeric spelling of an IPv4 address but the dotted quad, such as ``2130706433``,
   ``0x7f.1``, ``0177.0.0.1``, ``127.1`` or a trailing dot, are refused), and checks an
   IP-literal host (which the client never resolves) with its port.
2. :class:`GuardedResolver`, the connector's resolver: a host name is resolved once and every
   address is checked; the connector connects only to those addresses (DNS rebinding cannot
   slip in a second answer).
3. :meth:`TargetPolicy.socket_factory`: the connector opens every socket through it, with the
   address and port it is about to connect to; an address the policy does not allow is refused
   there, whatever path led to it. This is the one choke point every fetch goes through (feeds,
   pages, redirects, ``feeds check`` and ``feeds discover``, anything added later).

What is allowed: public unicast addresses, plus ``NEWSFLOW_ALLOWED_NETWORKS``
(:mod:`services.fetcher.allowlist`: networks or host names, each optionally with a port), or
everything with ``NEWSFLOW_ALLOW_PRIVATE_NETWORKS``. Every refusal names the setting that would
allow it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from services.fetcher.allowlist import AllowList, parse_allowed
from services.fetcher.settings import FetcherSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddrInfo = tuple[int, int, int, str, tuple[str, int] | tuple[str, int, int, int]]

_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_ASCII_HOST = re.compile(r"^[a-z0-9._-]+$")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
SETTING = "NEWSFLOW_ALLOWED_NETWORKS"


class RefusedTarget(OSError):
    """A connect target the guard refuses; carries the reason (a metric label).

    An ``OSError`` because aiohttp wraps resolver and socket errors in a ``ClientConnectorError``
    whose ``os_error`` is this exception.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __str__(self) -> str:
        return str(self.args[0])


def embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (mapped, compatible, 6to4, Teredo, NAT64), else itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if int(address) >> 32 == 0 or any(address in net for net in _NAT64):  # ::a.b.c.d, 64:ff9b::a.b.c.d
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_public(address: IPAddress) -> bool:
    inner = embedded_ipv4(address)
    return all(a.is_global and not a.is_multicast for a in {address, inner})


def never_by_name(address: IPAddress) -> bool:
    """Addresses a host-name entry does not open (only a network entry does): metadata, unspecified, multicast."""
    inner = embedded_ipv4(address)
    return any(a.is_link_local or a.is_unspecified or a.is_multicast for a in {address, inner})


def suggestion(address: IPAddress, port: int) -> str:
    """The narrowest entry that allows ``address``: ``127.0.0.1/32:8080``, ``[::1]/128:8080``."""
    if isinstance(address, ipaddress.IPv6Address):
        return f"{SETTING}=[{address}]/128:{port}"
    return f"{SETTING}={address}/32:{port}"


@dataclass
class TargetPolicy:
    """Which ``(address, port)`` may be connected to: public ones, plus the allow-list."""

    allow_all: bool = False
    allowed: AllowList = field(default_factory=AllowList)
    approved: set[tuple[IPAddress, int]] = field(default_factory=set)  # by a host-name entry, at resolution

    @classmethod
    def from_settings(cls, settings: FetcherSettings) -> TargetPolicy:
        """From the settings (which validated the list when they were loaded)."""
        return cls(settings.allow_private_networks, parse_allowed(settings.allowed_networks))

    def address_allowed(self, address: IPAddress, port: int) -> bool:
        if self.allow_all:
            return True
        inner = embedded_ipv4(address)
        for rule in self.allowed.networks:
            if (address in rule.network or inner in rule.network) and rule.port in (None, port):
                return True
        return is_public(address)

    def name_allowed(self, host: str, port: int) -> bool:
        host = host.lower().rstrip(".")
        return any(rule.host == host and rule.port in (None, port) for rule in self.allowed.hosts)

    def check(self, host: str, port: int, addresses: list[IPAddress]) -> None:
        """Raise :class:`RefusedTarget` unless every address of ``host`` may be connected to on ``port``."""
        by_name = self.name_allowed(host, port)
        for address in addresses:
            if self.address_allowed(address, port):
                continue
            if by_name and not never_by_name(address):
                self.approved.add((address, port))
                continue
            raise RefusedTarget("ssrf", f"refused: {host} resolves to non-public address {address} "
                                        f"(allow it with {suggestion(address, port)})")

    def socket_factory(self, addr_info: AddrInfo) -> socket.socket:
        """The connector's sockets: refused unless the address and port it connects to are allowed."""
        family, type_, proto, _, sockaddr = addr_info
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        port = int(sockaddr[1])
        if not (self.address_allowed(address, port) or (address, port) in self.approved):
            raise RefusedTarget("ssrf", f"refused: connection to non-public address {address} port {port} "
                                        f"(allow it with {suggestion(address, port)})")
        return socket.socket(family=family, type=type_, proto=proto)


def ip_literal(host: str) -> IPAddress | None:
    """The address of an IP-literal host (``[::1]`` too), None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _canonical_host(written: str | None, url: yarl.URL) -> str | None:
    """Why the host is not written as the client reads it, or None when it is."""
    raw, shown = url.raw_host or "", url.host or ""
    if not written or not raw:
        return "no host"
    if "%" in written or "%" in raw:
        return "a percent-escape or zone id in the host"
    if ":" in raw:  # IPv6: the client writes it compressed; the same address is the same host
        same = ip_literal(written) is not None and ip_literal(written) == ip_literal(raw)
        return None if same else "an IPv6 host the client reads differently"
    if written not in (raw, shown) or not _ASCII_HOST.match(raw):
        return f"the client reads it as {raw!r}"
    labels = raw.removesuffix(".").split(".")
    if _NUMERIC_LABEL.match(labels[-1]):  # read as an IPv4 number: only the dotted quad is accepted
        try:
            ipaddress.IPv4Address(raw)
        except ValueError:
            return f"a numeric address not written as a dotted quad (a.b.c.d): {raw!r}"
    return None


def guarded_url(url: str | yarl.URL, policy: TargetPolicy) -> yarl.URL:
    """The URL object the client is given, after the scheme, host form and IP-literal checks.

    Raises :class:`RefusedTarget` (``reason`` ``scheme`` or ``ssrf``).
    """
    text = str(url)
    try:
        parsed = url if isinstance(url, yarl.URL) else yarl.URL(text)
        written = urlsplit(text).hostname
    except (ValueError, TypeError) as exc:
        raise RefusedTarget("scheme", f"refused: not a valid http(s) URL: {text[:100]!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise RefusedTarget("scheme", f"refused: only http(s) URLs are fetched, not {text[:100]!r}")
    problem = _canonical_host(written, parsed)
    if problem:
        raise RefusedTarget("ssrf", f"refused: host {written!r} is not written in canonical form ({problem})")
    literal = ip_literal(parsed.raw_host)
    if literal is not None:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if not policy.address_allowed(literal, port):
            raise RefusedTarget("ssrf", f"refused: {literal} is a non-public address "
                                        f"(allow it with {suggestion(literal, port)})")
    return parsed


class GuardedResolver(AbstractResolver):
    """Resolve a name once, check every address, hand only checked addresses to the connector."""

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        addresses = await self.lookup(host, port)
        if not addresses:
            raise OSError(f"{host}: no address to connect to")
        self.policy.check(host, port, addresses)
        return [
            ResolveResult(hostname=host, host=str(a), port=port,
                          family=socket.AF_INET6 if a.version == 6 else socket.AF_INET,
                          proto=0, flags=socket.AI_NUMERICHOST)
            for a in addresses
        ]

    async def lookup(self, host: str, port: int) -> list[IPAddress]:
        """The addresses of ``host`` (one DNS query); tests replace this to simulate rebinding."""
        literal = ip_literal(host)
        if literal is not None:
            return [literal]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise OSError(f"{host}: cannot resolve: {exc}") from exc
        return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))

    async def close(self) -> None:
        pass
