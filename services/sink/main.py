"""``newsflow sink``: start-up and shutdown of the sink stage and its read-only API."""

from __future__ import annotations

from collections.abc import Sequence

from services.common import kafka
from services.common.lifecycle import register_consumer_metrics, start_lag_reporter, start_service
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
    kafka.exit_on_fatal_producer(stage.producer, "sink")
    api = start_api(settings)  # the read-only HTTP API, in a thread next to the stage (None: not served)
    lag = start_lag_reporter("sink", settings, settings.topic_articles)
    stage.install_signal_handlers()
    try:
        stage.run()
    finally:
        lag.stopping.set()
        if api is not None:
            api.stop()
