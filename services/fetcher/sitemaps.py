"""Sitemaps as feed sources: ``<urlset>`` (with the Google News and image extensions) and ``<sitemapindex>``.

A line of the feed list may be an XML sitemap; it is recognised by content (:func:`is_sitemap`: the
document's root element is ``urlset`` or ``sitemapindex``) by :func:`services.fetcher.parse.parse_feed`,
which hands it here. Each ``<url>`` becomes a :class:`FeedEntry`: ``loc`` (normalised) is its link and
identity, ``news:title`` its title, ``news:publication_date`` its published time, ``lastmod`` its
updated time, ``news:publication/news:name`` the feed title, ``news:keywords`` its categories and the
first ``image:image/image:loc`` its image.

Bounds, as for feeds: the body is at most ``NEWSFLOW_MAX_FEED_BYTES`` (the HTTP client; a
``sitemap.xml.gz`` served as a gzip file is decompressed there under the same cap); entity
declarations are refused (:mod:`services.fetcher.feedbounds`) and lxml parses with no entity
resolution, no DTD, no network and no huge-tree mode; at most :data:`MAX_URLS` ``<url>`` elements
are read (the protocol's limit per file) and the newest ``max_entries`` of them (by publication
date, else lastmod; undated ones last, in document order) become entries, the rest counted as cut.

A sitemap index yields no entries: its child sitemaps, newest ``lastmod`` first (undated ones after,
in document order), as ``sitemaps``. What a poll and a backfill do with them is in
:mod:`services.fetcher.sitemapindex` and :mod:`services.fetcher.backfill`.

No project imports but the entry model, URL normalisation and the entity refusal; no I/O.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict
from urllib.parse import urljoin

from lxml import etree

from services.common.messages import FeedEntry
from services.common.urls import BadURLError, normalize_url
from services.fetcher.feedbounds import EntityRefused, refuse_entity_declarations

SITEMAP_NAMESPACES = frozenset({
    "http://www.sitemaps.org/schemas/sitemap/0.9",
    "http://www.google.com/schemas/sitemap/0.9",  # older Google spellings, still served
    "http://www.google.com/schemas/sitemap/0.84",
})
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
IMAGE_NS = "http://www.google.com/schemas/sitemap-image/1.1"
MAX_URLS = 50_000  # <url> or <sitemap> elements read from one file (the sitemap protocol's own limit)

_ROOT = re.compile(rb"\A(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)*<(?:[A-Za-z_][\w.-]*:)?(urlset|sitemapindex)[\s>/]",
                   re.DOTALL)
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


class SitemapError(ValueError):
    """The document looks like a sitemap but cannot be read as one."""


class SitemapFields(TypedDict):
    """A parsed sitemap, as the fields of :class:`services.fetcher.parse.ParsedFeed`."""

    format: str
    title: str | None
    entries: list[FeedEntry]
    skipped: int
    cut: int
    sitemaps: list[str]


@dataclass(frozen=True)
class _Url:
    """One ``<url>`` as read, before it becomes an entry (only the newest ``max_entries`` do)."""

    loc: str
    lastmod: datetime | None
    title: str | None
    published: datetime | None
    publication: str | None
    keywords: tuple[str, ...]
    image: str | None
    news: bool


def is_sitemap(body: bytes) -> bool:
    """Whether the document's root element is ``urlset`` or ``sitemapindex`` (any prefix)."""
    return _ROOT.match(body.lstrip(b"\xef\xbb\xbf")[:65_536]) is not None


def parse_sitemap(body: bytes, url: str, max_entries: int) -> SitemapFields:
    """A sitemap or sitemap index fetched from ``url``; raises :class:`SitemapError`."""
    try:
        refuse_entity_declarations(body)
    except EntityRefused as exc:
        raise SitemapError(str(exc)) from None
    try:
        _, root = next(_events(body, ("start",)))
        kind, ns = _root_kind(root)
        items, overflow = _read_items(body, ns, kind)
    except etree.XMLSyntaxError as exc:
        raise SitemapError(f"not a well-formed sitemap: {exc}") from None
    except StopIteration:
        raise SitemapError("not a sitemap: empty document") from None
    if kind == "sitemapindex":
        children = _children(items, url)
        return SitemapFields(format="sitemap-index", title=None, entries=[], skipped=len(items) - len(children),
                             cut=overflow, sitemaps=children)
    urls, examined = _newest_urls(items, url, max_entries)
    entries = [_entry(u, url) for u in urls]
    title = next((u.publication for u in urls if u.publication), None)
    return SitemapFields(format="sitemap-news" if any(u.news for u in urls) else "sitemap", title=title,
                         entries=entries, skipped=examined - len(urls), cut=overflow + len(items) - examined,
                         sitemaps=[])


def _newest_urls(items: list[_Item], base: str, limit: int) -> tuple[list[_Url], int]:
    """The newest ``limit`` usable ``<url>`` items (and how many were examined for them): sorted by their
    dates first, so only the examined ones cost a URL normalisation."""
    dated = sorted(((w3c_datetime(i.fields.get("published")) or w3c_datetime(i.fields.get("lastmod")), n, i)
                    for n, i in enumerate(items)), key=lambda t: (t[0] is None, -t[0].timestamp() if t[0] else 0, t[1]))
    urls: list[_Url] = []
    examined = 0
    for _, _, item in dated:
        if len(urls) >= limit:
            break
        examined += 1
        u = _url(item, base)
        if u is not None:
            urls.append(u)
    return urls, examined


def _root_kind(root: Any) -> tuple[str, str]:
    """``("urlset" | "sitemapindex", namespace)``; a root outside the sitemap namespace is refused, clearly."""
    qname = etree.QName(root)
    if qname.localname not in ("urlset", "sitemapindex"):
        raise SitemapError(f"not a sitemap: the root element is <{qname.localname}>")
    if qname.namespace not in SITEMAP_NAMESPACES:
        where = f"namespace {qname.namespace!r}" if qname.namespace else "no namespace"
        raise SitemapError(f"not a sitemap: <{qname.localname}> in {where}, not "
                           "http://www.sitemaps.org/schemas/sitemap/0.9")
    return qname.localname, qname.namespace


@dataclass(frozen=True)
class _Item:
    """The text of one ``<url>``/``<sitemap>`` element's children that matter (the element itself is freed)."""

    fields: dict[str, str]


def _events(body: bytes, events: tuple[str, ...], tag: str | None = None) -> Any:
    """lxml's incremental parser, safe: no entities resolved, no DTD, no network, no huge trees."""
    return etree.iterparse(io.BytesIO(body), events=events, tag=tag, resolve_entities=False, no_network=True,
                           load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True)


def _read_items(body: bytes, ns: str, kind: str) -> tuple[list[_Item], int]:
    """The ``<url>`` (or ``<sitemap>``) children of the root, at most :data:`MAX_URLS` (and how many more), read
    as they end (the parser reports no other element)."""
    items: list[_Item] = []
    overflow = 0
    for _, el in _events(body, ("end",), f"{{{ns}}}{'url' if kind == 'urlset' else 'sitemap'}"):
        root = el.getparent()
        if root is None or root.getparent() is not None:
            continue  # the root itself, or nested deeper: not an entry of this sitemap
        if len(items) < MAX_URLS:
            items.append(_item(el, ns))
        else:
            overflow += 1
        el.clear()
        while el.getprevious() is not None:  # the parsed tree stays one element deep
            del root[0]
    return items, overflow


_TEXT_FIELDS = {"loc": "loc", "lastmod": "lastmod"}
_NEWS_FIELDS = {"title": "title", "publication_date": "published", "keywords": "keywords"}


def _item(el: Any, ns: str) -> _Item:
    """The texts of a ``<url>``/``<sitemap>``: one pass over its children (ElementPath per field cost 5x more)."""
    fields: dict[str, str] = {}
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        space, _, local = tag[1:].partition("}")
        if space == ns and local in _TEXT_FIELDS:
            _put(fields, _TEXT_FIELDS[local], child.text)
        elif space == NEWS_NS and local == "news":
            fields["news"] = "1"
            for part in child:
                part_space, _, part_local = str(part.tag)[1:].partition("}")
                if part_space != NEWS_NS:
                    continue
                if part_local in _NEWS_FIELDS:
                    _put(fields, _NEWS_FIELDS[part_local], part.text)
                elif part_local == "publication":
                    _put(fields, "publication", part.findtext(f"{{{NEWS_NS}}}name"))
        elif space == IMAGE_NS and local == "image":
            _put(fields, "image", child.findtext(f"{{{IMAGE_NS}}}loc"))
    return _Item(fields)


def _put(fields: dict[str, str], name: str, text: str | None) -> None:
    """The first non-blank text of a field."""
    if name not in fields and text and text.strip():
        fields[name] = text.strip()


def w3c_datetime(text: str | None) -> datetime | None:
    """A W3C datetime (``2026-11-29``, ``2026-11-29T10:00:00+01:00``, ``2026-11``, ``2026``), UTC-aware; else None."""
    if not text:
        return None
    text = text.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        match = _PARTIAL_DATE.match(text)
        if match is None:
            return None
        try:
            value = datetime(int(match.group(1)), int(match.group(2) or 1), 1)
        except ValueError:
            return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _absolute(loc: str | None, base: str) -> str | None:
    if not loc:
        return None
    try:
        return normalize_url(urljoin(base, loc))
    except BadURLError:
        return None


def _url(item: _Item, base: str) -> _Url | None:
    """A ``<url>`` with a usable ``loc`` (others are counted as skipped: no page to fetch)."""
    loc = _absolute(item.fields.get("loc"), base)
    if loc is None:
        return None
    keywords = tuple(k.strip() for k in item.fields.get("keywords", "").split(",") if k.strip())
    return _Url(loc=loc, lastmod=w3c_datetime(item.fields.get("lastmod")), title=item.fields.get("title"),
                published=w3c_datetime(item.fields.get("published")), publication=item.fields.get("publication"),
                keywords=keywords, image=_absolute(item.fields.get("image"), base), news="news" in item.fields)


def _entry(u: _Url, sitemap_url: str) -> FeedEntry:
    return FeedEntry(feed_url=sitemap_url, entry_id=u.loc, link=u.loc, title=u.title, published_at=u.published,
                     updated_at=u.lastmod, feed_title=u.publication, categories=list(u.keywords), image=u.image)


def _children(items: list[_Item], base: str) -> list[str]:
    """A sitemap index's child sitemaps, newest ``lastmod`` first, each once; undated ones after, in order."""
    dated: list[tuple[float, int, str]] = []
    seen: set[str] = set()
    for position, item in enumerate(items):
        loc = _absolute(item.fields.get("loc"), base)
        if loc is None or loc in seen:
            continue
        seen.add(loc)
        when = w3c_datetime(item.fields.get("lastmod"))
        dated.append((-when.timestamp() if when else float("inf"), position, loc))
    return [loc for *_, loc in sorted(dated)]
