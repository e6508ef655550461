"""`newsflow config show` masks secrets; an invalid value stops start-up naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from services.cli import main
from services.common.runinfo import RunInfo, write_run_info


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("NEWSFLOW_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("NEWSFLOW_DATA_DIR", str(tmp_path))


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_SINK_URL", "postgresql://newsflow:hunter2@db/news")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_PASSWORD", "s3cret-pw")
    result = CliRunner().invoke(main, ["config", "show", "sink"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "s3cret-pw" not in result.output
    assert "NEWSFLOW_SINK_URL=postgresql://newsflow:***@db/news" in result.output, "only the password is masked"
    assert "NEWSFLOW_KAFKA_SASL_PASSWORD=**********" in result.output
    assert "NEWSFLOW_KAFKA_SASL_USERNAME=svc" in result.output
    assert "NEWSFLOW_REPLAY_IDLE_SECONDS=5.0" in result.output


def test_config_show_gives_the_running_pipelines_settings_and_a_sqlite_path_in_clear(tmp_path: Path) -> None:
    write_run_info(tmp_path, RunInfo(bootstrap="127.0.0.1:45999", embedded_broker=True,
                                     sink_url=f"sqlite:///{tmp_path}/newsflow.db", metrics_ports={}))
    extractor = CliRunner().invoke(main, ["config", "show", "extractor"])
    assert "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:45999" in extractor.output, extractor.output
    sink = CliRunner().invoke(main, ["config", "show", "sink"])
    assert f"NEWSFLOW_SINK_URL=sqlite:///{tmp_path}/newsflow.db" in sink.output, sink.output


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_DLQ_MAX_RATIO", "1.5")
    result = CliRunner().invoke(main, ["config", "show", "extractor"])
    assert result.exit_code == 1
    assert "NEWSFLOW_DLQ_MAX_RATIO" in result.output


def test_invalid_value_stops_a_service_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_BATCH_MAX_RECORDS", "many")
    result = CliRunner().invoke(main, ["sink"])
    assert result.exit_code == 1 and "NEWSFLOW_BATCH_MAX_RECORDS" in result.output
