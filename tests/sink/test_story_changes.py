"""A story change (the story stage re-placed an article) as the stores keep it, on every backend."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from services.sink.backends import open_store
from services.sink.store import Filters, Store
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


def test_a_story_change_updates_the_row_without_indexing_its_text_again(store_url: str) -> None:
    """Issue 20: a story change updates the story fields of the stored row; it neither deletes it
    nor writes it again (which indexed its whole text again: a re-clustering of the topic
    re-indexed every article). Search, tags and the other rows of a mixed batch are as before."""
    store = open_store(store_url)
    try:
        a, b = make("a1"), make("a2", "Quebec council passes its budget.")
        assert store.write_batch([a, b]) == ["inserted", "inserted"]
        before = _sqlite_row_and_index(store_url)
        assert store.write_batch([make("a1", story_id="s9")]) == ["story_changed"]
        if before is not None:
            assert _sqlite_row_and_index(store_url) == before  # same rowid, FTS5 segments untouched
        changed_b = make("a2", "Quebec council passes its budget after a vote.",
                         fetched_at=b.fetched_at + timedelta(days=1))
        results = store.write_batch([make("a1", story_id="s10"), changed_b, make("a3", "Lviv hosts a summit.")])
        assert results == ["story_changed", "updated", "inserted"]
        hits = store.search(Filters(query="Kharkiv", story="s10"))
        assert [h.article.id for h in hits] == ["a1"] and hits[0].article.story_id == "s10"
        assert [h.article.id for h in store.search(Filters(place="Kharkiv", story="s10"))] == ["a1"]
        assert [h.article.id for h in store.search(Filters(query="vote"))] == ["a2"]
        assert [h.article.id for h in store.search(Filters(query="Lviv"))] == ["a3"]
        assert [revision for revision, *_ in store.history("a1")] == [1]
    finally:
        store.close()


def _sqlite_row_and_index(url: str) -> tuple[object, ...] | None:
    """a1's rowid and the FTS5 index's stored segments (after an integrity check), on SQLite; else None."""
    if not url.startswith("sqlite:///"):
        return None
    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")
        return (db.execute("SELECT rowid FROM articles WHERE id = 'a1'").fetchall(),
                db.execute("SELECT id, block FROM articles_fts_data ORDER BY id").fetchall())
    finally:
        db.close()
