"""Issue 16.7: revisions keep when an article was first stored (both backends).

An update never changes ``first_seen_at``; every revision records when it was stored (revision
1's ``recorded_at`` is when it was first stored, not when it was replaced); a story change keeps
the row's time. Migration 0003 repairs what older versions wrote.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from click.testing import CliRunner

from services.cli import main
from services.common import sqlite as sqlite_migrations
from services.sink import postgres, sqlite
from services.sink.backends import open_store
from services.sink.query import ARTICLE_COLUMNS, Dialect, article_row
from services.sink.store import Store
from tests.sink.test_store import make, postgres_schema

pytest_plugins = ["tests.sink.test_store"]  # its per-backend `store` and `store_url` fixtures

T1 = datetime(2024, 6, 5, 12, tzinfo=UTC)
T2 = datetime(2024, 6, 6, 12, tzinfo=UTC)


def _recorded(store: Store, article_id: str) -> list[tuple[int, datetime]]:
    return [(r, datetime.fromisoformat(when)) for r, _, when in store.history(article_id)]


def test_an_update_keeps_first_seen_and_each_revision_when_it_was_stored(store: Store) -> None:
    before = datetime.now(UTC)
    assert store.write_batch([make("a1", "first text", first_seen_at=T1, fetched_at=T1)]) == ["inserted"]
    first_stored = _recorded(store, "a1")[0][1]
    assert before <= first_stored <= datetime.now(UTC)
    time.sleep(0.05)
    update = make("a1", "second text", first_seen_at=T2, fetched_at=T2)
    assert store.write_batch([update]) == ["updated"]
    current = store.get("a1")
    assert current is not None and current.text == "second text" and current.first_seen_at == T1
    (r1, at1), (r2, at2) = _recorded(store, "a1")
    assert (r1, at1) == (1, first_stored), "revision 1: when it was first stored, not when it was replaced"
    assert r2 == 2 and at2 > first_stored
    assert store.history("a1")[0][1].first_seen_at == T1
    time.sleep(0.05)
    assert store.write_batch([update.model_copy(update={"story_id": "s9"})]) == ["story_changed"]
    assert _recorded(store, "a1") == [(1, at1), (2, at2)], "a story change is not a new storing"
    assert store.get("a1").first_seen_at == T1  # type: ignore[union-attr]


def test_an_article_first_stored_without_first_seen_takes_the_updates(store: Store) -> None:
    store.write_batch([make("a1", "first text")])
    store.write_batch([make("a1", "second text", first_seen_at=T2, fetched_at=T2)])
    assert store.get("a1").first_seen_at == T2  # type: ignore[union-attr]


def test_the_cli_history_shows_when_each_revision_was_stored(store_url: str, tmp_path: Path) -> None:
    store = open_store(store_url)
    store.write_batch([make("a1234567", "first text", first_seen_at=T1, fetched_at=T1)])
    first_stored = store.history("a1234567")[0][2]
    store.write_batch([make("a1234567", "second text", first_seen_at=T2, fetched_at=T2)])
    store.close()
    env = {"NEWSFLOW_SINK_URL": store_url, "NEWSFLOW_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["articles", "show", "--history", "a1234567"], env=env)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines[0]["recorded_at"] == first_stored
    assert [v["article"]["first_seen_at"] for v in lines] == ["2024-06-05T12:00:00Z"] * 2


# --- migration 0003 on a database an older version wrote ----------------------------------------------

OLD_COLUMNS = ARTICLE_COLUMNS.removesuffix(", image, media, tags")
"""The articles columns before migration 0004/0006 (media) added three."""


def _old_rows(d: Dialect) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """What the sink before migration 0003 stored after an update: first_seen_at overwritten, and
    revision 1 timed by its replacement only."""
    old = make("a1", "first text", first_seen_at=T1, fetched_at=T1)
    new = make("a1", "second text", first_seen_at=T2, fetched_at=T2)
    stored_at = datetime(2024, 6, 6, 13, tzinfo=UTC)
    revision = ("a1", 1, old.content_hash, "v1", d.bind_time(T1), d.bind_time(stored_at), old.model_dump_json())
    return article_row(d, new, 2, stored_at)[:OLD_COLUMNS.count(",") + 1], revision


def _check_migrated(store: Store) -> None:
    current = store.get("a1")
    assert current is not None and current.text == "second text" and current.first_seen_at == T1
    assert _recorded(store, "a1") == [(1, T1), (2, datetime(2024, 6, 6, 13, tzinfo=UTC))]
    assert store.write_batch([make("a1", "third text", first_seen_at=T2, fetched_at=T2.replace(day=7))]) == ["updated"]
    assert store.get("a1").first_seen_at == T1  # type: ignore[union-attr]


def test_migration_0003_on_an_old_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    sqlite_migrations.migrate(db, [m for m in sqlite_migrations.migrations_in(sqlite.MIGRATIONS) if m.version <= 2])
    row, revision = _old_rows(sqlite.SQLITE)
    db.execute(f"INSERT INTO articles ({OLD_COLUMNS}) VALUES ({sqlite.SQLITE.marks(len(row))})", row)
    db.execute("INSERT INTO article_revisions VALUES (?, ?, ?, ?, ?, ?, ?)", revision)
    db.close()
    store = open_store(f"sqlite:///{path}")
    try:
        _check_migrated(store)
    finally:
        store.close()


def test_migration_0003_on_an_old_postgres_schema() -> None:
    with postgres_schema() as url:
        with psycopg.connect(url, autocommit=True) as db:
            _old_postgres_schema(db)
        store = open_store(url)
        try:
            _check_migrated(store)
        finally:
            store.close()


def _old_postgres_schema(db: psycopg.Connection[Any]) -> None:
    db.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)")
    for migration in sqlite_migrations.migrations_in(postgres.MIGRATIONS)[:2]:
        db.execute(migration.sql.encode())
        db.execute("INSERT INTO schema_migrations VALUES (%s, now())", (migration.version,))
    row, revision = _old_rows(postgres.POSTGRES)
    db.execute(f"INSERT INTO articles ({OLD_COLUMNS}) VALUES ({postgres.POSTGRES.marks(len(row))})".encode(), row)
    db.execute("INSERT INTO article_revisions VALUES (%s, %s, %s, %s, %s, %s, %s)", revision)
