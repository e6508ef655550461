"""Shared fixtures: a real embedded broker, a topic set per test, a data directory per test."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.common.broker import EmbeddedBroker
from services.common.metrics import CONSUMER, PROCESS
from services.extractor.metrics import EXTRACTOR
from services.fetcher.metrics import FETCHER
from services.sink.metrics import SINK
from services.stories.metrics import STORIES

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session", autouse=True)
def every_service_metrics_registered() -> None:
    """The tests run every service in one process: register all their metrics in the default
    registry (each service's ``main`` registers only its own)."""
    for metric_set in (PROCESS, CONSUMER, FETCHER, EXTRACTOR, STORIES, SINK):
        metric_set.register()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One real tansu broker for the test session (memory storage, loopback port)."""
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    with EmbeddedBroker(log_path=log) as b:
        yield b


@pytest.fixture
def topic_env(broker: EmbeddedBroker) -> dict[str, str]:
    """NEWSFLOW_* variables naming fresh topics and groups on the session broker for one test."""
    suffix = uuid.uuid4().hex[:8]
    return {
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "NEWSFLOW_TOPIC_PAGES": f"t{suffix}.pages",
        "NEWSFLOW_TOPIC_EXTRACTED": f"t{suffix}.extracted",
        "NEWSFLOW_TOPIC_ARTICLES": f"t{suffix}.articles",
        "NEWSFLOW_TOPIC_DLQ": f"t{suffix}.dlq",
        "NEWSFLOW_GROUP_ID": f"g{suffix}",
    }


@pytest.fixture
def on_topics(topic_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``topic_env`` set in this process's environment for one test (settings made in the test read them)."""
    for key, value in topic_env.items():
        monkeypatch.setenv(key, value)
    return topic_env


def wait_for(what: str, check: Callable[[], object], timeout: float = 60.0) -> None:
    """Poll ``check`` until it is truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips outside CI when it is absent, fails in CI."""
    path = SHARED.joinpath("data", *parts)
    if not path.exists():
        if IN_CI:
            pytest.fail(f"{path} is missing: CI must have ../shared beside the clone")
        pytest.skip(f"{path} not present (it lives in ../shared/data beside the repository)")
    return path
