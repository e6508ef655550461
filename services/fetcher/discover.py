"""Feed discovery: the feeds a site page announces.

``<link rel="alternate" type="application/rss+xml" href="...">`` (and Atom,
JSON Feed, RDF) in the page head is the standard; when a page has none,
links whose path looks like a feed (``/feed``, ``/rss``, ``.rss``, ``.atom``)
are the fallback. Relative URLs resolve against ``<base href>`` or the page.

A site's ``robots.txt`` may name its sitemaps (``Sitemap:`` lines, for every crawler):
:func:`robots_sitemaps` lists them for ``newsflow feeds discover``.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from services.common.urls import BadURLError, normalize_url
from services.fetcher.http import HttpClient
from services.fetcher.robots import RobotsCache, site_of
from services.fetcher.settings import FetcherSettings

FEED_TYPES = (
    "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json",
    "application/json", "application/xml", "text/xml", "application/x.atom+xml", "application/x-rss+xml",
)
_FEEDISH_PATH = re.compile(r"(/feed/?|/rss/?|/atom/?|\.rss|\.atom|\.rdf|/feed\.xml|/rss\.xml|/atom\.xml|"
                           r"/index\.xml|/feed\.json)$", re.IGNORECASE)


def looks_like_html(body: bytes, content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("text/html", "application/xhtml+xml"):
        return True
    head = body.lstrip()[:512].lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def discover_feeds(html: bytes | str, page_url: str) -> list[str]:
    """Feed URLs announced by a page, announced ones first, without duplicates."""
    try:
        doc = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    base = page_url
    for el in doc.iter("base"):
        if el.get("href"):
            base = urljoin(page_url, el.get("href", ""))
            break
    found: list[str] = []
    for el in doc.iter("link"):
        rel = (el.get("rel") or "").lower().split()
        kind = (el.get("type") or "").split(";", 1)[0].strip().lower()
        if "alternate" in rel and kind in FEED_TYPES and el.get("href"):
            found.append(el.get("href", ""))
    if not found:
        found = [a.get("href", "") for a in doc.iter("a") if _FEEDISH_PATH.search((a.get("href") or "").split("?")[0])]
    urls: list[str] = []
    for href in found:
        try:
            urls.append(normalize_url(urljoin(base, href.strip())))
        except BadURLError:
            continue
    return list(dict.fromkeys(urls))


async def robots_sitemaps(page_url: str, settings: FetcherSettings) -> list[str]:
    """The sitemaps the robots.txt of ``page_url``'s site names (absolute http(s) URLs, without duplicates);
    none when it names none or cannot be fetched."""
    site = site_of(page_url)
    if site is None:
        return []
    http = HttpClient(settings)
    try:
        rules = await RobotsCache(http, settings).rules(*site)
    finally:
        await http.aclose()
    urls = (urljoin(site[1], u.strip()) for u in rules.sitemaps)
    return list(dict.fromkeys(u for u in urls if u.startswith(("http://", "https://"))))
