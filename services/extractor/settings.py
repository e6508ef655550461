"""Settings of ``newsflow extractor``: one frozen pydantic-settings object, ``NEWSFLOW_`` prefix."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import ConsumerSettings


class ExtractorSettings(ConsumerSettings):
    """``newsflow extractor``: consumes pages, produces extracted articles (stories: ``StoriesSettings``)."""

    metrics_port: int = Field(9102, ge=0, le=65535)
    group_id: str = "newsflow-extractor"
    batch_max_records: int = Field(20, ge=1, le=10_000)
    extract_timeout_seconds: float = Field(30, gt=0, description="a page taking longer is dead-lettered")
    workers: int = Field(
        1, ge=1, le=64,
        description="worker processes that extract and tag pages in parallel (one core each)",
    )
