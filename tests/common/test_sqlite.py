"""The SQLite migration runner (services/common/sqlite.py), without any service's schema but the sink's files."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from services.common.sqlite import Migration, SchemaTooNew, migrate, migrations_in, schema_version, split_statements

FIRST = Migration(1, "notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);")
SECOND = Migration(2, "tags", "-- tags of notes\nCREATE TABLE tags (note INTEGER, tag TEXT);\n"
                              "CREATE INDEX tags_tag ON tags (tag);")


def _tables(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_applies_the_missing_versions_in_order_and_records_them(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "a.db")
    assert schema_version(db) == 0
    assert migrate(db, [SECOND, FIRST]) == 2
    assert {"notes", "tags", "schema_migrations"} <= _tables(db)
    assert [v for (v,) in db.execute("SELECT version FROM schema_migrations ORDER BY 1")] == [1, 2]
    assert migrate(db, [FIRST, SECOND]) == 2  # nothing left to do
    db.execute("INSERT INTO notes (body) VALUES ('kept')")
    db.commit()


def test_a_database_is_brought_forward_from_the_version_it_has(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    migrate(db, [FIRST])
    db.execute("INSERT INTO notes (body) VALUES ('old')")
    assert migrate(db, [FIRST, SECOND]) == 2
    assert db.execute("SELECT body FROM notes").fetchall() == [("old",)]


def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    broken = Migration(2, "broken", "CREATE TABLE half (x);\nINSERT INTO nowhere VALUES (1);")
    with pytest.raises(sqlite3.OperationalError, match="nowhere"):
        migrate(db, [FIRST, broken])
    assert "half" not in _tables(db)
    assert "notes" in _tables(db)
    assert schema_version(db) == 1
    assert not db.in_transaction


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    migrate(db, [FIRST, SECOND])
    with pytest.raises(SchemaTooNew, match=r"schema version 2, newer than this newsflow knows \(1\)") as caught:
        migrate(db, [FIRST], where="a.db")
    assert (caught.value.where, caught.value.found, caught.value.newest_known) == ("a.db", 2, 1)
    assert isinstance(caught.value, RuntimeError)


def test_two_connections_apply_each_version_once(tmp_path: Path) -> None:
    one = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    two = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    migrate(one, [FIRST])
    assert migrate(two, [FIRST, SECOND]) == 2
    assert migrate(one, [FIRST, SECOND]) == 2
    assert two.execute("SELECT COUNT(*) FROM schema_migrations").fetchone() == (2,)


def test_the_connection_is_left_as_it_was(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "a.db")  # Python's default: implicit transactions
    migrate(db, [FIRST])
    assert db.isolation_level == ""
    db.execute("INSERT INTO notes (body) VALUES ('x')")
    assert db.in_transaction
    with pytest.raises(RuntimeError, match="outside a transaction"):
        migrate(db, [FIRST])
    db.rollback()


def test_split_statements_keeps_triggers_whole_and_drops_leading_comments() -> None:
    script = ("-- a comment\nCREATE TABLE t (x);\n"
              "CREATE TRIGGER t_check BEFORE INSERT ON t BEGIN\n  SELECT RAISE(ABORT, 'no; never');\nEND;\n"
              "CREATE INDEX t_x ON t (x)")
    statements = split_statements(script)
    assert len(statements) == 3
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    assert statements[2] == "CREATE INDEX t_x ON t (x)"


def test_migrations_are_read_from_a_package_in_version_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "schema_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "0010_later.sql").write_text("CREATE TABLE later (x);")
    (package / "0002_first.sql").write_text("CREATE TABLE first (x);")
    (package / "README.txt").write_text("not a migration")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = migrations_in("schema_pkg")
    assert [(m.version, m.name) for m in found] == [(2, "first"), (10, "later")]
    db = sqlite3.connect(tmp_path / "a.db")
    assert migrate(db, "schema_pkg") == 10
    (package / "0010_again.sql").write_text("SELECT 1;")
    sys.modules.pop("schema_pkg", None)
    with pytest.raises(ValueError, match="share a version"):
        migrations_in("schema_pkg")


def test_the_sinks_schema_files_apply() -> None:
    db = sqlite3.connect(":memory:")
    known = migrations_in("services.sink.migrations.sqlite")
    assert [m.version for m in known] == list(range(1, len(known) + 1)) and len(known) >= 2
    assert migrate(db, known) == len(known)
    assert {"articles", "article_revisions", "article_tags", "articles_fts"} <= _tables(db)
