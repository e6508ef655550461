"""Versioned SQLite schemas: the one migration runner of newsflow's SQLite files.

A schema is a package of numbered SQL files, ``NNNN_what.sql`` (``0001_articles.sql``,
``0002_constraints.sql``...). :func:`migrate` applies the files a database has not seen yet,
in order, each in its own ``BEGIN IMMEDIATE`` transaction together with its row in the
``schema_migrations`` table (``version``, ``applied_at``): a file is applied completely or not
at all, and two processes opening the same new file apply each version once. A database whose
newest applied version is higher than the newest file this code has is refused
(:class:`SchemaTooNew`): newer data is not downgraded by older code.

A file may hold several statements, triggers included. Write the first file of a schema that
predates versioning with ``IF NOT EXISTS`` so that it adopts an existing database as it is.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

__all__ = ["Migration", "SchemaTooNew", "migrate", "migrations_in", "schema_version", "split_statements"]

VERSIONS_TABLE = "schema_migrations"


class SchemaTooNew(RuntimeError):
    """The database was written by a newer version of the code (its schema version is higher)."""

    def __init__(self, where: str, found: int, newest_known: int) -> None:
        super().__init__(f"database {where} has schema version {found}, newer than this newsflow knows "
                         f"({newest_known}); upgrade newsflow instead of downgrading the data")
        self.where, self.found, self.newest_known = where, found, newest_known


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations_in(package: str) -> list[Migration]:
    """The ``NNNN_name.sql`` files of ``package`` (a dotted package name), in version order."""
    found = []
    for item in resources.files(package).iterdir():
        if item.name.endswith(".sql"):
            number, _, name = item.name.removesuffix(".sql").partition("_")
            found.append(Migration(int(number), name, item.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"migrations of {package}: two files share a version number: {versions}")
    return found


def check_not_newer(where: str, applied: int, known: list[Migration]) -> None:
    """Raise :class:`SchemaTooNew` when ``applied`` is past the newest of ``known``."""
    newest_known = known[-1].version if known else 0
    if applied > newest_known:
        raise SchemaTooNew(where, applied, newest_known)


def schema_version(db: sqlite3.Connection) -> int:
    """The newest version applied to ``db`` (0: none, or not a versioned database)."""
    if not _has_versions_table(db):
        return 0
    (version,) = db.execute(f"SELECT COALESCE(MAX(version), 0) FROM {VERSIONS_TABLE}").fetchone()
    return int(version)


def migrate(db: sqlite3.Connection, migrations: str | list[Migration], *, where: str = "") -> int:
    """Bring ``db`` up to the newest of ``migrations`` (a package name or the list); return its version.

    ``db`` must not be inside a transaction. ``where`` names the database in errors (its path).
    """
    known = migrations_in(migrations) if isinstance(migrations, str) else sorted(migrations, key=lambda m: m.version)
    if db.in_transaction:
        raise RuntimeError("migrate() needs a connection outside a transaction")
    saved_isolation, db.isolation_level = db.isolation_level, None  # BEGIN/COMMIT are ours alone
    try:
        db.execute(f"CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE} (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        check_not_newer(where or _path_of(db), schema_version(db), known)
        applied = {v for (v,) in db.execute(f"SELECT version FROM {VERSIONS_TABLE}")}
        for migration in known:
            if migration.version not in applied:
                _apply(db, migration)
    finally:
        db.isolation_level = saved_isolation
    return schema_version(db)


def _apply(db: sqlite3.Connection, migration: Migration) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute(f"SELECT 1 FROM {VERSIONS_TABLE} WHERE version = ?", (migration.version,)).fetchone():
            db.execute("ROLLBACK")  # another process applied it meanwhile
            return
        for statement in split_statements(migration.sql):
            db.execute(statement)
        db.execute(f"INSERT INTO {VERSIONS_TABLE} VALUES (?, ?)", (migration.version, datetime.now(UTC).isoformat()))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def split_statements(script: str) -> list[str]:
    """The statements of a SQL file (``sqlite3.complete_statement`` knows about triggers)."""
    statements, buf = [], ""
    for line in script.splitlines(keepends=True):
        if not buf and line.lstrip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements


def _has_versions_table(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSIONS_TABLE,)).fetchone() is not None


def _path_of(db: sqlite3.Connection) -> str:
    """The file of the main database ('' in memory)."""
    row = db.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row and row[2] else ":memory:"
