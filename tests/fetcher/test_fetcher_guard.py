"""The SSRF guard judges the address the client connects to, whatever the URL's spelling.

The class of bug (issue 15.1): a host that is not an IP literal to one parser (``urlsplit``) and
becomes one in the client's (``yarl``: full-width digits, other Unicode digits and dots, IDNA
forms) was never checked. Here every spelling goes through the REAL client (``HttpClient`` with
its aiohttp session) towards a loopback listener that counts connections: with nothing allowed,
it must see none. Spellings are generated (hypothesis) and tabled; a control proves the listener
is reachable when it is allowed, and a test with the URL check switched off proves the socket
factory alone still refuses (the last line, for any fetch path added later).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yarl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pytest_httpserver import HTTPServer

from services.fetcher import http as http_module
from services.fetcher.allowlist import HostRule, NetworkRule, parse_allowed
from services.fetcher.guard import TargetPolicy, guarded_url
from services.fetcher.http import FetchError, HttpClient
from services.fetcher.settings import FetcherSettings

ROOT = Path(__file__).resolve().parents[2]


class Listener:
    """A loopback TCP listener (IPv4 and, where possible, IPv6 on the same port) that counts connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.socks = [socket.create_server(("127.0.0.1", 0))]
        self.port = self.socks[0].getsockname()[1]
        try:
            self.socks.append(socket.create_server(("::1", self.port), family=socket.AF_INET6))
        except OSError:
            pass
        self.lock = threading.Lock()
        self.stopped = False
        for sock in self.socks:
            sock.settimeout(0.2)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        while not self.stopped:
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            conn.close()

    def close(self) -> None:
        self.stopped = True
        for sock in self.socks:
            sock.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


def fetch(url: str, allowed: str = "", **extra: Any) -> FetchError | bytes:
    config = FetcherSettings(allowed_networks=allowed, per_host_min_delay_seconds=0, parse_workers=1,
                             http_total_timeout_seconds=3, http_connect_timeout_seconds=2, **extra)

    async def go() -> FetchError | bytes:
        client = HttpClient(config)
        try:
            return (await client.get(url, kind="page", max_bytes=10_000)).body
        except FetchError as exc:
            return exc
        finally:
            await client.aclose()
    return asyncio.run(go())


def assert_refused_without_connecting(listener: Listener, url: str, allowed: str = "") -> FetchError:
    before = listener.connections
    result = fetch(url, allowed)
    assert isinstance(result, FetchError), f"{url!r} was fetched: {result!r}"
    assert result.reason in ("ssrf", "scheme", "network"), (url, result.reason, str(result))
    assert listener.connections == before, f"{url!r} reached the loopback listener ({result})"
    return result


# --- host spellings -----------------------------------------------------------------------------

DIGIT_SETS = ["0123456789", "０１２３４５６７８９", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९",
              "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗", "𝟘𝟙𝟚𝟛𝟜𝟝𝟞𝟟𝟠𝟡", "⓪①②③④⑤⑥⑦⑧⑨"]
DOTS = [".", "。", "．", "｡"]
OCTETS = (127, 0, 0, 1)


@st.composite
def numeric_part(draw: st.DrawFn, value: int) -> str:
    form = draw(st.sampled_from(["dec", "oct", "hex", "HEX", "unicode"]))
    if form == "oct":
        return "0" + format(value, "o")
    if form in ("hex", "HEX"):
        text = "0x" + format(value, "x")
        return text.upper() if form == "HEX" else text
    digits = draw(st.sampled_from(DIGIT_SETS)) if form == "unicode" else DIGIT_SETS[0]
    return "".join(digits[int(c)] for c in str(value))


@st.composite
def ipv4_spelling(draw: st.DrawFn) -> str:
    """127.0.0.1 as 4, 3, 2 or 1 numeric parts, each in any base or script, any dots, maybe a trailing one."""
    parts = draw(st.sampled_from([4, 3, 2, 1]))
    value = int(ipaddress.IPv4Address(".".join(map(str, OCTETS))))
    if parts == 4:
        numbers = list(OCTETS)
    elif parts == 3:
        numbers = [127, 0, value & 0xFFFF]
    elif parts == 2:
        numbers = [127, value & 0xFFFFFF]
    else:
        numbers = [value]
    host = ""
    for i, n in enumerate(numbers):
        if i:
            host += draw(st.sampled_from(DOTS))
        host += draw(numeric_part(n))
    return host + draw(st.sampled_from(["", "", ".", "。"]))


NAME_SPELLINGS = ["localhost", "LOCALHOST", "localhost.", "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "ｌｏｃａｌｈｏｓｔ", "LocalHost。",
                  "loc\u0430lhost", "localhost\u3002", "xn--localhost", "%6c%6f%63%61%6c%68%6f%73%74"]
IPV6_SPELLINGS = ["[::1]", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::127.0.0.1]",
                  "[0000::0001]", "[::1%25lo]", "[::ffff:１２７.０.０.１]", "[64:ff9b::127.0.0.1]"]


@st.composite
def url_for(draw: st.DrawFn, port: int) -> str:
    host = draw(st.one_of(ipv4_spelling(), st.sampled_from(NAME_SPELLINGS), st.sampled_from(IPV6_SPELLINGS)))
    userinfo = draw(st.sampled_from(["", "user@", "user:pass@", "example.com@", "8.8.8.8:80@", "a@b@"]))
    scheme = draw(st.sampled_from(["http", "HTTP", "http", "hTtP"]))
    return f"{scheme}://{userinfo}{host}:{port}/feed"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_spelling_of_loopback_reaches_the_listener(listener: Listener, data: st.DataObject) -> None:
    url = data.draw(url_for(listener.port))
    assert_refused_without_connecting(listener, url)


@pytest.mark.parametrize("host", [
    "１２７.０.０.１", "127。0。0。1", "①②⑦.⓪.⓪.①", "2130706433", "0x7f.1", "0177.0.0.1", "0x7f000001",
    "127.1", "127.0.1", "127.0.0.1.", "017700000001", "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "localhost", "[::1]", "[::ffff:127.0.0.1]",
    "[::127.0.0.1]", "127.0.0.1%2e", "0.0.0.0", "0",
])
def test_table_of_loopback_spellings(listener: Listener, host: str) -> None:
    assert_refused_without_connecting(listener, f"http://{host}:{listener.port}/x")


def test_control_the_listener_is_reached_when_allowed(listener: Listener) -> None:
    before = listener.connections
    assert fetch(f"http://127.0.0.1:{listener.port}/", f"127.0.0.1/32:{listener.port}") == b"ok"
    assert listener.connections == before + 1


def test_full_width_host_is_refused_even_when_its_address_is_allowed(listener: Listener) -> None:
    """Allowed or not, a host that is not written as the client reads it is refused (never normalised)."""
    exc = assert_refused_without_connecting(listener, f"http://１２７.０.０.１:{listener.port}/",
                                            f"127.0.0.1/32:{listener.port}")
    assert exc.reason == "ssrf" and "canonical" in str(exc)


def test_a_port_entry_opens_that_port_only(listener: Listener) -> None:
    other = listener.port + 1 if listener.port < 65535 else listener.port - 1
    exc = assert_refused_without_connecting(listener, f"http://127.0.0.1:{listener.port}/", f"127.0.0.1/32:{other}")
    assert f"NEWSFLOW_ALLOWED_NETWORKS=127.0.0.1/32:{listener.port}" in str(exc)


def test_the_socket_factory_refuses_even_when_the_url_check_is_bypassed(
    listener: Listener, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A future fetch path that forgot the URL check still cannot connect: the connector's sockets are checked."""
    monkeypatch.setattr(http_module, "guarded_url", lambda url, policy: yarl.URL(str(url)))
    for host in ("127.0.0.1", "１２７.０.０.１", "[::1]"):
        exc = assert_refused_without_connecting(listener, f"http://{host}:{listener.port}/")
        assert exc.reason == "ssrf" and "NEWSFLOW_ALLOWED_NETWORKS" in str(exc), str(exc)


def test_redirect_to_a_respelled_loopback_is_refused(listener: Listener) -> None:
    srv = HTTPServer(host="127.0.0.1")
    srv.start()
    try:
        srv.expect_request("/go").respond_with_data(
            "", status=302, headers={"Location": f"http://１２７.０.０.１:{listener.port}/"})
        exc = assert_refused_without_connecting(listener, srv.url_for("/go"), f"127.0.0.1/32:{srv.port}")
        assert exc.reason == "ssrf"
    finally:
        srv.stop()


def test_a_host_name_entry_is_resolved_and_checked(listener: Listener) -> None:
    """``localhost:PORT`` lets the name reach its loopback address on that port, nothing else."""
    assert fetch(f"http://localhost:{listener.port}/", f"localhost:{listener.port}") == b"ok"
    assert_refused_without_connecting(listener, f"http://127.0.0.1:{listener.port}/", "localhost:1")
    policy = TargetPolicy(allowed=parse_allowed("metadata.internal"))
    with pytest.raises(OSError, match=r"169\.254\.169\.254"):  # a name entry never opens link-local (cloud metadata)
        policy.check("metadata.internal", 80, [ipaddress.ip_address("169.254.169.254")])


@pytest.mark.parametrize("url", ["http://bücher.example/feed", "http://xn--bcher-kva.example/feed",
                                 "http://EXAMPLE.com/feed", "http://example.com./feed", "http://93.184.216.34/"])
def test_canonical_hosts_pass_the_url_check(url: str) -> None:
    assert guarded_url(url, TargetPolicy()).raw_host


# --- the allow-list -----------------------------------------------------------------------------

@pytest.mark.parametrize(("entry", "rule"), [
    ("127.0.0.1/32:8080", NetworkRule(ipaddress.ip_network("127.0.0.1/32"), 8080)),
    ("127.0.0.1:8080", NetworkRule(ipaddress.ip_network("127.0.0.1/32"), 8080)),
    ("10.0.0.0/8", NetworkRule(ipaddress.ip_network("10.0.0.0/8"), None)),
    ("[::1]:8080", NetworkRule(ipaddress.ip_network("::1/128"), 8080)),
    ("[::1]/128:8080", NetworkRule(ipaddress.ip_network("::1/128"), 8080)),
    ("::1/128", NetworkRule(ipaddress.ip_network("::1/128"), None)),
    ("feeds.internal:8443", HostRule("feeds.internal", 8443)),
    ("Feeds.Internal.", HostRule("feeds.internal", None)),
])
def test_allow_list_entries(entry: str, rule: object) -> None:
    allowed = parse_allowed(f" {entry} ,")
    assert (allowed.networks + allowed.hosts) == (rule,)


@pytest.mark.parametrize("value", ["not-a-cidr/99", "127.0.0.1/99", "999.1.1.1", "host:0", "host:99999",
                                   "a b", "[::1", "[::1]x", "10.0.0.0/8,bad/entry"])
def test_an_invalid_allow_list_entry_is_a_settings_error(value: str) -> None:
    with pytest.raises(ValidationError, match="allowed_networks"):
        FetcherSettings(allowed_networks=value)


@pytest.mark.parametrize("value", ["not-a-cidr/99", "127.0.0.1:99999"])
def test_an_invalid_allow_list_entry_stops_the_start_naming_the_variable(value: str, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "services.cli", "config", "show", "fetcher"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "NEWSFLOW_ALLOWED_NETWORKS": value})
    assert result.returncode != 0
    assert "NEWSFLOW_ALLOWED_NETWORKS" in result.stderr + result.stdout
