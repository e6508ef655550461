"""The fetcher's HTTP client against a real local server: SSRF guard, caps, timeouts, redirects, politeness."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import itertools
import resource
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from services.fetcher.guard import GuardedResolver, TargetPolicy
from services.fetcher.http import FetchError, HostGate, HttpClient, parse_retry_after
from services.fetcher.settings import FetcherSettings
from tests.fetcher.helpers import local_server

LOCAL = "127.0.0.1/32,::1/128"


def make_settings(tmp_path: Path, **kw: Any) -> FetcherSettings:
    base: dict[str, Any] = {"data_dir": tmp_path, "allowed_networks": LOCAL, "per_host_min_delay_seconds": 0,
                            "parse_workers": 1, "http_total_timeout_seconds": 5}
    return FetcherSettings(**{**base, **kw})


def get(settings: FetcherSettings, url: str, **kw: Any) -> Any:
    async def run() -> Any:
        client = HttpClient(settings)
        try:
            return await client.get(url, kind=kw.pop("kind", "feed"), max_bytes=kw.pop("max_bytes", 100_000), **kw)
        finally:
            await client.aclose()
    return asyncio.run(run())


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    yield from local_server(threaded=True)


# --- SSRF guard -----------------------------------------------------------------------------------

def test_loopback_is_refused_by_default(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/feed").respond_with_data("x")
    with pytest.raises(FetchError) as err:
        get(make_settings(tmp_path, allowed_networks=""), server.url_for("/feed"))
    assert err.value.reason == "ssrf" and "127.0.0.1" in str(err.value)
    assert not server.log  # refused before connecting


def test_allow_list_lets_loopback_through_and_sends_user_agent(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/feed").respond_with_data("ok")
    resp = get(make_settings(tmp_path), server.url_for("/feed"))
    assert resp.status == 200 and resp.body == b"ok"
    agent = server.log[0][0].headers["User-Agent"]
    assert agent.startswith("newsflow/") and "+http" in agent


@pytest.mark.parametrize("address", ["169.254.169.254", "10.1.2.3", "192.168.0.1", "224.0.0.1", "::1",
                                     "::ffff:127.0.0.1", "fd00::1", "0.0.0.0"])
def test_private_link_local_and_multicast_addresses_are_refused(address: str, tmp_path: Path) -> None:
    policy = TargetPolicy.from_settings(make_settings(tmp_path, allowed_networks=""))
    assert not policy.address_allowed(ipaddress.ip_address(address), 80)
    assert policy.address_allowed(ipaddress.ip_address("93.184.216.34"), 80)


def test_check_happens_on_the_resolved_address_at_connect_time(
    server: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name is resolved once, in the connection layer, and the socket goes to the checked address.

    ``rebind.test`` does not exist in DNS: the fetch can only succeed if the
    connection uses the address our resolver returned (no second lookup).
    """
    answers = iter([["127.0.0.1"], ["127.0.0.1"]])
    calls: list[str] = []

    async def lookup(self: GuardedResolver, host: str, port: int) -> list[Any]:
        calls.append(host)
        return [ipaddress.ip_address(a) for a in next(answers)]

    monkeypatch.setattr(GuardedResolver, "lookup", lookup)
    server.expect_request("/feed").respond_with_data("via checked address")
    url = f"http://rebind.test:{server.port}/feed"
    with pytest.raises(FetchError, match=r"rebind\.test resolves to non-public address 127\.0\.0\.1"):
        get(make_settings(tmp_path, allowed_networks=""), url)
    resp = get(make_settings(tmp_path), url)
    assert resp.body == b"via checked address" and calls == ["rebind.test", "rebind.test"]
    assert server.log[0][0].headers["Host"] == f"rebind.test:{server.port}"  # Host header kept


def test_redirect_to_a_private_address_is_refused(server: HTTPServer, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, allowed_networks="localhost")  # only the name, not 127.0.0.1
    server.expect_request("/go").respond_with_data("", status=302, headers={"Location": f"http://127.0.0.1:{server.port}/in"})
    with pytest.raises(FetchError) as err:
        get(settings, f"http://localhost:{server.port}/go")
    assert err.value.reason == "ssrf"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://ftp.example/feed", "gopher://x/", "javascript:1"])
def test_other_schemes_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError) as err:
        get(make_settings(tmp_path), url)
    assert err.value.reason == "scheme"


def test_redirect_to_file_scheme_is_refused(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/go").respond_with_data("", status=301, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(FetchError) as err:
        get(make_settings(tmp_path), server.url_for("/go"))
    assert err.value.reason == "scheme"


# --- caps, encodings, timeouts, redirects -------------------------------------------------------

def test_body_over_the_cap_is_refused(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/big").respond_with_data(b"x" * 200_000)
    with pytest.raises(FetchError) as err:
        get(make_settings(tmp_path), server.url_for("/big"), max_bytes=100_000)
    assert err.value.reason == "size" and "Content-Length" in str(err.value)


def test_chunked_body_over_the_cap_is_refused(server: HTTPServer, tmp_path: Path) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"y" * 10_000

    server.expect_request("/stream").respond_with_handler(lambda r: Response(chunks(), mimetype="text/xml"))
    with pytest.raises(FetchError) as err:
        get(make_settings(tmp_path), server.url_for("/stream"), max_bytes=100_000)
    assert err.value.reason == "size"


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_body_is_decoded(server: HTTPServer, tmp_path: Path, encoding: str) -> None:
    text = b"<rss>" + b"a" * 5000 + b"</rss>"
    data = gzip.compress(text) if encoding == "gzip" else zlib.compress(text)
    server.expect_request("/z").respond_with_data(data, headers={"Content-Encoding": encoding})
    assert get(make_settings(tmp_path), server.url_for("/z")).body == text


def test_gzip_bomb_is_refused_without_inflating_it(server: HTTPServer, tmp_path: Path) -> None:
    bomb = gzip.compress(b"\0" * (300 * 1024 * 1024), compresslevel=9)  # 300 MB -> ~300 KB
    assert len(bomb) < 1_000_000
    server.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(FetchError) as err:
        get(make_settings(tmp_path), server.url_for("/bomb"), max_bytes=1_000_000)
    assert err.value.reason == "size" and "decompressed" in str(err.value)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KB: far below 300 MB


def test_unasked_content_encoding_is_refused(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/br").respond_with_data(b"\x0b\x02\x80", headers={"Content-Encoding": "br"})
    with pytest.raises(FetchError) as err:
        get(make_settings(tmp_path), server.url_for("/br"))
    assert err.value.reason == "encoding"


def test_trickling_server_is_cut_off_by_the_total_timeout(server: HTTPServer, tmp_path: Path) -> None:
    def trickle() -> Iterator[bytes]:
        for _ in range(100):
            time.sleep(0.1)
            yield b"<"

    server.expect_request("/slow").respond_with_handler(lambda r: Response(trickle(), mimetype="text/xml"))
    settings = make_settings(tmp_path, http_read_timeout_seconds=1, http_total_timeout_seconds=1.5)
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        get(settings, server.url_for("/slow"))
    assert err.value.reason == "timeout" and time.monotonic() - started < 4


def test_redirect_limit(server: HTTPServer, tmp_path: Path) -> None:
    for i in range(4):
        server.expect_request(f"/r{i}").respond_with_data("", status=302, headers={"Location": f"/r{i + 1}"})
    server.expect_request("/r4").respond_with_data("end")
    assert get(make_settings(tmp_path, max_redirects=4), server.url_for("/r0")).body == b"end"
    with pytest.raises(FetchError) as err:
        get(make_settings(tmp_path, max_redirects=3), server.url_for("/r0"))
    assert err.value.reason == "redirects"


def test_permanent_redirects_are_reported(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new"})
    server.expect_request("/tmp").respond_with_data("", status=302, headers={"Location": "/new"})
    server.expect_request("/new").respond_with_data("here")
    moved = get(make_settings(tmp_path), server.url_for("/old"))
    assert moved.redirected_permanently and moved.url.endswith("/new")
    assert not get(make_settings(tmp_path), server.url_for("/tmp")).redirected_permanently


def test_conditional_headers_are_sent(server: HTTPServer, tmp_path: Path) -> None:
    server.expect_request("/c", headers={"If-None-Match": '"v1"'}).respond_with_data("", status=304)
    resp = get(make_settings(tmp_path), server.url_for("/c"), headers={"If-None-Match": '"v1"'})
    assert resp.status == 304 and resp.body == b""


# --- politeness -----------------------------------------------------------------------------------

def test_host_gate_limits_concurrency_and_spaces_request_starts() -> None:
    async def run() -> tuple[int, list[float]]:
        gate = HostGate(concurrency=2, min_delay=0.05)
        active = peak = 0
        starts: list[float] = []

        async def one(url: str) -> None:
            nonlocal active, peak
            async with gate.slot(url):
                starts.append(time.monotonic())
                active += 1
                peak = max(peak, active)
                await asyncio.sleep(0.02)
                active -= 1

        await asyncio.gather(*(one(f"http://a.example/{i}") for i in range(6)))
        await asyncio.sleep(0.06)
        gate.prune()
        assert len(gate) == 0  # idle hosts are forgotten
        return peak, starts

    peak, starts = asyncio.run(run())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert peak <= 2 and min(gaps) >= 0.045


def test_host_gate_does_not_delay_other_hosts() -> None:
    async def run() -> float:
        gate = HostGate(concurrency=1, min_delay=1.0)
        started = time.monotonic()

        async def one(url: str) -> None:
            async with gate.slot(url):
                pass

        await asyncio.gather(*(one(f"http://h{i}.example/") for i in range(5)))
        return time.monotonic() - started

    assert asyncio.run(run()) < 0.5


def test_retry_after_seconds_and_date() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == pytest.approx(60)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
