"""A local site on 127.0.0.1 (``http.server`` in a daemon thread), for benchmarks and tests that run real processes
against it: ``route(path)`` gives the answer to a GET, ``(body, content type)``, or None for a 404."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[str], tuple[bytes, str] | None]


def serve(route: Route) -> ThreadingHTTPServer:
    """The site, serving until ``shutdown()``; its address is ``server.server_address``."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            found = route(self.path)
            if found is None:
                self.send_error(404)
                return
            body, ctype = found
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
