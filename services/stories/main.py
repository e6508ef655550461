"""``newsflow stories-worker``: start-up and shutdown of the story stage."""

from __future__ import annotations

from collections.abc import Sequence

from services.common.lifecycle import register_consumer_metrics, run_consumer_stage, start_service
from services.common.metrics import MESSAGES_PRODUCED
from services.common.steps import StepWrapper
from services.stories import metrics
from services.stories.service import build
from services.stories.settings import StoriesSettings


def run(settings: StoriesSettings, steps: Sequence[StepWrapper] = ()) -> None:
    """Run the story stage until SIGTERM/SIGINT; ``steps`` wrap its processing (a crash drill)."""
    register_consumer_metrics("stories", metrics.STORIES, metrics.init_series)
    health = start_service("stories", settings)
    MESSAGES_PRODUCED.labels("stories", settings.topic_articles)
    run_consumer_stage(build(settings, health, steps=steps), settings, settings.topic_extracted)
