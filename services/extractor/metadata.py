"""Page metadata besides the title: bylines, dates, site name, description, canonical URL, language, image.

Each field is taken from the first source that has it, in the order JSON-LD (see
:mod:`services.extractor.json_metadata`), meta tags, trafilatura's own heuristics (:class:`PageMeta`,
run lazily), the feed entry.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from datetime import datetime
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import lxml.html
from htmldate import find_date
from lxml import etree
from trafilatura import metadata as tf_metadata
from trafilatura.settings import DEFAULT_CONFIG, set_date_params

from services.common.messages import FeedEntry
from services.common.urls import absolute_http_url
from services.extractor.dates import as_aware, parse_datetime
from services.extractor.htmlprocessing import html_to_text
from services.extractor.json_metadata import LdArticle

# --------------------------------------------------------------------------- meta tags


_META_NAMED = etree.XPath("//meta[@property=$n or @name=$n or @itemprop=$n][@content]")


def meta_content(tree: lxml.html.HtmlElement, *names: str) -> str | None:
    """Content of the first non-empty ``<meta>`` called ``name`` (by property, then name, then itemprop)."""
    for name in names:
        found = _META_NAMED(tree, n=name)
        for attr in ("property", "name", "itemprop"):
            for el in found:
                value = el.get("content") if el.get(attr) == name else None
                if value and value.strip():
                    return html_lib.unescape(value.strip())
    return None


def canonical_url(tree: lxml.html.HtmlElement) -> str | None:
    """``<link rel=canonical>`` (an absolute URL), else ``og:url``."""
    for href in tree.xpath('//link[@rel="canonical"]/@href'):
        if isinstance(href, str) and href.strip().startswith("http"):
            return href.strip()
    return meta_content(tree, "og:url")


def language_hint(tree: lxml.html.HtmlElement, ld: LdArticle | None) -> str | None:
    """``<html lang>``, else a language meta tag, else JSON-LD ``inLanguage``; lower case."""
    lang = tree.get("lang") or tree.get("xml:lang")
    if not lang:
        lang = meta_content(tree, "og:locale", "content-language", "language", "dc.language")
    if not lang and ld:
        lang = ld.in_language
    if not lang:
        return None
    lang = lang.strip().replace("_", "-").split(",")[0]
    return lang.lower() if lang else None


class PageMeta:
    """trafilatura's own metadata heuristics, each run only when a field is asked for.

    ``bare_extraction(with_metadata=True)`` runs all of them on every page (meta tags, a
    second JSON-LD parse, title/author XPaths on a copy of the tree, htmldate, categories,
    tags, licence): a quarter of the extraction time, though JSON-LD and meta tags usually
    answer first. The same steps in the same order, minus the JSON-LD (:func:`parse_jsonld`
    has it) and the fields newsflow does not store.
    """

    def __init__(self, tree: lxml.html.HtmlElement | None, url: str | None) -> None:
        self._tree = tree
        self._url = url

    @cached_property
    def _meta(self) -> Any:
        return tf_metadata.examine_meta(self._tree) if self._tree is not None else None

    def _field(self, name: str) -> str | None:
        value = getattr(self._meta, name, None) if self._meta is not None else None
        return value.strip() or None if isinstance(value, str) else None

    @cached_property
    def title(self) -> str | None:
        if self._tree is None:
            return None
        return self._field("title") or tf_metadata.extract_title(self._tree)

    @cached_property
    def author(self) -> str | None:
        """Meta-tag author when it looks like a name (has a space), else the byline XPaths."""
        author = self._field("author")
        if author and " " in author:
            return author
        return tf_metadata.extract_author(self._tree) if self._tree is not None else None

    @cached_property
    def date(self) -> str | None:
        if self._tree is None:
            return None
        params = set_date_params(DEFAULT_CONFIG.getboolean("DEFAULT", "EXTENSIVE_DATE_SEARCH"))
        found = find_date(self._tree, url=self._url, **params)
        return str(found) if found else None

    @cached_property
    def sitename(self) -> str | None:
        name = self._field("sitename")
        if not name and self._tree is not None:
            name = tf_metadata.extract_sitename(self._tree)
        return name.lstrip("@") or None if name else None

    @cached_property
    def description(self) -> str | None:
        return self._field("description")

    @cached_property
    def image(self) -> str | None:
        """``og:image`` (``:url``, ``:secure_url``), else ``twitter:image`` or an ``image`` meta tag."""
        return self._field("image")


# --------------------------------------------------------------------------- bylines

_BY_RE = re.compile(
    r"^\s*(?:by|von|par|por|di|door|av|af|de|przez|от|written by)[:\s]+", re.IGNORECASE
)
_AUTHOR_TAIL_RE = re.compile(
    r"\s*(?:[·|•–—,]\s*|\s-\s)(?:[A-Z][\w&.' ]{0,40}\s)?(?:News|Press|Reuters|AP|AFP)\b.*$"
)
_AUTHOR_SPLIT_RE = re.compile(
    r"\s*(?:;|\||,|\s/\s|\s(?:and|und|et|y|e|og|och|en|i|a|ve|и)\s|&|\s·\s)\s*", re.IGNORECASE
)
_AUTHOR_JUNK_RE = re.compile(
    r"^(?:autor(?:in)?|author|redakce|text|reporter|korrespondent(?:in)?)[:\s]+|\s*\([\w.]{1,6}\)$",
    re.IGNORECASE,
)
_EMAIL_RE = re.compile(r"\S+@\S+")


def normalise_author(name: str) -> str | None:
    """'By Jane Doe · CBC News' -> 'Jane Doe'."""
    name = html_lib.unescape(name)
    name = _EMAIL_RE.sub("", name)
    name = re.sub(r"\s+", " ", name).strip(" ,;:-|·")
    name = _BY_RE.sub("", name)
    name = _AUTHOR_TAIL_RE.sub("", name)
    name = _AUTHOR_JUNK_RE.sub("", name)
    name = name.strip(" ,;:-|·")
    if not name or len(name) > 80 or name.startswith("http"):
        return None
    return name


def normalise_authors(names: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for raw in names:
        if not raw:
            continue
        raw = _BY_RE.sub("", html_lib.unescape(raw).strip())
        raw = _AUTHOR_TAIL_RE.sub("", raw)
        parts = [p for p in _AUTHOR_SPLIT_RE.split(raw) if p and p.strip()]
        # "Doe, Jane" is one name written backwards, not two people
        if len(parts) == 2 and "," in raw and all(len(p.split()) == 1 for p in parts):
            parts = [f"{parts[1]} {parts[0]}"]
        for part in parts:
            name = normalise_author(part)
            if not name:
                continue
            key = name.casefold().replace("-", " ")
            if key not in seen:
                seen.add(key)
                out.append(name)
    return out


def publisher_and_host(ld: LdArticle | None, url: str | None) -> set[str]:
    """Names the site goes by besides its meta tags: the JSON-LD publisher, the host, its main label."""
    names: set[str] = set()
    if ld and ld.publisher:
        names.add(ld.publisher)
    host = urlsplit(url).hostname if url else None
    if host:
        names.add(host.removeprefix("www."))
        names.add(host.split(".")[-2] if host.count(".") >= 1 else host)
    return names


def _site_names(
    tree: lxml.html.HtmlElement | None, ld: LdArticle | None, url: str | None
) -> set[str]:
    names: set[str] = set()
    if tree is not None:
        names.add(meta_content(tree, "og:site_name", "application-name") or "")
    names |= publisher_and_host(ld, url)
    return {n.casefold() for n in names if n}


def _is_site(name: str, sites: set[str]) -> bool:
    key = re.sub(r"[\s.-]", "", name.casefold())
    return any(
        key and (key in re.sub(r"[\s.-]", "", s) or re.sub(r"[\s.-]", "", s) in key) for s in sites
    )


def choose_authors(
    tree: lxml.html.HtmlElement | None,
    ld: LdArticle | None,
    meta: PageMeta,
    entry: FeedEntry | None,
    url: str | None,
) -> list[str]:
    """First source that names people: JSON-LD, trafilatura's byline/meta, the feed.

    A source that only names the publication itself ('Lesotho Times', 'STERN.de') is
    used only when no source names a person.
    """
    sites = _site_names(tree, ld, url)

    def candidates() -> Iterator[list[str]]:
        # lazily: trafilatura's byline search (a tree copy + XPaths) only runs when needed
        yield normalise_authors(ld.authors) if ld else []
        yield normalise_authors(meta.author.split(";")) if meta.author else []
        yield normalise_authors(entry.authors) if entry is not None else []

    seen: list[list[str]] = []
    for src in candidates():
        src = [a for a in src if not a.startswith("http") and not a.isdigit()]
        if src and not all(_is_site(a, sites) for a in src):
            return src
        seen.append(src)
    return next((src for src in seen if src), [])


# --------------------------------------------------------------------------- dates and the rest


def choose_dates(
    tree: lxml.html.HtmlElement | None, ld: LdArticle | None, meta: PageMeta, entry: FeedEntry | None
) -> tuple[datetime | None, datetime | None]:
    """(published, updated): JSON-LD, else article meta tags, else htmldate (published only), else the feed."""
    published = ld.published if ld else None
    if published is None and tree is not None:
        published = parse_datetime(
            meta_content(tree, "article:published_time", "datePublished", "pubdate", "date")
        )
    if published is None:
        published = parse_datetime(meta.date)
    if published is None and entry is not None:
        published = as_aware(entry.published_at)
    updated = ld.modified if ld else None
    if updated is None and tree is not None:
        updated = parse_datetime(meta_content(tree, "article:modified_time", "dateModified"))
    if updated is None and entry is not None:
        updated = as_aware(entry.updated_at)
    return published, updated


def choose_site_name(tree: lxml.html.HtmlElement | None, ld: LdArticle | None, meta: PageMeta) -> str | None:
    return (
        (meta_content(tree, "og:site_name") if tree is not None else None)
        or (ld.publisher if ld else None)
        or meta.sitename
    )


def choose_image(ld: LdArticle | None, meta: PageMeta, url: str | None) -> str | None:
    """The page's lead image: its ``og:image`` / ``twitter:image`` meta tag, else the JSON-LD article's
    ``image``; absolute against the page's URL, http(s) only (the feed's image is the fallback:
    :func:`services.extractor.pipeline.build_article`)."""
    for candidate in (meta.image, ld.image if ld else None):
        if found := absolute_http_url(candidate, url):  # not unescaped again: `&region=` is no `®ion=`
            return found
    return None


def choose_description(ld: LdArticle | None, meta: PageMeta, entry: FeedEntry | None) -> str | None:
    description = meta.description or (ld.description if ld else None)
    if not description and entry is not None and entry.summary:
        description = html_to_text(entry.summary) or None
    return description
