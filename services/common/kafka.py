"""Kafka clients with the settings every stage needs, and topic creation.

Producers: ``acks=all``, idempotent, lz4 (the embedded broker keeps everything
in memory, so compression is memory saved; lz4 costs the least CPU of the codecs
kafka-python, tansu and Apache Kafka all accept: ``bench/kafka_codec.py``, docs/scaling.md;
kafka-python's gzip is always level 9). CRC32C is checked by the ``crc32c`` extension,
a declared dependency: without it kafka-python falls back to pure Python. Consumers: manual
commits only, earliest reset, short session timeouts so that a group joins in
seconds rather than the ~23 s the kafka-python defaults take.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, TopicAlreadyExistsError

from services.common.settings import CommonSettings, ConsumerSettings

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]


#: the producers' codec (``extra`` may override it): chosen by ``bench/kafka_codec.py``, see docs/scaling.md
COMPRESSION = "lz4"


def make_producer(settings: CommonSettings, **extra: Any) -> KafkaProducer:
    """An idempotent, ``acks=all`` producer compressing with :data:`COMPRESSION`."""
    config: dict[str, Any] = dict(
        **settings.kafka_client_config(),
        acks="all",
        enable_idempotence=True,
        compression_type=COMPRESSION,
        linger_ms=20,
        max_request_size=settings.max_message_bytes,
    )
    config.update(extra)
    return KafkaProducer(**config)


PRODUCER_FATAL_EXIT_CODE = 75  # EX_TEMPFAIL: restart me


def exit_on_fatal_producer(producer: KafkaProducer, service: str, every: float = 1.0) -> threading.Thread:
    """Watch ``producer`` from a daemon thread; exit the process once it is in a fatal state.

    An idempotent producer whose broker forgot its producer id (the embedded broker restarted
    with empty memory storage, or a Kafka cluster lost its producer state) tries to bump its
    epoch; a broker that does not know the id refuses, and kafka-python marks the producer
    fatal for good: every later send fails. Nothing in-process can repair it, so the process
    exits with :data:`PRODUCER_FATAL_EXIT_CODE` and its supervisor (``newsflow up``,
    Kubernetes) starts a fresh one with a fresh producer id. Nothing is lost: what was not
    produced was not committed (stages) or not marked published (fetcher), so the new
    process does it again. kafka-python has no public "is fatal" call; the transaction
    manager's ``has_fatal_error`` is what its own sender checks.
    """

    def watch() -> None:
        while True:
            time.sleep(every)
            manager = getattr(producer, "_transaction_manager", None)
            if manager is not None and manager.has_fatal_error():
                log.error("%s: the Kafka producer is in a fatal state (%s); exiting with code %d so that a "
                          "fresh process with a fresh producer id takes over (nothing uncommitted is lost)",
                          service, manager.last_error, PRODUCER_FATAL_EXIT_CODE)
                logging.shutdown()
                os._exit(PRODUCER_FATAL_EXIT_CODE)

    thread = threading.Thread(target=watch, name="producer-watch", daemon=True)
    thread.start()
    return thread


def make_consumer(settings: CommonSettings, *topics: str, group_id: str | None = None, **extra: Any) -> KafkaConsumer:
    """The one consumer factory: manual commits, earliest reset, fetch sizes that fit the
    largest record. With ``group_id`` it joins that group with the stage's short session
    timeouts (``ConsumerSettings``); without, it reads by assignment (ops, lag, tests).
    Subscribes to ``topics`` when given."""
    config: dict[str, Any] = dict(
        **settings.kafka_client_config(),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=settings.max_message_bytes + 1024,
        fetch_max_bytes=max(52_428_800, settings.max_message_bytes * 2),
    )
    if group_id is not None and isinstance(settings, ConsumerSettings):
        config.update(
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            max_poll_interval_ms=settings.max_poll_interval_ms,
            max_poll_records=settings.batch_max_records,
        )
    config.update(extra)
    return KafkaConsumer(*topics, **config)


def make_admin(settings: CommonSettings) -> KafkaAdminClient:
    return KafkaAdminClient(**settings.kafka_client_config())


def unreachable_broker(settings: CommonSettings, timeout: float = 3.0) -> str | None:
    """None when a TCP connection to one of the bootstrap servers opens within ``timeout``; else
    why not, in one line. (kafka-python itself takes ~30 s to give up bootstrapping.)"""
    reasons = []
    for server in settings.kafka_bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout).close()
            return None
        except (OSError, ValueError) as exc:
            reasons.append(f"{server.strip()}: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}")
    return "; ".join(reasons)


def wait_for_broker(settings: CommonSettings, timeout: float = 60.0) -> None:
    """Block until the broker answers metadata, or raise the last ``KafkaError``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            make_admin(settings).close()
            return
        except (KafkaError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


# Retention per topic: raw pages are bulky and re-fetchable, articles are the
# replay source for the sink, dead letters wait for a human.
_DAY_MS = 24 * 3600 * 1000
TOPIC_RETENTION_MS = {"pages": 7 * _DAY_MS, "extracted": 7 * _DAY_MS, "articles": 30 * _DAY_MS,
                      "dlq": 90 * _DAY_MS}
#: topics with exactly one partition: the dead letters, and the story stage's input (one partition,
#: so its consumer group has one active member placing every article in order; the others are standbys)
SINGLE_PARTITION = ("dlq", "extracted")


def topic_specs(settings: CommonSettings) -> dict[str, dict[str, Any]]:
    """The topics with partitions, retention and size limits (kafka-python's dict form)."""
    names = {"pages": settings.topic_pages, "extracted": settings.topic_extracted,
             "articles": settings.topic_articles, "dlq": settings.topic_dlq}
    return {
        name: {
            "num_partitions": 1 if role in SINGLE_PARTITION else settings.topic_partitions,
            "replication_factor": settings.topic_replication_factor,
            "configs": {
                "retention.ms": str(TOPIC_RETENTION_MS[role]),
                "cleanup.policy": "delete",
                "max.message.bytes": str(settings.max_message_bytes + 1024),
            },
        }
        for role, name in names.items()
    }


def ensure_topics(settings: CommonSettings) -> list[str]:
    """Create missing topics; return the names created (existing ones are left alone)."""
    admin = make_admin(settings)
    try:
        existing = set(admin.list_topics())
        missing = {n: spec for n, spec in topic_specs(settings).items() if n not in existing}
        if not missing:
            return []
        try:
            admin.create_topics(missing, raise_errors=True, wait_for_metadata=True)
        except TopicAlreadyExistsError:
            pass  # another process won the race; that is fine
        log.info("created topics %s", ", ".join(missing))
        return list(missing)
    finally:
        admin.close()
