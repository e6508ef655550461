"""JSON-LD metadata: the best article-like node of a page's ``application/ld+json`` scripts.

Headline, body, authors (incl. schema.org ``givenName``/``familyName``), dates, publisher,
description, ``isAccessibleForFree``, url, language and image of ``NewsArticle`` and its relatives.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import lxml.html

from services.extractor.dates import parse_datetime

_ARTICLE_TYPES = {
    "newsarticle",
    "article",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "backgroundnewsarticle",
    "reviewnewsarticle",
    "blogposting",
    "liveblogposting",
    "report",
    "scholarlyarticle",
    "socialmediaposting",
    "webpage",
}


@dataclass
class LdArticle:
    headline: str | None = None
    body: str | None = None
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    modified: datetime | None = None
    publisher: str | None = None
    description: str | None = None
    free: bool | None = None
    url: str | None = None
    in_language: str | None = None
    kind: str = ""
    image: str | None = None
    """the article's ``image`` (a URL, an ``ImageObject``'s ``url``/``contentUrl``, the first of a list),
    else its ``thumbnailUrl``; as written (maybe relative)"""


def _iter_ld_nodes(obj: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 8:
        return
    if isinstance(obj, list):
        for item in obj:
            yield from _iter_ld_nodes(item, depth + 1)
    elif isinstance(obj, dict):
        yield obj
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement"):
            if key in obj:
                yield from _iter_ld_nodes(obj[key], depth + 1)


def _ld_types(node: dict[str, Any]) -> set[str]:
    t = node.get("@type")
    if isinstance(t, str):
        return {t.lower()}
    if isinstance(t, list):
        return {x.lower() for x in t if isinstance(x, str)}
    return set()


def _ld_str(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value")
    if isinstance(value, str):
        value = html_lib.unescape(value).strip()
        return value or None
    return None


def _ld_names(value: Any) -> list[str]:
    out: list[str] = []
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, dict):
            if _ld_types(item) & {"organization", "newsmediaorganization"} and len(items) > 1:
                continue
            name = item.get("name")
            if not name:  # schema.org Person given as parts
                parts = [item.get(k) for k in ("givenName", "additionalName", "familyName")]
                name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
            if isinstance(name, list):
                out.extend(n for n in name if isinstance(n, str))
            elif isinstance(name, str):
                out.append(name)
        elif isinstance(item, str):
            out.append(item)
    return out


def parse_jsonld(tree: lxml.html.HtmlElement) -> LdArticle | None:
    """The best article-like JSON-LD node on the page, if any."""
    best: tuple[int, LdArticle] | None = None
    for data in _ld_documents(tree):
        refs: dict[str, dict[str, Any]] | None = None
        for node in _iter_ld_nodes(data):
            kinds = _ld_types(node) & _ARTICLE_TYPES
            if not kinds:
                continue
            if refs is None:  # the document's nodes by @id, for an image given by reference
                refs = {n["@id"]: n for n in _iter_ld_nodes(data) if isinstance(n.get("@id"), str)}
            art = _ld_article(node, min(kinds), refs)
            score = (0 if art.kind == "webpage" else 4) + (2 if art.body else 0)
            score += 1 if art.published else 0
            if best is None or score > best[0]:
                best = (score, art)
    return best[1] if best else None


def _ld_documents(tree: lxml.html.HtmlElement) -> Iterator[Any]:
    """The parsed content of each non-empty ld+json script (control characters tolerated)."""
    for script in tree.xpath('//script[contains(translate(@type,"LDJSON","ldjson"),"ld+json")]'):
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            yield json.loads(raw)
        except ValueError:
            try:
                yield json.loads(re.sub(r"[\x00-\x1f]", " ", raw))
            except ValueError:
                continue


def _ld_article(node: dict[str, Any], kind: str, refs: dict[str, dict[str, Any]]) -> LdArticle:
    art = LdArticle(
        headline=_ld_str(node.get("headline")) or _ld_str(node.get("name")),
        body=_ld_str(node.get("articleBody")),
        authors=_ld_names(node.get("author")),
        published=parse_datetime(_ld_str(node.get("datePublished"))),
        modified=parse_datetime(_ld_str(node.get("dateModified"))),
        publisher=_ld_str(node.get("publisher")),
        description=_ld_str(node.get("description")),
        url=_ld_str(node.get("url")),
        in_language=_ld_str(node.get("inLanguage")),
        kind=kind,
        image=_ld_image(node.get("image"), refs) or _ld_image(node.get("thumbnailUrl"), refs),
    )
    free = node.get("isAccessibleForFree")
    if isinstance(free, bool):
        art.free = free
    elif isinstance(free, str):
        art.free = free.strip().lower() not in {"false", "no", "0"}
    return art


def _ld_image(value: Any, refs: dict[str, dict[str, Any]], depth: int = 0) -> str | None:
    """The first image URL of a schema.org ``image``: a URL, an ``ImageObject`` (``url``, ``contentUrl``),
    a reference to one elsewhere in the document (``{"@id": ...}``, as Yoast writes it), or a list of them."""
    if depth > 3:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        return next((found for v in value[:20] if (found := _ld_image(v, refs, depth + 1))), None)
    if isinstance(value, dict):
        for key in ("url", "contentUrl"):
            if found := _ld_image(value.get(key), refs, depth + 1):
                return found
        target = refs.get(value["@id"]) if isinstance(value.get("@id"), str) else None
        if target is not None and target is not value:
            return _ld_image(target, refs, depth + 1)
    return None
