"""``newsflow status``: consumer lag per group and partition, and each service's health.

Lag: for every consumer group that has committed offsets on a newsflow
topic (the live groups, and replay groups), per partition: committed offset,
end offset and ``max(0, end - committed)`` (the embedded broker undercounts
end offsets, so lag is approximate and clamped at 0).

Services: ``newsflow up`` records each service's metrics port in
``<data_dir>/run.json``; each is asked for ``/healthz`` (up) and ``/readyz``
(ready, with its failing checks).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from kafka.errors import KafkaError

from services.common import offsets as ofs
from services.common.kafka import make_admin, make_consumer
from services.common.runinfo import RunInfo
from services.common.settings import CommonSettings, ConfigError, load
from services.fetcher.pgstate import open_state
from services.fetcher.settings import FetcherSettings


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int


@dataclass(frozen=True)
class ServiceHealth:
    service: str
    port: int
    up: bool
    ready: bool
    failing: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class Status:
    lags: list[PartitionLag] = field(default_factory=list)
    services: list[ServiceHealth] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failing_feeds: list[str] = field(default_factory=list)  # "URL: last error" of feeds that never succeeded

    def healthy(self) -> bool:
        """No errors, no feed that never succeeded, and every service up and ready."""
        return not self.errors and not self.failing_feeds and all(s.up and s.ready for s in self.services)

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)


def topics_of(settings: CommonSettings) -> list[str]:
    return [settings.topic_pages, settings.topic_extracted, settings.topic_articles, settings.topic_dlq]


def group_lags(settings: CommonSettings, groups: list[str] | None = None) -> list[PartitionLag]:
    """Lag of every group with offsets on a newsflow topic (or of ``groups``), sorted."""
    wanted_topics = set(topics_of(settings))
    admin = make_admin(settings)
    consumer = make_consumer(settings)
    try:
        names = groups if groups is not None else sorted(g["group_id"] for g in admin.list_groups())
        rows: list[PartitionLag] = []
        ends_cache: dict[str, dict[int, int]] = {}
        starts_cache: dict[str, dict[int, int]] = {}
        for group in names:
            for topic, committed in sorted(ofs.group_topics(admin, group).items()):
                if topic not in wanted_topics:
                    continue
                if topic not in ends_cache:
                    tps = ofs.partitions(consumer, topic)
                    ends_cache[topic] = ofs.end_offsets(consumer, tps)
                    starts_cache[topic] = ofs.beginning_offsets(consumer, tps)
                for partition, end in sorted(ends_cache[topic].items()):
                    done = committed.get(partition)
                    lag = ofs.lag(end, done, starts_cache[topic].get(partition, 0))
                    shown_end = max(end, done or 0)  # the embedded broker's end can trail the commit
                    rows.append(PartitionLag(group, topic, partition, done, shown_end, lag))
        return rows
    finally:
        consumer.close()
        admin.close()


def service_health(info: RunInfo, host: str = "127.0.0.1", timeout: float = 2.0) -> list[ServiceHealth]:
    """Ask every service recorded in ``run.json`` for ``/healthz`` and ``/readyz``."""
    out = []
    with httpx.Client(timeout=timeout) as client:
        for service, port in sorted(info.metrics_ports.items()):
            base = f"http://{host}:{port}"
            try:
                alive = client.get(f"{base}/healthz")
                ready = client.get(f"{base}/readyz")
            except httpx.HTTPError as exc:
                out.append(ServiceHealth(service, port, False, False, error=f"{type(exc).__name__}: {exc}"))
                continue
            checks: dict[str, Any] = _json(ready.text).get("checks", {})
            failing = tuple(sorted(name for name, ok in checks.items() if not ok))
            out.append(ServiceHealth(service, port, alive.status_code == 200, ready.status_code == 200, failing))
    return out


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def collect(settings: CommonSettings, info: RunInfo | None) -> Status:
    """Everything ``newsflow status`` shows; broker problems become ``errors``, not a crash."""
    status = Status()
    try:
        status.lags = group_lags(settings)
    except (KafkaError, OSError, ValueError) as exc:
        status.errors.append(f"broker {settings.kafka_bootstrap_servers}: {type(exc).__name__}: {exc}")
    if info is None:
        status.errors.append(f"no {settings.data_dir / 'run.json'}: `newsflow up` is not running here; "
                             "service health unknown")
    else:
        status.services = service_health(info, settings.metrics_host)
    try:
        status.failing_feeds = never_succeeded_feeds(load(FetcherSettings, data_dir=settings.data_dir))
    except ConfigError as exc:
        status.errors.append(f"fetcher settings: {exc}")
    return status


def never_succeeded_feeds(settings: FetcherSettings) -> list[str]:
    """``"URL: last error"`` of every listed feed that was polled and never succeeded (its error names
    the setting that would allow a refused feed). Nothing when there is no fetcher state yet."""
    url = settings.fetcher_state_url.get_secret_value()
    if not url and not (settings.data_dir / "fetcher.db").exists():
        return []
    try:
        state = open_state(settings)
    except Exception as exc:  # noqa: BLE001 - status reports what it cannot read, it does not crash
        return [f"(fetcher state unreadable: {type(exc).__name__}: {exc})"]
    try:
        return [f"{r.url}: {r.last_error or f'HTTP {r.last_status}'}" for r in state.feed_reports() if r.never_succeeded]
    finally:
        state.close()


def render(status: Status) -> Any:
    """A rich renderable: the lag table, the services table, then any errors."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    lags = Table(title="consumer groups (lag approximate on the embedded broker)")
    for col in ("group", "topic", "partition", "committed", "end", "lag"):
        lags.add_column(col, justify="right" if col in ("partition", "committed", "end", "lag") else "left")
    for row in status.lags:
        lags.add_row(row.group, row.topic, str(row.partition),
                     "-" if row.committed is None else str(row.committed), str(row.end), str(row.lag))
    services = Table(title="services")
    for col in ("service", "port", "up", "ready", "detail"):
        services.add_column(col)
    for svc in status.services:
        detail = svc.error or (("failing: " + ", ".join(svc.failing)) if svc.failing else "")
        services.add_row(svc.service, str(svc.port), _yes(svc.up), _yes(svc.ready), detail)
    feeds = [Text(f"feed never succeeded: {line}", style="yellow") for line in status.failing_feeds]
    parts: list[Any] = [lags, services, *feeds] + [Text(e, style="red") for e in status.errors]
    return Group(*parts)


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"
