"""Settings of ``newsflow sink``: one frozen pydantic-settings object, ``NEWSFLOW_`` prefix."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from services.common.settings import ConsumerSettings


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
    api_query_timeout_seconds: float = Field(
        5, gt=0, le=600, description="an API read running longer is cancelled (PostgreSQL statement_timeout, "
        "SQLite progress handler) and answered 503"
    )
    api_read_connections: int = Field(
        4, ge=2, le=64, description="database connections the API reads with; searches take at most all but one"
    )

    @model_validator(mode="after")
    def _default_sink_in_data_dir(self) -> SinkSettings:
        if not self.sink_url.get_secret_value():
            url = SecretStr(f"sqlite:///{self.data_dir / 'newsflow.db'}")
            object.__setattr__(self, "sink_url", url)  # frozen model: set once, while validating
        return self
