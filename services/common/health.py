"""The per-service HTTP endpoint: ``/metrics``, ``/healthz`` and ``/readyz``.

Liveness comes from the service's main loop (it calls :meth:`Health.beat`
every iteration); readiness is the conjunction of named checks (broker
connected, storage reachable, not stopped by the dead-letter limit), each set
by the code that knows.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest


class Health:
    """Liveness and readiness state of one service, thread-safe enough for flags."""

    def __init__(self, stale_after_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.stale_after = stale_after_seconds
        self._clock = clock
        self._last_beat = clock()
        self._checks: dict[str, bool] = {}

    def beat(self) -> None:
        self._last_beat = self._clock()

    def set(self, check: str, ok: bool) -> None:
        self._checks[check] = ok

    def alive(self) -> bool:
        return self._clock() - self._last_beat < self.stale_after

    def ready(self) -> bool:
        return self.alive() and bool(self._checks) and all(self._checks.values())

    def report(self) -> dict[str, object]:
        return {
            "alive": self.alive(),
            "ready": self.ready(),
            "seconds_since_loop": round(time.monotonic() - self._last_beat, 3),
            "checks": dict(self._checks),
        }


class _Handler(BaseHTTPRequestHandler):
    health: Health

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
        elif path in ("/healthz", "/readyz"):
            ok = self.health.alive() if path == "/healthz" else self.health.ready()
            body = json.dumps(self.health.report()).encode()
            self._send(200 if ok else 503, body, "application/json")
        else:
            self._send(404, b"not found\n", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(health: Health, host: str, port: int) -> ThreadingHTTPServer:
    """Start the endpoint in a daemon thread; returns the server (``server_address`` has the port)."""
    handler = type("Handler", (_Handler,), {"health": health})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health-http", daemon=True).start()
    return server
