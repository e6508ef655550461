"""Offsets and consumer groups, as the broker reports them.

Two broker differences are handled here rather than in every command:

* the embedded broker (tansu) answers ``ListOffsets(latest)`` with a value
  that can be short by the last batch's size minus one, so every end offset
  is approximate and every lag is clamped at 0;
* kafka-python 3's ``describe_groups`` cannot parse tansu's answer (it
  decodes the authorized-operations field and fails), so
  :func:`group_members` falls back to sending ``DescribeGroups`` itself
  without asking for authorized operations, and reads the member list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.protocol.admin import DescribeGroupsRequest

log = logging.getLogger(__name__)


class GroupStateUnknown(RuntimeError):
    """The broker would not say whether a consumer group has active members."""


@dataclass(frozen=True)
class GroupState:
    """What the broker says about one consumer group."""

    group_id: str
    state: str
    members: tuple[str, ...]

    @property
    def active(self) -> bool:
        return bool(self.members)


def group_state(admin: KafkaAdminClient, group_id: str) -> GroupState:
    """The group's state and active members (``DescribeGroups``); raises :class:`GroupStateUnknown`.

    On Apache Kafka the public ``describe_groups`` works; on tansu it raises
    while decoding authorized operations, and the raw request is used instead.
    """
    try:
        described = admin.describe_groups([group_id])[group_id]
        members = tuple(str(m["member_id"]) for m in described.get("members") or [])
        return GroupState(group_id, str(described.get("group_state", "")), members)
    except (ValueError, KeyError, TypeError) as exc:
        log.debug("describe_groups failed (%s); sending DescribeGroups without authorized operations", exc)
    except KafkaError as exc:
        raise GroupStateUnknown(f"cannot describe group {group_id}: {exc}") from exc
    try:
        return _describe_group_raw(admin, group_id)
    except (KafkaError, ValueError, KeyError, AttributeError) as exc:
        raise GroupStateUnknown(f"cannot describe group {group_id}: {exc}") from exc


def _describe_group_raw(admin: KafkaAdminClient, group_id: str) -> GroupState:
    async def describe() -> Any:
        coordinators = await admin._find_coordinator_ids([group_id])
        request = DescribeGroupsRequest(groups=[group_id], include_authorized_operations=False)
        return await admin._manager.send(request, node_id=coordinators[group_id])

    response = admin._manager.run(describe)
    for group in response.groups:
        if group.group_id == group_id:
            if group.error_code:
                raise GroupStateUnknown(f"DescribeGroups({group_id}) error code {group.error_code}")
            return GroupState(group_id, str(group.group_state), tuple(m.member_id for m in group.members))
    raise GroupStateUnknown(f"DescribeGroups did not mention {group_id}")


def committed_offsets(admin: KafkaAdminClient, group_id: str, topic: str | None = None) -> dict[int, int]:
    """Committed offset per partition of ``topic`` (all topics' partitions when None)."""
    found = admin.list_group_offsets({group_id: None}).get(group_id, {})
    return {tp.partition: int(om.offset) for tp, om in found.items()
            if (topic is None or tp.topic == topic) and om.offset >= 0}


def group_topics(admin: KafkaAdminClient, group_id: str) -> dict[str, dict[int, int]]:
    """Committed offsets of ``group_id``, per topic then partition."""
    out: dict[str, dict[int, int]] = {}
    for tp, om in admin.list_group_offsets({group_id: None}).get(group_id, {}).items():
        if om.offset >= 0:
            out.setdefault(tp.topic, {})[tp.partition] = int(om.offset)
    return out


def partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    """The topic's partitions, sorted; raises ``ValueError`` when the topic does not exist."""
    found = consumer.partitions_for_topic(topic)
    if not found:
        raise ValueError(f"topic {topic} does not exist (run `newsflow topics ensure`)")
    return [TopicPartition(topic, p) for p in sorted(found)]


def end_offsets(consumer: KafkaConsumer, tps: list[TopicPartition]) -> dict[int, int]:
    """Latest offsets per partition (approximate on tansu: may undercount)."""
    return {tp.partition: int(off) for tp, off in consumer.end_offsets(tps).items()}


def beginning_offsets(consumer: KafkaConsumer, tps: list[TopicPartition]) -> dict[int, int]:
    return {tp.partition: int(off) for tp, off in consumer.beginning_offsets(tps).items()}


def offsets_at(consumer: KafkaConsumer, tps: list[TopicPartition], when_ms: int) -> dict[int, int | None]:
    """The first offset whose timestamp is at or after ``when_ms``, per partition; None when
    no record is that recent. (tansu answers "none" as offset 0 with timestamp -1.)"""
    found = consumer.offsets_for_times({tp: when_ms for tp in tps})
    out: dict[int, int | None] = {}
    for tp in tps:
        hit = found.get(tp)
        out[tp.partition] = None if hit is None or hit.timestamp < 0 else int(hit.offset)
    return out


def lag(end: int, committed: int | None, beginning: int = 0) -> int:
    """Messages not yet committed: end minus the committed offset or, for a group that never
    committed, minus the beginning offset (where ``auto_offset_reset=earliest`` starts);
    clamped at 0 because end offsets can undercount."""
    return max(0, end - (beginning if committed is None else committed))


def read_to_end(consumer: KafkaConsumer, topic: str, idle_seconds: float = 1.5) -> list[ConsumerRecord]:
    """Every record of ``topic`` from the beginning, without a consumer group.

    The end of a topic is one rule everywhere: the position has passed the end offsets
    recorded at the start **and** no record arrived for ``idle_seconds`` (never the end
    offsets alone: the embedded broker undercounts them). A topic that does not exist is empty.
    """
    return sorted(stream_to_end(consumer, topic, idle_seconds=idle_seconds), key=lambda r: (r.partition, r.offset))


def stream_to_end(consumer: KafkaConsumer, topic: str, *, since_ms: int | None = None, last: int | None = None,
                  idle_seconds: float = 1.5) -> Iterator[ConsumerRecord]:
    """The records of ``topic`` as they are read (partitions interleaved), without a consumer
    group, up to the end (the rule of :func:`read_to_end`): from the beginning, or from the first
    record at or after ``since_ms``, and at most the ``last`` records of each partition."""
    found = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(found)]
    if not tps:
        return
    consumer.assign(tps)
    ends = consumer.end_offsets(tps)
    if since_ms is None and last is None:
        consumer.seek_to_beginning(*tps)
    else:
        firsts = beginning_offsets(consumer, tps)
        at = offsets_at(consumer, tps, since_ms) if since_ms is not None else {}
        for tp in tps:
            start = firsts[tp.partition]
            if since_ms is not None:
                hit = at.get(tp.partition)
                start = int(ends[tp]) if hit is None else max(start, hit)  # None: nothing that recent
            if last is not None:
                start = max(start, int(ends[tp]) - last)
            consumer.seek(tp, start)
    while True:
        polled = consumer.poll(timeout_ms=int(idle_seconds * 1000))
        for batch in polled.values():
            yield from batch
        if not polled and all(consumer.position(tp) >= ends[tp] for tp in tps):
            return
