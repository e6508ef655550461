"""The Grafana dashboard: well-formed for Grafana's current schema, the rows the issue asks
for, and every metric of every panel query exported by the real services (live scrape of
`newsflow up --demo`). The alert rules' metrics are checked against the same scrape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from metrics_live import LivePipeline, demo_pipeline, scrape, wait_for

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "newsflow.json"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
REQUIRED_ROWS = {"Throughput per stage", "Lag", "Freshness", "Fetch health", "Extraction quality by domain",
                 "Story stage", "Dead letters", "Resources"}
STAGES = ("fetcher", "extractor", "stories", "sink")
# Series a healthy demo run has no reason to create: declared (HELP/TYPE) is enough for these.
EVENT_ONLY = {
    "newsflow_dead_letters_total": "no demo page fails",
    "newsflow_extraction_quality_issues_total": "the demo articles have text, dates and authors",
}
FROM_PROMETHEUS = {"up"}  # synthesised by Prometheus for every target
_METRIC = re.compile(r"\b(newsflow_[a-z0-9_]+|process_[a-z_]+|up)\b(?!\s*\()")


def load_dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text())
    assert isinstance(data, dict)
    return data


def panel_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def metric_names(promql: str) -> set[str]:
    """Metric names in a query (quoted label values and function names excluded)."""
    return set(_METRIC.findall(re.sub(r'"[^"]*"', '""', promql)))


def alert_queries() -> Iterator[tuple[str, str]]:
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule["record"], rule["expr"]


def test_metric_name_extraction() -> None:
    expr = ('histogram_quantile(0.95, sum by (stage, le) (rate(newsflow_batch_duration_seconds_bucket'
            '{job=~"newsflow_x|up"}[5m]))) / up')
    assert metric_names(expr) == {"newsflow_batch_duration_seconds_bucket", "up"}


def test_dashboard_fits_grafanas_current_schema() -> None:
    dashboard = load_dashboard()
    assert dashboard["schemaVersion"] >= 39
    assert dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24 and pos["h"] > 0, panel["title"]
        assert panel["type"] in {"row", "timeseries", "stat"}, panel["type"]
        if panel["type"] != "row":
            assert panel["targets"], f"{panel['title']} has no query"
            assert all(t["datasource"]["type"] == "prometheus" for t in panel["targets"])


def test_dashboard_has_the_rows_an_operator_needs() -> None:
    rows = {p["title"] for p in load_dashboard()["panels"] if p["type"] == "row"}
    assert rows == REQUIRED_ROWS


def rows_and_panels(dashboard: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Row title -> the panels below it (the dashboard's rows are not collapsed)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    current: list[dict[str, Any]] = []
    for panel in sorted(dashboard["panels"], key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"])):
        if panel["type"] == "row":
            current = rows.setdefault(panel["title"], [])
        else:
            current.append(panel)
    return rows


def test_story_stage_and_fetcher_replicas_are_shown() -> None:
    """The story stage (members, the active one, lag, index, rebuilds, assignments) has its row; the
    fetcher's replicas show their leases; per-service panels cover every stage."""
    rows = rows_and_panels(load_dashboard())
    story = " ".join(t["expr"] for p in rows["Story stage"] for t in p["targets"])
    for needle in ('up{job="stories"}', 'newsflow_messages_consumed_total{stage="stories"}',
                   'newsflow_consumer_lag_messages{stage="stories"}', "newsflow_story_index_items",
                   "newsflow_story_index_rebuild_seconds_bucket", "newsflow_story_assignments_total"):
        assert needle in story, needle
    fetch = " ".join(t["expr"] for p in rows["Fetch health"] for t in p["targets"])
    assert "newsflow_fetcher_leases_held" in fetch and "newsflow_fetcher_leases_total" in fetch
    for panel in rows["Resources"]:
        for target in panel["targets"]:
            if "job=~" in target["expr"]:
                assert f'job=~"{"|".join(STAGES)}"' in target["expr"], panel["title"]


def test_every_query_names_a_metric() -> None:
    for title, expr in panel_queries(load_dashboard()):
        assert metric_names(expr), f"{title}: no metric in {expr}"


@pytest.fixture(scope="module")
def live_scrape(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], set[str]]:
    """Sample names and declared families across the three services of a live demo run."""
    with demo_pipeline(tmp_path_factory.mktemp("dash") / "data") as live:
        _wait_for_lag(live)
        texts = [scrape(port) for port in live.ports.values()]
    samples: set[str] = set()
    declared: set[str] = set()
    for text in texts:
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                declared.add(line.split()[2])
            elif line and not line.startswith("#"):
                samples.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return samples, declared


def _wait_for_lag(live: LivePipeline) -> None:
    wait_for("lag gauges", lambda: "newsflow_consumer_lag_messages{" in scrape(live.ports["sink"]), 30, live)


def _check(queries: Iterator[tuple[str, str]], samples: set[str], declared: set[str]) -> list[str]:
    missing = []
    for title, expr in queries:
        for name in metric_names(expr) - FROM_PROMETHEUS:
            family = re.sub(r"_(total|bucket|sum|count)$", "", name)
            if name in samples or (name in EVENT_ONLY and {name, family} & declared):
                continue
            missing.append(f"{title}: {name}")
    return missing


@pytest.mark.integration
@pytest.mark.slow
def test_every_dashboard_metric_is_exported(live_scrape: tuple[set[str], set[str]]) -> None:
    samples, declared = live_scrape
    assert _check(panel_queries(load_dashboard()), samples, declared) == []


@pytest.mark.integration
@pytest.mark.slow
def test_every_alert_metric_is_exported(live_scrape: tuple[set[str], set[str]]) -> None:
    samples, declared = live_scrape
    queries = ((name, re.sub(r"newsflow:[a-z_:]+", "", expr)) for name, expr in alert_queries())
    assert _check(queries, samples, declared) == []
