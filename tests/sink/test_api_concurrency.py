"""A cheap request is answered while expensive reads hold the API's store, on both backends.

Expensive searches run on the scan lane of the store's read connections (``ReadLanes``: all but
one); a lookup by id takes the connection left over. The test asserts an ordering, not a time:
several expensive requests are running (the store's ``scan`` reads-in-progress gauge says so),
then a cheap request is sent, and it must come back before any of them does. Before the read
pool, every store call took one lock and the cheap request waited behind all of them.

What keeps the expensive reads running:

* SQLite: real work, the attack of issue 15 (``a* OR b* … OR z*``, every article matches, ranked
  and with a snippet) on a few hundred articles, with the query limits lifted for the test.
* PostgreSQL: its full-text search is cheap at this size, so the reads are held in the database
  instead: the test locks ``article_tags`` (``ACCESS EXCLUSIVE``) and the expensive requests
  filter by tag, so their statements run (blocked) until the test commits. To the API that is the
  same as a slow statement: a read connection and a worker thread busy.
"""

from __future__ import annotations

import random
import string
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

from services.sink import metrics, textquery
from services.sink.api import ApiServer, open_api_store
from services.sink.backends import open_store
from services.sink.settings import SinkSettings
from tests.sink.test_store import make, store_url  # noqa: F401 - store_url is the per-backend fixture

READERS = 4
EXPENSIVE = READERS  # one more than the scan lane holds: the last one waits for a slot
ATTACK = " OR ".join(f"{c}*" for c in string.ascii_lowercase)


def scans_running() -> float:
    (family,) = metrics.STORE_READS_IN_PROGRESS.collect()
    return sum(s.value for s in family.samples if s.labels.get("lane") == "scan")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def fill(url: str, articles: int) -> None:
    rnd = random.Random(15)
    words = ["".join(rnd.choices(string.ascii_lowercase, k=rnd.randint(3, 9))) for _ in range(5000)]
    store = open_store(url)
    try:
        store.write_batch([make(f"a{i}", "Kharkiv " + " ".join(rnd.choices(words, k=800)), content_hash=f"h{i}")
                           for i in range(articles)])
    finally:
        store.close()


@contextmanager
def tags_locked(url: str) -> Iterator[None]:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(url) as admin:  # not autocommit: the lock lasts until the block ends
        admin.execute("LOCK TABLE article_tags IN ACCESS EXCLUSIVE MODE")
        yield
        admin.rollback()


@pytest.fixture
def served(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, ApiServer]]:  # noqa: F811
    sqlite = store_url.startswith("sqlite")
    fill(store_url, 400 if sqlite else 50)
    for name, value in (("MIN_PREFIX_CHARS", 1), ("MAX_PREFIX_TERMS", 26), ("MAX_OPERATORS", 25)):
        monkeypatch.setattr(textquery, name, value)  # the attack, as a stand-in for any expensive query
    settings = SinkSettings(sink_url=store_url, api_port=0, api_read_connections=READERS,  # type: ignore[arg-type]
                            api_query_timeout_seconds=120, api_rate_burst=100)
    server = ApiServer(open_api_store(settings), settings).start()
    yield store_url, server
    server.stop()


def test_a_cheap_request_completes_before_the_expensive_ones(served: tuple[str, ApiServer]) -> None:
    url, server = served
    sqlite = url.startswith("sqlite")
    expensive = {"q": ATTACK} if sqlite else {"q": "Kharkiv", "place": "Kharkiv"}
    hold = contextmanager(lambda: iter([None]))() if sqlite else tags_locked(url)
    with httpx.Client(base_url=server.url, timeout=120) as client, ThreadPoolExecutor(EXPENSIVE) as pool:
        with hold:
            running: list[Future[httpx.Response]] = [
                pool.submit(client.get, "/articles", params={**expensive, "limit": 200}) for _ in range(EXPENSIVE)]
            wait_for(lambda: scans_running() == READERS - 1, f"{READERS - 1} expensive reads to be running")
            missing = client.get("/articles/no-such-article")
            listed = client.get("/articles/a1")
            assert not any(f.done() for f in running), "an expensive request finished before the cheap ones"
            assert missing.status_code == 404 and listed.status_code == 200
        responses = [f.result() for f in running]
    assert [r.status_code for r in responses] == [200] * EXPENSIVE
    assert all(r.json()["items"] for r in responses)


def test_the_scan_lane_leaves_a_connection_for_lookups(store_url: str) -> None:  # noqa: F811
    store = open_store(store_url, readers=2)
    try:
        assert store.lanes.scans == 1  # type: ignore[attr-defined]
        release = threading.Event()
        with store.lanes.lane(scan=True):  # type: ignore[attr-defined]
            holder = threading.Thread(target=release.wait)
            holder.start()
            assert store.get("nothing") is None  # a lookup does not wait for the scan
            release.set()
            holder.join()
    finally:
        store.close()
