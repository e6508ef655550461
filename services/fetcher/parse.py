"""Feed documents -> :class:`FeedEntry` objects.

RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 go through feedparser (it decodes declared
and undeclared encodings and resolves ``xml:base``), after a fast path: plain
RSS 2.0 and Atom 1.0 in UTF-8 without HTML to sanitise are read with lxml into the
raw entries feedparser would build (:mod:`services.fetcher.fastparse`, ~4x the
parses per second; anything it cannot be sure of goes to feedparser). JSON Feed
1.0/1.1, which feedparser cannot read, goes through a small adapter into the same model.

Parsing is the fetcher's CPU cost, so :class:`ParsePool` runs it in worker
processes that the event loop talks to over socket pairs (no helper threads);
each is a fresh ``python -m services.fetcher.parseworker`` that imports only the parsers.

Before feedparser sees a document, :mod:`services.fetcher.feedbounds` refuses
DTD entity declarations that could expand (billion laughs, quadratic blow-up)
or reach outside the document (external entities), anywhere in it, and cuts the
document after ``max_entries`` entries (a 200,000-item feed costs the parser
``max_entries`` items). feedparser would drop most entities itself; refusing them
gives a clear error instead of half-parsed text. A parse in a worker process has a
time limit (:class:`ParsePool`): a worker past it is killed and replaced.

Entry identity (:func:`entry_identity`): the GUID/id when present and stable
(unique within the document and not the feed's own URL), else the normalised
link, else a hash of title and date.
"""

from __future__ import annotations

import asyncio
import calendar
import collections
import dataclasses
import hashlib
import json
import os
import pickle
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from services.common.messages import FeedEntry
from services.common.urls import BadURLError, normalize_url
from services.fetcher.fastparse import fast_parse
from services.fetcher.feedbounds import EntityRefused, cut_entries, refuse_entity_declarations
from services.fetcher.media import feedparser_media, json_item_media
from services.fetcher.sitemaps import SitemapError, is_sitemap, parse_sitemap


class FeedParseError(ValueError):
    """The document is not a feed newsflow can read."""


@dataclass(frozen=True)
class ParsedFeed:
    format: str
    title: str | None
    entries: list[FeedEntry]
    ttl_seconds: float | None = None
    warning: str | None = None
    skipped: int = 0  # entries without a usable link: they have no page to fetch
    site_url: str | None = None
    cut: int = 0  # entries past ``max_entries``, not read
    #: the document's own links by relation: ``hub`` and ``self`` (WebSub), ``next``, ``prev-archive``
    #: (RFC 5005 paging and archives); hrefs absolute
    links: dict[str, str] = dataclasses.field(default_factory=dict)
    #: a sitemap index: the sitemaps it lists (absolute URLs); entries are empty then
    sitemaps: list[str] = dataclasses.field(default_factory=list)


# --- XML feeds ----------------------------------------------------------------------------------

MAX_ENTRIES = 2000  # NEWSFLOW_MAX_FEED_ENTRIES


def parse_feed(body: bytes, url: str, content_type: str | None = None, max_entries: int = MAX_ENTRIES,
               fast: bool = True) -> ParsedFeed:
    """Parse a feed document fetched from ``url`` (its first ``max_entries`` entries); raises :class:`FeedParseError`.

    ``fast``: try :mod:`services.fetcher.fastparse` first (same result; False: feedparser only, to compare).
    """
    if not body.strip():
        raise FeedParseError("empty document")
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if head in (b"{", b"[") or media.endswith("json"):
        return _parse_json_feed(body, url, max_entries)
    try:
        refuse_entity_declarations(body)
        if is_sitemap(body):  # a sitemap's URLs as entries (services.fetcher.sitemaps)
            return ParsedFeed(**parse_sitemap(body, url, max_entries))
    except (EntityRefused, SitemapError) as exc:
        raise FeedParseError(str(exc)) from None
    body, cut = cut_entries(body, max_entries)
    parsed = _parse_xml_feed(body, url, content_type, fast)
    return dataclasses.replace(parsed, cut=cut) if cut else parsed


def _parse_xml_feed(body: bytes, url: str, content_type: str | None, fast: bool) -> ParsedFeed:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = (fast and fast_parse(body, url, content_type)) or feedparser.parse(body, response_headers=headers,
                                                                                 sanitize_html=True)
    if not parsed.version and not parsed.entries:
        reason = parsed.get("bozo_exception") or "no RSS, Atom or JSON Feed root element"
        raise FeedParseError(f"not a feed: {reason}")
    feed_title = _text(parsed.feed.get("title"))
    raws = list(parsed.entries)
    unique_ids = _unique_ids(str(r.get("id") or "") for r in raws)
    entries = [e for e in (_from_feedparser(raw, url, feed_title, unique_ids) for raw in raws) if e]
    ttl = str(parsed.feed.get("ttl") or "").strip()
    warning = _warning(parsed) if parsed.get("bozo") else None
    return ParsedFeed(
        format=parsed.version or "unknown",
        title=feed_title,
        entries=entries,
        ttl_seconds=float(ttl) * 60 if ttl.isdigit() else None,
        warning=warning,
        skipped=len(raws) - len(entries),
        site_url=_text(parsed.feed.get("link")),
        links=_feed_links(parsed.feed.get("links", []), url),
    )


LINK_RELS = ("self", "hub", "next", "previous", "prev-archive", "next-archive", "current", "first", "last")


def _feed_links(raws: Any, base: str) -> dict[str, str]:
    """The feed's own links by relation (the first of each known ``rel``), absolute."""
    links: dict[str, str] = {}
    for raw in raws if isinstance(raws, list) else []:
        rel, href = str(raw.get("rel") or ""), raw.get("href")
        if rel in LINK_RELS and rel not in links and isinstance(href, str) and href.strip():
            links[rel] = urljoin(base, href.strip())
    return links


def _warning(parsed: Any) -> str | None:
    exc = parsed.get("bozo_exception")
    if exc is None or type(exc).__name__ == "NonXMLContentType":
        return None  # "no Content-type specified": a local file or a lax server, not a feed problem
    return f"{type(exc).__name__}: {exc}"[:300]


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _unique_ids(ids: Any) -> set[str]:
    """Ids that occur exactly once in the document (a repeated id cannot identify an entry)."""
    counts: dict[str, int] = {}
    for value in ids:
        if value:
            counts[value] = counts.get(value, 0) + 1
    return {value for value, n in counts.items() if n == 1}


def entry_identity(guid: str | None, link: str | None, title: str | None, date: datetime | None,
                   feed_url: str, unique_ids: set[str]) -> str:
    """GUID when present and stable, else the normalised link, else a hash of title and date."""
    guid = (guid or "").strip()
    if guid and guid in unique_ids and guid != feed_url and len(guid) <= 2000:
        return guid
    if link:
        return link
    material = f"{title or ''}\n{date.isoformat() if date else ''}"
    return "sha256:" + hashlib.sha256(material.encode()).hexdigest()[:32]


def _when(struct: time.struct_time | None) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _link(raw: Any, base: str) -> str | None:
    link = raw.get("link")
    if not link:
        for candidate in raw.get("links", []):
            if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                link = candidate["href"]
                break
    if not link or not isinstance(link, str):
        return None
    try:
        return normalize_url(urljoin(base, link.strip()))
    except BadURLError:
        return None


def _from_feedparser(raw: Any, feed_url: str, feed_title: str | None, unique_ids: set[str]) -> FeedEntry | None:
    link = _link(raw, feed_url)
    if not link:
        return None  # an entry without a usable link has no page to fetch (counted as skipped)
    content = None
    if raw.get("content"):
        content = max((c.get("value", "") for c in raw["content"]), key=len) or None
    authors = [a["name"] for a in raw.get("authors", []) if a.get("name")]
    if not authors and raw.get("author"):
        authors = [raw["author"]]
    published = _when(raw.get("published_parsed"))
    updated = _when(dict.get(raw, "updated_parsed"))  # plain get: feedparser's would fall back to published
    title = _text(raw.get("title"))
    image, media = feedparser_media(raw, feed_url)
    return FeedEntry(
        feed_url=feed_url,
        entry_id=entry_identity(raw.get("id"), link, title, published or updated, feed_url, unique_ids),
        link=link,
        title=title,
        summary=raw.get("summary"),
        content=content,
        authors=authors,
        published_at=published,
        updated_at=updated,
        categories=[t["term"] for t in raw.get("tags", []) if t.get("term")],
        feed_title=feed_title,
        image=image, media=media,
    )


# --- JSON Feed ----------------------------------------------------------------------------------

def _parse_json_feed(body: bytes, url: str, max_entries: int = MAX_ENTRIES) -> ParsedFeed:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedParseError(f"invalid JSON: {exc}") from exc
    except RecursionError as exc:
        raise FeedParseError("invalid JSON: nested too deeply") from exc
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise FeedParseError("JSON document is not a JSON Feed (no jsonfeed.org version)")
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedParseError("JSON Feed has no 'items' list")
    cut = max(0, len(items) - max_entries)
    items = items[:max_entries]
    title = _text(doc.get("title"))
    base = str(doc["feed_url"]) if isinstance(doc.get("feed_url"), str) else url
    ids = _unique_ids(_json_str(i.get("id")) for i in items if isinstance(i, dict))
    feed_authors = _json_authors(doc)
    entries = [e for e in (_from_json_item(i, url, base, title, ids, feed_authors) for i in items) if e]
    version = str(doc["version"]).rsplit("/", 1)[-1]
    return ParsedFeed(
        format=f"json{version.replace('.', '')}", title=title, entries=entries,
        skipped=len(items) - len(entries), site_url=_text(doc.get("home_page_url")), cut=cut,
        links=_json_feed_links(doc, url),
    )


def _json_feed_links(doc: dict[str, Any], url: str) -> dict[str, str]:
    """JSON Feed's ``feed_url`` (self), ``next_url`` (next) and its first WebSub hub."""
    links = {rel: urljoin(url, value) for rel, key in (("self", "feed_url"), ("next", "next_url"))
             if isinstance(value := doc.get(key), str) and value.strip()}
    hubs = doc.get("hubs")
    for hub in hubs if isinstance(hubs, list) else []:
        if isinstance(hub, dict) and str(hub.get("type", "")).lower() == "websub" and isinstance(hub.get("url"), str):
            links["hub"] = urljoin(url, hub["url"])
            break
    return links


def _json_str(value: object) -> str | None:
    """JSON Feed ids are strings, but integers occur in the wild: accept both as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _json_date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json_authors(obj: dict[str, Any]) -> list[str]:
    """1.1 ``authors`` list, or 1.0 ``author`` object (or, seen in the wild, a plain string)."""
    raw: list[Any] = obj["authors"] if isinstance(obj.get("authors"), list) else []
    if not raw and obj.get("author") is not None:
        raw = [obj["author"]]
    names = [a.get("name") if isinstance(a, dict) else a for a in raw]
    return [n.strip() for n in names if isinstance(n, str) and n.strip()]


def _from_json_item(item: object, feed_url: str, base: str, feed_title: str | None, unique_ids: set[str],
                    feed_authors: list[str]) -> FeedEntry | None:
    if not isinstance(item, dict):
        return None
    raw_link = item.get("url") or item.get("external_url")
    if not isinstance(raw_link, str):
        return None
    try:
        link = normalize_url(urljoin(base, raw_link))
    except BadURLError:
        return None
    tags: list[Any] = item["tags"] if isinstance(item.get("tags"), list) else []
    title = _text(item.get("title"))
    published = _json_date(item.get("date_published"))
    updated = _json_date(item.get("date_modified"))
    image, media = json_item_media(item, base)
    return FeedEntry(
        feed_url=feed_url,
        entry_id=entry_identity(_json_str(item.get("id")), link, title, published or updated, feed_url, unique_ids),
        link=link,
        title=title,
        summary=item.get("summary") if isinstance(item.get("summary"), str) else None,
        content=next((item[k] for k in ("content_html", "content_text") if isinstance(item.get(k), str)), None),
        authors=_json_authors(item) or feed_authors,
        published_at=published,
        updated_at=updated,
        categories=[t for t in tags if isinstance(t, str)],
        feed_title=feed_title,
        image=image, media=media,
    )


# --- parse processes ----------------------------------------------------------------------------

def parse_safely(body: bytes, url: str, content_type: str | None, max_entries: int = MAX_ENTRIES) -> ParsedFeed:
    """:func:`parse_feed`, with any unexpected parser exception turned into a FeedParseError."""
    try:
        return parse_feed(body, url, content_type, max_entries)
    except FeedParseError:
        raise
    except Exception as exc:  # noqa: BLE001 - a parser bug on one feed must not stop the others
        raise FeedParseError(f"parser failed: {type(exc).__name__}: {exc}") from None


READY = b"ready"  # a parse process's first message
START_TIMEOUT = 60.0  # seconds for a parse process to import its modules


class _Worker:
    """One parse process and the fetcher's end of its socket (asyncio streams: no threads)."""

    def __init__(self, process: subprocess.Popen[bytes], reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.process = process
        self.reader = reader
        self.writer = writer
        self.waiting: collections.deque[asyncio.Future[ParsedFeed]] = collections.deque()
        self.reading: asyncio.Task[None] | None = None
        self.alive = True

    @classmethod
    async def start(cls) -> _Worker:
        # A fresh interpreter that imports only the parsing modules (services.fetcher.parseworker):
        # a multiprocessing child would import the fetcher's __main__ again, the whole CLI (~100 MB).
        ours, theirs = socket.socketpair()
        process = subprocess.Popen([sys.executable, "-m", "services.fetcher.parseworker", str(theirs.fileno())],
                                   pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours, limit=2**20)
        worker = cls(process, reader, writer)
        try:  # its imports take ~0.5 s: a job's time limit starts once the process is ready
            ready = await asyncio.wait_for(reader.readexactly(_HEADER.size + len(READY)), START_TIMEOUT)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, TimeoutError):
            ready = b""
        if ready[_HEADER.size:] != READY:
            worker.close()
            raise FeedParseError("parser process failed to start")
        worker.reading = asyncio.create_task(worker._read_answers())
        return worker

    def submit(self, body: bytes, url: str, content_type: str | None,
               max_entries: int = MAX_ENTRIES) -> asyncio.Future[ParsedFeed]:
        future: asyncio.Future[ParsedFeed] = asyncio.get_running_loop().create_future()
        self.writer.write(_frame(pickle.dumps((body, url, content_type, max_entries), pickle.HIGHEST_PROTOCOL)))
        self.waiting.append(future)
        return future

    async def _read_answers(self) -> None:
        try:
            while True:
                (size,) = _HEADER.unpack(await self.reader.readexactly(4))
                if size == -1:
                    (size,) = _BIG_HEADER.unpack(await self.reader.readexactly(8))
                ok, value = pickle.loads(await self.reader.readexactly(size))
                future = self.waiting.popleft()
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(FeedParseError(value))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self.alive = False
            while self.waiting:  # the process died (out of memory? killed?): its jobs fail, clearly
                future = self.waiting.popleft()
                if not future.done():
                    future.set_exception(FeedParseError("parser process died"))

    def close(self) -> None:
        """Stop the process now: a parser holds no state worth a graceful exit."""
        self.alive = False
        self.writer.close()
        if self.reading is not None:
            self.reading.cancel()
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass


def _retrieve(future: asyncio.Future[ParsedFeed]) -> None:
    if not future.cancelled():
        future.exception()


_HEADER = struct.Struct("!i")
_BIG_HEADER = struct.Struct("!Q")


def _frame(payload: bytes) -> bytes:
    """``multiprocessing.Connection`` framing, so the worker can use ``recv_bytes``."""
    if len(payload) > 0x7FFFFFFF:
        return _HEADER.pack(-1) + _BIG_HEADER.pack(len(payload)) + payload
    return _HEADER.pack(len(payload)) + payload


class ParsePool:
    """Feed parsing off the event loop, in a process per core (feedparser is pure Python, GIL-bound).

    Not a ``ProcessPoolExecutor``: its two helper threads in the fetcher's
    process (result manager, queue feeder) fight the event loop for the GIL,
    and every socket write or SQLite call of the loop then waits for a thread
    switch. Here each worker is a process with a socket pair read and written
    by the event loop itself; a job goes to the worker with the fewest waiting.
    """

    def __init__(self, workers: int, max_entries: int = MAX_ENTRIES, timeout: float = 30.0) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.max_entries = max_entries
        self.timeout = timeout
        self._pool: list[_Worker] = []
        self._starting: asyncio.Lock | None = None

    async def parse(self, body: bytes, url: str, content_type: str | None) -> ParsedFeed:
        """The parsed feed (its first ``max_entries`` entries); a worker past ``timeout`` is killed."""
        if self.workers <= 1:
            return parse_safely(body, url, content_type, self.max_entries)
        pool = await self._running()
        worker = min(pool, key=lambda w: len(w.waiting))
        future = worker.submit(body, url, content_type, self.max_entries)
        future.add_done_callback(_retrieve)  # an answer after a timeout is nobody's: no "never retrieved" warning
        try:  # each job queued on the worker, this one included, has ``timeout``
            return await asyncio.wait_for(asyncio.shield(future), self.timeout * len(worker.waiting))
        except TimeoutError:
            worker.close()  # its other jobs fail as "parser process died"; the next parse starts a new worker
            raise FeedParseError(f"refused: parsing took longer than {self.timeout:g}s "
                                 "(NEWSFLOW_PARSE_TIMEOUT_SECONDS); the parser was stopped") from None

    async def _running(self) -> list[_Worker]:
        """The live workers; dead ones are replaced first."""
        if len(self._pool) == self.workers and all(w.alive for w in self._pool):
            return self._pool
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            for dead in [w for w in self._pool if not w.alive]:
                dead.close()
                self._pool.remove(dead)
            while len(self._pool) < self.workers:
                self._pool.append(await _Worker.start())
        return self._pool

    def close(self) -> None:
        for worker in self._pool:
            worker.close()
        self._pool = []
