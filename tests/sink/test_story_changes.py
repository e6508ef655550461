"""A story change (the story stage re-placed an article) as the stores keep it, on every backend."""

from __future__ import annotations

from services.sink.store import Store
from tests.sink.test_store import make

pytest_plugins = ["tests.sink.test_store"]  # its per-backend `store` fixture


def test_a_story_change_is_stored_in_place(store: Store) -> None:
    """A re-clustering (replay --stage stories) moves the article to another story: the row's
    story fields change, its revision and history do not; the story listing follows."""
    a = make("a1")
    assert store.write_batch([a]) == ["inserted"]
    moved = make("a1", story_id="s9", duplicate_of="a0")
    assert store.write_batch([moved]) == ["story_changed"]
    assert store.write_batch([moved]) == ["unchanged"]
    got = store.get("a1")
    assert got is not None and (got.story_id, got.duplicate_of) == ("s9", "a0")
    assert [revision for revision, *_ in store.history("a1")] == [1]
    assert got.model_copy(update={"story_id": a.story_id, "duplicate_of": None}) == a
