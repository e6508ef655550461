"""A real Prometheus scrapes a real `newsflow up --demo`; its stored series must match storage.

The Prometheus configuration is the project's (deploy/prometheus/prometheus.yml) with the
compose targets replaced by the ports `up` recorded in run.json, a 1 s scrape interval and
the alert rules loaded from deploy/prometheus/alerts.yml. In CI (CI=true) a missing
`prometheus` binary fails the test.
"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from metrics_live import LivePipeline, demo_pipeline, require_tool, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
TOPIC_ARTICLES = "newsflow.articles"
SINK_GROUP = "newsflow-sink"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prometheus_config(ports: dict[str, int]) -> dict[str, Any]:
    """The compose configuration, pointed at the local ports and scraping every second."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update({"scrape_interval": "1s", "evaluation_interval": "1s"})
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{ports[job['job_name']]}"]}]
    return config


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as resp:
            body = json.loads(resp.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", query=promql)
        assert data["resultType"] == "vector", data
        return list(data["result"])


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePipeline]:
    require_tool("prometheus")
    with demo_pipeline(tmp_path_factory.mktemp("prom") / "data") as live:
        yield live


@pytest.fixture(scope="module")
def prometheus(pipeline: LivePipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    binary = require_tool("prometheus")
    work = tmp_path_factory.mktemp("prometheus")
    config_file = work / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(prometheus_config(pipeline.ports)))
    port = _free_port()
    log = open(work / "prometheus.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [binary, f"--config.file={config_file}", f"--storage.tsdb.path={work / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    prom = Prometheus(f"http://127.0.0.1:{port}")

    def ready() -> bool:
        assert proc.poll() is None, (work / "prometheus.log").read_text()[-3000:]
        with urllib.request.urlopen(f"{prom.url}/-/ready", timeout=2) as resp:
            return resp.status == 200

    try:
        wait_for("Prometheus ready", ready, 60)
        yield prom
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _value(prom: Prometheus, promql: str) -> float | None:
    result = prom.query(promql)
    return float(result[0]["value"][1]) if len(result) == 1 else None


def test_every_service_is_scraped(prometheus: Prometheus) -> None:
    wait_for("four healthy targets", lambda: _value(prometheus, 'sum(up{job=~"fetcher|extractor|stories|sink"})') == 4, 30)
    targets = prometheus.get("/api/v1/targets")["activeTargets"]
    assert sorted(t["labels"]["job"] for t in targets) == ["extractor", "fetcher", "sink", "stories"]
    assert all(t["health"] == "up" for t in targets), targets


def test_stored_articles_series_matches_storage(pipeline: LivePipeline, prometheus: Prometheus) -> None:
    stored = pipeline.stored()
    assert stored == 8
    wait_for("newsflow_articles_stored in Prometheus",
             lambda: _value(prometheus, 'newsflow_articles_stored{job="sink"}') == stored, 30, pipeline)
    inserted = _value(prometheus, 'newsflow_sink_rows_written_total{job="sink", result="inserted"}')
    assert inserted == stored
    # Only the sink exports the gauge: no constant 0 from the other services.
    assert len(prometheus.query("newsflow_articles_stored")) == 1


def _lag_from_broker(bootstrap: str) -> dict[str, float]:
    """The sink group's lag per partition, measured here straight from the broker."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(TOPIC_ARTICLES, p) for p in sorted(consumer.partitions_for_topic(TOPIC_ARTICLES))]
        end = consumer.end_offsets(tps)
        committed = admin.list_group_offsets({SINK_GROUP: tps})[SINK_GROUP]
        return {str(tp.partition): float(max(0, end[tp] - committed[tp].offset)) for tp in tps}
    finally:
        consumer.close()
        admin.close()


def test_lag_series_matches_the_broker(pipeline: LivePipeline, prometheus: Prometheus) -> None:
    expected = _lag_from_broker(pipeline.bootstrap)
    assert expected and set(expected.values()) == {0.0}, expected  # everything stored, so nothing left

    def lag_in_prometheus() -> dict[str, float]:
        series = prometheus.query('newsflow_consumer_lag_messages{job="sink", stage="sink"}')
        return {s["metric"]["partition"]: float(s["value"][1]) for s in series}

    wait_for(f"sink lag {expected} in Prometheus", lambda: lag_in_prometheus() == expected, 30, pipeline)
    # The recording rule is evaluated on its own interval: wait for it too, rather than racing it.
    wait_for("the recorded sink lag sum in Prometheus",
             lambda: _value(prometheus, 'newsflow:consumer_lag_messages:sum{stage="sink"}') == 0.0, 30, pipeline)


def test_alert_rules_load_and_stay_quiet(prometheus: Prometheus) -> None:
    def rules() -> list[dict[str, Any]]:
        return [rule for group in prometheus.get("/api/v1/rules")["groups"] for rule in group["rules"]]

    wait_for("every rule evaluated", lambda: all(r["health"] != "unknown" for r in rules()), 30)
    rule_file = yaml.safe_load((Path(__file__).resolve().parents[2] / "deploy/prometheus/alerts.yml").read_text())
    assert len(rules()) == sum(len(group["rules"]) for group in rule_file["groups"])
    assert all(rule["health"] == "ok" for rule in rules()), rules()
    firing = [r["name"] for r in rules() if r["type"] == "alerting" and r["state"] == "firing"]
    assert firing == []
