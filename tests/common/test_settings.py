import pytest

from services.common.settings import ConfigError, load, masked
from services.fetcher.settings import FetcherSettings
from services.sink.settings import SinkSettings


def test_env_vars_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("NEWSFLOW_CONCURRENCY", "7")
    s = load(FetcherSettings)
    assert s.kafka_client_config()["bootstrap_servers"] == ["k1:9092", "k2:9092"]
    assert s.concurrency == 7 and s.metrics_port == 9101


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_CONCURRENCY", "lots")
    with pytest.raises(ConfigError, match="NEWSFLOW_CONCURRENCY"):
        load(FetcherSettings)


def test_sasl_requires_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    with pytest.raises(ConfigError, match="NEWSFLOW_KAFKA_SASL_USERNAME"):
        load(FetcherSettings)


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_SINK_URL", "postgresql://u:hunter2@db/news")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("NEWSFLOW_KAFKA_SASL_PASSWORD", "s3cret")
    shown = masked(load(SinkSettings))
    assert "hunter2" not in str(shown) and "s3cret" not in str(shown)
    assert shown["NEWSFLOW_KAFKA_SASL_USERNAME"] == "svc"
    assert load(SinkSettings).sink_url.get_secret_value().endswith("hunter2@db/news")


def test_settings_are_frozen() -> None:
    s = load(FetcherSettings)
    with pytest.raises(Exception):
        s.concurrency = 3  # type: ignore[misc]
