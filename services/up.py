"""``newsflow up``: the whole pipeline on one machine.

Steps: start the embedded broker (unless a bootstrap address is configured)
-> start the demo site (with ``--demo``) -> create the topics -> start
fetcher, extractor, story stage and sink as separate processes -> record where everything
is in ``<data_dir>/run.json`` -> supervise (restart a crashed service, warn
about broker memory) -> on Ctrl-C/SIGTERM, or with ``--once`` when every
item is stored, stop the services in pipeline order, then the broker.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import Field, SecretStr

from services.common import kafka
from services.common import offsets as ofs
from services.common.broker import EmbeddedBroker, free_port, port_is_free
from services.common.kafka import make_consumer
from services.common.runinfo import RUN_FILE, RunInfo, write_run_info
from services.common.settings import CommonSettings, ConfigError, load
from services.common.urls import article_id, redact_url
from services.demo.server import DemoSite
from services.extractor.settings import ExtractorSettings
from services.fetcher.feedlist import FeedListError, check_environment, read_feeds
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import FetcherState
from services.ops.status import never_succeeded_feeds
from services.sink.backends import open_store
from services.sink.settings import SinkSettings
from services.stories.settings import StoriesSettings

log = logging.getLogger("newsflow.up")

SERVICES = ("sink", "stories", "extractor", "fetcher")  # start order; stopped in reverse
DEFAULT_API_PORT = 9104
DEFAULT_PORTS = {"fetcher": 9101, "extractor": 9102, "sink": 9103, "stories": 9105}  # 9104: the sink's API
COMMANDS = {"stories": "stories-worker"}  # the `newsflow` sub-command of a service, when not its name


class UpSettings(CommonSettings):
    """Settings of the ``up`` supervisor (it passes the shared ones on to the services)."""
    kafka_bootstrap_servers: str = Field("", description="empty: start the embedded broker")
    sink_url: SecretStr = Field(
        SecretStr(""), description="storage of the pipeline (a secret: may hold a password); empty: SQLite in the data dir"
    )
    broker_memory_warn_bytes: int = Field(
        1024**3, ge=1, description="warn when the embedded broker's memory passes this"
    )
    feeds_file: Path | None = Field(None, description="the feed list when `up` gets no --feeds")
    once_timeout_seconds: float = Field(300, gt=0)
    metrics_base_port: int = Field(
        9101, ge=0, le=65533,
        description="metrics ports of fetcher, extractor, sink, stories: this one, +1, +2 and +4 where free; "
        "0: any free ports (several pipelines on one machine)",
    )


MAX_REPLICAS = 16


def command(service: str) -> list[str]:
    """How a service's process starts: ``python -m services.cli NAME``, as ``newsflow NAME`` (and the
    containers) run it. The command line imports only that sub-command's module (services/cli)."""
    return [sys.executable, "-m", "services.cli", COMMANDS.get(service, service)]


def parse_scale(values: Iterable[str]) -> dict[str, int]:
    """``["extractor=3", "sink=2"]`` -> ``{"extractor": 3, "sink": 2}``; a clear ``ValueError`` otherwise."""
    scale: dict[str, int] = {}
    for value in values:
        service, sep, count = value.partition("=")
        if not sep or service not in SERVICES or not count.strip().isdigit():
            raise ValueError(f"--scale {value!r}: give SERVICE=N with SERVICE one of {', '.join(SERVICES)}")
        if not 1 <= int(count) <= MAX_REPLICAS:
            raise ValueError(f"--scale {value!r}: N must be between 1 and {MAX_REPLICAS}")
        scale[service] = int(count)
    return scale


def instances(scale: Mapping[str, int]) -> dict[str, str]:
    """Process name -> service, in start order: ``fetcher`` for one replica, ``fetcher-1``,
    ``fetcher-2``, ... for several (each has its own log, metrics port and restarts)."""
    out: dict[str, str] = {}
    for service in SERVICES:
        count = scale.get(service, 1)
        for i in range(1, count + 1):
            out[service if count == 1 else f"{service}-{i}"] = service
    return out


def pick_ports(host: str, base: int = 9101, names: Mapping[str, str] | None = None) -> dict[str, int]:
    """The first replica of each service gets ``base`` + its offset in :data:`DEFAULT_PORTS` where
    free; the other replicas (and every busy or ``base`` 0 case) get any free port."""
    names = names if names is not None else {svc: svc for svc in SERVICES}
    ports: dict[str, int] = {}
    for name, service in names.items():
        first = service not in {names[n] for n in ports}
        wanted = base + DEFAULT_PORTS[service] - min(DEFAULT_PORTS.values()) if base and first else 0
        ports[name] = wanted if wanted and port_is_free(wanted, host) else free_port(host)
    return ports


SERVICE_SETTINGS: dict[str, type[CommonSettings]] = {
    "fetcher": FetcherSettings, "extractor": ExtractorSettings, "stories": StoriesSettings, "sink": SinkSettings,
}


def pick_api(host: str) -> tuple[dict[str, str], str | None]:
    """The sink API's port: NEWSFLOW_API_PORT when set, else 9104 where free, else any free port
    (a second pipeline on the machine must not answer with the first one's articles). Returns the
    variables for the sink and the API's URL (None when NEWSFLOW_API_ENABLED is false)."""
    sink = load(SinkSettings)
    if not sink.api_enabled:
        return {}, None
    wanted = sink.api_port if "api_port" in sink.model_fields_set else DEFAULT_API_PORT
    port = wanted if wanted and port_is_free(wanted, sink.api_host) else free_port(sink.api_host)
    shown = "127.0.0.1" if sink.api_host in ("0.0.0.0", "") else sink.api_host
    return {"NEWSFLOW_API_PORT": str(port)}, f"http://{shown}:{port}"


def check_config(feeds_file: Path | None) -> None:
    """What would stop a service at start-up, found before anything starts: every service's
    settings (from the NEWSFLOW_* environment they will inherit) and the feed list. Raises
    :class:`ConfigError` with one message per problem."""
    problems: list[str] = []
    for cls in dict.fromkeys(SERVICE_SETTINGS.values()):
        try:
            load(cls)
        except ConfigError as exc:
            problems.extend(line.strip() for line in str(exc).splitlines()[1:])
    if feeds_file is not None:
        try:
            check_environment(read_feeds(feeds_file), os.environ)  # per-feed options' env:NAME variables too
        except FeedListError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(dict.fromkeys(problems)))


def last_error_line(log_file: Path, max_bytes: int = 64 * 1024) -> str | None:
    """The last error a service logged (a JSON log's ``ERROR`` message, else a traceback's last line)."""
    try:
        with log_file.open("rb") as f:
            f.seek(max(0, log_file.stat().st_size - max_bytes))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and record.get("level") in ("ERROR", "CRITICAL"):
            return str(record.get("message", ""))[:300]
        if line and not line.startswith((" ", "\t", "Traceback")) and ("Error" in line or "Exception" in line):
            return line.strip()[:300]
    return None


class Supervisor:
    """Runs the services' processes (``names``: process name -> service) and restarts one that dies."""
    def __init__(self, settings: UpSettings, info: RunInfo, env: dict[str, str], logs: Path,
                 names: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.info = info
        self.env = env
        self.logs = logs
        self.names = dict(names) if names is not None else {svc: svc for svc in SERVICES}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.finished: set[str] = set()
        self.restarts: dict[str, int] = {}
        self.not_before: dict[str, float] = {}
        self.started_at: dict[str, float] = {}

    STABLE_SECONDS = 60.0  # a service that ran this long before it died is not crash-looping

    def start(self, name: str) -> None:
        """Start process ``name`` (a service, or one replica of it)."""
        service = self.names[name]
        env = {**self.env, "NEWSFLOW_METRICS_PORT": str(self.info.metrics_ports[name])}
        if service == "sink" and name not in (service, f"{service}-1"):
            env["NEWSFLOW_API_ENABLED"] = "false"  # one API per pipeline: the first sink replica serves it
        out = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        self.procs[name] = subprocess.Popen(
            command(service),
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self.info.pids[name] = self.procs[name].pid
        self.started_at[name] = time.monotonic()
        write_run_info(self.logs.parent, self.info)  # other commands read the current pids

    def start_all(self) -> None:
        for name in self.names:
            if name not in self.finished:
                self.start(name)

    def fetchers_finished(self) -> bool:
        """Every fetcher process finished its one pass (``--once``)."""
        return all(name in self.finished for name, service in self.names.items() if service == "fetcher")

    def check(self, once: bool) -> None:
        """Restart a process that exited (except a fetcher that finished its one pass)."""
        for name, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None or name in self.finished:
                continue
            if self.names[name] == "fetcher" and once and code == 0:
                self.finished.add(name)
                continue
            if name not in self.not_before:
                if time.monotonic() - self.started_at.get(name, 0.0) > self.STABLE_SECONDS:
                    self.restarts[name] = 0
                n = self.restarts[name] = self.restarts.get(name, 0) + 1
                delay = min(2.0 ** (n - 1), 60.0)  # a crash loop backs off instead of spinning
                self.not_before[name] = time.monotonic() + delay
                reason = last_error_line(self.logs / f"{name}.log")
                log.error("%s exited with code %s%s; restarting it in %.0fs (see %s)", name, code,
                          f": {reason}" if reason else "", delay, self.logs / f"{name}.log")
            if time.monotonic() >= self.not_before[name]:
                del self.not_before[name]
                self.start(name)

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
        self.start_all()

    def stop_all(self, timeout: float = 30) -> bool:
        """SIGTERM each service's processes in pipeline order and wait: each drains, flushes and commits.
        True when every process stopped by itself (none had to be killed)."""
        clean = True
        for service in reversed(SERVICES):
            running = [(name, proc) for name, proc in self.procs.items()
                       if self.names[name] == service and proc.poll() is None]
            for _, proc in running:
                proc.send_signal(signal.SIGTERM)
            for name, proc in running:
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    log.error("%s did not stop within %ss; killing it", name, timeout)
                    proc.kill()
                    proc.wait()
                    clean = False
        return clean


def service_env(settings: UpSettings, info: RunInfo, feeds_file: Path, *, demo: bool, once: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env.update({
        "NEWSFLOW_DATA_DIR": str(settings.data_dir.resolve()),
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": info.bootstrap,
        "NEWSFLOW_FEEDS_FILE": str(feeds_file.resolve()),
        "NEWSFLOW_METRICS_HOST": settings.metrics_host,
        "NEWSFLOW_LOG_FORMAT": "json",
        "NEWSFLOW_TOPIC_PAGES": settings.topic_pages,
        "NEWSFLOW_TOPIC_EXTRACTED": settings.topic_extracted,
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


def run_up(settings: UpSettings, feeds_file: Path | None, *, demo: bool, once: bool,
           scale: Mapping[str, int] | None = None) -> int:
    """Run the pipeline until stopped; with ``once``, until every item is stored. ``scale``: how many
    processes of a service to run (default 1 each). Returns an exit code."""
    names = instances(scale or {})
    data_dir = settings.data_dir.resolve()
    logs = data_dir / "logs"
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # owner-only when created here
    logs.mkdir(mode=0o700, exist_ok=True)
    sink_url = settings.sink_url.get_secret_value() or f"sqlite:///{data_dir / 'newsflow.db'}"
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
        info = RunInfo(bootstrap=bootstrap, embedded_broker=broker is not None, sink_url=redact_url(sink_url),
                       metrics_ports=pick_ports(settings.metrics_host, settings.metrics_base_port, names),
                       demo_base_url=site.base_url if site else None)
        api_env, info.api_url = pick_api(settings.metrics_host)
        topic_settings = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
        kafka.wait_for_broker(topic_settings, timeout=60)
        kafka.ensure_topics(topic_settings)
        env = service_env(settings, info, feeds_file, demo=demo, once=once) | {"NEWSFLOW_SINK_URL": sink_url} | api_env
        supervisor = Supervisor(settings, info, env, logs, names)
        supervisor.start_all()
        _print_banner(info, data_dir, feeds_file)
        return _supervise(supervisor, settings, broker, data_dir, expected, once, sink_url)
    finally:
        if supervisor:
            clean = supervisor.stop_all()
            print("newsflow stopped cleanly" if clean else
                  f"newsflow stopped; a service had to be killed (see {logs})", flush=True)
        if broker:
            broker.stop()
        if site:
            site.stop()
        (data_dir / RUN_FILE).unlink(missing_ok=True)


def _supervise(sup: Supervisor, settings: UpSettings, broker: EmbeddedBroker | None,
               data_dir: Path, expected: set[str], once: bool, sink_url: str) -> int:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    deadline = time.monotonic() + settings.once_timeout_seconds
    warned = False
    checks = itertools.count(1)
    feed_checks, announced = itertools.count(1), set[str]()
    while not stop.wait(1.0):
        if broker and not broker.running():
            sup.kill_all()  # their producer ids, group memberships and positions belong to the dead broker
            revive_broker(broker, settings)
            sup.restart_all()
        sup.check(once)
        if next(feed_checks) % 15 == 0:  # every ~15 s: a refused or dead feed is said on the console
            _say_failing_feeds(settings, announced)
        if broker and not warned and broker.rss_bytes() > settings.broker_memory_warn_bytes:
            warned = True
            log.warning("the embedded broker holds %d MB in memory and never frees it; "
                        "use Apache Kafka for always-on production (NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS)",
                        broker.rss_bytes() // 2**20)
        if not once:
            continue
        target = _once_target(sup, data_dir, expected)
        if target is not None:
            missing = target - stored_ids(sink_url, target)
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
    print("stopping newsflow: each service finishes its batch, flushes and commits ...", flush=True)
    return 0


def _say_failing_feeds(settings: UpSettings, announced: set[str]) -> None:
    """Print, once each, the feeds that were polled and never succeeded (with why: a refusal names
    the setting that allows it), so a refused feed does not fail silently."""
    try:
        failing = never_succeeded_feeds(load(FetcherSettings, data_dir=settings.data_dir))
    except ConfigError:
        return  # checked before start; nothing new to say
    for line in failing:
        if line not in announced:
            announced.add(line)
            print(f"feed never succeeded: {line} (`newsflow feeds status` for more)", flush=True)


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
    if not sup.fetchers_finished():
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
        f"  logs      {data_dir / 'logs'}/{{{','.join([*info.metrics_ports, 'broker'])}}}.log",
    ] + [f"  metrics   {svc:<11} http://127.0.0.1:{port}/metrics" for svc, port in info.metrics_ports.items()]
    lines.append(f"  api       {info.api_url}  (docs {info.api_url}/docs)" if info.api_url else "  api       off")
    lines.append("Ctrl-C stops every service cleanly")
    print("\n".join(lines), flush=True)

