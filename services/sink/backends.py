"""The storage backends by URL: the one place that knows them all (the backends know only :mod:`services.sink.store`)."""

from __future__ import annotations

from pathlib import Path

from services.sink import postgres, sqlite
from services.sink.reads import DEFAULT_READ_CONNECTIONS
from services.sink.store import Store, StoreError

__all__ = ["open_store", "unavailable_errors"]


def open_store(url: str, *, readers: int = DEFAULT_READ_CONNECTIONS, read_timeout: float | None = None) -> Store:
    """Open the backend named by ``url``: ``sqlite:///path`` or ``postgresql://...``.

    ``readers``: read connections (reads run concurrently, :mod:`services.sink.reads`);
    ``read_timeout``: seconds after which a read is cancelled (:class:`~services.sink.store.QueryTimeout`), None: never.
    """
    if url.startswith("sqlite:///"):
        return sqlite.SqliteStore(Path(url.removeprefix("sqlite:///")), readers=readers, read_timeout=read_timeout)
    if url.startswith(("postgresql://", "postgres://")):
        return postgres.PostgresStore(url, readers=readers, read_timeout=read_timeout)
    raise StoreError(f"unsupported NEWSFLOW_SINK_URL scheme: {url.split(':', 1)[0]!r} "
                     "(use sqlite:///path or postgresql://...)")


def unavailable_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean "the database cannot be reached right now": retry later, do not reject the data."""
    return (*sqlite.UNAVAILABLE, *postgres.UNAVAILABLE)
