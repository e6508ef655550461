"""Issue 17.6: media on the record. The sink stores an article's lead image, media and feed tags
(columns beside the document), gives them back (store, API, OpenAPI schema, export), and
migration 0004 (SQLite) / 0006 (PostgreSQL) fills the columns of rows stored before it."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import psycopg
from click.testing import CliRunner

from services.cli import main
from services.common import sqlite as sqlite_migrations
from services.common.messages import Article, Media
from services.sink import postgres, sqlite
from services.sink.api import ApiServer
from services.sink.backends import open_store
from services.sink.query import ARTICLE_COLUMNS, article_row
from services.sink.settings import SinkSettings
from services.sink.store import Filters, Store
from tests.sink.test_store import make, postgres_schema

pytest_plugins = ["tests.sink.test_store"]  # its per-backend `store` and `store_url` fixtures

MEDIA = [Media(url="https://cdn.example/ep.mp3", type="audio/mpeg", length=5_000_000, duration=1830.5, medium="audio"),
         Media(url="https://cdn.example/pic.jpg", type="image/jpeg", medium="image")]
IMAGE = "https://cdn.example/lead.jpg"


def with_media(aid: str = "a1") -> Article:
    return make(aid, image=IMAGE, media=MEDIA, tags=["world", "podcasts"])


def _columns(store_url: str, article_id: str) -> tuple[Any, Any, Any]:
    """(image, media, tags) as the articles table holds them, media and tags parsed from JSON."""
    if store_url.startswith("sqlite:///"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as db:
            image, media, tags = db.execute("SELECT image, media, tags FROM articles WHERE id = ?",
                                            (article_id,)).fetchone()
        return image, json.loads(media), json.loads(tags)
    with psycopg.connect(store_url) as pg:
        row = pg.execute("SELECT image, media, tags FROM articles WHERE id = %s", (article_id,)).fetchone()
    assert row is not None
    return row[0], row[1], row[2]  # jsonb comes back parsed


def test_image_media_and_tags_are_stored_and_read_back(store_url: str) -> None:
    store = open_store(store_url)
    try:
        article, bare = with_media("a1"), make("a2", "Quebec council passes its budget.")
        assert store.write_batch([article, bare]) == ["inserted", "inserted"]
        assert store.get("a1") == article
        (hit,) = store.search(Filters(query="Kharkiv"))
        assert (hit.article.image, hit.article.media, hit.article.tags) == (IMAGE, MEDIA, ["world", "podcasts"])
        assert {a.id: a.media for a in store.iter_articles(Filters(limit=-1))} == {"a1": MEDIA, "a2": []}
        # a new revision carries its own media; a redelivery changes nothing
        update = make("a1", "Ukraine struck targets near Kharkiv again.", image=None, media=MEDIA[:1])
        assert store.write_batch([update, article]) == ["updated", "unchanged"]
    finally:
        store.close()
    assert _columns(store_url, "a1") == (None, [m.model_dump(mode="json") for m in MEDIA[:1]], [])
    assert _columns(store_url, "a2") == (None, [], [])


def test_the_api_and_its_schema_carry_image_media_and_tags(store_url: str) -> None:
    store = open_store(store_url)
    store.write_batch([with_media("a1")])
    store.close()
    cfg = SinkSettings(sink_url=store_url, api_port=0)  # type: ignore[arg-type]
    server = ApiServer(open_store(store_url), cfg).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as api:
            got = api.get("/articles/a1").json()
            schema = api.get("/openapi.json").json()
            listed = api.get("/articles").json()["items"][0]["article"]
    finally:
        server.stop()
    assert got["image"] == IMAGE and got["tags"] == ["world", "podcasts"]
    assert got["media"][0] == {"url": "https://cdn.example/ep.mp3", "type": "audio/mpeg", "length": 5_000_000,
                               "duration": 1830.5, "medium": "audio"}
    assert listed["media"] == got["media"]
    article = schema["components"]["schemas"]["Article"]["properties"]
    assert {"image", "media", "tags"} <= set(article)
    assert article["media"]["items"] == {"$ref": "#/components/schemas/Media"}
    media = schema["components"]["schemas"]["Media"]["properties"]
    assert set(media) == {"url", "type", "length", "duration", "medium"}
    assert set(media["medium"]["anyOf"][0]["enum"]) == {"image", "audio", "video", "document", "executable"}


def test_export_carries_image_media_and_tags(store_url: str, tmp_path: Path) -> None:
    store = open_store(store_url)
    store.write_batch([with_media("a1"), make("a2", "Nothing with media.")])
    store.close()
    env = {"NEWSFLOW_SINK_URL": store_url, "NEWSFLOW_DATA_DIR": str(tmp_path)}
    as_csv = CliRunner().invoke(main, ["articles", "export", "--format", "csv"], env=env)
    assert as_csv.exit_code == 0, as_csv.output
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(as_csv.output))}
    assert rows["a1"]["image"] == IMAGE and rows["a1"]["tags"] == "world; podcasts"
    assert rows["a1"]["media"] == "https://cdn.example/ep.mp3; https://cdn.example/pic.jpg"
    assert [rows["a2"][k] for k in ("image", "media", "tags")] == ["", "", ""]
    as_jsonl = CliRunner().invoke(main, ["articles", "export"], env=env)
    lines = {d["id"]: d for d in map(json.loads, as_jsonl.output.splitlines())}
    assert Article.model_validate(lines["a1"]) == with_media("a1")


# --- the migration on a database an older version wrote ------------------------------------------

OLD_COLUMNS = ARTICLE_COLUMNS.removesuffix(", image, media, tags")


def _old_rows(d: Any) -> list[tuple[Any, ...]]:
    """Rows as the sink before the media migration wrote them: a version 2 document with media, and
    one without (version 1 documents have no such fields)."""
    v1 = make("a2", "Quebec council passes its budget.").model_dump(mode="json", exclude={"image", "media", "tags"})
    v1["schema_version"] = 1
    rows = [article_row(d, with_media("a1"), 1, with_media().fetched_at)[:OLD_COLUMNS.count(",") + 1]]
    old = article_row(d, make("a2", "Quebec council passes its budget."), 1, with_media().fetched_at)
    rows.append((*old[:OLD_COLUMNS.count(",")], json.dumps(v1)))
    return rows


def _check_migrated(store: Store, store_url: str) -> None:
    assert _columns(store_url, "a1") == (IMAGE, [m.model_dump(mode="json") for m in MEDIA], ["world", "podcasts"])
    assert _columns(store_url, "a2") == (None, [], [])
    assert store.get("a1") == with_media("a1")
    assert store.get("a2") == make("a2", "Quebec council passes its budget.")  # a v1 document, upcast on reading


def test_migration_0004_on_an_old_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    sqlite_migrations.migrate(db, [m for m in sqlite_migrations.migrations_in(sqlite.MIGRATIONS) if m.version <= 3])
    for row in _old_rows(sqlite.SQLITE):
        db.execute(f"INSERT INTO articles ({OLD_COLUMNS}) VALUES ({sqlite.SQLITE.marks(len(row))})", row)
    db.close()
    url = f"sqlite:///{path}"
    store = open_store(url)
    try:
        _check_migrated(store, url)
    finally:
        store.close()


def test_migration_0006_on_an_old_postgres_schema() -> None:
    with postgres_schema() as url:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)")
            for migration in sqlite_migrations.migrations_in(postgres.MIGRATIONS)[:5]:
                db.execute(migration.sql.encode())
                db.execute("INSERT INTO schema_migrations VALUES (%s, now())", (migration.version,))
            for row in _old_rows(postgres.POSTGRES):
                db.execute(f"INSERT INTO articles ({OLD_COLUMNS}) VALUES ({postgres.POSTGRES.marks(len(row))})".encode(),
                           row)
        store = open_store(url)
        try:
            _check_migrated(store, url)
        finally:
            store.close()
