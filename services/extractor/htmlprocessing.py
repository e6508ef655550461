"""HTML in: bounded text and parsing (size and nesting-depth caps), fragments to text.

The page's text is bounded in named steps (:func:`bounded_text`: :func:`decode_bytes`, :func:`capped`,
:func:`without_nul`); the stage receives text already decoded by the fetcher
(:func:`services.common.decoding.decode_html`).

Hostile HTML must not stall the extractor: the input is capped at :data:`MAX_HTML_BYTES`, markup
nested deeper than libxml2 can take is flattened before parsing, and elements deeper than
:data:`MAX_DEPTH` are flattened after it. Pre-cleaning (page furniture trafilatura tends to
keep) is :mod:`services.extractor.furniture`.
"""

from __future__ import annotations

import re

import lxml.html
import trafilatura
from lxml import etree

from services.common.decoding import decode_html

#: HTML beyond this many bytes (UTF-8) is truncated before parsing.
MAX_HTML_BYTES = 4 * 1024 * 1024
#: Elements nested deeper than this are flattened into their ancestor at this depth.
MAX_DEPTH = 120


# --------------------------------------------------------------------------- input bounds


def bounded_text(html: str | bytes) -> str:
    """The page as text to parse: decoded (bytes), capped at :data:`MAX_HTML_BYTES`, without NULs.

    Bytes are cut at the cap before decoding, so a huge body is never decoded whole.
    """
    text = decode_bytes(html[:MAX_HTML_BYTES]) if isinstance(html, bytes) else html
    return without_nul(capped(text))


def decode_bytes(raw: bytes) -> str:
    """Bytes -> text for :func:`bounded_text` with the project's one decoder (the stage itself
    receives text, decoded by the fetcher with the same function)."""
    return decode_html(raw)


def capped(text: str) -> str:
    """``text`` cut to at most :data:`MAX_HTML_BYTES` in UTF-8 (at a character boundary)."""
    if len(text) > MAX_HTML_BYTES // 2 and len(text.encode("utf-8", "ignore")) > MAX_HTML_BYTES:
        return text.encode("utf-8", "ignore")[:MAX_HTML_BYTES].decode("utf-8", "ignore")
    return text


def without_nul(text: str) -> str:
    """``text`` without NUL characters (libxml2 stops at the first one)."""
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


#: an XML declaration (``<?xml version="1.0" encoding="..."?>``) at the start of the document
_XML_DECLARATION = re.compile(r"\A[\s\ufeff]*<\?xml\b[^>]*\?>")


def without_xml_declaration(text: str) -> str:
    """``text`` without a leading XML declaration: lxml refuses a ``str`` that declares an
    encoding (ValueError), so an XHTML page would parse to nothing. The text is already decoded,
    so the declaration has nothing left to say."""
    return _XML_DECLARATION.sub("", text, count=1) if "<?" in text[:512] else text


def _parse(text: str) -> lxml.html.HtmlElement | None:
    try:
        parser = lxml.html.HTMLParser(remove_comments=True, huge_tree=False)
        return lxml.html.document_fromstring(without_xml_declaration(text), parser=parser)
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


# --------------------------------------------------------------------------- tree edits


def drop_element(el: etree._Element) -> None:
    """Remove ``el`` but keep its tail text (attached to the previous sibling or the parent)."""
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


# --------------------------------------------------------------------------- feed fragments


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
