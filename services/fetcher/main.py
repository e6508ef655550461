"""``newsflow fetcher``: start-up and shutdown of the fetcher service."""

from __future__ import annotations

import asyncio
import logging
import signal

from services.common import kafka
from services.common.lifecycle import register_metrics, start_service
from services.fetcher import metrics
from services.fetcher.service import Fetcher
from services.fetcher.settings import FetcherSettings

log = logging.getLogger(__name__)


def run(settings: FetcherSettings) -> None:
    """Run the fetcher until SIGTERM/SIGINT."""
    register_metrics("fetcher", (metrics.FETCHER,), metrics.init_series)
    health = start_service("fetcher", settings)

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
