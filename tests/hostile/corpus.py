"""The hostile corpus: feeds and pages built to hurt a fetcher, a parser or an extractor.

Large and explosive bodies are generated when first requested (never committed), small
ones are literals here. :class:`HostileSite` serves them all; :data:`PAGES` and
:data:`FEEDS` name each case and the outcome a test expects from the pipeline.
"""

from __future__ import annotations

import functools
import gzip
import io
import time
from http.server import BaseHTTPRequestHandler
from typing import cast

from hostile.sites import LocalSite, _Handler

MB = 1024 * 1024

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>http://example.com/a</link></item></channel></rss>"""

WRONG_SHAPE_JSON = b'{"version": "https://jsonfeed.org/version/1.1", "title": "x", "items": {"url": "http://a/"}}'
NOT_A_JSON_FEED = b'[{"url": "http://example.com/1"}, 42, null]'

PARAGRAPH = ("The harbour council voted on Tuesday to rebuild the old ferry pier, after a decade of "
             "repairs that cost more each winter than the one before. ")


@functools.cache
def big_page(size: int = 50 * MB) -> bytes:
    """A plausible HTML page of ``size`` bytes (one paragraph repeated)."""
    head = b"<html><head><title>Big</title></head><body><article>"
    body = (b"<p>" + PARAGRAPH.encode() + b"</p>\n") * (size // (len(PARAGRAPH) + 8) + 1)
    return head + body[: size - len(head)]


@functools.cache
def gzip_bomb(decompressed: int = 1024 * MB) -> bytes:
    """``decompressed`` bytes of zeros, gzip-compressed (about 1 MB per GB)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as gz:
        chunk = b"\0" * MB
        for _ in range(decompressed // MB):
            gz.write(chunk)
    return out.getvalue()


@functools.cache
def huge_feed(items: int = 100_000, padding: bool = True) -> bytes:
    """An RSS feed with ``items`` items; with ``padding``, a realistic title and summary each."""
    pad = "<description>A summary of a story that a real feed would carry, a sentence or two.</description>"
    parts = [f'<item><title>Story {i}</title><link>http://example.com/s/{i}</link>'
             f'<guid isPermaLink="false">s{i}</guid>{pad if padding else ""}</item>' for i in range(items)]
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Huge</title>'
            + "".join(parts) + "</channel></rss>").encode()


def deep_html(levels: int = 10_000) -> bytes:
    return (b"<html><body>" + b"<div>" * levels + PARAGRAPH.encode() * 5 + b"</div>" * levels
            + b"</body></html>")


def one_line(size: int = 10 * MB) -> bytes:
    """A 10 MB page with no newline at all (a minified page gone wrong)."""
    text = (PARAGRAPH * (size // len(PARAGRAPH) + 1))[:size].encode()
    return b"<html><body><p>" + text + b"</p></body></html>"


def article(title: str, text: str) -> str:
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            + "".join(f"<p>{text} {PARAGRAPH}</p>" for _ in range(5)) + "</article></body></html>")


INVALID_UTF8 = article("Invalid UTF-8 caf\ufffd", "Bytes that are not UTF-8 here: XX").encode().replace(
    b"XX", b"\xff\xfe\xc3\x28\xa0\xa1")
WRONG_CHARSET = article("Grüße aus Köln", "Eine Straße, ein Café, viele Grüße").encode("cp1252")
CONTROL_CHARS = article("Control\x00characters\x07here",
                        "NUL \x00 bell \x07 escape \x1b[31m and more \x0b\x0c").encode()

INVALID_UTF8_FEED = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bad \xff bytes'
                     b"</title><item><title>Caf\xe9 \x00 NUL</title><link>http://example.com/u8</link>"
                     b"</item></channel></rss>")


class HostileSite(LocalSite):
    """Serves the corpus. ``/feed/pages.xml`` links every hostile page (and one ordinary one)."""

    PAGES = ("ordinary", "big", "bomb", "trickle", "loop", "metadata", "loopback", "localhost",
             "bad-utf8", "wrong-charset", "deep", "control", "one-line")
    FEEDS = ("pages.xml", "laughs.xml", "huge.xml", "wrong-shape.json", "not-a-feed.json",
             "invalid-utf8.xml", "trickle.xml")

    def start(self) -> HostileSite:
        """Build the expensive bodies once, before the first request (a 1 GiB bomb takes seconds:
        built per request it would outlast the fetcher's timeout and test the wrong thing)."""
        gzip_bomb()
        huge_feed()
        super().start()
        return self

    def page_url(self, name: str) -> str:
        if name == "localhost":  # a host name that resolves to a loopback (private) address
            return f"http://localhost:{self.port}/page/ordinary"
        return f"{self.base_url}/page/{name}"

    def feed_urls(self) -> list[str]:
        return [f"{self.base_url}/feed/{name}" for name in self.FEEDS]

    def pages_feed(self) -> bytes:
        items = "".join(f"<item><title>{name}</title><link>{self.page_url(name)}</link></item>"
                        for name in self.PAGES)
        return f'<rss version="2.0"><channel><title>Hostile</title>{items}</channel></rss>'.encode()

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        r = cast(_Handler, req)
        path = r.path.split("?", 1)[0]
        html = {"Content-Type": "text/html; charset=utf-8"}
        xml = {"Content-Type": "application/rss+xml"}
        match path:
            case "/feed/pages.xml":
                r.reply(200, self.pages_feed(), xml)
            case "/feed/laughs.xml":
                r.reply(200, BILLION_LAUGHS, xml)
            case "/feed/huge.xml":
                r.reply(200, huge_feed(), xml)
            case "/feed/wrong-shape.json":
                r.reply(200, WRONG_SHAPE_JSON, {"Content-Type": "application/feed+json"})
            case "/feed/not-a-feed.json":
                r.reply(200, NOT_A_JSON_FEED, {"Content-Type": "application/json"})
            case "/feed/invalid-utf8.xml":
                r.reply(200, INVALID_UTF8_FEED, xml)
            case "/feed/trickle.xml" | "/page/trickle":
                self.trickle(r, b'<rss version="2.0"><channel><title>slow</title></channel></rss>' * 100)
            case "/page/ordinary":
                r.reply(200, article("An ordinary page", "Nothing hostile here.").encode(), html)
            case "/page/big":
                r.reply(200, big_page(), html)
            case "/page/bomb":
                r.reply(200, gzip_bomb(), {**html, "Content-Encoding": "gzip"})
            case "/page/loop":
                r.reply(302, b"", {"Location": "/page/loop2"})
            case "/page/loop2":
                r.reply(302, b"", {"Location": "/page/loop"})
            case "/page/metadata":
                r.reply(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/iam/"})
            case "/page/loopback":
                r.reply(302, b"", {"Location": f"http://127.0.0.1:{self.port}/page/ordinary"})
            case "/page/bad-utf8":
                r.reply(200, INVALID_UTF8, html)
            case "/page/wrong-charset":  # cp1252 bytes, declared UTF-8 in the header
                r.reply(200, WRONG_CHARSET, html)
            case "/page/deep":
                r.reply(200, deep_html(), html)
            case "/page/control":
                r.reply(200, CONTROL_CHARS, html)
            case "/page/one-line":
                r.reply(200, one_line(), html)
            case _:
                r.reply(404, b"not found", {"Content-Type": "text/plain"})

    @staticmethod
    def trickle(r: _Handler, body: bytes) -> None:
        """One byte per second, with an honest Content-Length: only a total timeout stops it."""
        r.send_response(200)
        r.send_header("Content-Type", "text/html")
        r.send_header("Content-Length", str(len(body)))
        r.end_headers()
        for i in range(len(body)):
            r.wfile.write(body[i:i + 1])
            r.wfile.flush()
            time.sleep(1)
