"""Start-up shared by the service commands (each service's ``main`` calls it).

Each service: configure logs -> register its metrics -> serve /metrics,
/healthz, /readyz -> wait for the broker -> ensure topics -> run until
SIGTERM/SIGINT -> drain, flush, commit -> exit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import services
from services.common import kafka, logs
from services.common.health import Health, serve
from services.common.lag import LagReporter
from services.common.metrics import BUILD_INFO, CONSUMER, PROCESS, MetricSet, init_consumer_series
from services.common.settings import CommonSettings, ConsumerSettings
from services.common.stage import Stage

log = logging.getLogger(__name__)


def register_metrics(service: str, metric_sets: Sequence[MetricSet], init_series: Callable[[], None]) -> None:
    """Register the process metrics and ``metric_sets`` in the default registry; known series at 0."""
    for metric_set in (PROCESS, *metric_sets):
        metric_set.register()
    init_series()
    BUILD_INFO.labels(service, services.__version__).set(1)


def register_consumer_metrics(stage: str, metric_set: MetricSet, init_series: Callable[[], None]) -> None:
    """:func:`register_metrics` for a consumer stage: the consumer metrics are registered too."""

    def init() -> None:
        init_consumer_series(stage)
        init_series()

    register_metrics(stage, (CONSUMER, metric_set), init)


def start_service(service: str, settings: CommonSettings) -> Health:
    """Logs, the health endpoint, then wait for the broker and ensure the topics (the caller
    registered its metrics first). Returns the service's Health."""
    logs.setup(service, settings.log_format, settings.log_level)
    health = Health()
    server = serve(health, settings.metrics_host, settings.metrics_port)
    host, port = server.server_address[:2]
    log.info("%s metrics on http://%s:%s/metrics", service, host, port,
             extra={"metrics_port": port, "bootstrap": settings.kafka_bootstrap_servers})
    kafka.wait_for_broker(settings, timeout=120)
    kafka.ensure_topics(settings)
    health.set("broker", True)
    return health


def run_consumer_stage(stage: Stage, settings: ConsumerSettings, input_topic: str) -> None:
    """Run a built consumer stage until SIGTERM/SIGINT: a fatal producer ends the process, the
    lag of ``input_topic`` is measured in the background, signals drain the batch in hand."""
    kafka.exit_on_fatal_producer(stage.producer, stage.name)
    lag = start_lag_reporter(stage.name, settings, input_topic)
    stage.install_signal_handlers()
    try:
        stage.run()
    finally:
        lag.stopping.set()


def start_lag_reporter(stage: str, settings: ConsumerSettings, topic: str) -> LagReporter:
    """Measure the stage's consumer lag every ``lag_refresh_seconds`` in a daemon thread."""
    reporter = LagReporter(settings, stage, topic)
    reporter.start(settings.lag_refresh_seconds)
    return reporter
