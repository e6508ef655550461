"""Security checks: no secret in logs or ``config show``; PostgreSQL TLS parameters reach libpq;
no SQL built from values; the read-only API and the metrics endpoint bind where they are told."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.common.broker import free_port
from services.sink.backends import open_store
from services.sink.store import StoreError

REPO = Path(__file__).resolve().parents[2]
SASL_PASSWORD = "Sasl-S3cret-do-not-log"
PG_PASSWORD = "Pg-S3cret-do-not-log"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    return env | extra


def secret_env(tmp_path: Path) -> dict[str, str]:
    return clean_env(
        NEWSFLOW_DATA_DIR=str(tmp_path),
        NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}",  # nobody listens: connection errors get logged
        NEWSFLOW_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        NEWSFLOW_KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        NEWSFLOW_KAFKA_SASL_USERNAME="newsflow",
        NEWSFLOW_KAFKA_SASL_PASSWORD=SASL_PASSWORD,
        NEWSFLOW_SINK_URL=f"postgresql://newsflow:{PG_PASSWORD}@127.0.0.1:{free_port()}/news?sslmode=require",
        NEWSFLOW_LOG_LEVEL="DEBUG",
        NEWSFLOW_METRICS_PORT="0",
        NEWSFLOW_API_ENABLED="false",
    )


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "services.cli", "config", "show", "sink"], env=secret_env(tmp_path),
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert "NEWSFLOW_KAFKA_SASL_PASSWORD" in out.stdout and "NEWSFLOW_SINK_URL" in out.stdout
    assert SASL_PASSWORD not in out.stdout + out.stderr
    assert PG_PASSWORD not in out.stdout + out.stderr


@pytest.mark.integration
@pytest.mark.parametrize("service", ["sink", "extractor", "fetcher"])
def test_no_secret_in_service_logs(tmp_path: Path, service: str) -> None:
    """A service that cannot reach its broker (SASL configured) logs DEBUG for a few seconds: no secret."""
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", service], env=secret_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        out, _ = proc.communicate(timeout=6)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    text = out.decode(errors="replace")
    assert len(text) > 200, f"the service logged too little to prove anything:\n{text}"
    assert SASL_PASSWORD not in text
    assert PG_PASSWORD not in text


@pytest.mark.integration
def test_postgres_connection_error_does_not_leak_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        open_store(f"postgresql://newsflow:{PG_PASSWORD}@127.0.0.1:{free_port()}/news")
    assert PG_PASSWORD not in str(caught.value) and PG_PASSWORD not in repr(caught.value.__cause__)


@pytest.mark.integration
def test_postgres_tls_parameters_reach_libpq() -> None:
    """sslmode=require against the local server (no TLS configured) must fail *because of TLS*;
    sslmode=disable must work: the URL's libpq parameters are passed through unchanged."""
    base = "postgresql://postgres@127.0.0.1:5432/test"
    try:
        open_store(base + "?sslmode=disable").close()
    except StoreError as exc:
        pytest.skip(f"local PostgreSQL not reachable: {exc}")
    for params in ("sslmode=require", "sslmode=verify-full&sslrootcert=/nonexistent/root.crt"):
        with pytest.raises(StoreError, match=r"SSL was required"):
            open_store(f"{base}?{params}")


# SQL f-strings in services/sink may only splice fragments built from literals (placeholders,
# clause lists, column lists), never a value: values always go as parameters.
STRUCTURAL = {"with_q", "columns", "marks", "mark", "ARTICLE_COLUMNS", "clause", "tables", "order", "where_sql",
              "doc", "sort_at", "lock_rows",
              "REVISION_COLUMNS", "d.mark", "SQLITE.marks(REVISION_COLUMNS.count(',') + 1)",
              "column"}  # query.resolve: "id" or "story_id", chosen by a Literal, never a value
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|WHERE|FROM|VALUES)\b")


def test_no_sql_built_from_values() -> None:
    offenders = []
    for path in sorted((REPO / "services" / "sink").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.JoinedStr):
                literal = "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
                if SQL_WORDS.search(literal):
                    spliced = {ast.unparse(v.value) for v in node.values if isinstance(v, ast.FormattedValue)}
                    offenders += [f"{path.name}:{node.lineno}: {{{s}}}" for s in spliced - STRUCTURAL]
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) \
                    and isinstance(node.left.value, str) and SQL_WORDS.search(node.left.value):
                offenders.append(f"{path.name}:{node.lineno}: '...' % value")
    assert offenders == [], "SQL built from values (use parameters):\n" + "\n".join(offenders)


@pytest.mark.integration
def test_metrics_endpoint_binds_where_configured(tmp_path: Path) -> None:
    """NEWSFLOW_METRICS_HOST=127.0.0.2: the endpoint answers there and not on 127.0.0.1."""
    port = free_port("127.0.0.2")
    env = secret_env(tmp_path) | {"NEWSFLOW_METRICS_HOST": "127.0.0.2", "NEWSFLOW_METRICS_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "services.cli", "fetcher"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        for _ in range(100):
            try:
                assert httpx.get(f"http://127.0.0.2:{port}/healthz", timeout=1).status_code in (200, 503)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "the fetcher exited"
                time.sleep(0.1)
        else:
            raise AssertionError("metrics endpoint never answered on 127.0.0.2")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
    finally:
        proc.terminate()
        proc.wait(30)
