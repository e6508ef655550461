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

from services.common.urls import redact_url

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
    topic_extracted: str = Field(
        "newsflow.extracted", description="extractor -> story stage (one partition: one active story member)")
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
    """Effective settings as ``NEWSFLOW_*`` names, secrets masked (``config show``): a secret URL shows
    all but its password (a SQLite path is no secret); any other secret shows as stars."""
    out: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        shown = value
        if isinstance(value, SecretStr) and value.get_secret_value():
            secret = value.get_secret_value()
            shown = redact_url(secret) if "://" in secret else "**********"
        out[f"{ENV_PREFIX}{name.upper()}"] = "" if shown is None else str(shown)
    return out
