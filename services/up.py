"""``newsflow up``: the whole pipeline on one machine.

Steps: start the embedded broker (unless a bootstrap address is configured)
-> start the demo site (with ``--demo``) -> create the topics -> start
fetcher, extractor and sink as separate processes -> record where everything
is in ``<data_dir>/run.json`` -> supervise (restart a crashed service, warn
about broker memory) -> on Ctrl-C/SIGTERM, or with ``--once`` when every
item is stored, stop the services in pipeline order, then the broker.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from pydantic import Field

from services.common import kafka
from services.common import offsets as ofs
from services.common.broker import EmbeddedBroker, free_port, port_is_free
from services.common.kafka import make_consumer
from services.common.runinfo import RUN_FILE, RunInfo, write_run_info
from services.common.settings import CommonSettings
from services.common.urls import article_id
from services.demo.server import DemoSite
from services.fetcher.state import FetcherState
from services.sink.backends import open_store

log = logging.getLogger("newsflow.up")

SERVICES = ("sink", "extractor", "fetcher")  # start order; stopped in reverse
DEFAULT_PORTS = {"fetcher": 9101, "extractor": 9102, "sink": 9103}


class UpSettings(CommonSettings):
    """Settings of the ``up`` supervisor (it passes the shared ones on to the services)."""

    kafka_bootstrap_servers: str = Field("", description="empty: start the embedded broker")
    sink_url: str = ""
    broker_memory_warn_bytes: int = Field(
        1024**3, ge=1, description="warn when the embedded broker's memory passes this"
    )
    once_timeout_seconds: float = Field(300, gt=0)
    metrics_base_port: int = Field(
        9101, ge=0, le=65533,
        description="metrics ports of fetcher, extractor, sink: this one and the next two where free; "
        "0: any free ports (several pipelines on one machine)",
    )


def pick_ports(host: str, base: int = 9101) -> dict[str, int]:
    """``base``, ``base + 1``, ``base + 2`` where free, else any free port (``base`` 0: any free ports)."""
    wanted = {svc: base + i if base else 0 for i, svc in enumerate(DEFAULT_PORTS)}
    return {svc: port if port and port_is_free(port, host) else free_port(host) for svc, port in wanted.items()}


class Supervisor:
    """Runs the three services as child processes and restarts one that dies."""

    def __init__(self, settings: UpSettings, info: RunInfo, env: dict[str, str], logs: Path) -> None:
        self.settings = settings
        self.info = info
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.finished: set[str] = set()
        self.restarts: dict[str, int] = {}
        self.not_before: dict[str, float] = {}
        self.started_at: dict[str, float] = {}

    STABLE_SECONDS = 60.0  # a service that ran this long before it died is not crash-looping

    def start(self, service: str) -> None:
        env = {**self.env, "NEWSFLOW_METRICS_PORT": str(self.info.metrics_ports[service])}
        out = open(self.logs / f"{service}.log", "ab")  # noqa: SIM115 - owned by the child
        self.procs[service] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", service],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self.info.pids[service] = self.procs[service].pid
        self.started_at[service] = time.monotonic()
        write_run_info(self.logs.parent, self.info)  # other commands read the current pids

    def check(self, once: bool) -> None:
        """Restart a service that exited (except a fetcher that finished its one pass)."""
        for service, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None or service in self.finished:
                continue
            if service == "fetcher" and once and code == 0:
                self.finished.add(service)
                continue
            if service not in self.not_before:
                if time.monotonic() - self.started_at.get(service, 0.0) > self.STABLE_SECONDS:
                    self.restarts[service] = 0
                n = self.restarts[service] = self.restarts.get(service, 0) + 1
                delay = min(2.0 ** (n - 1), 60.0)  # a crash loop backs off instead of spinning
                self.not_before[service] = time.monotonic() + delay
                log.error("%s exited with code %s; restarting it in %.0fs (see %s)", service, code,
                          delay, self.logs / f"{service}.log")
            if time.monotonic() >= self.not_before[service]:
                del self.not_before[service]
                self.start(service)

    def kill_all(self, grace: float = 5.0) -> None:
        """SIGTERM every service at once, SIGKILL what is still running after ``grace`` seconds.

        For when the broker's state is gone: nothing in flight can be made durable anyway, and
        an abrupt stop loses nothing (uncommitted input is redelivered, unpublished entries are
        polled again)."""
        running = [p for p in self.procs.values() if p.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def restart_all(self) -> None:
        """Stop every service (see :meth:`kill_all`) and start them again, in start order."""
        self.kill_all()
        self.not_before.clear()
        for service in SERVICES:
            if service not in self.finished:
                self.start(service)

    def stop_all(self, timeout: float = 30) -> None:
        """SIGTERM each service in pipeline order and wait: each drains, flushes and commits."""
        for service in reversed(SERVICES):
            proc = self.procs.get(service)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("%s did not stop within %ss; killing it", service, timeout)
                proc.kill()
                proc.wait()


def service_env(settings: UpSettings, info: RunInfo, feeds_file: Path, *, demo: bool, once: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env.update({
        "NEWSFLOW_DATA_DIR": str(settings.data_dir.resolve()),
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": info.bootstrap,
        "NEWSFLOW_SINK_URL": info.sink_url,
        "NEWSFLOW_FEEDS_FILE": str(feeds_file.resolve()),
        "NEWSFLOW_METRICS_HOST": settings.metrics_host,
        "NEWSFLOW_LOG_FORMAT": "json",
        "NEWSFLOW_TOPIC_PAGES": settings.topic_pages,
        "NEWSFLOW_TOPIC_ARTICLES": settings.topic_articles,
        "NEWSFLOW_TOPIC_DLQ": settings.topic_dlq,
        "NEWSFLOW_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "NEWSFLOW_ONCE": "true" if once else "false",
    })
    # Everything else the user configured (NEWSFLOW_POLL_INTERVAL_SECONDS, ...) passes through.
    for key, value in os.environ.items():
        if key.startswith("NEWSFLOW_") and key not in env:
            env[key] = value
    if demo:
        env["NEWSFLOW_ALLOW_PRIVATE_NETWORKS"] = "true"
        env.setdefault("NEWSFLOW_PER_HOST_MIN_DELAY_SECONDS", "0")  # the demo site is local: no politeness delay
    return env


def stored_ids(sink_url: str, wanted: set[str]) -> set[str]:
    store = open_store(sink_url)
    try:
        return {aid for aid in wanted if store.get(aid) is not None}
    finally:
        store.close()


def run_up(settings: UpSettings, feeds_file: Path | None, *, demo: bool, once: bool) -> int:
    """Run the pipeline until stopped; with ``once``, until every item is stored. Returns an exit code."""
    data_dir = settings.data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    sink_url = settings.sink_url or f"sqlite:///{data_dir / 'newsflow.db'}"
    broker: EmbeddedBroker | None = None
    site = None
    supervisor: Supervisor | None = None
    try:
        if settings.kafka_bootstrap_servers:
            bootstrap = settings.kafka_bootstrap_servers
        else:
            broker = EmbeddedBroker(log_path=logs / "broker.log").start()
            bootstrap = broker.bootstrap
        expected: set[str] = set()
        if demo:
            site = DemoSite(port=_demo_port(data_dir))
            site.start()
            (data_dir / "demo.port").write_text(str(site.base_url.rsplit(":", 1)[1]))
            feeds_file = data_dir / "demo-feeds.txt"
            feeds_file.write_text("\n".join(site.feed_urls()) + "\n")
            expected = {article_id(u) for u in site.article_urls()}
        if feeds_file is None:
            raise SystemExit("newsflow up: give --feeds FILE or --demo")
        info = RunInfo(bootstrap=bootstrap, embedded_broker=broker is not None, sink_url=sink_url,
                       metrics_ports=pick_ports(settings.metrics_host, settings.metrics_base_port),
                       demo_base_url=site.base_url if site else None)
        topic_settings = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
        kafka.wait_for_broker(topic_settings, timeout=60)
        kafka.ensure_topics(topic_settings)
        env = service_env(settings, info, feeds_file, demo=demo, once=once)
        supervisor = Supervisor(settings, info, env, logs)
        for service in SERVICES:
            supervisor.start(service)
        _print_banner(info, data_dir, feeds_file)
        return _supervise(supervisor, settings, broker, data_dir, expected, once)
    finally:
        if supervisor:
            supervisor.stop_all()
        if broker:
            broker.stop()
        if site:
            site.stop()
        (data_dir / RUN_FILE).unlink(missing_ok=True)


def _supervise(sup: Supervisor, settings: UpSettings, broker: EmbeddedBroker | None,
               data_dir: Path, expected: set[str], once: bool) -> int:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    deadline = time.monotonic() + settings.once_timeout_seconds
    warned = False
    checks = itertools.count(1)
    while not stop.wait(1.0):
        if broker and not broker.running():
            sup.kill_all()  # their producer ids, group memberships and positions belong to the dead broker
            revive_broker(broker, settings)
            sup.restart_all()
        sup.check(once)
        if broker and not warned and broker.rss_bytes() > settings.broker_memory_warn_bytes:
            warned = True
            log.warning("the embedded broker holds %d MB in memory and never frees it; "
                        "use Apache Kafka for always-on production (NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS)",
                        broker.rss_bytes() // 2**20)
        if not once:
            continue
        target = _once_target(sup, data_dir, expected)
        if target is not None:
            missing = target - stored_ids(sup.info.sink_url, target)
            if missing and next(checks) % 10 == 0:  # reading the DLQ costs a connection: not every second
                missing -= dead_lettered_ids(settings.model_copy(
                    update={"kafka_bootstrap_servers": sup.info.bootstrap}))
            if not missing:
                print(f"all {len(target)} items stored in {sup.info.sink_url}", flush=True)
                return 0
        if time.monotonic() > deadline:
            print(f"--once: not every item was stored within {settings.once_timeout_seconds:g}s; "
                  f"see {data_dir / 'logs'}", file=sys.stderr)
            return 1
    return 0


def revive_broker(broker: EmbeddedBroker, settings: UpSettings) -> None:
    """The embedded broker died: start it again on the same port and re-create the topics.

    Its memory storage starts empty: records not yet consumed, committed consumer offsets
    and the dead-letter topic are gone. The caller stops the services first and starts them
    afresh after: a client that outlives the broker carries state the new broker does not know
    (an idempotent producer's id, which kafka-python then cannot recover from; a consumer's
    position, which could skip the first records of the new, empty topic). The topics are
    created here, before any service runs, so they get their configured partitions.
    """
    log.error("the embedded broker exited (code %s); restarting it on %s. Its memory storage starts "
              "empty: records not yet consumed and the dead-letter topic are lost (production uses "
              "Apache Kafka, which keeps them on disk)", broker.returncode(), broker.bootstrap)
    broker.start()
    topic_settings = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap})
    kafka.wait_for_broker(topic_settings, timeout=60)
    created = kafka.ensure_topics(topic_settings)
    log.warning("embedded broker restarted on %s; topics re-created: %s", broker.bootstrap,
                ", ".join(created) or "none (already there)")


DEMO_PORT = 8765


def _demo_port(data_dir: Path) -> int:
    """The demo site's port: the one used last time in this data directory, so that article
    URLs (and so ids) stay the same across runs; else 8765; else any free port."""
    try:
        port = int((data_dir / "demo.port").read_text())
    except (OSError, ValueError):
        port = DEMO_PORT
    return port if port_is_free(port) else free_port()


def _once_target(sup: Supervisor, data_dir: Path, expected: set[str]) -> set[str] | None:
    """The ids ``--once`` waits for; None while unknown (the fetcher is still on its pass)."""
    if expected:
        return expected
    if "fetcher" not in sup.finished:
        return None
    return _published_ids(data_dir)


def dead_lettered_ids(settings: CommonSettings) -> set[str]:
    """Keys of every record in the dead-letter topic (read to the end, no consumer group)."""
    consumer = make_consumer(settings)
    try:
        return {rec.key.decode("utf-8", "replace") for rec in ofs.read_to_end(consumer, settings.topic_dlq) if rec.key}
    finally:
        consumer.close()


def _published_ids(data_dir: Path) -> set[str]:
    state = FetcherState(data_dir / "fetcher.db")
    try:
        return state.published_ids()
    finally:
        state.close()


def _print_banner(info: RunInfo, data_dir: Path, feeds_file: Path) -> None:
    broker = f"{info.bootstrap} ({'embedded tansu, memory only' if info.embedded_broker else 'external'})"
    lines = [
        "newsflow is running",
        f"  broker    {broker}",
        f"  feeds     {feeds_file}" + (f"  (demo site {info.demo_base_url})" if info.demo_base_url else ""),
        f"  storage   {info.sink_url}",
        f"  data      {data_dir}",
        f"  logs      {data_dir / 'logs'}/{{fetcher,extractor,sink,broker}}.log",
    ] + [f"  metrics   {svc:<9} http://127.0.0.1:{port}/metrics" for svc, port in info.metrics_ports.items()]
    print("\n".join(lines), flush=True)

