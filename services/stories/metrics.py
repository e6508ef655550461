"""The story stage's metrics (registered when ``newsflow stories-worker`` starts; see :class:`MetricSet`)."""

from __future__ import annotations

from services.common.metrics import MetricSet

STORIES = MetricSet("stories")

ASSIGNMENTS = STORIES.counter(
    "newsflow_story_assignments_total",
    "Articles by story assignment: new_story, joined_story, duplicate; unplaced (no story features: "
    "made by an older extractor, or of a signature format this stage cannot compare).", ["kind"],
)
INDEX_ITEMS = STORIES.gauge(
    "newsflow_story_index_items", "Articles in the story index (the window the next article is compared with)."
)
REBUILDS = STORIES.counter(
    "newsflow_story_index_rebuilds_total",
    "Story index rebuilds from newsflow.articles (on start and after each partition assignment).",
)
REBUILD_DURATION = STORIES.histogram(
    "newsflow_story_index_rebuild_seconds", "Time to rebuild the story index from newsflow.articles.",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
KINDS = ("new_story", "joined_story", "duplicate", "unplaced")


def init_series() -> None:
    """The story stage's known label sets, at 0."""
    for kind in KINDS:
        ASSIGNMENTS.labels(kind)
