"""The fetcher's state in PostgreSQL, for replicas on many machines (``NEWSFLOW_FETCHER_STATE_URL``).

The same tables and the same SQL as the SQLite file (:mod:`services.fetcher.state`,
:mod:`services.fetcher.leases`): :class:`PgDb` turns ``?`` placeholders into psycopg's ``%s``
and behaves like a sqlite3 connection in autocommit mode (explicit ``BEGIN``/``COMMIT``). Claims
and host slots lock rows (``FOR UPDATE SKIP LOCKED``, ``FOR UPDATE``) instead of SQLite's one
write lock.

The tables live in the schema ``newsflow_fetcher`` (created if missing) unless the URL chooses
one (``options=-csearch_path%3D...``, as the tests do), so they never meet the sink's tables in a
shared database. The schema is versioned like the SQLite one: :mod:`services.fetcher.migrations.postgres`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from services.common.sqlite import check_not_newer, migrations_in
from services.fetcher.settings import FetcherSettings
from services.fetcher.state import HOST_HOLD_SECONDS, LEASE_SECONDS, FetcherState

MIGRATIONS = "services.fetcher.migrations.postgres"
DEFAULT_SCHEMA = "newsflow_fetcher"
CONNECT_TIMEOUT_SECONDS = 5


class PgDb:
    """A psycopg connection that takes the SQLite-style SQL of the fetcher's state."""

    def __init__(self, url: str) -> None:
        params = conninfo_to_dict(url)
        params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_SECONDS))
        params.setdefault("application_name", "newsflow-fetcher")
        self.address = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"
        self.conn = psycopg.connect(make_conninfo("", **params), autocommit=True)
        if "search_path" not in str(params.get("options", "")):
            self.conn.execute(f"CREATE SCHEMA IF NOT EXISTS {DEFAULT_SCHEMA}")
            self.conn.execute(f"SET search_path TO {DEFAULT_SCHEMA}")

    @property
    def in_transaction(self) -> bool:
        return self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Any = (), /) -> psycopg.Cursor[Any]:
        return self.conn.execute(sql.replace("?", "%s"), parameters or None)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> psycopg.Cursor[Any]:
        cursor = self.conn.cursor()
        cursor.executemany(sql.replace("?", "%s"), list(parameters))
        return cursor

    def close(self) -> None:
        self.conn.close()


class PostgresFetcherState(FetcherState):
    """:class:`FetcherState` over PostgreSQL (row locks instead of one write lock)."""

    begin = "BEGIN"
    for_update = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, owner: str | None = None, lease_seconds: float = LEASE_SECONDS,
                 host_hold_seconds: float = HOST_HOLD_SECONDS) -> None:
        db = PgDb(url)
        _migrate(db)
        self.db = db
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.host_hold_seconds = host_hold_seconds


def _migrate(db: PgDb) -> None:
    """Apply the versioned SQL files not yet applied, under a lock (replicas start together)."""
    known = migrations_in(MIGRATIONS)
    conn = db.conn
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('newsflow-fetcher-migrations:' || current_schema()))")
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                     "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL)")
        applied = {int(v) for (v,) in conn.execute("SELECT version FROM schema_migrations")}
        check_not_newer(db.address, max(applied, default=0), known)
        for migration in known:
            if migration.version not in applied:
                conn.execute(migration.sql.encode())  # several statements, no parameters
                conn.execute("INSERT INTO schema_migrations VALUES (%s, now())", (migration.version,))


def open_state(settings: FetcherSettings, owner: str | None = None) -> FetcherState:
    """The state replicas share: PostgreSQL when ``NEWSFLOW_FETCHER_STATE_URL`` is set, else ``<data_dir>/fetcher.db``."""
    url = settings.fetcher_state_url.get_secret_value()
    hold = settings.http_total_timeout_seconds + 5  # a request never holds a host slot longer than this
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresFetcherState(url, owner, settings.fetcher_lease_seconds, hold)
    path = Path(url.removeprefix("sqlite:///")) if url else settings.data_dir / "fetcher.db"
    return FetcherState(path, owner, settings.fetcher_lease_seconds, hold)
