"""The story stage with the fake consumer, producer and clock (tests/common/fakes.py): placing in
record order, the rebuild from its own output, redelivery and takeover giving the same answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from kafka.errors import KafkaConnectionError
from prometheus_client import REGISTRY

from services.common.health import Health
from services.common.messages import Article, decode, encode
from services.common.records import Record
from services.common.settings import ConsumerSettings
from services.common.stage import Stage, build_stage
from services.common.steps import RetryBatch
from services.extractor.features import story_features
from services.extractor.tagging import tag
from services.stories.index import StoryIndex
from services.stories.rebuild import ORDER_HEADER, RebuildOnAssignment, insert_record, record_order
from services.stories.service import make_processor, make_writer
from tests.common.fakes import FakeClock, FakeConsumer, FakeProducer, Rec
from tests.stories.test_index import AP, CBC, OTHER, SYNDICATED, T0

pytestmark = pytest.mark.timeout(120)
IN, OUT = "newsflow.extracted", "newsflow.articles"
FETCHED = datetime(2026, 1, 5, tzinfo=UTC)


def article(aid: str, text: str, published: datetime | None, features: bool = True) -> Article:
    return Article(id=aid, url=f"https://news.example/{aid}", source="news.example", text=text,
                   extractor_version="v1", content_hash=f"h-{aid}", fetched_at=FETCHED, published_at=published,
                   story_features=story_features(text, None, tag(text)) if features else None)


INPUT = [
    article("ap", AP, T0),
    article("cbc", CBC, T0 - timedelta(days=4.7)),
    article("ap-elsewhere", SYNDICATED, T0 + timedelta(hours=2)),
    article("hockey", OTHER, T0),
    article("old-extractor", OTHER + " Again.", T0, features=False),
]


def settings() -> ConsumerSettings:
    return ConsumerSettings(batch_max_records=3, batch_max_seconds=1.0, dlq_window=10, topic_dlq="dlq",
                            topic_articles=OUT)


class Member:
    """One story-stage process: its index, fake consumer on the input, fake producer of its output;
    its rebuild reads ``log`` (what every member produced to newsflow.articles)."""

    def __init__(self, values: list[bytes], log: list[Rec]) -> None:
        self.clock = FakeClock()
        self.consumer = FakeConsumer(self.clock, IN, {0: values})
        self.producer = FakeProducer(self.consumer.events)
        self.index = StoryIndex(window_days=3, max_items=1000)
        self.log = log
        self.rebuilds = 0
        self.rebuilder = RebuildOnAssignment(self.rebuild)
        self.stage: Stage = build_stage(
            name="stories", settings=settings(), input_topic=IN, process=make_processor(self.index),
            write=self.write, health=Health(), consumer=self.consumer, producer=self.producer,  # type: ignore[arg-type]
            clock=self.clock, steps=(self.rebuilder,), on_assigned=self.rebuilder.assigned)

    def write(self, items: list[tuple[Record, Article]]) -> list[object]:
        before = len(self.producer.sent)
        dead = make_writer(self.producer, OUT)(items)  # type: ignore[arg-type]
        for _topic, key, value, headers in self.producer.sent[before:]:
            self.log.append(Rec(OUT, 0, len(self.log), key, value, headers=headers))
        return dead  # type: ignore[return-value]

    def rebuild(self) -> None:
        self.rebuilds += 1
        self.index.clear()
        for rec in self.log:
            insert_record(self.index, rec)  # type: ignore[arg-type]


def placed(log: Sequence[Rec]) -> dict[str, tuple[str | None, str | None]]:
    out: dict[str, tuple[str | None, str | None]] = {}
    for rec in log:
        a = decode(Article, rec.value)
        assert out.setdefault(a.id, (a.story_id, a.duplicate_of)) == (a.story_id, a.duplicate_of), a.id
    return out


def assignments(kind: str) -> float:
    return REGISTRY.get_sample_value("newsflow_story_assignments_total", {"kind": kind}) or 0.0


def test_articles_are_placed_in_record_order_with_their_offset() -> None:
    before = {k: assignments(k) for k in ("new_story", "joined_story", "duplicate", "unplaced")}
    log: list[Rec] = []
    member = Member([encode(a) for a in INPUT] + [b"{not json"], log)
    while member.stage.run_once():
        pass
    assert member.rebuilds == 1  # before the first batch
    got = placed(log)
    assert list(got) == [a.id for a in INPUT]
    assert got["ap"][0] == got["cbc"][0] == got["ap-elsewhere"][0]  # the seeds, 4.7 days apart, and a copy
    assert got["ap-elsewhere"][1] == "ap" and got["ap"][1] is None and got["cbc"][1] is None
    assert got["hockey"][0] != got["ap"][0]
    assert got["old-extractor"] == (None, None)  # no features: passed on unplaced
    assert [record_order(r.headers) for r in log] == [0, 1, 2, 3, 4]
    assert member.consumer.committed == {0: 6}
    assert [h for *_, h in member.producer.sent if h == []] == []
    counted = {k: assignments(k) - v for k, v in before.items()}
    assert counted == {"new_story": 2, "joined_story": 1, "duplicate": 1, "unplaced": 1}
    assert decode(Article, log[0].value).story_features is not None  # kept for the next rebuild


def test_a_member_that_dies_before_its_commit_is_replaced_with_the_same_answers() -> None:
    values = [encode(a) for a in INPUT]
    single: list[Rec] = []
    alone = Member(values, single)
    while alone.stage.run_once():
        pass
    log: list[Rec] = []
    first = Member(values, log)
    batch = first.consumer.poll(max_records=3)[next(iter(first.consumer.assignment()))]
    first.stage.step(batch)  # placed and produced ... and the process dies before the commit
    standby = Member(values, log)  # starts from the committed offset (none): the whole input again
    while standby.stage.run_once():
        pass
    assert standby.rebuilds == 1
    assert placed(log) == placed(single)  # the redelivered three keep their answers, the rest agree
    assert len(log) == len(values) + 3


def test_an_assignment_rebuilds_before_the_next_batch_and_a_broker_failure_retries_it() -> None:
    calls: list[str] = []
    wrapper = RebuildOnAssignment(lambda: calls.append("rebuild"))
    step = wrapper(lambda records: calls.append(f"batch {len(records)}") or [])  # type: ignore[func-returns-value]
    step([])
    step([])
    wrapper.assigned()
    step([])
    assert calls == ["rebuild", "batch 0", "batch 0", "rebuild", "batch 0"]

    def broken() -> None:
        raise KafkaConnectionError("no broker")

    failing = RebuildOnAssignment(broken)
    with pytest.raises(RetryBatch, match="rebuild"):
        failing(lambda records: [])([])
    assert failing.pending


def test_record_order_header() -> None:
    assert record_order([(ORDER_HEADER, b"42")]) == 42
    assert record_order([("other", b"1")]) is None and record_order(None) is None
    assert record_order([(ORDER_HEADER, b"x")]) is None
