"""A small offline news site for ``newsflow up --demo``.

Serves the static pages and feeds under ``services/demo/site/`` on 127.0.0.1 (free port by
default). Feeds and pages contain a ``{base}`` placeholder that is replaced by the real base URL
(``http://127.0.0.1:<port>``) when the site starts, since the port is only known at run time.

Article pages are stored as ``<path>.html`` and served at ``/<path>`` (the URL the feeds link to)
as well as ``/<path>.html``. ETag / If-None-Match, Last-Modified / If-Modified-Since and HEAD are
supported so a fetcher's conditional GET can be exercised.

The site's ``robots.txt`` disallows ``/lakeshoreledger/subscribers/``, and one feed entry links a page
there: a fetcher that obeys robots.txt publishes every linked article but that one.

Usage::

    with DemoSite() as site:
        site.feed_urls()        # absolute feed URLs, from site/feeds.txt
        site.linked_urls()      # absolute URLs of every article linked from those feeds
        site.article_urls()     # the linked articles robots.txt allows: what the pipeline stores
        site.disallowed_urls()  # the linked articles robots.txt disallows for newsflow
        site.requested_paths()  # every path asked for so far, in order (the access log)

or ``python -m services.demo.server [--port N] [--verbose]``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import cast
from urllib.parse import urlsplit

from protego import Protego

__all__ = ["DemoSite", "SITE_DIR", "BASE_PLACEHOLDER", "main"]

SITE_DIR = Path(__file__).resolve().parent / "site"
BASE_PLACEHOLDER = "{base}"
FEEDS_LIST = "feeds.txt"
ROBOTS_TOKEN = "newsflow"  # the product token of newsflow's User-Agent, which robots.txt groups match

_ATOM_NS = "{http://www.w3.org/2005/Atom}"

# Checked in order; the first matching suffix wins.
_CONTENT_TYPES: tuple[tuple[str, str], ...] = (
    (".rss.xml", "application/rss+xml; charset=utf-8"),
    (".atom.xml", "application/atom+xml; charset=utf-8"),
    (".html", "text/html; charset=utf-8"),
    (".xml", "application/xml; charset=utf-8"),
    (".json", "application/json; charset=utf-8"),
    (".txt", "text/plain; charset=utf-8"),
    (".css", "text/css; charset=utf-8"),
)


@dataclass(frozen=True)
class _Resource:
    body: bytes
    content_type: str
    etag: str
    last_modified: str  # RFC 7231 HTTP-date
    mtime: int  # whole seconds since the epoch, for If-Modified-Since


def _content_type(name: str) -> str | None:
    for suffix, ctype in _CONTENT_TYPES:
        if name.endswith(suffix):
            return ctype
    return None


def _load_site(root: Path, base_url: str) -> dict[str, _Resource]:
    """Read every servable file under ``root``, substitute the base URL, index by URL path."""
    resources: dict[str, _Resource] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        ctype = _content_type(rel)
        if ctype is None:
            continue
        text = path.read_text(encoding="utf-8").replace(BASE_PLACEHOLDER, base_url)
        body = text.encode("utf-8")
        mtime = int(path.stat().st_mtime)
        res = _Resource(
            body=body,
            content_type=ctype,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            last_modified=formatdate(mtime, usegmt=True),
            mtime=mtime,
        )
        resources["/" + rel] = res
        if rel.endswith(".html"):
            pretty = rel[: -len(".html")]
            if pretty == "index":
                resources["/"] = res
            elif pretty.endswith("/index"):
                resources["/" + pretty[: -len("index")]] = res
            else:
                resources["/" + pretty] = res
    return resources


def _feed_links(xml_text: bytes) -> list[str]:
    """Item/entry links of an RSS 2.0 or Atom feed, in document order."""
    root = ET.fromstring(xml_text)
    links: list[str] = []
    if root.tag == "rss":
        for item in root.iter("item"):
            link = item.findtext("link")
            if link and link.strip():
                links.append(link.strip())
    elif root.tag == _ATOM_NS + "feed":
        for entry in root.iter(_ATOM_NS + "entry"):
            for el in entry.findall(_ATOM_NS + "link"):
                if el.get("rel", "alternate") == "alternate" and el.get("href"):
                    links.append(cast(str, el.get("href")))
                    break
    else:
        raise ValueError(f"not an RSS 2.0 or Atom document: root element {root.tag!r}")
    return links


def _not_modified(res: _Resource, if_none_match: str | None, if_modified_since: str | None) -> bool:
    if if_none_match is not None:
        # If-None-Match takes precedence over If-Modified-Since (RFC 9110 13.2.2).
        tags = [t.strip() for t in if_none_match.split(",")]
        return "*" in tags or any(t.removeprefix("W/") == res.etag for t in tags)
    if if_modified_since is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return res.mtime <= int(since.timestamp())
    return False


class _DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    resources: dict[str, _Resource]
    verbose: bool
    requested: list[str]  # the access log: paths asked for, in order (list.append is atomic)


class _Handler(BaseHTTPRequestHandler):
    server_version = "newsflow-demo/0.1"
    protocol_version = "HTTP/1.1"

    def _site(self) -> _DemoHTTPServer:
        return cast(_DemoHTTPServer, self.server)

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        self._serve(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(send_body=False)

    def _serve(self, *, send_body: bool) -> None:
        path = urlsplit(self.path).path or "/"
        self._site().requested.append(path)
        res = self._site().resources.get(path)
        if res is None:
            body = b"<!DOCTYPE html><html><head><title>404 Not Found</title></head>" \
                   b"<body><h1>Not Found</h1></body></html>\n"
            self.send_response(HTTPStatus.NOT_FOUND)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)
            return
        if _not_modified(res, self.headers.get("If-None-Match"),
                         self.headers.get("If-Modified-Since")):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", res.etag)
            self.send_header("Last-Modified", res.last_modified)
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", res.content_type)
        self.send_header("Content-Length", str(len(res.body)))
        self.send_header("ETag", res.etag)
        self.send_header("Last-Modified", res.last_modified)
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if send_body:
            self.wfile.write(res.body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        if self._site().verbose:
            super().log_message(format, *args)


class DemoSite:
    """The bundled demo news site, served from a background thread.

    ``start()`` binds ``host`` (127.0.0.1) on ``port`` (0 = any free port); ``stop()`` shuts it
    down. Also usable as a context manager.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False,
                 root: Path | None = None) -> None:
        self._host = host
        self._port = port
        self._verbose = verbose
        self._root = root if root is not None else SITE_DIR
        self._server: _DemoHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------

    def start(self) -> DemoSite:
        if self._server is not None:
            raise RuntimeError("DemoSite already started")
        server = _DemoHTTPServer((self._host, self._port), _Handler)
        try:
            port = server.server_address[1]
            server.verbose = self._verbose
            server.requested = []
            server.resources = _load_site(self._root, f"http://{self._host}:{port}")
        except BaseException:
            server.server_close()
            raise
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1},
            name="newsflow-demo-site", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # URLs ------------------------------------------------------------------------------------

    def _require(self) -> _DemoHTTPServer:
        if self._server is None:
            raise RuntimeError("DemoSite is not started")
        return self._server

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        server = self._require()
        return f"http://{self._host}:{server.server_address[1]}"

    def feed_paths(self) -> list[str]:
        """Feed paths from ``feeds.txt`` (relative, no leading slash); needs no running server."""
        lines = (self._root / FEEDS_LIST).read_text(encoding="utf-8").splitlines()
        entries = (ln.strip() for ln in lines)
        return [e.lstrip("/") for e in entries if e and not e.startswith("#")]

    def feed_urls(self) -> list[str]:
        """Absolute URLs of the demo feeds."""
        base = self.base_url
        return [f"{base}/{p}" for p in self.feed_paths()]

    def article_urls(self) -> list[str]:
        """The linked articles the site's robots.txt allows for newsflow: what the pipeline fetches and stores."""
        disallowed = set(self.disallowed_urls())
        return [u for u in self.linked_urls() if u not in disallowed]

    def disallowed_urls(self) -> list[str]:
        """The linked articles the site's robots.txt disallows for newsflow (never to be fetched)."""
        robots = self._require().resources.get("/robots.txt")
        if robots is None:
            return []
        rules = Protego.parse(robots.body.decode("utf-8"))
        return [u for u in self.linked_urls() if not rules.can_fetch(u, ROBOTS_TOKEN)]

    def requested_paths(self) -> list[str]:
        """Every path asked for since the site started, in order."""
        return list(self._require().requested)

    def linked_urls(self) -> list[str]:
        """Absolute URLs of every article linked from the feeds (deduplicated, feed order)."""
        server = self._require()
        urls: dict[str, None] = {}
        for p in self.feed_paths():
            res = server.resources.get("/" + p)
            if res is None:
                raise FileNotFoundError(f"feed listed in {FEEDS_LIST} is missing: {p}")
            for link in _feed_links(res.body):
                urls.setdefault(link, None)
        return list(urls)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.demo.server",
                                     description="Serve the newsflow demo news site.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default) picks a free port")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)
    site = DemoSite(args.host, args.port, verbose=args.verbose).start()
    try:
        print(f"demo site: {site.base_url}/", flush=True)
        for url in site.feed_urls():
            print(f"feed: {url}", flush=True)
        print(f"{len(site.article_urls())} articles; Ctrl-C to stop", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
