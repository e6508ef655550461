"""A parse process of :class:`services.fetcher.parse.ParsePool`: ``python -m services.fetcher.parseworker FD``.

A fresh interpreter that imports only the parsing modules (feedparser, lxml, the entry model:
~45 MB), not what the fetcher's own ``__main__`` imported. (A ``multiprocessing`` child, spawned
or from a forkserver, imports the parent's main module again: ``python -m services.cli fetcher``
then cost every parse process the whole CLI, extractor and sink included, ~100 MB.)

``FD`` is this process's end of a Unix socket pair: it first sends ``READY`` (its imports are done),
then reads pickled ``(body, url, content_type,
max_entries)`` jobs in ``multiprocessing.Connection`` framing and answers each in order with
``(True, ParsedFeed)`` or ``(False, message)``. It ends when the fetcher closes its end.
"""

from __future__ import annotations

import pickle
import signal
import socket
import sys
from multiprocessing.connection import Connection

from services.common.heap import keep_big_blocks_apart
from services.fetcher.parse import READY, FeedParseError, parse_safely


def serve_parses(conn: Connection) -> None:
    """Answer parse jobs from ``conn`` until it closes."""
    while True:
        try:
            job = conn.recv_bytes()
        except (EOFError, OSError):
            return
        body, url, content_type, max_entries = pickle.loads(job)
        try:
            answer: tuple[bool, object] = (True, parse_safely(body, url, content_type, max_entries))
        except FeedParseError as exc:
            answer = (False, str(exc))
        try:
            conn.send_bytes(pickle.dumps(answer, pickle.HIGHEST_PROTOCOL))
        except OSError:
            return


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the fetcher's to handle, not ours
    keep_big_blocks_apart()  # feed bodies up to the byte cap come and go (services.common.heap)
    conn = Connection(socket.socket(fileno=int(argv[1])).detach())
    conn.send_bytes(READY)  # imports done: the fetcher's clock for our first job starts now
    serve_parses(conn)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
