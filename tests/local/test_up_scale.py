"""``newsflow up --scale SERVICE=N``: names, ports and parsing (the run itself is in
tests/integration/test_pipeline.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from services.cli import main
from services.common.broker import free_port
from services.common.settings import ConfigError
from services.up import DEFAULT_API_PORT, SERVICES, check_config, instances, last_error_line, parse_scale, pick_api, pick_ports


def test_one_replica_keeps_the_service_name_several_are_numbered() -> None:
    names = instances({"extractor": 3, "sink": 2})
    assert [n for n, s in names.items() if s == "extractor"] == ["extractor-1", "extractor-2", "extractor-3"]
    assert [n for n, s in names.items() if s == "sink"] == ["sink-1", "sink-2"]
    assert names["fetcher"] == "fetcher"
    assert list(names.values()) == sorted(names.values(), key=SERVICES.index), "start order kept"


@pytest.mark.parametrize("bad", ["extractor", "extractor=0", "extractor=x", "broker=2", "sink=17"])
def test_bad_scale_values_are_refused_with_a_clear_message(bad: str) -> None:
    with pytest.raises(ValueError, match="--scale"):
        parse_scale([bad])
    result = CliRunner().invoke(main, ["up", "--demo", "--scale", bad])
    assert result.exit_code == 2 and "--scale" in result.output


def test_every_process_gets_its_own_metrics_port() -> None:
    base = free_port()
    ports = pick_ports("127.0.0.1", base, instances({"extractor": 3}))
    assert len(set(ports.values())) == len(ports)
    assert ports["fetcher"] == base and ports["extractor-1"] == base + 1, "first replicas keep the known ports"


def test_config_problems_are_found_before_anything_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("https://example.com/feed.xml\nnot a url\n")
    monkeypatch.setenv("NEWSFLOW_BATCH_MAX_RECORDS", "many")
    with pytest.raises(ConfigError) as caught:
        check_config(feeds)
    message = str(caught.value)
    assert "feeds.txt:2" in message and "NEWSFLOW_BATCH_MAX_RECORDS" in message and "\n" not in message


def test_a_failing_service_log_gives_its_last_error_line(tmp_path: Path) -> None:
    log = tmp_path / "fetcher.log"
    log.write_text('{"level": "INFO", "message": "starting"}\n'
                   '{"level": "ERROR", "message": "feeds.txt:2: not an absolute http(s) URL"}\n'
                   "Traceback (most recent call last):\n  File \"x\", line 1\nValueError: boom\n")
    assert last_error_line(log) == "ValueError: boom"
    log.write_text('{"level": "ERROR", "message": "cannot reach the broker"}\n{"level": "INFO", "message": "bye"}\n')
    assert last_error_line(log) == "cannot reach the broker"
    assert last_error_line(tmp_path / "missing.log") is None


def test_up_refuses_to_start_with_a_bad_feed_list_or_setting_in_one_line(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("https://example.com/feed.xml\nnot-a-url\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env |= {"NEWSFLOW_DATA_DIR": str(tmp_path / "data"), "NEWSFLOW_WORKERS": "0"}
    done = subprocess.run([sys.executable, "-m", "services.cli", "up", "--feeds", str(feeds)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "feeds.txt:2" in done.stderr and "NEWSFLOW_WORKERS" in done.stderr
    assert not (tmp_path / "data" / "run.json").exists(), "nothing was started"


def test_the_api_port_moves_when_9104_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("NEWSFLOW_")]:
        monkeypatch.delenv(key)
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            taken.bind(("127.0.0.1", DEFAULT_API_PORT))
        except OSError:
            pass  # someone else holds it already: just as taken
        taken.listen()
        env, url = pick_api("127.0.0.1")
    port = int(env["NEWSFLOW_API_PORT"])
    assert port != DEFAULT_API_PORT and url == f"http://127.0.0.1:{port}"
    monkeypatch.setenv("NEWSFLOW_API_ENABLED", "false")
    assert pick_api("127.0.0.1") == ({}, None)
