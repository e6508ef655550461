"""Feed documents -> :class:`FeedEntry` objects.

RSS and Atom go through feedparser. JSON Feed (1.0/1.1), which feedparser
cannot read, goes through a small adapter into the same entry model.
"""

from __future__ import annotations

import calendar
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from services.common.messages import FeedEntry
from services.common.urls import BadURLError, normalize_url


class FeedParseError(ValueError):
    """The document is not a feed newsflow can read."""


@dataclass(frozen=True)
class ParsedFeed:
    format: str
    title: str | None
    entries: list[FeedEntry]
    ttl_seconds: float | None = None
    warning: str | None = None


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document fetched from ``url``; raises :class:`FeedParseError`."""
    head = body.lstrip()[:1]
    if head in (b"{", b"[") or (content_type or "").endswith("json"):
        return _parse_json_feed(body, url)
    return _parse_xml_feed(body, url, content_type)


def _parse_xml_feed(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=True)
    if not parsed.version and not parsed.entries:
        reason = parsed.get("bozo_exception") or "no RSS, Atom or JSON Feed root element"
        raise FeedParseError(f"not a feed: {reason}")
    feed_title = parsed.feed.get("title")
    entries = [e for e in (_from_feedparser(raw, url, feed_title) for raw in parsed.entries) if e]
    ttl = parsed.feed.get("ttl")
    warning = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    return ParsedFeed(
        format=parsed.version or "unknown",
        title=feed_title,
        entries=entries,
        ttl_seconds=float(ttl) * 60 if ttl and str(ttl).strip().isdigit() else None,
        warning=warning,
    )


def _when(struct: time.struct_time | None) -> datetime | None:
    if not struct:
        return None
    return datetime.fromtimestamp(calendar.timegm(struct), UTC)


def _link(raw: Any, base: str) -> str | None:
    link = raw.get("link")
    if not link:
        for candidate in raw.get("links", []):
            if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                link = candidate["href"]
                break
    if not link:
        return None
    try:
        return normalize_url(urljoin(base, link.strip()))
    except BadURLError:
        return None


def _from_feedparser(raw: Any, feed_url: str, feed_title: str | None) -> FeedEntry | None:
    link = _link(raw, feed_url)
    if not link:
        return None  # an entry without a usable link has no page to fetch
    content = None
    if raw.get("content"):
        content = max((c.get("value", "") for c in raw["content"]), key=len) or None
    authors = [a["name"] for a in raw.get("authors", []) if a.get("name")]
    if not authors and raw.get("author"):
        authors = [raw["author"]]
    return FeedEntry(
        feed_url=feed_url,
        entry_id=str(raw.get("id") or link),
        link=link,
        title=raw.get("title"),
        summary=raw.get("summary"),
        content=content,
        authors=authors,
        published_at=_when(raw.get("published_parsed")),
        updated_at=_when(raw.get("updated_parsed")),
        categories=[t["term"] for t in raw.get("tags", []) if t.get("term")],
        feed_title=feed_title,
    )


def _parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedParseError(f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise FeedParseError("JSON document is not a JSON Feed (no jsonfeed.org version)")
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedParseError("JSON Feed has no 'items' list")
    title = doc.get("title") if isinstance(doc.get("title"), str) else None
    entries = [e for e in (_from_json_item(item, url, title) for item in items) if e]
    version = str(doc["version"]).rsplit("/", 1)[-1]
    return ParsedFeed(format=f"json{version.replace('.', '')}", title=title, entries=entries)


def _json_date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _from_json_item(item: object, feed_url: str, feed_title: str | None) -> FeedEntry | None:
    if not isinstance(item, dict):
        return None
    raw_link = item.get("url") or item.get("external_url")
    if not isinstance(raw_link, str):
        return None
    try:
        link = normalize_url(urljoin(feed_url, raw_link))
    except BadURLError:
        return None
    authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    return FeedEntry(
        feed_url=feed_url,
        entry_id=str(item.get("id") or link),
        link=link,
        title=item.get("title") if isinstance(item.get("title"), str) else None,
        summary=item.get("summary") if isinstance(item.get("summary"), str) else None,
        content=next((item[k] for k in ("content_html", "content_text") if isinstance(item.get(k), str)), None),
        authors=[a["name"] for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)],
        published_at=_json_date(item.get("date_published")),
        updated_at=_json_date(item.get("date_modified")),
        categories=[t for t in tags if isinstance(t, str)],
        feed_title=feed_title,
    )
