"""Consumer lag per partition, refreshed periodically in a background thread.

lag = end offset - committed offset of the stage's consumer group, per
partition of its input topic (a partition with no committed offset yet counts
from its beginning offset, which is where ``auto_offset_reset=earliest``
starts). The thread uses its own Kafka clients (the stage's consumer is not
thread-safe) and measures the whole group, not only the partitions this
process holds: every replica of a stage reports the same numbers, so
dashboards aggregate with ``max by (stage, partition)``.

Approximate on the embedded broker: tansu's ListOffsets(latest) undercounts
by the last batch's size minus one, so a caught-up group can look *ahead* of
the end. Lag is clamped at 0; it is a trend for operators, never a "done"
signal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from services.common import metrics
from services.common.settings import ConsumerSettings

log = logging.getLogger(__name__)


def compute_lag(end: Mapping[int, int], committed: Mapping[int, int], beginning: Mapping[int, int]) -> dict[int, int]:
    """Lag per partition of ``end``: end minus committed (else minus beginning), at least 0."""
    lag = {}
    for partition, end_offset in end.items():
        start = committed.get(partition, beginning.get(partition, 0))
        lag[partition] = max(0, end_offset - start)
    return lag


class LagReporter:
    """Measures one stage's group lag on its input topic and sets ``newsflow_consumer_lag_messages``."""

    def __init__(self, settings: ConsumerSettings, stage: str, topic: str) -> None:
        self.settings = settings
        self.stage = stage
        self.topic = topic
        self.stopping = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self._admin: KafkaAdminClient | None = None

    def measure(self) -> dict[int, int]:
        """One measurement: the lag of every partition of the input topic."""
        if self._consumer is None:
            self._consumer = KafkaConsumer(**self.settings.kafka_client_config(), enable_auto_commit=False)
            self._admin = KafkaAdminClient(**self.settings.kafka_client_config())
        assert self._admin is not None
        partitions = self._consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        if not tps:
            return {}
        end = {tp.partition: off for tp, off in self._consumer.end_offsets(tps).items()}
        beginning = {tp.partition: off for tp, off in self._consumer.beginning_offsets(tps).items()}
        group = self.settings.group_id
        offsets = self._admin.list_group_offsets({group: tps}).get(group, {})
        committed = {tp.partition: meta.offset for tp, meta in offsets.items()
                     if tp.topic == self.topic and meta.offset >= 0}
        return compute_lag(end, committed, beginning)

    def refresh(self) -> bool:
        """Measure and publish; a failure is logged and counted, and the old values stay."""
        try:
            lag = self.measure()
        except (KafkaError, OSError) as exc:
            metrics.LAG_REFRESH_FAILURES.labels(self.stage).inc()
            log.warning("consumer lag refresh failed: %s", exc, extra={"stage": self.stage})
            self.close()  # reconnect next time
            return False
        for partition, value in lag.items():
            metrics.CONSUMER_LAG.labels(self.stage, str(partition)).set(value)
        return True

    def run(self, interval: float) -> None:
        while not self.stopping.is_set():
            self.refresh()
            self.stopping.wait(interval)
        self.close()

    def start(self, interval: float) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(interval,), name=f"lag-{self.stage}", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        for client in (self._consumer, self._admin):
            if client is not None:
                try:
                    client.close()
                except (KafkaError, OSError) as exc:
                    log.debug("closing lag client: %s", exc)
        self._consumer = self._admin = None
