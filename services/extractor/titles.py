"""The article title: the best of JSON-LD headline, og:/twitter: title, a single ``<h1>`` and
``<title>``, with the site name (or a domain, a date, a section) cut off its end."""

from __future__ import annotations

import html as html_lib
import re
import unicodedata

import lxml.html

from services.extractor.json_metadata import LdArticle
from services.extractor.metadata import PageMeta, meta_content, publisher_and_host

_TITLE_SEP_RE = re.compile(r"(\s+[|\-–—·•*:]\s+|\s*[ㅣ｜：]\s*|\s+\||\|\s+)")
_DOMAINISH_RE = re.compile(r"[\w.-]+\.[a-z]{2,6}")
_DATE_PART_RE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe", "å": "aa"})


def fold_name(name: str) -> str:
    """'Börsen-Zeitung' and 'boersen-zeitung.de' -> 'boersenzeitung...': letters and digits only,
    umlauts transliterated as in domain names, other accents dropped."""
    folded = unicodedata.normalize("NFKD", name.casefold().translate(_FOLD))
    return "".join(ch for ch in folded if ch.isalnum())


def strip_site_suffix(title: str, site_names: set[str]) -> str:
    """'Headline | Site Name' -> 'Headline' when the trailing part is the site (or a domain, or
    a date: 'Headline | DW | 28.04.2023')."""
    names = {fold_name(n) for n in site_names if n}
    names.discard("")
    while True:
        parts = _TITLE_SEP_RE.split(title)
        if len(parts) < 3:
            return title
        raw_last = parts[-1].strip()
        last = fold_name(raw_last)
        if not last or not (
            any(last == n or n in last or (len(last) > 3 and last in n) for n in names)
            or _DOMAINISH_RE.fullmatch(raw_last.casefold())
            or _DATE_PART_RE.fullmatch(raw_last)
        ):
            return title
        title = "".join(parts[:-2]).strip()


def choose_title(
    tree: lxml.html.HtmlElement | None, ld: LdArticle | None, meta: PageMeta, url: str | None
) -> str | None:
    """JSON-LD headline, else og:/twitter:title, else the single <h1>, else <title>; site suffix off."""
    cands: list[str | None] = [ld.headline if ld else None]
    sites: set[str] = set()
    if tree is not None:
        h1 = tree.xpath("//h1")
        cands += [
            meta_content(tree, "og:title"),
            meta_content(tree, "twitter:title"),
            " ".join(h1[0].text_content().split()) if len(h1) == 1 else None,
            tree.findtext(".//title"),
        ]
        sites.add(meta_content(tree, "og:site_name") or "")
    sites |= publisher_and_host(ld, url)
    sites.discard("")
    cleaned = [t for t in (clean_title(c) for c in cands) if t]
    if cleaned:
        return _without_section_suffix(strip_site_suffix(cleaned[0], sites) or cleaned[0], cleaned)
    fallback = clean_title(meta.title)  # trafilatura's heuristics (h2, ...): only when all else fails
    return strip_site_suffix(fallback, sites) or fallback if fallback else None


_SUFFIX_START_RE = re.compile(r"\s*[|\-–—·•:]\s+\S")


def _without_section_suffix(title: str, others: list[str]) -> str:
    """'Headline | Sport' -> 'Headline' when another source of the page gives just 'Headline'."""
    for other in others:
        if len(other) < len(title) and title.startswith(other) and _SUFFIX_START_RE.match(title[len(other):]):
            return other
    return title


def clean_title(title: str | None) -> str | None:
    """Entities decoded, whitespace collapsed; ``None`` for an empty title."""
    if not title:
        return None
    title = re.sub(r"\s+", " ", html_lib.unescape(title)).strip()
    return title or None
