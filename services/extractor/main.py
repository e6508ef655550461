"""``newsflow extractor``: start-up and shutdown of the extractor stage."""

from __future__ import annotations

from services.common import kafka
from services.common.lifecycle import register_consumer_metrics, start_lag_reporter, start_service
from services.common.metrics import MESSAGES_PRODUCED
from services.extractor import metrics
from services.extractor.service import build
from services.extractor.settings import ExtractorSettings


def run(settings: ExtractorSettings) -> None:
    """Run the extractor stage until SIGTERM/SIGINT."""
    register_consumer_metrics("extractor", metrics.EXTRACTOR, metrics.init_series)
    health = start_service("extractor", settings)
    MESSAGES_PRODUCED.labels("extractor", settings.topic_articles)
    stage = build(settings, health)
    kafka.exit_on_fatal_producer(stage.producer, "extractor")
    lag = start_lag_reporter("extractor", settings, settings.topic_pages)
    stage.install_signal_handlers()
    try:
        stage.run()
    finally:
        lag.stopping.set()
