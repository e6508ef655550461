"""Article extraction: HTML page (+ its feed entry) -> main text and metadata.

The core is ``trafilatura.bare_extraction``; around it:

* input bounds (size cap and nesting-depth cap) so hostile HTML cannot stall us;
* JSON-LD ``NewsArticle`` metadata (headline, authors, dates, publisher, body);
* the feed entry's own metadata/content where the page lacks them;
* fallbacks when the main extraction is empty or much shorter than what the
  feed or the JSON-LD already gave us;
* generic boilerplate-line removal (see :mod:`services.extractor.boilerplate`);
* a paywall / consent-wall flag.

Measured on the fundus set (bench/extraction_quality.py, non-CJK mean token F1;
plain trafilatura.extract = 0.939): bare_extraction without comments 0.948;
+ drop <figure>/<figcaption> +0.002; + drop lists whose items are all links +0.001
(CJK +0.016); + keep only lines the JSON-LD articleBody contains, when it is complete,
+0.002; + boilerplate line rules +0.002 -> 0.955. Dropping sub-headings would add
another +0.011 (fundus keeps them apart from the paragraphs) but they are article
text, so DROP_HEADINGS stays off. Using JSON-LD articleBody as the text did NOT help
(0.851 vs 0.943 on the 70 pages that have one: often truncated or a teaser).
"""

from __future__ import annotations

import html as html_lib
import json
import re
import unicodedata
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import Any, Literal
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from htmldate import find_date
from lxml import etree
from trafilatura import metadata as tf_metadata
from trafilatura.settings import DEFAULT_CONFIG, set_date_params
from trafilatura.xml import xmltotxt

from services.common.messages import FeedEntry
from services.extractor.boilerplate import clean_text

EXTRACTOR_VERSION = f"2025.2-tf{trafilatura.__version__}"

#: HTML beyond this many bytes (UTF-8) is truncated before parsing.
MAX_HTML_BYTES = 4 * 1024 * 1024
#: Elements nested deeper than this are flattened into their ancestor at this depth.
MAX_DEPTH = 120

#: less visible text than this (non-space characters) counts as "no article text"
MIN_TEXT_CHARS = 25

Access = Literal["open", "paywalled", "consent"]


class ExtractionError(Exception):
    """No article text could be found on the page (nor in its feed entry)."""


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None
    authors: list[str]
    published_at: datetime | None
    updated_at: datetime | None
    site_name: str | None
    description: str | None
    canonical_url: str | None
    language_hint: str | None
    access: Access
    method: str


# --------------------------------------------------------------------------- input bounds


def decode_html(raw: str | bytes) -> str:
    """Bytes -> text (declared/sniffed charset), capped at :data:`MAX_HTML_BYTES`."""
    if isinstance(raw, bytes):
        raw = raw[:MAX_HTML_BYTES]
        text = str(trafilatura.utils.decode_file(raw))
    else:
        text = raw
        if len(text) > MAX_HTML_BYTES // 2 and len(text.encode("utf-8", "ignore")) > MAX_HTML_BYTES:
            text = text.encode("utf-8", "ignore")[:MAX_HTML_BYTES].decode("utf-8", "ignore")
    return text.replace("\x00", "")


_TAG_RE = re.compile(r"<(/?)([a-zA-Z][\w:-]*)\b[^<>]*?(/?)>")
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "p",
        "li",
        "td",
        "th",
        "tr",
        "dt",
        "dd",
        "option",
    ]  # void, or often left unclosed
)
#: raw markup deeper than this is flattened before parsing (libxml2 gives up at ~256)
MAX_RAW_DEPTH = 200


def flatten_deep_markup(text: str, limit: int = MAX_RAW_DEPTH) -> str:
    """Drop start/end tags nested deeper than ``limit`` (their text stays). Linear time.

    libxml2's HTML parser stops building the tree past a fixed depth, silently losing
    everything after a hostile ``<div>`` x 10,000; so the markup is flattened first.
    """
    depth = max_depth = 0
    for m in _TAG_RE.finditer(text):
        if m.group(2).lower() in _VOID or m.group(3):
            continue
        depth = max(depth - 1, 0) if m.group(1) else depth + 1
        max_depth = max(max_depth, depth)
    if max_depth <= limit:
        return text
    out: list[str] = []
    pos = depth = 0
    for m in _TAG_RE.finditer(text):
        if m.group(2).lower() in _VOID or m.group(3):
            continue
        closing = bool(m.group(1))
        if not closing:
            depth += 1
        if depth > limit:
            out.append(text[pos : m.start()])
            pos = m.end()
        if closing:
            depth = max(depth - 1, 0)
    out.append(text[pos:])
    return "".join(out)


def _has_depth(tree: etree._Element, depth: int) -> bool:
    """Whether any element sits ``depth`` levels below the document (an XPath, so C speed)."""
    check = _DEPTH_CHECKS.get(depth)
    if check is None:
        check = _DEPTH_CHECKS[depth] = etree.XPath("boolean(" + "/*" * depth + ")")
    return bool(check(tree))


_DEPTH_CHECKS: dict[int, etree.XPath] = {}


def _parse(text: str) -> lxml.html.HtmlElement | None:
    try:
        parser = lxml.html.HTMLParser(remove_comments=True, huge_tree=False)
        return lxml.html.document_fromstring(text, parser=parser)
    except (etree.ParserError, ValueError):
        return None


def parse_bounded(text: str) -> lxml.html.HtmlElement | None:
    """Parse HTML; flatten anything nested deeper than :data:`MAX_DEPTH`.

    The raw-markup pass (:func:`flatten_deep_markup`, a Python loop over every tag) is the
    costly part, so it runs only when the parsed tree reaches :data:`MAX_RAW_DEPTH`, i.e.
    when libxml2 may have hit its own depth limit and dropped the rest of the page.
    """
    if not text.strip():
        return None
    tree = _parse(text)
    if tree is not None and _has_depth(tree, MAX_RAW_DEPTH):
        tree = _parse(flatten_deep_markup(text))
    if tree is not None and _has_depth(tree, MAX_DEPTH):
        _cap_depth(tree, MAX_DEPTH)
    return tree


def _cap_depth(root: etree._Element, limit: int) -> None:
    """Iteratively (no recursion) strip tags of elements deeper than ``limit``."""
    stack: list[tuple[etree._Element, int]] = [(root, 0)]
    too_deep: list[etree._Element] = []
    while stack:
        el, depth = stack.pop()
        for child in el:
            if depth + 1 >= limit:
                too_deep.append(child)
            else:
                stack.append((child, depth + 1))
    for el in too_deep:
        # keep the text, drop the structure below the limit
        content = " ".join(t for t in el.itertext() if isinstance(t, str))
        for child in list(el):
            el.remove(child)
        el.text = content
        if not isinstance(el.tag, str):
            continue


# --------------------------------------------------------------------------- JSON-LD

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
    for script in tree.xpath('//script[contains(translate(@type,"LDJSON","ldjson"),"ld+json")]'):
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            try:
                data = json.loads(re.sub(r"[\x00-\x1f]", " ", raw))
            except ValueError:
                continue
        for node in _iter_ld_nodes(data):
            types = _ld_types(node)
            kinds = types & _ARTICLE_TYPES
            if not kinds:
                continue
            kind = min(kinds)
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
            )
            free = node.get("isAccessibleForFree")
            if isinstance(free, bool):
                art.free = free
            elif isinstance(free, str):
                art.free = free.strip().lower() not in {"false", "no", "0"}
            score = (0 if kind == "webpage" else 4) + (2 if art.body else 0)
            score += 1 if art.published else 0
            if best is None or score > best[0]:
                best = (score, art)
    return best[1] if best else None


# --------------------------------------------------------------------------- normalisation

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


def parse_datetime(value: str | None) -> datetime | None:
    """ISO 8601 / RFC 2822 string -> timezone-aware datetime (UTC when no offset is given)."""
    if not value:
        return None
    value = value.strip()
    dt: datetime | None = None
    candidate = value.replace("Z", "+00:00") if value.endswith("Z") else value
    try:
        dt = datetime.fromisoformat(candidate)
    except ValueError:
        m = re.match(
            r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{1,2}:\d{2}(?::\d{2})?)(?:\.\d+)?)?\s*"
            r"(Z|[+-]\d{2}:?\d{2})?",
            value,
        )
        if m:
            iso = m.group(1) + ("T" + m.group(2) if m.group(2) else "")
            tz = m.group(3)
            if tz:
                tz = "+00:00" if tz == "Z" else (tz if ":" in tz else tz[:3] + ":" + tz[3:])
                iso += tz
            try:
                dt = datetime.fromisoformat(iso)
            except ValueError:
                dt = None
        else:
            try:
                dt = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                dt = None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def _as_aware(value: datetime | date | None) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


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


def _site_names(
    tree: lxml.html.HtmlElement | None, ld: LdArticle | None, url: str | None
) -> set[str]:
    names: set[str] = set()
    if tree is not None:
        names.add(_meta(tree, "og:site_name", "application-name") or "")
    if ld and ld.publisher:
        names.add(ld.publisher)
    host = urlsplit(url).hostname if url else None
    if host:
        names.add(host.removeprefix("www."))
        names.add(host.split(".")[-2] if host.count(".") >= 1 else host)
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


def choose_title(
    tree: lxml.html.HtmlElement | None, ld: LdArticle | None, meta: PageMeta, url: str | None
) -> str | None:
    """JSON-LD headline, else og:/twitter:title, else the single <h1>, else <title>; site suffix off."""
    cands: list[str | None] = [ld.headline if ld else None]
    sites: set[str] = set()
    if tree is not None:
        h1 = tree.xpath("//h1")
        cands += [
            _meta(tree, "og:title"),
            _meta(tree, "twitter:title"),
            " ".join(h1[0].text_content().split()) if len(h1) == 1 else None,
            tree.findtext(".//title"),
        ]
        sites.add(_meta(tree, "og:site_name") or "")
    if ld and ld.publisher:
        sites.add(ld.publisher)
    host = urlsplit(url).hostname if url else None
    if host:
        sites.add(host.removeprefix("www."))
        sites.add(host.split(".")[-2] if host.count(".") >= 1 else host)
    sites.discard("")
    cleaned = [t for t in (_clean_title(c) for c in cands) if t]
    if cleaned:
        return _without_section_suffix(strip_site_suffix(cleaned[0], sites) or cleaned[0], cleaned)
    fallback = _clean_title(meta.title)  # trafilatura's heuristics (h2, ...): only when all else fails
    return strip_site_suffix(fallback, sites) or fallback if fallback else None


_SUFFIX_START_RE = re.compile(r"\s*[|\-–—·•:]\s+\S")


def _without_section_suffix(title: str, others: list[str]) -> str:
    """'Headline | Sport' -> 'Headline' when another source of the page gives just 'Headline'."""
    for other in others:
        if len(other) < len(title) and title.startswith(other) and _SUFFIX_START_RE.match(title[len(other):]):
            return other
    return title


def _clean_title(title: str | None) -> str | None:
    if not title:
        return None
    title = re.sub(r"\s+", " ", html_lib.unescape(title)).strip()
    return title or None


def html_to_text(fragment: str) -> str:
    """Feed ``content``/``summary`` (HTML or plain) -> paragraphs separated by newlines."""
    if "<" not in fragment:
        return "\n".join(ln.strip() for ln in fragment.splitlines() if ln.strip())
    result = trafilatura.extract(
        f"<html><body><article>{fragment}</article></body></html>",
        include_comments=False,
        favor_recall=True,
        fast=True,
    )
    if result:
        return str(result)
    tree = parse_bounded(f"<div>{fragment}</div>")
    return tree.text_content().strip() if tree is not None else ""


# --------------------------------------------------------------------------- meta tags


_META_NAMED = etree.XPath("//meta[@property=$n or @name=$n or @itemprop=$n][@content]")


def _meta(tree: lxml.html.HtmlElement, *names: str) -> str | None:
    """Content of the first non-empty ``<meta>`` called ``name`` (by property, then name, then itemprop)."""
    for name in names:
        found = _META_NAMED(tree, n=name)
        for attr in ("property", "name", "itemprop"):
            for el in found:
                value = el.get("content") if el.get(attr) == name else None
                if value and value.strip():
                    return html_lib.unescape(value.strip())
    return None


def _canonical(tree: lxml.html.HtmlElement) -> str | None:
    for href in tree.xpath('//link[@rel="canonical"]/@href'):
        if isinstance(href, str) and href.strip().startswith("http"):
            return href.strip()
    return _meta(tree, "og:url")


def _lang(tree: lxml.html.HtmlElement, ld: LdArticle | None) -> str | None:
    lang = tree.get("lang") or tree.get("xml:lang")
    if not lang:
        lang = _meta(tree, "og:locale", "content-language", "language", "dc.language")
    if not lang and ld:
        lang = ld.in_language
    if not lang:
        return None
    lang = lang.strip().replace("_", "-").split(",")[0]
    return lang.lower() if lang else None


# --------------------------------------------------------------------------- access

_PAYWALL_RE = re.compile(
    r"(subscribe to (continue|read)|to continue reading|subscribers only|"
    r"this (article|content) is (only )?(available|reserved) (to|for) subscribers|"
    r"already a subscriber|jetzt (weiter)?lesen mit|abonnieren sie|nur für abonnenten|"
    r"réservé aux abonnés|article réservé|solo para suscriptores|riservato agli abbonati)",
    re.IGNORECASE,
)
_CONSENT_RE = re.compile(
    r"(we (and our partners )?use cookies|cookie (settings|preferences|consent)|"
    r"accept (all )?cookies|before you continue|consent to (the use of )?cookies|"
    r"zustimmung|datenschutzeinstellungen|wir verwenden cookies|"
    r"nous utilisons des cookies|privacy (settings|choices))",
    re.IGNORECASE,
)


_PAYWALL_BOX = etree.XPath(
    '//*[@class or @id][contains(@class,"paywall") or contains(@id,"paywall") or '
    'contains(@class,"piano-offer") or contains(@class,"subscriber-only")]'
)


def detect_access(
    tree: lxml.html.HtmlElement | None, text: str, ld: LdArticle | None, url: str | None
) -> Access:
    """'consent' for a cookie wall with no article, 'paywalled' for a subscriber-only page."""
    words = len(text.split())
    if url and re.search(r"//(consent|guce|privacy)\.", url):
        return "consent"
    if tree is not None and words < 80:
        visible = " ".join(tree.xpath("//body//text()[not(ancestor::script or ancestor::style)]"))
        if _CONSENT_RE.search(visible[:20000]):
            return "consent"
    if ld is not None and ld.free is False:
        return "paywalled"
    if tree is not None:
        wall = _PAYWALL_BOX(tree)
        if wall and (words < 250 or _PAYWALL_RE.search(" ".join(wall[0].itertext())[:5000])):
            return "paywalled"
    if words < 250 and _PAYWALL_RE.search(text[-2000:]):
        return "paywalled"
    return "open"


# --------------------------------------------------------------------------- main


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


def _tf_extract(tree: lxml.html.HtmlElement, url: str | None, **kwargs: Any) -> Any:
    try:
        return trafilatura.bare_extraction(
            tree,
            url=url,
            include_comments=False,
            with_metadata=False,  # see PageMeta: only the metadata fields a page lacks are searched
            **kwargs,
        )
    except (ValueError, TypeError, RecursionError, etree.LxmlError):
        return None


def _copy(tree: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    return deepcopy(tree)


#: experiment switches (measured in bench/extraction_quality.py; see the module docstring)
DROP_FIGURES = True
DROP_LINK_LISTS = True
DROP_HEADINGS = False
LD_FILTER = True


def preclean(tree: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """Remove page furniture trafilatura tends to keep: captions, lists of links."""
    if DROP_FIGURES:
        for el in tree.xpath("//figcaption | //figure"):
            _drop(el)
    if DROP_LINK_LISTS:
        for lst in [el for el in tree.iter("ul", "ol") if _is_link_list(el)]:
            _drop(lst)
    return tree


def _words_in(el: etree._Element) -> int:
    return len(etree.tostring(el, method="text", encoding="unicode", with_tail=False).split())


def _is_link_list(lst: etree._Element) -> bool:
    """At least 80 % of the (2+) items are at least 80 % link text: a menu or related-links list."""
    items = [li for li in lst if li.tag == "li"]
    if len(items) < 2:
        return False
    linked = 0
    for li in items:
        total = _words_in(li)
        if total and sum(_words_in(a) for a in li.iter("a")) >= 0.8 * total:
            linked += 1
    return linked >= 0.8 * len(items)


def _drop(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    if el.tail and el.tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _body_text(doc: Any) -> str:
    """The extracted text (optionally without sub-headings), boilerplate lines removed."""
    if doc is None or not doc.text:
        return ""
    if DROP_HEADINGS and doc.body is not None:
        body = deepcopy(doc.body)
        for head in body.xpath(".//head"):
            _drop(head)
        return clean_text(str(xmltotxt(body, False)))
    return clean_text(str(doc.text))


def ld_filter(text: str, ld_body: str | None) -> str:
    """Drop lines the publisher's own JSON-LD articleBody does not contain (if it is complete)."""
    if not ld_body or _words(ld_body) < 0.6 * _words(text):
        return text
    vocab = set(ld_body.lower().split())
    kept = []
    for line in text.split("\n"):
        toks = line.lower().split()
        if toks and sum(t in vocab for t in toks) / len(toks) < 0.5:
            continue
        kept.append(line)
    return "\n".join(kept) if kept else text


def extract_page(
    html: str | bytes, url: str | None = None, entry: FeedEntry | None = None
) -> Extracted:
    """Extract the main article text and metadata from one page.

    Raises :class:`ExtractionError` when neither the page nor the feed entry has text.
    """
    url = url or (entry.link if entry else None)
    text_html = decode_html(html) if html else ""
    tree = parse_bounded(text_html)

    ld = parse_jsonld(tree) if tree is not None else None
    if tree is not None:
        tree = preclean(tree)
    doc = _tf_extract(tree, url) if tree is not None else None  # bare_extraction copies the tree
    meta = PageMeta(tree, url)

    text = _body_text(doc)
    method = "trafilatura" if text else ""

    feed_text = ""
    if entry is not None and (entry.content or entry.summary):
        feed_text = clean_text(html_to_text(entry.content or "")) if entry.content else ""

    # fallbacks: empty or much shorter than what we already know the article has
    best_known = max(_words(feed_text), _words(ld.body if ld else None))
    if tree is not None and (not text or _words(text) < 0.5 * best_known):
        rec = _tf_extract(tree, url, favor_recall=True)
        rec_text = _body_text(rec)
        if _words(rec_text) > _words(text):
            text, method = rec_text, "trafilatura_recall"
    if ld is not None and ld.body and _words(ld.body) > max(2 * _words(text), 40):
        text, method = clean_text(ld.body), "jsonld"
    if feed_text and _words(feed_text) > max(2 * _words(text), 40):
        text, method = feed_text, "feed_content"
    if not text and tree is not None:
        base = trafilatura.baseline(_copy(tree))[1] if tree is not None else ""
        base = clean_text(str(base))
        if _words(base) >= 20:
            text, method = base, "fallback"
    if LD_FILTER and ld is not None and method.startswith("trafilatura"):
        text = ld_filter(text, ld.body)
    if len("".join(text.split())) < MIN_TEXT_CHARS:
        text = ""
    if not text and entry is not None and entry.summary:
        text, method = clean_text(html_to_text(entry.summary)), "feed_summary"
    if not text:
        raise ExtractionError(f"no article text found for {url or '(no url)'}")

    # ---- metadata: JSON-LD > trafilatura/meta > feed entry
    title = choose_title(tree, ld, meta, url)
    if not title and entry is not None:
        title = _clean_title(entry.title)

    authors = choose_authors(tree, ld, meta, entry, url)

    published = ld.published if ld else None
    if published is None and tree is not None:
        published = parse_datetime(
            _meta(tree, "article:published_time", "datePublished", "pubdate", "date")
        )
    if published is None:
        published = parse_datetime(meta.date)
    if published is None and entry is not None:
        published = _as_aware(entry.published_at)
    updated = ld.modified if ld else None
    if updated is None and tree is not None:
        updated = parse_datetime(_meta(tree, "article:modified_time", "dateModified"))
    if updated is None and entry is not None:
        updated = _as_aware(entry.updated_at)

    site_name = (
        (_meta(tree, "og:site_name") if tree is not None else None)
        or (ld.publisher if ld else None)
        or meta.sitename
    )
    description = meta.description or (ld.description if ld else None)
    if not description and entry is not None and entry.summary:
        description = html_to_text(entry.summary) or None
    canonical = _canonical(tree) if tree is not None else None
    language = _lang(tree, ld) if tree is not None else None

    return Extracted(
        text=text,
        title=title,
        authors=authors,
        published_at=published,
        updated_at=updated,
        site_name=site_name,
        description=description,
        canonical_url=canonical,
        language_hint=language,
        access=detect_access(tree, text, ld, url),
        method=method,
    )
