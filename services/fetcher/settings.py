"""Settings of ``newsflow fetcher``: one frozen pydantic-settings object, ``NEWSFLOW_`` prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from services.common.settings import CommonSettings
from services.fetcher.allowlist import parse_allowed


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
        "", description="comma-separated networks or host names the SSRF guard lets through, each optionally "
        "with a port: 127.0.0.1/32:8080, [::1]:8080, feeds.internal:8443, 10.0.0.0/8 (every port)"
    )
    dead_after_errors: int = Field(10, ge=1, description="consecutive failures after which a feed is 'dead'")
    dead_probe_interval_seconds: float = Field(
        7 * 86_400, gt=0, description="how often a dead feed is still probed (it recovers on success)"
    )
    fetcher_state_url: SecretStr = Field(
        SecretStr(""),
        description="the state fetcher replicas share: empty = SQLite <data_dir>/fetcher.db (replicas on one "
        "machine); postgresql://... for replicas on several machines",
    )
    fetcher_lease_seconds: float = Field(
        30, ge=2, le=600,
        description="how long a replica holds a feed it polls (renewed while the poll runs); a replica that "
        "died has its feeds taken over by the others after this",
    )
    max_feed_entries: int = Field(
        2000, ge=1, description="entries read from one feed document (the first ones, newest by convention); "
        "a feed of 200,000 items costs a poll this many"
    )
    max_sitemap_children: int = Field(
        3, ge=1, le=100, description="a sitemap index in the feed list: how many of its child sitemaps a poll "
        "reads (the newest by lastmod)"
    )
    parse_timeout_seconds: float = Field(
        30, gt=0, description="time limit of one feed parse in a parse process (stopped and replaced past it)"
    )
    max_page_attempts: int = Field(
        3, ge=1, description="fetches of one entry's page that time out or fail on the network before it is given up"
    )
    robots_txt: bool = Field(
        True, description="obey the robots.txt of a page's site (its rules for the product token of "
        "NEWSFLOW_USER_AGENT, and Crawl-delay) before fetching the page; feed polls are not checked"
    )
    robots_cache_seconds: float = Field(
        86_400, ge=60, le=86_400, description="how long a site's robots.txt is used before it is fetched again "
        "(RFC 9309: at most 24 h)"
    )
    robots_error_seconds: float = Field(
        600, ge=1, le=86_400, description="after a robots.txt answered 5xx or could not be fetched, how long the "
        "site's pages wait (disallowed; a cached copy is used instead while there is one) before it is tried again"
    )
    parse_workers: int = Field(
        0, ge=0, le=64, description="processes parsing feeds; 0: one per CPU core (1: parse in the event loop)"
    )
    websub_callback_url: SecretStr = Field(
        SecretStr(""),
        description="WebSub: the public base URL hubs call back (https://fetcher.example/websub; it may carry a "
        "token, hence secret); empty: WebSub off, feeds are only polled",
    )
    websub_listen: str = Field(
        "0.0.0.0:9180", description="WebSub: host:port the callback server listens on (behind the public URL)"
    )
    websub_lease_seconds: int = Field(
        7 * 86_400, ge=60, description="WebSub: subscription lease asked of the hub (the hub may grant another)"
    )
    websub_poll_interval_seconds: float = Field(
        6 * 3600, gt=0, description="WebSub: poll interval of a feed with a verified subscription (a safety net)"
    )

    @field_validator("websub_listen")
    @classmethod
    def _listen_address(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{value!r}: expected host:port, e.g. 0.0.0.0:9180")
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _allow_list_parses(cls, value: str) -> str:
        parse_allowed(value)  # a ValueError names the entry; the settings loader names the variable
        return value

    @model_validator(mode="after")
    def _intervals_ordered(self) -> FetcherSettings:
        if not self.min_poll_interval_seconds <= self.max_poll_interval_seconds:
            raise ValueError(
                "NEWSFLOW_MIN_POLL_INTERVAL_SECONDS must not exceed NEWSFLOW_MAX_POLL_INTERVAL_SECONDS"
            )
        url = self.fetcher_state_url.get_secret_value()
        if url and not url.startswith(("postgresql://", "postgres://", "sqlite:///")):
            raise ValueError("NEWSFLOW_FETCHER_STATE_URL must be empty (SQLite in the data directory), "
                             "sqlite:///path or postgresql://...")
        return self
