"""Settings of ``newsflow stories-worker``: one frozen pydantic-settings object, ``NEWSFLOW_`` prefix."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import ConsumerSettings


class StoriesSettings(ConsumerSettings):
    """``newsflow stories-worker``: consumes extracted articles, produces placed ones."""

    metrics_port: int = Field(9105, ge=0, le=65535)
    group_id: str = "newsflow-stories"
    batch_max_records: int = Field(200, ge=1, le=10_000)
    story_window_days: float = Field(
        3, gt=0, description="near-duplicates are looked for this far apart (published); stories twice as far"
    )
    story_max_items: int = Field(
        20_000, ge=100, le=4_000_000,
        description="articles the story index keeps in memory (< 5 KB each); the first placed go first",
    )
