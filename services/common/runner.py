"""Start-up and shutdown shared by the three service commands.

Each service: configure logs -> serve /metrics, /healthz, /readyz -> wait for
the broker -> ensure topics -> run until SIGTERM/SIGINT -> drain, flush,
commit -> exit.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import services
from services.common import kafka, logs, metrics
from services.common.config import (
    CommonSettings,
    ConsumerSettings,
    ExtractorSettings,
    FetcherSettings,
    SinkSettings,
)
from services.common.health import Health, serve
from services.common.lag import LagReporter

log = logging.getLogger(__name__)


def _start(service: str, settings: CommonSettings) -> Health:
    logs.setup(service, settings.log_format, settings.log_level)
    metrics.BUILD_INFO.labels(service, services.__version__).set(1)
    metrics.init_series(service)
    health = Health()
    server = serve(health, settings.metrics_host, settings.metrics_port)
    host, port = server.server_address[:2]
    log.info("%s metrics on http://%s:%s/metrics", service, host, port,
             extra={"metrics_port": port, "bootstrap": settings.kafka_bootstrap_servers})
    kafka.wait_for_broker(settings, timeout=120)
    kafka.ensure_topics(settings)
    health.set("broker", True)
    return health


def _start_lag_reporter(stage: str, settings: ConsumerSettings, topic: str) -> LagReporter:
    """Measure the stage's consumer lag every ``lag_refresh_seconds`` in a daemon thread."""
    reporter = LagReporter(settings, stage, topic)
    reporter.start(settings.lag_refresh_seconds)
    return reporter


def run_fetcher(settings: FetcherSettings) -> None:
    from services.fetcher.service import Fetcher

    health = _start("fetcher", settings)

    async def main() -> None:
        producer = kafka.make_producer(settings)
        kafka.exit_on_fatal_producer(producer, "fetcher")
        fetcher = Fetcher(settings, producer, health)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, fetcher.stopping.set)
        health.set("storage", True)
        await fetcher.run()
        fetcher.producer.close(timeout=10)

    asyncio.run(main())
    log.info("fetcher stopped cleanly")


def run_extractor(settings: ExtractorSettings) -> None:
    from services.extractor.service import build

    health = _start("extractor", settings)
    metrics.MESSAGES_PRODUCED.labels("extractor", settings.topic_articles)
    stage = build(settings, health)
    kafka.exit_on_fatal_producer(stage.producer, "extractor")
    lag = _start_lag_reporter("extractor", settings, settings.topic_pages)
    stage.install_signal_handlers()
    try:
        stage.run()
    finally:
        lag.stopping.set()


def run_sink(settings: SinkSettings) -> None:
    from services.sink.api import start_api
    from services.sink.service import build

    health = _start("sink", settings)
    stage = build(settings, health)
    kafka.exit_on_fatal_producer(stage.producer, "sink")
    api = start_api(settings)  # the read-only HTTP API, in a thread next to the stage (None: not served)
    lag = _start_lag_reporter("sink", settings, settings.topic_articles)
    stage.install_signal_handlers()
    try:
        stage.run()
    finally:
        lag.stopping.set()
        if api is not None:
            api.stop()
