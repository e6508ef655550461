"""``newsflow extractor``: start-up and shutdown of the extractor stage."""

from __future__ import annotations

from services.common.lifecycle import register_consumer_metrics, run_consumer_stage, start_service
from services.common.metrics import MESSAGES_PRODUCED
from services.extractor import metrics
from services.extractor.service import build
from services.extractor.settings import ExtractorSettings


def run(settings: ExtractorSettings) -> None:
    """Run the extractor stage until SIGTERM/SIGINT."""
    register_consumer_metrics("extractor", metrics.EXTRACTOR, metrics.init_series)
    health = start_service("extractor", settings)
    MESSAGES_PRODUCED.labels("extractor", settings.topic_extracted)
    run_consumer_stage(build(settings, health), settings, settings.topic_pages)
