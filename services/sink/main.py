"""``newsflow sink``: start-up and shutdown of the sink stage and its read-only API."""

from __future__ import annotations

from collections.abc import Sequence

from services.common.lifecycle import register_consumer_metrics, run_consumer_stage, start_service
from services.common.steps import StepWrapper
from services.sink import metrics
from services.sink.api import start_api
from services.sink.service import build
from services.sink.settings import SinkSettings


def run(settings: SinkSettings, steps: Sequence[StepWrapper] = ()) -> None:
    """Run the sink stage (and the API next to it) until SIGTERM/SIGINT; ``steps`` wrap its
    processing (a crash drill, see :func:`services.common.steps.exit_after_first_batch`)."""
    register_consumer_metrics("sink", metrics.SINK, metrics.init_series)
    health = start_service("sink", settings)
    stage = build(settings, health, steps=steps)
    api = start_api(settings)  # the read-only HTTP API, in a thread next to the stage (None: not served)
    try:
        run_consumer_stage(stage, settings, settings.topic_articles)
    finally:
        if api is not None:
            api.stop()
