"""``NEWSFLOW_ALLOWED_NETWORKS``: what the SSRF guard lets through besides public addresses.

One comma-separated list; each entry is a network or a host name, optionally with a port::

    127.0.0.1/32:8080    the loopback address, port 8080 only (not the broker, the API, PostgreSQL...)
    10.0.0.0/8           a network, every port
    [::1]:8080           an IPv6 address (or [fd00::/8]:443, [::1]/128:8080), one port
    feeds.internal:8443  a host name, one port: its addresses are still resolved and checked
    feeds.internal       a host name, every port

A host-name entry lets that name (written exactly so in a URL) reach the non-public addresses it
resolves to, except link-local (cloud metadata), unspecified and multicast addresses, which only
an explicit network entry allows. An entry that is none of these (``not-a-cidr/99``, a port out
of range) is an error when the settings are loaded: :func:`parse_allowed` raises ``ValueError``.

No project imports: the settings validate the list with :func:`parse_allowed`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_HOST_NAME = re.compile(r"^(?=.{1,253}\.?$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}"
                        r"[a-z0-9_])?)*\.?$")


@dataclass(frozen=True)
class NetworkRule:
    network: IPNetwork
    port: int | None  # None: every port

    def __str__(self) -> str:
        net = f"[{self.network}]" if self.network.version == 6 and self.port is not None else str(self.network)
        return net if self.port is None else f"{net}:{self.port}"


@dataclass(frozen=True)
class HostRule:
    host: str  # lower-case, ASCII (IDNA), no trailing dot
    port: int | None

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class AllowList:
    networks: tuple[NetworkRule, ...] = ()
    hosts: tuple[HostRule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.networks or self.hosts)


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return int(text)


def _split(entry: str) -> tuple[str, int | None]:
    """``(address-or-network-or-name, port)`` of one entry."""
    if entry.startswith("["):
        inside, bracket, rest = entry[1:].partition("]")
        if not bracket:
            raise ValueError(f"{entry!r}: unclosed '['")
        if rest.startswith("/"):  # [::1]/128 or [::1]/128:8080
            length, _, port = rest[1:].partition(":")
            return f"{inside}/{length}", _port(port, entry) if port else None
        if rest and not rest.startswith(":"):
            raise ValueError(f"{entry!r}: expected ':PORT' after ']'")
        return inside, _port(rest[1:], entry) if rest else None
    if entry.count(":") > 1:
        return entry, None  # a bare IPv6 address or network: no port (write [::1]:8080 for one)
    head, colon, port = entry.rpartition(":")
    return (head, _port(port, entry)) if colon else (entry, None)


def parse_entry(entry: str) -> NetworkRule | HostRule:
    """One entry of the list; ``ValueError`` with the entry in the message when it is none of the forms."""
    what, port = _split(entry.strip())
    try:
        return NetworkRule(ipaddress.ip_network(what, strict=False), port)
    except ValueError:
        if "/" in what or ":" in what or re.fullmatch(r"[0-9.]+", what):  # meant as a network
            raise ValueError(f"{entry!r} is not a valid network (CIDR) or address; expected e.g. "
                             "127.0.0.1/32:8080, [::1]:8080, 10.0.0.0/8 or feeds.internal:8443") from None
    host = what.lower().rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{entry!r} is not a host name, network (CIDR) or address") from None
    if not _HOST_NAME.match(host):
        raise ValueError(f"{entry!r} is not a host name, network (CIDR) or address")
    return HostRule(host, port)


def parse_allowed(text: str) -> AllowList:
    """The whole list (empty entries ignored); ``ValueError`` names the first bad entry."""
    networks: list[NetworkRule] = []
    hosts: list[HostRule] = []
    for raw in text.split(","):
        if not raw.strip():
            continue
        rule = parse_entry(raw)
        (networks if isinstance(rule, NetworkRule) else hosts).append(rule)  # type: ignore[arg-type]
    return AllowList(tuple(networks), tuple(hosts))
