"""The storage suite: every backend must pass it, SQLite and PostgreSQL alike.

PostgreSQL runs against the real server (``NEWSFLOW_TEST_POSTGRES_URL``, default
127.0.0.1:5432/test); each test gets its own schema, dropped afterwards. Outside
CI a missing server skips the PostgreSQL half; in CI (``CI=true``) it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from services.common.messages import Article, Entity, Mention, Place
from services.sink.backends import open_store
from services.sink.sqlite import SqliteStore
from services.sink.store import BadQuery, Filters, QueryTimeout, RowRejected, Store, StoreError

POSTGRES_URL = os.environ.get("NEWSFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


@contextmanager
def postgres_schema(base_url: str = POSTGRES_URL) -> Iterator[str]:
    """A fresh schema ``t_<uuid>`` on the real server; yields a sink URL using it; drops it after."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(base_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {base_url} is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {base_url}: {exc}")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A sink URL of an empty store, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'news.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    yield s
    s.close()


def make(aid: str = "a1", text: str = "Ukraine struck targets near Kharkiv.", **kw: object) -> Article:
    base: dict[str, object] = {
        "id": aid, "url": f"http://news.example/{aid}", "source": "news.example", "title": f"Title {aid}",
        "text": text, "extractor_version": "v1", "content_hash": f"h-{hash(text) & 0xFFFF}",
        "fetched_at": datetime(2024, 6, 5, 12, tzinfo=UTC), "published_at": datetime(2024, 6, 5, 10, tzinfo=UTC),
        "places": [Place(name="Kharkiv", place_id="geonames:706483", kind="city", country_code="UA",
                      mentions=[Mention(start=27, end=34, text="Kharkiv")])],
        "people": [Entity(name="Joe Biden")], "organisations": [Entity(name="NATO")], "topics": ["conflict"],
        "story_id": "s1",
    }
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
    with pytest.raises(BadQuery, match="unbalanced double quote"):  # the caller's error, on both backends
        store.search(Filters(query='"unbalanced'))
    assert [h.article.id for h in store.search(Filters(query="Kharkiv)"))] == ["a1"]  # stray punctuation: plain terms


ATTACK = " OR ".join(f"{c}*" for c in "abcdefghijklmnopqrstuvwxyz")


@pytest.mark.parametrize("query", [" ", "\x00", "Kharkiv\x00", '"unbalanced', "*", "OR", "a OR", "NOT Kharkiv",
                                   "Kharkiv AND OR x", '""', "()", "*Kharkiv", ATTACK])
def test_queries_the_engine_rejects_are_bad_queries_on_every_backend(store: Store, query: str) -> None:
    store.write_batch([make("a1")])
    for read in (lambda: store.search(Filters(query=query)), lambda: store.stories(Filters(query=query), 1)):
        with pytest.raises(BadQuery):
            read()


def test_a_nul_in_any_filter_is_a_bad_query(store: Store) -> None:
    for name in ("place", "person", "organisation", "topic", "story", "source"):
        with pytest.raises(BadQuery, match=f"{name} contains a control character"):
            store.search(Filters(**{name: "x\x00"}))  # type: ignore[arg-type]
    with pytest.raises(BadQuery):
        store.iter_articles(Filters(place="\x00"))


def test_reads_past_the_timeout_are_cancelled(store_url: str) -> None:
    store = open_store(store_url, read_timeout=0.05)
    try:
        with pytest.raises(QueryTimeout, match=r"cancelled after 0\.05 s"):
            # counting to 10^9 takes minutes on either backend
            store._rows("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1000000000) "  # type: ignore[attr-defined]
                        "SELECT COUNT(*) FROM c", (), scan=True)
        assert store.count() == 0  # the connection is usable afterwards
    finally:
        store.close()


def test_unknown_url_scheme() -> None:
    with pytest.raises(StoreError, match="unsupported"):
        open_store("mysql://x/y")


def _set_schema_version(url: str, store: Store, version: int) -> None:
    if isinstance(store, SqliteStore):
        store.db.execute("INSERT INTO schema_migrations VALUES (?, 'future')", (version,))
    else:
        store._rows("INSERT INTO schema_migrations VALUES (%s, now()) RETURNING version", (version,))  # type: ignore[attr-defined]


def test_migrations_are_recorded_and_newer_schema_is_refused(store_url: str) -> None:
    first = open_store(store_url)
    assert first.schema_version() >= 1  # type: ignore[attr-defined]
    first.close()
    again = open_store(store_url)  # applying again is a no-op
    assert again.count() == 0
    _set_schema_version(store_url, again, 999)
    again.close()
    with pytest.raises(StoreError, match="newer than this newsflow knows"):
        open_store(store_url)


def test_a_row_violating_a_constraint_is_rejected_and_the_batch_goes_on(store: Store) -> None:
    # The models strip NUL on the way in; model_copy(update=...) skips validation, as a row from an
    # older producer would: the database constraint is the last line of defence.
    nul = make("a3", "bad byte").model_copy(update={"text": "bad \x00 byte"})
    results = store.write_batch([make("a1"), make("", "no id"), nul, make("a4", "fine")])
    assert results[0] == "inserted" and results[3] == "inserted"
    assert isinstance(results[1], RowRejected) and isinstance(results[2], RowRejected)
    assert "article a3" in str(results[2])
    assert store.count() == 2 and store.get("a4") is not None
    assert store.write_batch([make("a3", "good byte")]) == ["inserted"]


def test_one_id_twice_in_a_batch(store: Store) -> None:
    v1 = make("a1", "first text")
    v2 = make("a1", "second text", fetched_at=datetime(2024, 6, 6, tzinfo=UTC))
    assert store.write_batch([v1, v2, v1]) == ["inserted", "updated", "unchanged"]
    assert [r for r, _, _ in store.history("a1")] == [1, 2]
    assert store.get("a1") == v2


def test_replaying_the_whole_topic_leaves_the_same_rows(store: Store) -> None:
    topic = [make(f"a{i}", f"text {i} about Kharkiv") for i in range(30)]
    topic += [make("a3", "text 3, corrected", fetched_at=datetime(2024, 6, 6, tzinfo=UTC))]
    topic += [make("a4", "text 4, an older fetch", fetched_at=datetime(2024, 6, 1, tzinfo=UTC))]
    first = store.write_batch(topic[:17]) + store.write_batch(topic[17:])
    assert first.count("inserted") == 30 and first.count("updated") == 1 and first.count("historical") == 1

    def snapshot() -> list[object]:
        return [(a.id, a.content_hash, [(r, h.content_hash) for r, h, _ in store.history(a.id)])
                for a in store.iter_articles(Filters(limit=-1))]

    before = snapshot()
    for size in (1, 7, len(topic)):
        replay = [r for i in range(0, len(topic), size) for r in store.write_batch(topic[i:i + size])]
        assert set(replay) == {"unchanged"}
    assert snapshot() == before and store.count() == 30


def test_history_keeps_numbering_after_a_late_older_fetch(store: Store) -> None:
    store.write_batch([make("a1", "v1")])
    store.write_batch([make("a1", "v2", fetched_at=datetime(2024, 6, 6, tzinfo=UTC))])
    assert store.write_batch([make("a1", "v0", fetched_at=datetime(2024, 6, 1, tzinfo=UTC))]) == ["historical"]
    assert store.write_batch([make("a1", "v3", fetched_at=datetime(2024, 6, 7, tzinfo=UTC))]) == ["updated"]
    history = store.history("a1")
    assert sorted(a.text for _, a, _ in history) == ["v0", "v1", "v2", "v3"]
    assert len({r for r, _, _ in history}) == 4 and store.get("a1").text == "v3"  # type: ignore[union-attr]


def test_pagination_and_export_of_everything(store: Store) -> None:
    store.write_batch([make(f"a{i:02}", f"text {i}", published_at=datetime(2024, 6, 1 + i, tzinfo=UTC))
                       for i in range(12)])
    pages = [[h.article.id for h in store.search(Filters(limit=5, offset=o))] for o in (0, 5, 10)]
    assert pages == [["a11", "a10", "a09", "a08", "a07"], ["a06", "a05", "a04", "a03", "a02"], ["a01", "a00"]]
    assert len(list(store.iter_articles(Filters(limit=-1)))) == 12


def test_search_is_language_aware(store: Store, store_url: str) -> None:
    store.write_batch([
        make("fr", "Les négociations continuent à Genève.", language="fr", places=[], content_hash="fr1"),
        make("en", "Negotiators were running late in Geneva.", language="en", places=[], content_hash="en1"),
        make("xx", "Zzyzx quux.", language="xx", places=[], content_hash="xx1"),
    ])
    assert [h.article.id for h in store.search(Filters(query="Négociations"))] == ["fr"]
    assert [h.article.id for h in store.search(Filters(query="running"))] == ["en"]
    assert [h.article.id for h in store.search(Filters(query="zzyzx"))] == ["xx"]
    if store_url.startswith("postgresql"):  # stemming by the article's language: PostgreSQL only
        assert [h.article.id for h in store.search(Filters(query="négociation"))] == ["fr"]
        assert [h.article.id for h in store.search(Filters(query="run"))] == ["en"]
        configs = store._rows("SELECT id, fts_config::text FROM articles ORDER BY id", ())  # type: ignore[attr-defined]
        assert configs == [("en", "english"), ("fr", "french"), ("xx", "simple")]


def test_stories_list_recent_stories_with_their_outlets(store: Store) -> None:
    store.write_batch([
        make("a1", story_id="s1", source="cbc.ca", published_at=datetime(2024, 6, 5, tzinfo=UTC)),
        make("a2", "Kharkiv again.", story_id="s1", source="ctvnews.ca", published_at=datetime(2024, 6, 6, tzinfo=UTC)),
        make("b1", "Budget.", story_id="s2", source="cbc.ca", published_at=datetime(2024, 6, 7, tzinfo=UTC),
             places=[]),
        make("b2", "Budget too.", story_id="s2", source="ledger.example", places=[],
             published_at=datetime(2024, 6, 4, tzinfo=UTC)),
        make("c1", "Alone.", story_id="c1", source="cbc.ca", places=[]),
    ])
    stories = store.stories(Filters())
    assert [s.story_id for s in stories] == ["s2", "s1"]
    assert [a.id for a in stories[1].articles] == ["a2", "a1"]
    assert stories[1].outlets == ["cbc.ca", "ctvnews.ca"]
    assert [s.story_id for s in store.stories(Filters(place="Kharkiv"))] == ["s1"]
    assert [s.story_id for s in store.stories(Filters(query="budget"))] == ["s2"]
    assert [s.story_id for s in store.stories(Filters(), min_articles=1)] == ["s2", "s1", "c1"]
    assert [s.story_id for s in store.stories(Filters(limit=1, offset=1))] == ["s1"]


def test_search_covers_the_title_and_the_whole_text(store: Store) -> None:
    """Both backends index the title and all of the text (PostgreSQL since migration 0005)."""
    filler = "Officials met again on Tuesday. " * 70  # ~2,240 characters
    store.write_batch([make("long", f"Lede about Kharkiv. {filler} Quxwellian ending.", title="Zorblat summit")])
    assert [h.article.id for h in store.search(Filters(query="zorblat"))] == ["long"]
    assert [h.article.id for h in store.search(Filters(query="kharkiv"))] == ["long"]
    assert [h.article.id for h in store.search(Filters(query="quxwellian"))] == ["long"]
