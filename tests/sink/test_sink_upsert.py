"""The upsert decisions both backends share (pure logic, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.sink.upsert import Stored, plan_batch
from tests.sink.test_store import make

NOW = datetime(2024, 7, 1, tzinfo=UTC)


def stored(aid: str = "a1", text: str = "Ukraine struck targets near Kharkiv.", **kw: object) -> Stored:
    a = make(aid, text, **kw)
    return Stored(a.content_hash, a.extractor_version, a.fetched_at, 1, a.model_dump_json(),
                  story_id=a.story_id, duplicate_of=a.duplicate_of)


def test_new_article_is_inserted_as_revision_one() -> None:
    plan = plan_batch([make("a1")], {}, NOW)
    assert plan.results == ["inserted"] and plan.current["a1"][1] == 1
    assert not plan.replaced and not plan.revisions


def test_same_content_or_a_kept_revision_is_unchanged() -> None:
    state = {"a1": stored()}
    state["a1"].seen.add(("h-old", "v1"))
    plan = plan_batch([make("a1"), make("a1", content_hash="h-old")], state, NOW)
    assert plan.results == ["unchanged", "unchanged"] and not plan.current and not plan.revisions


def test_change_moves_the_current_row_to_the_history() -> None:
    plan = plan_batch([make("a1", "new text", fetched_at=datetime(2024, 6, 6, tzinfo=UTC))], {"a1": stored()}, NOW)
    assert plan.results == ["updated"] and plan.replaced == {"a1"}
    assert [(r.revision, r.replaced_at) for r in plan.revisions] == [(1, NOW)]
    assert plan.current["a1"][1] == 2


def test_older_fetch_is_only_history_and_numbering_never_collides() -> None:
    state = {"a1": stored()}
    late = make("a1", "older", fetched_at=datetime(2024, 6, 1, tzinfo=UTC))
    newer = make("a1", "newer", fetched_at=datetime(2024, 6, 9, tzinfo=UTC))
    plan = plan_batch([late, newer], state, NOW)
    assert plan.results == ["historical", "updated"]
    assert sorted(r.revision for r in plan.revisions) == [1, 2] and plan.current["a1"][1] == 3


def test_insert_then_update_in_one_batch_writes_only_the_last_as_current() -> None:
    plan = plan_batch([make("a1", "one"), make("a1", "two", extractor_version="v2")], {}, NOW)
    assert plan.results == ["inserted", "updated"] and not plan.replaced
    assert plan.current["a1"][0].text == "two" and [r.revision for r in plan.revisions] == [1]


def test_a_story_change_updates_the_current_row_in_place() -> None:
    """The story stage re-placed the article (replay --stage stories, failover): same text, same
    revision, no history row; only the story fields change, the rest stays as stored."""
    state = {"a1": stored()}
    moved = make("a1", story_id="s2", duplicate_of="a0", fetched_at=datetime(2024, 6, 9, tzinfo=UTC))
    plan = plan_batch([moved], state, NOW)
    assert plan.results == ["story_changed"] and plan.replaced == {"a1"} and not plan.revisions
    article, revision = plan.current["a1"]
    assert revision == 1 and (article.story_id, article.duplicate_of) == ("s2", "a0")
    assert article.fetched_at == make("a1").fetched_at  # as stored: a story is not a new fetch
    again = plan_batch([moved], state, NOW)
    assert again.results == ["unchanged"] and not again.current


def test_an_article_without_a_story_does_not_erase_one() -> None:
    plan = plan_batch([make("a1", story_id=None)], {"a1": stored()}, NOW)
    assert plan.results == ["unchanged"] and not plan.current


def test_a_story_change_of_a_row_inserted_in_the_same_batch() -> None:
    plan = plan_batch([make("a1"), make("a1", story_id="s2")], {}, NOW)
    assert plan.results == ["inserted", "story_changed"] and not plan.replaced
    assert plan.current["a1"][0].story_id == "s2" and plan.current["a1"][1] == 1
