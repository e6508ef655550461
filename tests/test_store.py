"""The storage suite: every backend must pass it (SQLite here; PostgreSQL joins via the fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.common.messages import Article, Entity, Mention, Place
from services.sink.store import Filters, SqliteStore, Store, StoreError, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'news.db'}")
    yield s
    s.close()


def make(aid: str = "a1", text: str = "Ukraine struck targets near Kharkiv.", **kw: object) -> Article:
    base: dict[str, object] = dict(
        id=aid, url=f"http://news.example/{aid}", source="news.example", title=f"Title {aid}",
        text=text, extractor_version="v1", content_hash=f"h-{hash(text) & 0xFFFF}",
        fetched_at=datetime(2024, 6, 5, 12, tzinfo=UTC), published_at=datetime(2024, 6, 5, 10, tzinfo=UTC),
        places=[Place(name="Kharkiv", place_id="geonames:706483", kind="city", country_code="UA",
                      mentions=[Mention(start=27, end=34, text="Kharkiv")])],
        people=[Entity(name="Joe Biden")], organisations=[Entity(name="NATO")], topics=["conflict"],
        story_id="s1",
    )
    base.update(kw)
    return Article.model_validate(base)


def test_insert_and_redelivery_is_idempotent(store: Store) -> None:
    a, b = make("a1"), make("a2", "Quebec council passes its budget.")
    assert store.write_batch([a, b]) == ["inserted", "inserted"]
    assert store.write_batch([a, b]) == ["unchanged", "unchanged"]
    assert store.count() == 2
    assert store.get("a1") == a


def test_changed_text_becomes_a_revision(store: Store) -> None:
    old = make("a1")
    new = make("a1", "Ukraine struck targets near Kharkiv and Belgorod.",
               fetched_at=datetime(2024, 6, 6, tzinfo=UTC))
    store.write_batch([old])
    assert store.write_batch([new]) == ["updated"]
    history = store.history("a1")
    assert [r for r, _, _ in history] == [1, 2]
    assert history[0][1].text == old.text and history[1][1].text == new.text
    # a replay of the whole topic (old then new again) changes nothing
    assert store.write_batch([old, new]) == ["unchanged", "unchanged"]
    assert store.count() == 1 and store.get("a1") == new


def test_new_extractor_version_is_a_revision_even_for_an_old_fetch(store: Store) -> None:
    store.write_batch([make("a1")])
    replayed = make("a1", "Ukraine struck targets near Kharkiv (cleaner).", extractor_version="v2")
    assert store.write_batch([replayed]) == ["updated"]
    assert store.get("a1").extractor_version == "v2"  # type: ignore[union-attr]


def test_late_older_fetch_does_not_replace_current(store: Store) -> None:
    store.write_batch([make("a1", "newest text", fetched_at=datetime(2024, 6, 7, tzinfo=UTC))])
    assert store.write_batch([make("a1", "older text", fetched_at=datetime(2024, 6, 1, tzinfo=UTC))]) == [
        "historical"]
    assert store.get("a1").text == "newest text"  # type: ignore[union-attr]


def test_full_text_search_and_filters(store: Store) -> None:
    store.write_batch([
        make("a1"),
        make("a2", "The Larder Lake council bought a taxicab.", places=[], people=[], organisations=[],
             topics=["politics"], story_id="s2", source="ledger.example",
             published_at=datetime(2024, 1, 1, tzinfo=UTC)),
    ])
    assert [h.article.id for h in store.search(Filters(query="Kharkiv"))] == ["a1"]
    assert "Kharkiv" in (store.search(Filters(query="kharkiv"))[0].snippet or "")
    assert [h.article.id for h in store.search(Filters(place="kharkiv"))] == ["a1"]
    assert [h.article.id for h in store.search(Filters(place="geonames:706483"))] == ["a1"]
    assert [h.article.id for h in store.search(Filters(person="Joe Biden"))] == ["a1"]
    assert [h.article.id for h in store.search(Filters(organisation="nato"))] == ["a1"]
    assert [h.article.id for h in store.search(Filters(topic="politics"))] == ["a2"]
    assert [h.article.id for h in store.search(Filters(story="s2"))] == ["a2"]
    assert [h.article.id for h in store.search(Filters(source="ledger.example"))] == ["a2"]
    since = datetime(2024, 3, 1, tzinfo=UTC)
    assert [h.article.id for h in store.search(Filters(since=since))] == ["a1"]
    assert [a.id for a in store.iter_articles(Filters(since=since - timedelta(days=365)))] == ["a1", "a2"]


def test_search_survives_bad_query_syntax(store: Store) -> None:
    store.write_batch([make("a1")])
    assert store.search(Filters(query='"unbalanced')) == []
    assert [h.article.id for h in store.search(Filters(query="Kharkiv)"))] == ["a1"]


def test_unknown_url_scheme() -> None:
    with pytest.raises(StoreError, match="unsupported"):
        open_store("mysql://x/y")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "news.db"
    SqliteStore(path).db.execute("INSERT INTO schema_migrations VALUES (999, 'future')")
    with pytest.raises(StoreError, match="newer than this newsflow knows"):
        SqliteStore(path)
