"""The consumer-lag reporter against the real embedded broker: produce, commit part, measure."""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaConnectionError
from kafka.structs import OffsetAndMetadata
from prometheus_client import REGISTRY

from services.common import kafka, metrics
from services.common.lag import LagReporter
from services.common.settings import ConsumerSettings, load

pytestmark = pytest.mark.integration


def test_lag_per_partition_from_end_offsets(topic_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in topic_env.items():
        monkeypatch.setenv(key, value)
    settings = load(ConsumerSettings, topic_partitions=2)
    kafka.ensure_topics(settings)
    topic = settings.topic_pages
    producer = KafkaProducer(**settings.kafka_client_config())
    for _ in range(5):  # one record per batch: tansu's end offsets are exact for single-record batches
        producer.send(topic, value=b"x", partition=0).get(timeout=30)
        producer.flush()
    for _ in range(2):
        producer.send(topic, value=b"y", partition=1).get(timeout=30)
        producer.flush()
    producer.close()

    reporter = LagReporter(settings, "sink", topic)
    try:
        assert reporter.measure() == {0: 5, 1: 2}  # nothing committed: counted from the beginning

        consumer = KafkaConsumer(**settings.kafka_client_config(), group_id=settings.group_id,
                                 enable_auto_commit=False)
        consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(3, None, -1)})
        consumer.close()

        assert reporter.refresh()
        assert REGISTRY.get_sample_value("newsflow_consumer_lag_messages", {"stage": "sink", "partition": "0"}) == 2
        assert REGISTRY.get_sample_value("newsflow_consumer_lag_messages", {"stage": "sink", "partition": "1"}) == 2
    finally:
        reporter.close()


def test_a_failed_refresh_is_counted_and_keeps_the_old_values(monkeypatch: pytest.MonkeyPatch) -> None:
    reporter = LagReporter(load(ConsumerSettings), "extractor", "pages")

    def broker_gone() -> dict[int, int]:
        raise KafkaConnectionError("broker gone")

    monkeypatch.setattr(reporter, "measure", broker_gone)
    metrics.CONSUMER_LAG.labels("extractor", "0").set(7)
    before = REGISTRY.get_sample_value("newsflow_consumer_lag_refresh_failures_total", {"stage": "extractor"}) or 0
    assert reporter.refresh() is False
    after = REGISTRY.get_sample_value("newsflow_consumer_lag_refresh_failures_total", {"stage": "extractor"})
    assert after == before + 1
    assert REGISTRY.get_sample_value("newsflow_consumer_lag_messages", {"stage": "extractor", "partition": "0"}) == 7
