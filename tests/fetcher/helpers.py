"""Helpers the fetcher's tests share: a local site on 127.0.0.1, one real fetcher pass against the broker, and
the page messages it published."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition
from pytest_httpserver import HTTPServer

from services.common import kafka
from services.common.health import Health
from services.common.messages import PageMessage, decode
from services.fetcher.service import Fetcher
from services.fetcher.settings import FetcherSettings


def local_server(*, threaded: bool = False, no_robots: bool = False) -> Iterator[HTTPServer]:
    """A pytest-httpserver on 127.0.0.1 for one test (``yield from`` it in a fixture); ``no_robots``: it answers
    /robots.txt with 404, so every page is allowed."""
    srv = HTTPServer(host="127.0.0.1", threaded=threaded)
    srv.start()
    if no_robots:
        srv.expect_request("/robots.txt").respond_with_data("", status=404)
    yield srv
    srv.clear()
    if srv.is_running():  # a test may have stopped it (the site going away)
        srv.stop()


def pages(settings: FetcherSettings) -> list[PageMessage]:
    """Every page message on ``settings.topic_pages``, from the beginning."""
    consumer = KafkaConsumer(**settings.kafka_client_config(), enable_auto_commit=False, consumer_timeout_ms=1500)
    try:
        parts = consumer.partitions_for_topic(settings.topic_pages) or set()
        consumer.assign([TopicPartition(settings.topic_pages, p) for p in parts])
        consumer.seek_to_beginning()
        return [decode(PageMessage, rec.value) for rec in consumer]
    finally:
        consumer.close()


def run_once(settings: FetcherSettings) -> None:
    """The real fetcher with a real producer until it stops by itself (``settings.once``) or raises."""
    async def main() -> None:
        producer = kafka.make_producer(settings)
        try:
            await Fetcher(settings, producer, Health()).run()
        finally:
            producer.close(timeout=10)
    asyncio.run(main())
