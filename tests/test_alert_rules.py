"""promtool (from Debian's `prometheus` package) checks the project's Prometheus files:
configuration syntax, rule syntax, and one unit test per alert (alerts_test.yml).
In CI (CI=true) a missing promtool fails these tests instead of skipping them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml
from metrics_live import require_tool

PROMETHEUS_DIR = Path(__file__).resolve().parents[1] / "deploy" / "prometheus"


def promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> str:
    result = subprocess.run([require_tool("promtool"), *args], cwd=cwd, capture_output=True, text=True,
                            timeout=60, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def test_compose_config_is_valid() -> None:
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")


def test_kubernetes_config_is_valid(tmp_path: Path) -> None:
    """Debian's Prometheus is built without Kubernetes discovery, so its promtool rejects
    `kubernetes_sd_configs`; everything else (relabelling included) is checked with the
    discovery swapped for a static target."""
    config = yaml.safe_load((PROMETHEUS_DIR / "kubernetes.yml").read_text())
    for job in config["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
        job["static_configs"] = [{"targets": ["127.0.0.1:9101"]}]
    (tmp_path / "kubernetes.yml").write_text(yaml.safe_dump(config))
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", tmp_path / "alerts.yml")
    assert "SUCCESS" in promtool("check", "config", "kubernetes.yml", cwd=tmp_path)


def test_pod_monitor_selects_newsflow_pods() -> None:
    monitor = yaml.safe_load((PROMETHEUS_DIR / "podmonitor.yaml").read_text())
    assert monitor["kind"] == "PodMonitor"
    assert monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "newsflow"}
    endpoint = monitor["spec"]["podMetricsEndpoints"][0]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    assert endpoint["relabelings"][0]["targetLabel"] == "job"


def test_rules_are_valid() -> None:
    assert "SUCCESS: 11 rules found" in promtool("check", "rules", "alerts.yml")


def test_rule_unit_tests_pass() -> None:
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")


def test_every_alert_has_a_unit_test() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())
    firing_tested = {
        case["alertname"]
        for test in tests["tests"] for case in test.get("alert_rule_test", []) if case["exp_alerts"]
    }
    quiet_tested = {
        case["alertname"]
        for test in tests["tests"] for case in test.get("alert_rule_test", []) if not case["exp_alerts"]
    }
    assert alerts == firing_tested == quiet_tested
    assert {"NewsflowServiceDown", "NewsflowConsumerLagGrowing", "NewsflowNoNewArticles", "NewsflowDeadLettersHigh",
            "NewsflowFeedPollErrorsHigh", "NewsflowDomainExtractionEmpty", "NewsflowStoryStageNoMember",
            "NewsflowStoryStageNotConsuming", "NewsflowStoryStageLagGrowing"} <= alerts


def test_every_stage_is_watched() -> None:
    """The service-down rule and the scrape configs know every stage, the story stage included."""
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    down = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "NewsflowServiceDown")
    assert 'job=~"fetcher|extractor|stories|sink"' in down["expr"]
    compose = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert {j["job_name"] for j in compose["scrape_configs"]} == {"fetcher", "extractor", "stories", "sink"}
    for name in ("kubernetes.yml", "podmonitor.yaml"):
        assert "stories" in (PROMETHEUS_DIR / name).read_text(), f"{name} does not mention the story stage"


def test_a_broken_rule_is_caught(tmp_path: Path) -> None:
    """The checks above would notice a bad rule: promtool really validates."""
    (tmp_path / "bad.yml").write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(up[5m]\n")
    result = subprocess.run([require_tool("promtool"), "check", "rules", "bad.yml"], cwd=tmp_path, check=False,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
