"""Local HTTP sites for the fault tests, the hostile corpus and the benchmarks.

* :class:`NewsSite`: ``feeds`` RSS feeds, each linking ``per_feed`` generated article
  pages (several paragraphs of varied text, so trafilatura keeps them). ``publish(n)``
  adds new articles while it runs, so a test can check that a pipeline "carries on with
  new items". Feeds carry an ETag, so an unchanged feed costs a 304.
* :class:`HostileSite`: the hostile corpus of :mod:`tests.hostile.corpus`, served from a
  handler that can also trickle, redirect and lie about its charset.

Both serve from a daemon thread on a loopback address (``host`` may be any 127.x.y.z:
Linux routes the whole 127/8 to the loopback interface, which the SSRF tests use to
tell "the test server" from "some other loopback service").
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, cast
from urllib.parse import urlsplit

WORDS = [
    "council", "budget", "river", "harbour", "minister", "election", "railway", "hospital", "school", "festival",
    "storm", "market", "farmers", "bridge", "museum", "court", "police", "energy", "wind", "solar", "housing",
    "rent", "teachers", "union", "strike", "vote", "mayor", "village", "coast", "forest", "drought", "flood",
    "vaccine", "clinic", "airport", "tunnel", "library", "theatre", "football", "league", "orchestra", "bakery",
    "factory", "export", "import", "tariff", "research", "university", "students", "climate", "summit", "treaty",
    "border", "ferry", "fishermen", "harvest", "wine", "cheese", "software", "startup", "bank", "inflation",
    "pension", "tax", "reform", "parliament", "senate", "governor", "province",
]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(9, 18))]
    return " ".join(words).capitalize() + "."


def article_html(feed: int, item: int, title: str, published: datetime) -> bytes:
    """A plausible article page: header, navigation, six paragraphs, footer."""
    rng = random.Random(feed * 1_000_003 + item)
    paras = "\n".join(f"<p>{' '.join(_sentence(rng) for _ in range(4))}</p>" for _ in range(6))
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta property="og:title" content="{title}"><meta name="author" content="Reporter {feed}">
<meta property="article:published_time" content="{published.isoformat()}"></head>
<body><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<article><h1>{title}</h1><p class="byline">By Reporter {feed}</p>
{paras}
</article><footer>Copyright Local Paper {feed}. All rights reserved.</footer></body></html>""".encode()


@dataclass(frozen=True)
class Item:
    feed: int
    number: int
    published: datetime

    @property
    def path(self) -> str:
        return f"/f{self.feed}/a{self.number}"

    @property
    def title(self) -> str:
        return f"Story {self.number} of paper {self.feed}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    handle: Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        try:
            cast(_Server, self.server).handle(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a refusal by size or time): that is the point

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LocalSite:
    """A threading HTTP server on ``host``: subclasses implement :meth:`handle`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = _Server((host, port), _Handler)
        self.server.handle = self.handle
        self.host = host
        self.port = int(self.server.server_address[1])
        self.base_url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None
        self.requests = 0

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def start(self) -> LocalSite:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class NewsSite(LocalSite):
    """``feeds`` feeds of ``per_feed`` articles each; :meth:`publish` adds more while running.

    A feed lists its newest ``window`` items (like real feeds), so a long run keeps feeds small.
    """

    def __init__(self, feeds: int, per_feed: int, host: str = "127.0.0.1", port: int = 0, window: int = 50) -> None:
        super().__init__(host, port)
        self.window = window
        self.lock = threading.Lock()
        now = datetime.now(UTC)
        self.items: list[list[Item]] = [[Item(f, n, now) for n in range(per_feed)] for f in range(feeds)]
        self.next_feed = 0
        self.page_hits = 0

    def feed_urls(self) -> list[str]:
        return [f"{self.base_url}/f{f}/rss.xml" for f in range(len(self.items))]

    def article_urls(self) -> list[str]:
        with self.lock:
            return [self.base_url + it.path for items in self.items for it in items]

    def publish(self, n: int) -> list[str]:
        """Add ``n`` new articles, round-robin over the feeds, published now; returns their URLs."""
        urls = []
        with self.lock:
            for _ in range(n):
                items = self.items[self.next_feed]
                item = Item(self.next_feed, len(items), datetime.now(UTC))
                items.append(item)
                urls.append(self.base_url + item.path)
                self.next_feed = (self.next_feed + 1) % len(self.items)
        return urls

    def feed_xml(self, feed: int) -> bytes:
        with self.lock:
            items = list(self.items[feed][-self.window:])
        entries = "".join(
            f"<item><title>{it.title}</title><link>{self.base_url}{it.path}</link>"
            f"<guid isPermaLink=\"false\">paper{feed}-{it.number}</guid>"
            f"<pubDate>{format_datetime(it.published)}</pubDate>"
            f"<description>Summary of story {it.number}.</description></item>"
            for it in reversed(items)
        )
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Paper {feed}</title><link>{self.base_url}/f{feed}/</link>"
                f"{entries}</channel></rss>").encode()

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        r = cast(_Handler, req)
        self.requests += 1
        parts = urlsplit(r.path).path.strip("/").split("/")
        if len(parts) == 2 and parts[0].startswith("f") and parts[0][1:].isdigit():
            feed = int(parts[0][1:])
            if feed < len(self.items):
                if parts[1] == "rss.xml":
                    body = self.feed_xml(feed)
                    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                    if r.headers.get("If-None-Match") == etag:
                        return r.reply(304, headers={"ETag": etag})
                    return r.reply(200, body, {"Content-Type": "application/rss+xml; charset=utf-8", "ETag": etag})
                if parts[1].startswith("a") and parts[1][1:].isdigit():
                    number = int(parts[1][1:])
                    with self.lock:
                        item = self.items[feed][number] if number < len(self.items[feed]) else None
                    if item is not None:
                        self.page_hits += 1
                        return r.reply(200, article_html(feed, number, item.title, item.published),
                                       {"Content-Type": "text/html; charset=utf-8"})
        r.reply(404, b"not found", {"Content-Type": "text/plain"})


def wait_until(condition: Callable[[], bool], timeout: float, what: str, every: float = 0.5) -> None:
    """Poll ``condition`` until true; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
