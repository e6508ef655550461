"""/healthz (liveness) and /readyz (readiness) over real HTTP, and `newsflow status`'s view of them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from services.common.health import Health, serve
from services.common.offsets import lag
from services.common.runinfo import RunInfo
from services.ops.status import Status, render, service_health


class Clock:
    """Time that moves only when the test says so (no test depends on the machine's speed)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def endpoint(clock: Clock) -> Iterator[tuple[Health, int]]:
    health = Health(stale_after_seconds=0.5, clock=clock)
    server = serve(health, "127.0.0.1", 0)
    yield health, int(server.server_address[1])
    server.shutdown()


def get(port: int, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)


def test_ready_only_when_every_check_passes(endpoint: tuple[Health, int]) -> None:
    health, port = endpoint
    assert get(port, "/readyz").status_code == 503  # no check reported yet
    health.set("broker", True)
    health.set("storage", True)
    assert get(port, "/readyz").status_code == 200
    health.set("dlq_limit", False)
    body = get(port, "/readyz")
    assert body.status_code == 503 and body.json()["checks"]["dlq_limit"] is False
    assert get(port, "/healthz").status_code == 200


def test_not_alive_when_the_loop_stalls(endpoint: tuple[Health, int], clock: Clock) -> None:
    health, port = endpoint
    health.set("broker", True)
    clock.now += 0.6
    assert get(port, "/healthz").status_code == 503
    assert get(port, "/readyz").status_code == 503
    health.beat()
    assert get(port, "/healthz").status_code == 200


def test_status_reads_services_from_run_info(endpoint: tuple[Health, int]) -> None:
    health, port = endpoint
    health.set("broker", True)
    health.set("storage", False)
    info = RunInfo(bootstrap="127.0.0.1:1", embedded_broker=True, sink_url="sqlite:///x",
                   metrics_ports={"sink": port, "fetcher": 1})
    found = {s.service: s for s in service_health(info, timeout=2)}
    assert found["sink"].up and not found["sink"].ready and found["sink"].failing == ("storage",)
    assert not found["fetcher"].up and found["fetcher"].error
    status = Status(services=list(found.values()))
    assert '"service": "sink"' in status.to_json()
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(render(status))
    assert "failing: storage" in console.export_text()


def test_lag_is_clamped_at_zero() -> None:
    assert lag(10, 4) == 6
    assert lag(6, 10) == 0  # the embedded broker's end offset undercounts
    assert lag(5, None) == 5
