"""Bounds on a feed document before the parser sees it: entity declarations, entries per document.

* :func:`refuse_entity_declarations` refuses DTD entity declarations that could expand (billion
  laughs, quadratic blow-up) or reach outside the document (external entities), wherever they
  are: the whole document is scanned (a declaration after a long comment is found too), in
  UTF-16 and UTF-32 as well. The scan is a byte search, linear in the body (bounded by
  ``NEWSFLOW_MAX_FEED_BYTES``).
* :func:`cut_entries` keeps the first ``limit`` entries of an RSS/Atom/RDF document and closes
  it properly, so that a feed of 200,000 tiny items costs the parser ``limit`` items, not
  200,000. Feeds list their newest entries first; the ignored rest is counted.

No project imports; pure functions of bytes.
"""

from __future__ import annotations

import re


class EntityRefused(ValueError):
    """The document declares an entity that is not a single character reference."""


_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(%\s*)?([^\s>]+)\s*([^>]*)>", re.IGNORECASE)
_SAFE_ENTITY_VALUE = re.compile(rb"""^(["'])&#(x[0-9a-fA-F]{1,6}|[0-9]{1,7});\1\s*$""")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_WIDE = {  # byte order marks and BOM-less starts of "<?" in the encodings that are not ASCII-compatible
    b"\xff\xfe\x00\x00": "utf-32-le", b"\x00\x00\xfe\xff": "utf-32-be",
    b"<\x00\x00\x00": "utf-32-le", b"\x00\x00\x00<": "utf-32-be",
    b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be", b"<\x00?\x00": "utf-16-le", b"\x00<\x00?": "utf-16-be",
}


def _as_ascii_compatible(body: bytes) -> bytes:
    for start, encoding in _WIDE.items():  # longest first: UTF-32 before UTF-16
        if body.startswith(start):
            return body.decode(encoding, "replace").encode("utf-8")
    return body


def refuse_entity_declarations(body: bytes) -> None:
    """Refuse internal DTD entities other than a single character reference, anywhere in the document.

    ``<!ENTITY nbsp "&#160;">`` (seen in old RSS 0.91 feeds) is allowed; a declaration whose
    value nests other entities, holds text, or points to a SYSTEM/PUBLIC resource is refused.
    """
    text = _as_ascii_compatible(body)
    doctype = _DOCTYPE.search(text)
    if doctype is None:
        return
    for match in _ENTITY_DECL.finditer(text, doctype.start()):
        value = match.group(3).strip()
        if match.group(1) or not _SAFE_ENTITY_VALUE.match(value):
            name = match.group(2).decode("ascii", "replace")[:40]
            raise EntityRefused(
                f"refused: the document declares XML entity {name!r} (entity expansion and external "
                "entities are not allowed in feeds)"
            )


_ENTRY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")
# every start tag the tokenizer below counts as an entry matches this (and some it does not count: in comments...)
_MAYBE_ENTRY = re.compile(rb"<(?:[A-Za-z_][\w.:-]*:)?(?:item|entry)(?![\w.:-])")
_TOKEN = re.compile(rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<![^>]*>|<(/?)([A-Za-z_][\w.:-]*)[^>]*?(/?)>",
                    re.DOTALL)


def cut_entries(body: bytes, limit: int) -> tuple[bytes, int]:
    """The document with its first ``limit`` entries only, and how many entries were cut off.

    One pass over the tags (comments, CDATA, processing instructions and declarations skipped)
    up to the start tag of entry ``limit + 1``; the cut is there, and the elements still open
    (``rss`` and ``channel``, ``feed``, ``rdf:RDF``) are closed. A document whose tags before the
    cut do not nest is left whole (0 cut): the parse time limit bounds it then. The entries after
    the cut are counted by a plain search (an estimate: no parse).
    """
    if sum(1 for _ in zip(range(limit + 1), _MAYBE_ENTRY.finditer(body), strict=False)) <= limit:
        return body, 0  # at most ``limit`` entries: nothing to cut (the common case, without a tokenizer pass)
    stack: list[bytes] = []
    entries = 0
    for match in _TOKEN.finditer(body):
        name = match.group(2)
        if name is None:
            continue
        if match.group(1):
            if not stack or stack[-1] != name:
                return body, 0
            stack.pop()
            continue
        if name.rpartition(b":")[2] in (b"item", b"entry"):
            entries += 1
            if entries > limit:
                closing = b"".join(b"</" + open_name + b">" for open_name in reversed(stack))
                dropped = 1 + sum(1 for _ in _ENTRY_START.finditer(body, match.end()))
                return body[: match.start()] + closing, dropped
        if not match.group(3):
            stack.append(name)
    return body, 0
