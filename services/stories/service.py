"""``newsflow stories-worker``: ``newsflow.extracted`` -> ``newsflow.articles``.

consume -> (rebuild the index after an assignment) -> process (decode each Article, place it
in its story, in record order) -> produce each Article with ``acks=all`` (key: the article id;
header: its input offset) and flush -> commit offsets.

The input topic has one partition, so one member of the group places every article of the
deployment; the others wait as standbys and take over through the group protocol. Placing is
cheap (the extractor computed the features); see :mod:`services.stories.index`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from kafka import KafkaProducer
from kafka.errors import KafkaError

from services.common.deadletters import DeadLetter
from services.common.health import Health
from services.common.kafka import make_consumer, make_producer
from services.common.messages import Article, MessageError, decode, encode
from services.common.produce import producing_writer
from services.common.records import Record
from services.common.stage import Stage, build_stage
from services.common.steps import Processed, ProcessFn, StepWrapper, WriteFn, retry_on
from services.stories import metrics
from services.stories.index import StoryIndex
from services.stories.placing import place_article
from services.stories.rebuild import ORDER_HEADER, RebuildOnAssignment, rebuild_index
from services.stories.settings import StoriesSettings

log = logging.getLogger(__name__)

STAGE = "stories"
Item = tuple[Record, Article]


def make_processor(index: StoryIndex) -> ProcessFn[Item]:
    """Step 2: decode each article and place it, in record order (the input offset is its order)."""

    def process(records: Sequence[Record]) -> Processed[Item]:
        out: Processed[Item] = Processed()
        for rec in records:
            try:
                article = decode(Article, rec.value)
            except MessageError as exc:
                out.dead.append(DeadLetter(rec, exc))
                continue
            placed, kind = place_article(index, article, order=rec.offset)
            metrics.ASSIGNMENTS.labels(kind).inc()
            out.items.append((rec, placed))
        metrics.INDEX_ITEMS.set(len(index))
        return out

    return process


def make_writer(producer: KafkaProducer, topic: str) -> WriteFn[Item]:
    """Step 3: produce every placed article (acks=all, keyed by article id, its input offset in the
    order header) and wait until all are durable."""
    return producing_writer(producer, topic, STAGE, lambda rec, article: (
        article.id.encode(), encode(article), [(ORDER_HEADER, str(rec.offset).encode("ascii"))]))


def build(settings: StoriesSettings, health: Health, steps: Sequence[StepWrapper] = (),
          rebuild: bool = True) -> Stage:
    """The story stage: extracted topic -> place -> articles topic -> commit.

    ``rebuild`` (the service): the index is refilled from ``newsflow.articles`` before the first
    batch and after every assignment. Without (``newsflow replay --stage stories``): it starts
    empty and re-clusters what is replayed."""
    index = StoryIndex(window_days=settings.story_window_days, max_items=settings.story_max_items)
    producer = make_producer(settings)
    rebuilder = RebuildOnAssignment(lambda: rebuild_index(index, settings, settings.story_max_items))
    return build_stage(
        name=STAGE,
        settings=settings,
        input_topic=settings.topic_extracted,
        process=make_processor(index),
        write=retry_on((KafkaError, OSError, TimeoutError), make_writer(producer, settings.topic_articles)),
        health=health,
        consumer=make_consumer(settings, group_id=settings.group_id),
        producer=producer,
        steps=(*steps, rebuilder) if rebuild else steps,  # the rebuild runs before everything else
        on_assigned=rebuilder.assigned if rebuild else None,
    )
