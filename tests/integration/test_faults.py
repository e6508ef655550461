"""Fault injection on a real pipeline: nothing lost, nothing doubled.

Every test runs ``newsflow up --feeds`` (embedded tansu broker, fetcher, extractor and
sink as separate processes) against a local generated news site (:class:`NewsSite`)
and breaks something while articles flow:

* kill -9 each service in turn, several times: the supervisor restarts it;
* kill -9 the broker: ``up`` restarts it on the same port (memory storage: empty),
  re-creates the topics and restarts the services; new items flow again;
* PostgreSQL (a private throwaway cluster) down for 30 s: the sink pauses and catches up;
* the extractor paused (SIGSTOP) for a minute: lag rises, then falls to zero; nothing is
  dropped and memory stays bounded.

At the end the store must hold exactly the expected ids: compared as sets (none lost, none
extra) and as a list (no id twice), and every row at revision 1 (a redelivered page
re-extracts to the same content hash, so it is not a new revision).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hostile.pipeline import UpRun, ids_of, tree_rss_bytes
from hostile.sites import NewsSite, wait_until
from kafka import KafkaConsumer, TopicPartition

from integration.test_sink_outage import PrivatePostgres, private_postgres  # noqa: F401 - fixture
from services.common.kafka import make_admin
from services.common.offsets import committed_offsets, lag
from services.common.settings import CommonSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite(feeds=20, per_feed=10) as s:
        yield s  # type: ignore[misc]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def assert_exactly(run: UpRun, expected: set[str]) -> None:
    stored = run.stored_ids()
    assert len(stored) == len(set(stored)), "an article id is stored twice"
    assert set(stored) - expected == set(), "stored articles nobody published"
    assert expected - set(stored) == set(), f"{len(expected - set(stored))} articles lost"
    assert all(rev == 1 for _, rev in run.revisions()), "a redelivery created a new revision"


def wait_stored(run: UpRun, expected: set[str], timeout: float) -> None:
    try:
        wait_until(lambda: set(run.stored_ids()) >= expected, timeout, f"{len(expected)} articles stored")
    except AssertionError:
        missing = len(expected - set(run.stored_ids()))
        raise AssertionError(f"{missing} of {len(expected)} articles not stored within {timeout:.0f}s\n"
                             f"{run.tail()}") from None


def test_kill_9_each_service_in_turn(site: NewsSite, run_dir: Path) -> None:
    run = UpRun(run_dir, site.feed_urls()).start()
    try:
        killed: list[str] = []
        for round_ in range(3):
            for service in ("fetcher", "extractor", "sink"):
                site.publish(20)  # new items keep arriving while services die
                wait_until(lambda s=service: _running(run, s), 30, f"{service} running again")
                time.sleep(1.5 if round_ else 4)  # let it get some work in hand first
                run.kill(service)
                killed.append(service)
        expected = ids_of(site.article_urls())
        wait_stored(run, expected, 120)
        time.sleep(3)  # any late duplicate would land now
        assert_exactly(run, expected)
        assert len(expected) == 200 + 9 * 20 and len(killed) == 9
        assert run.proc is not None and run.proc.poll() is None, "the supervisor itself died"
    finally:
        run.stop()


def test_broker_restart_recovers(site: NewsSite, run_dir: Path) -> None:
    run = UpRun(run_dir, site.feed_urls()).start()
    try:
        first = ids_of(site.article_urls())
        wait_stored(run, first, 90)
        old_pids = {s: run.pid(s) for s in ("fetcher", "extractor", "sink")}
        os.kill(run.broker_pid(), signal.SIGKILL)
        wait_until(lambda: "embedded broker restarted" in run.out.read_text(), 60, "up restarting the broker")
        wait_until(lambda: all(_running(run, s) and run.pid(s) != old_pids[s] for s in old_pids), 30,
                   "fresh service processes")
        site.publish(60)
        expected = ids_of(site.article_urls())
        wait_stored(run, expected, 120)
        time.sleep(2)
        assert_exactly(run, expected)
        text = run.out.read_text()
        assert "records not yet consumed and the dead-letter topic are lost" in text
    finally:
        run.stop()


def test_postgres_down_for_30_seconds(site: NewsSite, run_dir: Path,
                                      private_postgres: PrivatePostgres) -> None:  # noqa: F811 - fixture
    run = UpRun(run_dir, site.feed_urls(), env={"NEWSFLOW_SINK_URL": private_postgres.url}).start()

    def stored() -> list[str]:
        try:
            with psycopg.connect(private_postgres.url, connect_timeout=3) as conn:
                return [r[0] for r in conn.execute("SELECT id FROM articles")]
        except psycopg.Error:
            return []

    try:
        first = ids_of(site.article_urls())
        wait_until(lambda: set(stored()) >= first, 90, "the first articles in PostgreSQL")
        private_postgres.stop()
        down_at = time.monotonic()
        site.publish(100)
        expected = ids_of(site.article_urls())
        time.sleep(max(0.0, 30 - (time.monotonic() - down_at)))
        assert _running(run, "sink"), "the sink died while the database was down"
        private_postgres.start()
        wait_until(lambda: set(stored()) >= expected, 120, f"all {len(expected)} articles in PostgreSQL")
        time.sleep(2)
        rows = stored()
        assert len(rows) == len(set(rows)) and set(rows) == expected
        sink_log = (run_dir / "logs" / "sink.log").read_text()
        assert "write failed, pausing input" in sink_log
    finally:
        run.stop()


def test_paused_extractor_lag_rises_and_falls(site: NewsSite, run_dir: Path) -> None:
    run = UpRun(run_dir, site.feed_urls()).start()
    settings = CommonSettings(kafka_bootstrap_servers=str(run.run_info()["bootstrap"]))
    try:
        first = ids_of(site.article_urls())
        wait_stored(run, first, 90)
        rss_before = tree_rss_bytes(run.pid("extractor"))
        extractor = run.pid("extractor")
        os.kill(extractor, signal.SIGSTOP)
        try:
            lags = []
            for _ in range(6):  # a minute, with new items every 10 s
                site.publish(40)
                time.sleep(10)
                lags.append(pages_lag(settings))
            rss_fetcher = tree_rss_bytes(run.pid("fetcher"))
        finally:
            os.kill(extractor, signal.SIGCONT)
        expected = ids_of(site.article_urls())
        assert max(lags) >= 150, f"lag did not rise while the extractor was paused: {lags}"
        wait_stored(run, expected, 120)
        wait_until(lambda: pages_lag(settings) == 0, 30, "the extractor's lag back to 0")
        assert run.pid("extractor") == extractor, "the extractor was restarted instead of resuming"
        assert_exactly(run, expected)
        rss_after = tree_rss_bytes(extractor)
        print(f"\nlag while paused: {lags}; extractor RSS {rss_before >> 20} -> {rss_after >> 20} MB; "
              f"fetcher RSS while paused {rss_fetcher >> 20} MB")
        assert rss_after < rss_before + 150 * 2**20, "extractor memory grew by more than 150 MB"
        assert rss_fetcher < 300 * 2**20
    finally:
        run.stop()


def pages_lag(settings: CommonSettings) -> int:
    """Pages produced but not committed by the extractor's group (clamped per partition: tansu's
    end offsets undercount a little, see services/common/offsets.py)."""
    admin = make_admin(settings)
    consumer = KafkaConsumer(**settings.kafka_client_config())
    try:
        tps = [TopicPartition(settings.topic_pages, p) for p in consumer.partitions_for_topic(settings.topic_pages)]
        end = {tp.partition: int(off) for tp, off in consumer.end_offsets(tps).items()}
        committed = committed_offsets(admin, "newsflow-extractor", settings.topic_pages)
        return sum(lag(end[p], committed.get(p)) for p in end)
    finally:
        consumer.close()
        admin.close()


def _running(run: UpRun, service: str) -> bool:
    try:
        run.pid(service)
    except LookupError:
        return False
    return True
