"""``newsflow feeds status|poll|check`` through the real CLI (a subprocess), on a real state file.

* A refused feed names the setting that allows it, in ``feeds check`` and in the feed's state;
  the suggested value works (issue 16.5).
* ``feeds status`` shows state, last poll and outcome, next poll, errors, entries/day,
  validators and leases, and marks feeds that never succeeded; ``feeds poll`` makes feeds due
  now in the shared state, for whichever running replica claims them first (issue 16.4).
* Stored schedules obey lowered/raised interval bounds at the next start (issue 16.4).
* ``feeds check`` on a site page says it is an HTML page and checks its feeds; exit 0 when they
  are fine (issue 16.13).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from services.cli import main
from services.fetcher.http import HttpClient
from services.fetcher.parse import ParsePool
from services.fetcher.poller import Candidate, FeedPoller
from services.fetcher.service import Fetcher
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FetcherState
from tests.fetcher.helpers import local_server

ROOT = Path(__file__).resolve().parents[2]
RSS = ('<?xml version="1.0"?><rss version="2.0"><channel><title>Local</title>'
       "<item><title>Hello</title><link>https://l.example/1</link></item></channel></rss>")
PAGE = '<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml"></head><body>hi</body></html>'


def cli(*args: str, data_dir: Path | None = None, allowed: str = "127.0.0.1/32") -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
           "NEWSFLOW_ALLOWED_NETWORKS": allowed}
    if data_dir is not None:
        env["NEWSFLOW_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "services.cli", "feeds", *args], capture_output=True, text=True,
                          env=env, cwd=data_dir.parent if data_dir else ROOT, timeout=120)


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    yield from local_server()


def poll_once(data_dir: Path, url: str, allowed: str) -> str:
    """One real poll of ``url`` (real client, parser, state file) with a publisher that accepts everything."""
    settings = FetcherSettings(data_dir=data_dir, allowed_networks=allowed, per_host_min_delay_seconds=0,
                               parse_workers=1)

    async def publish(cands: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        return cands, []

    async def run() -> str:
        state = FetcherState(data_dir / "fetcher.db")
        http = HttpClient(settings)
        try:
            state.sync_feeds([url])
            feed = state.feed(url)
            assert feed is not None
            return await FeedPoller(settings, http, state, publish, ParsePool(1)).poll(feed)
        finally:
            await http.aclose()
            state.close()
    return asyncio.run(run())


# --- 16.5: a refusal names the setting ------------------------------------------------------------

def test_a_refused_feed_names_the_setting_and_the_suggestion_works(server: HTTPServer) -> None:
    server.expect_request("/feed").respond_with_data(RSS, content_type="application/rss+xml")
    refused = cli("check", server.url_for("/feed"), allowed="")
    suggestion = f"NEWSFLOW_ALLOWED_NETWORKS=127.0.0.1/32:{server.port}"
    assert refused.returncode == 1 and suggestion in refused.stdout, refused.stdout
    assert not server.log, "refused before connecting"
    allowed = cli("check", server.url_for("/feed"), allowed=suggestion.partition("=")[2])
    assert allowed.returncode == 0 and "rss20 'Local': 1 items" in allowed.stdout, allowed.stdout + allowed.stderr


def test_feeds_status_shows_each_feed_and_the_ones_that_never_succeeded(server: HTTPServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server.expect_request("/ok").respond_with_data(RSS, content_type="application/rss+xml", headers={"ETag": '"v1"'})
    server.expect_request("/refused").respond_with_data(RSS, content_type="application/rss+xml")
    ok, refused = server.url_for("/ok"), server.url_for("/refused")
    assert poll_once(data, ok, "127.0.0.1/32") == "new"
    assert poll_once(data, refused, "") == "error"  # the guard on: a loopback feed is refused

    table = cli("status", data_dir=data)
    assert table.returncode == 0, table.stderr
    assert "2 feeds: 1 active, 1 backing_off; 1 never succeeded (marked *)" in table.stdout
    refused_line = next(line for line in table.stdout.splitlines() if refused in line)
    assert refused_line.startswith("backing_off*") and "NEWSFLOW_ALLOWED_NETWORKS=127.0.0.1/32:" in refused_line

    one = cli("status", refused, data_dir=data)
    assert one.returncode == 0 and "NEVER SUCCEEDED" in one.stdout and "errors in a row: 1" in one.stdout
    assert f"NEWSFLOW_ALLOWED_NETWORKS=127.0.0.1/32:{server.port}" in one.stdout
    as_json = json.loads(cli("status", "--json", data_dir=data).stdout)
    assert {f["url"]: f["never_succeeded"] for f in as_json} == {ok: False, refused: True}

    env = {"NEWSFLOW_DATA_DIR": str(data)}  # the same command in-process (each subprocess costs seconds)
    good = CliRunner().invoke(main, ["feeds", "status", ok], env=env)
    assert "ok (HTTP 200)" in good.output and 'ETag "v1"' in good.output and "entries/day" in good.output
    assert "NEVER" not in good.output and "next poll:      2" in good.output
    missing = CliRunner().invoke(main, ["feeds", "status", "http://nowhere.example/feed"], env=env)
    assert missing.exit_code == 1 and "not in the fetcher's state" in missing.output


def test_feeds_status_without_any_state_says_what_to_run(tmp_path: Path) -> None:
    result = cli("status", data_dir=tmp_path / "data")
    assert result.returncode == 3 and "start the fetcher" in result.stderr and "Traceback" not in result.stderr


# --- 16.4: poll now, and interval bounds on stored schedules --------------------------------------

def test_feeds_poll_makes_feeds_due_for_any_replica(tmp_path: Path) -> None:
    data = tmp_path / "data"
    state = FetcherState(data / "fetcher.db", owner="replica-a")
    urls = ["http://a.example/feed", "http://b.example/feed", "http://c.example/feed"]
    state.replace_feed_list(urls, time.time())
    later = time.time() + 86_400
    for url in urls:
        state.db.execute("UPDATE feeds SET next_poll_at = ? WHERE url = ?", (later, url))
    state.db.execute("UPDATE feeds SET lease_owner = 'replica-a', lease_until = ? WHERE url = ?", (later, urls[2]))

    result = cli("poll", urls[0], urls[2], "http://nowhere.example/", data_dir=data)
    assert result.returncode == 1 and "1 feed(s) due now" in result.stdout
    assert "http://nowhere.example/: not in the fetcher's state" in result.stderr
    assert f"{urls[2]}: not made due: being polled now by replica-a" in result.stderr
    feed = state.feed(urls[0])
    assert feed is not None and feed.next_poll_at <= time.time()
    claimed, _ = FetcherState(data / "fetcher.db", owner="replica-b").claim_due(time.time(), 10)
    assert [f.url for f in claimed] == [urls[0]]  # whichever replica claims first polls it

    everything = cli("poll", "--all", data_dir=data)
    assert everything.returncode == 0 and "1 feed(s) due now" in everything.stdout  # a: leased by b now; c: leased
    assert CliRunner().invoke(main, ["feeds", "poll"]).exit_code == 2  # neither URLs nor --all
    state.close()


def test_lowered_max_interval_applies_to_stored_schedules_at_start(tmp_path: Path) -> None:
    now = time.time()
    state = FetcherState(tmp_path / "fetcher.db")
    state.replace_feed_list(["http://daily.example/", "http://dead.example/", "http://fresh.example/"], now)
    state.db.execute("UPDATE feeds SET next_poll_at = ?, last_polled_at = ? WHERE url = 'http://daily.example/'",
                     (now + 86_400, now - 60))
    state.db.execute("UPDATE feeds SET next_poll_at = ?, state = 'dead' WHERE url = 'http://dead.example/'",
                     (now + 30 * 86_400,))
    state.db.execute("UPDATE feeds SET next_poll_at = ?, last_polled_at = ? WHERE url = 'http://fresh.example/'",
                     (now + 30, now - 30))
    state.close()
    settings = FetcherSettings(data_dir=tmp_path, max_poll_interval_seconds=3600, min_poll_interval_seconds=600,
                               dead_probe_interval_seconds=7 * 86_400, feeds_file=tmp_path / "none.txt")
    fetcher = Fetcher(settings, producer=Any, health=Any)  # type: ignore[arg-type]
    try:
        fetcher._clamp_schedules()
        by_url = {f.url: f.next_poll_at for f in fetcher.state.feeds()}
    finally:
        fetcher.state.close()
    assert by_url["http://daily.example/"] <= time.time() + 3600  # was a day away
    assert 6 * 86_400 < by_url["http://dead.example/"] <= time.time() + 7 * 86_400  # dead: the probe interval
    assert by_url["http://fresh.example/"] >= now - 30 + 600 - 1  # raised minimum: last poll + min


# --- 16.13: a site page is not an error -------------------------------------------------------------

def test_check_a_site_page_exits_0_when_its_feeds_are_fine(server: HTTPServer) -> None:
    server.expect_request("/").respond_with_data(PAGE, content_type="text/html")
    server.expect_request("/feed.xml").respond_with_data(RSS, content_type="application/rss+xml")
    result = cli("check", server.url_for("/"))
    assert result.returncode == 0, result.stdout
    assert f"{server.url_for('/')}: an HTML page, not a feed; it announces 1 feed(s)" in result.stdout
    assert "ERROR" not in result.stdout and "rss20 'Local': 1 items" in result.stdout
