"""Configuration: one frozen pydantic-settings object per service.

Every setting is an environment variable with the ``NEWSFLOW_`` prefix (the
field name upper-cased: ``kafka_bootstrap_servers`` is
``NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS``). Values are validated when the service
starts; an invalid value stops start-up with a message naming the variable
(see :func:`load`). Secrets are ``SecretStr`` and never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "NEWSFLOW_"


class ConfigError(ValueError):
    """A setting is invalid; the message names the environment variable."""


class CommonSettings(BaseSettings):
    """Settings every service shares: Kafka, topics, data directory, metrics, logs."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    data_dir: Path = Field(Path("data"), description="where state, databases and logs live")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_client_id: str = "newsflow"

    topic_pages: str = "newsflow.pages"
    topic_articles: str = "newsflow.articles"
    topic_dlq: str = "newsflow.dlq"
    topic_partitions: int = Field(3, ge=1, le=1000)
    topic_replication_factor: int = Field(1, ge=1, le=7)

    max_message_bytes: int = Field(
        4 * 1024 * 1024, ge=64 * 1024, description="largest record the producer may send"
    )

    metrics_host: str = Field("127.0.0.1", description="bind address of /metrics, /healthz, /readyz")
    metrics_port: int = Field(0, ge=0, le=65535, description="0 picks a free port")

    log_format: Literal["auto", "json", "text"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def kafka_client_config(self) -> dict[str, Any]:
        """kafka-python keyword arguments for connection and security."""
        cfg: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap_servers.split(","),
            "security_protocol": self.kafka_security_protocol,
            "client_id": self.kafka_client_id,
        }
        if self.kafka_sasl_mechanism:
            cfg["sasl_mechanism"] = self.kafka_sasl_mechanism
            cfg["sasl_plain_username"] = self.kafka_sasl_username
            if self.kafka_sasl_password is not None:
                cfg["sasl_plain_password"] = self.kafka_sasl_password.get_secret_value()
        for key in ("cafile", "certfile", "keyfile"):
            value = getattr(self, f"kafka_ssl_{key}")
            if value is not None:
                cfg[f"ssl_{key}"] = str(value)
        return cfg

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> CommonSettings:
        if self.kafka_sasl_mechanism and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                "NEWSFLOW_KAFKA_SASL_MECHANISM is set: NEWSFLOW_KAFKA_SASL_USERNAME and "
                "NEWSFLOW_KAFKA_SASL_PASSWORD are required"
            )
        return self


class ConsumerSettings(CommonSettings):
    """Settings of a consuming stage (extractor, sink)."""

    group_id: str = "newsflow"
    batch_max_records: int = Field(100, ge=1, le=10_000)
    batch_max_seconds: float = Field(1.0, gt=0, le=60)
    session_timeout_ms: int = Field(6000, ge=1000)
    heartbeat_interval_ms: int = Field(1000, ge=100)
    max_poll_interval_ms: int = Field(120_000, ge=10_000)
    dlq_max_ratio: float = Field(
        0.5, gt=0, le=1, description="stop the stage when this share of recent messages fail"
    )
    dlq_window: int = Field(200, ge=10, description="how many recent messages the ratio covers")
    shutdown_timeout_seconds: float = Field(20, gt=0)
    lag_refresh_seconds: float = Field(
        15, gt=0, description="how often the consumer-lag gauges are measured from end offsets"
    )
    replay_idle_seconds: float = Field(
        5, gt=0, le=600, description="`newsflow replay` stops after the topic was idle this long (and caught up)"
    )


class FetcherSettings(CommonSettings):
    """``newsflow fetcher``: polls feeds, downloads pages, produces ``newsflow.pages``."""

    metrics_port: int = Field(9101, ge=0, le=65535)
    feeds_file: Path = Path("feeds.txt")
    max_entries_per_poll: int = Field(
        500, ge=1, description="entries published per poll of one feed; the rest wait for the next polls"
    )
    poll_interval_seconds: float = Field(300, gt=0, description="default time between polls of a feed")
    min_poll_interval_seconds: float = Field(60, gt=0)
    max_poll_interval_seconds: float = Field(86_400, gt=0)
    user_agent: str = "newsflow/0.1 (+https://github.com/newsflow/newsflow)"
    http_connect_timeout_seconds: float = Field(10, gt=0)
    http_read_timeout_seconds: float = Field(20, gt=0)
    http_total_timeout_seconds: float = Field(60, gt=0)
    max_feed_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_page_bytes: int = Field(3 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(5, ge=0, le=20)
    concurrency: int = Field(32, ge=1, le=1024)
    per_host_concurrency: int = Field(2, ge=1, le=1024)
    allow_private_networks: bool = Field(
        False, description="allow loopback/private targets (demo and tests only)"
    )
    seen_horizon_days: float = Field(30, gt=0)
    once: bool = Field(False, description="poll every feed once, then exit")
    per_host_min_delay_seconds: float = Field(
        1.0, ge=0, le=600, description="minimum time between two request starts to one host (feeds and pages)"
    )
    allowed_networks: str = Field(
        "", description="comma-separated CIDRs or host names the SSRF guard lets through, e.g. 127.0.0.1/32"
    )
    dead_after_errors: int = Field(10, ge=1, description="consecutive failures after which a feed is 'dead'")
    dead_probe_interval_seconds: float = Field(
        7 * 86_400, gt=0, description="how often a dead feed is still probed (it recovers on success)"
    )
    parse_workers: int = Field(
        0, ge=0, le=64, description="processes parsing feeds; 0: one per CPU core (1: parse in the event loop)"
    )

    @model_validator(mode="after")
    def _intervals_ordered(self) -> FetcherSettings:
        if not self.min_poll_interval_seconds <= self.max_poll_interval_seconds:
            raise ValueError(
                "NEWSFLOW_MIN_POLL_INTERVAL_SECONDS must not exceed NEWSFLOW_MAX_POLL_INTERVAL_SECONDS"
            )
        return self


class ExtractorSettings(ConsumerSettings):
    """``newsflow extractor``: consumes pages, produces articles."""

    metrics_port: int = Field(9102, ge=0, le=65535)
    group_id: str = "newsflow-extractor"
    batch_max_records: int = Field(20, ge=1, le=10_000)
    extract_timeout_seconds: float = Field(30, gt=0, description="a page taking longer is dead-lettered")
    story_window_days: float = Field(3, gt=0)
    story_max_items: int = Field(
        20_000, ge=100, description="articles the story index keeps in memory (~8 KB each); the oldest go first"
    )
    workers: int = Field(
        1, ge=1, le=64,
        description="worker processes that extract and tag pages in parallel (one core each); "
        "story assignment stays in the service process, in record order",
    )


class SinkSettings(ConsumerSettings):
    """``newsflow sink``: consumes articles, writes storage."""

    metrics_port: int = Field(9103, ge=0, le=65535)
    group_id: str = "newsflow-sink"
    sink_url: SecretStr = Field(
        SecretStr(""),
        description="sqlite:///path or postgresql://user:password@host/db (a secret: may hold a "
        "password); empty: sqlite:///<data_dir>/newsflow.db",
    )
    batch_max_records: int = Field(500, ge=1, le=10_000)
    api_enabled: bool = Field(True, description="serve the read-only HTTP JSON API next to the sink")
    api_host: str = Field("127.0.0.1", description="bind address of the HTTP API (loopback by default)")
    api_port: int = Field(9104, ge=0, le=65535, description="port of the HTTP API; 0 picks a free port")
    api_rate_per_second: float = Field(20, gt=0, description="requests per second allowed per client address")
    api_rate_burst: int = Field(40, ge=1, description="requests a client may make at once before the rate applies")
    api_max_request_bytes: int = Field(
        8192, ge=1024, le=1_048_576, description="largest request (target + headers) the API accepts"
    )
    api_max_page_size: int = Field(200, ge=1, le=10_000, description="largest `limit` of an API page")

    @model_validator(mode="after")
    def _default_sink_in_data_dir(self) -> SinkSettings:
        if not self.sink_url.get_secret_value():
            url = SecretStr(f"sqlite:///{self.data_dir / 'newsflow.db'}")
            object.__setattr__(self, "sink_url", url)  # frozen model: set once, while validating
        return self


S = TypeVar("S", bound=CommonSettings)


def load(cls: type[S], **overrides: Any) -> S:
    """Build ``cls`` from the environment (plus ``overrides``); errors name the variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            name = f"{ENV_PREFIX}{field.upper()}" if field else "settings"
            lines.append(f"{name}: {err['msg']}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from exc


def masked(settings: CommonSettings) -> dict[str, str]:
    """Effective settings as ``NEWSFLOW_*`` names, secrets masked (``config show``)."""
    out: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        shown = "**********" if isinstance(value, SecretStr) and value else value
        out[f"{ENV_PREFIX}{name.upper()}"] = "" if shown is None else str(shown)
    return out
