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

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.errors import KafkaError

from services.common import metrics
from services.common import offsets as ofs
from services.common.kafka import make_admin, make_consumer
from services.common.settings import ConsumerSettings

log = logging.getLogger(__name__)


def compute_lag(end: Mapping[int, int], committed: Mapping[int, int], beginning: Mapping[int, int]) -> dict[int, int]:
    """Lag per partition of ``end`` (:func:`services.common.offsets.lag` of each)."""
    return {p: ofs.lag(e, committed.get(p), beginning.get(p, 0)) for p, e in end.items()}


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
            self._consumer = make_consumer(self.settings)
            self._admin = make_admin(self.settings)
        assert self._admin is not None
        if not self._consumer.partitions_for_topic(self.topic):
            return {}
        tps = ofs.partitions(self._consumer, self.topic)
        end = ofs.end_offsets(self._consumer, tps)
        beginning = ofs.beginning_offsets(self._consumer, tps)
        committed = ofs.committed_offsets(self._admin, self.settings.group_id, self.topic)
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
