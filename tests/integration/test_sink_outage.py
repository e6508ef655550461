"""PostgreSQL goes down under a running sink: it pauses, reports not-ready, reconnects, loses nothing.

The database is a private throwaway cluster (initdb + pg_ctl on a free port under a
temporary directory), so stopping it disturbs nobody. As root, the cluster runs as the
``postgres`` user (PostgreSQL refuses to run as root). Outside CI a machine without the
server binaries skips; in CI (``CI=true``) the fixture fails loudly instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from integration.test_sink_redelivery import free_port, snapshot
from services.common.health import Health
from services.common.kafka import ensure_topics, make_producer
from services.common.messages import Article, encode
from services.sink.backends import open_store
from services.sink.service import build
from services.sink.settings import SinkSettings
from tests.sink.test_store import IN_CI, make

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class PrivatePostgres:
    url: str
    data: Path
    log: Path
    pg_ctl: list[str]

    def start(self) -> None:
        subprocess.run([*self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"],
                       check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run([*self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"],
                       check=True, capture_output=True)


def _unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"private PostgreSQL cluster needed in CI: {why}")
    pytest.skip(why)


def _bindir() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if (Path(out) / "initdb").exists():
            return Path(out)
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = _bindir()
    if bindir is None:
        _unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
        raise AssertionError("unreachable")
    base = Path(tempfile.mkdtemp(prefix="newsflow-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: run it as postgres
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no postgres user to run the server")
        os.chown(base, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data, log = base / "data", base / "server.log"
    init = subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                           "--no-sync", "-E", "UTF8"], capture_output=True, text=True, check=False)
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        _unavailable(f"initdb failed: {init.stderr[-2000:]}")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{base}'\n"
                   "fsync = off\nshared_buffers = 16MB\n")
    pg = PrivatePostgres(f"postgresql://postgres@127.0.0.1:{port}/postgres", data, log,
                         [*as_user, str(bindir / "pg_ctl")])
    try:
        pg.start()
    except subprocess.CalledProcessError as exc:
        text = log.read_text() if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        _unavailable(f"pg_ctl start failed: {exc.stderr!r} {text[-2000:]}")
    try:
        yield pg
    finally:
        subprocess.run([*pg.pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # noqa: BLE001, S110 - the database may be down while we wait
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def storage_ok(health: Health) -> object:
    """The sink's "storage" readiness check (``/readyz`` is the conjunction of all checks)."""
    checks = health.report()["checks"]
    assert isinstance(checks, dict)
    return checks.get("storage")


def test_sink_survives_a_postgres_outage(topic_env: dict[str, str], private_postgres: PrivatePostgres,
                                          tmp_path: Path) -> None:
    settings = SinkSettings(**{k.removeprefix("NEWSFLOW_").lower(): v for k, v in topic_env.items()},
                            sink_url=private_postgres.url, batch_max_records=10, data_dir=tmp_path)
    ensure_topics(settings)
    producer = make_producer(settings)

    def produce(articles: list[Article]) -> None:
        for a in articles:
            producer.send(settings.topic_articles, key=a.id.encode(), value=encode(a))
        producer.flush()

    health = Health()
    stage = build(settings, health)
    runner = threading.Thread(target=stage.run, name="sink-under-test")
    runner.start()
    checker = open_store(private_postgres.url)
    try:
        before = [make(f"o{i:02}", f"Before the outage, report {i}.") for i in range(20)]
        produce(before)
        wait_for(lambda: checker.count() == 20, 60, "the first 20 articles")
        assert storage_ok(health) is True

        private_postgres.stop()
        during = [make(f"o{i:02}", f"During the outage, report {i}.") for i in range(20, 40)]
        during += [make("o03", "Before the outage, report 3, corrected.", fetched_at=datetime(2024, 6, 6, tzinfo=UTC))]
        produce(during)
        wait_for(lambda: storage_ok(health) is False, 30, "storage reported down")
        assert not health.ready() and runner.is_alive()

        private_postgres.start()
        wait_for(lambda: checker.count() == 40 and len(checker.history("o03")) == 2, 90, "every article stored")
        wait_for(lambda: storage_ok(health) is True, 30, "storage reported up again")
    finally:
        stage.stopping.set()
        runner.join(timeout=60)
        producer.close()

    reference = open_store(f"sqlite:///{tmp_path / 'reference.db'}")
    reference.write_batch(before + during)
    assert snapshot(checker) == snapshot(reference)
    checker.close()
    reference.close()
