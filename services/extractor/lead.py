"""The lead (standfirst) that trafilatura misses: found by the page's own description.

Many pages set their lead paragraph (the teaser under the headline) outside the article body's
container, next to the headline; trafilatura's main-content choice then leaves it out. On the
tune half of the fundus set the lead was the missing part on about one page in five.

Two pieces of evidence have to agree before a block is added (no site rules):

* the page's **description** (``og:description`` / ``<meta name=description>`` / JSON-LD, as
  chosen by :func:`~services.extractor.metadata.choose_description`) is not in the extracted text
  (fewer than :data:`COVERED` of its word pairs are);
* a **visible block** of the page (``p``, ``div``, a heading, ...; not in ``<head>``, a script,
  a template or a hidden element) carries that description: it starts with the description's
  first words, and at least :data:`MATCH` of the description's word pairs are in it, and it is
  not much longer than the description (it is the lead, not the whole article container).

An SEO description that the page does not show (a frequent case) adds nothing: it has no
visible block. The block's own text is prepended (the description itself may be truncated).
"""

from __future__ import annotations

from itertools import pairwise

from lxml import etree

#: the description counts as already extracted when this share of its word pairs is in the text
COVERED = 0.5
#: a block carries the description when this share of the description's word pairs is in it
MATCH = 0.6
#: descriptions shorter than this (words) are labels, not leads
MIN_WORDS = 8
#: the block may hold at most this many times the description's words (plus a little)
MAX_GROWTH = 2.0
#: how many first words of the description locate the block
PROBE_WORDS = 5

_BLOCKS = frozenset({"p", "div", "h2", "h3", "h4", "h5", "h6", "section", "header", "blockquote", "li", "dd", "td"})
_HIDDEN_TAGS = frozenset({"head", "script", "style", "noscript", "template", "title", "textarea", "option"})
_TEXT_WITH = etree.XPath("//body//text()[contains(normalize-space(.), $probe)]")


def _pairs(text: str) -> set[tuple[str, str]]:
    words = text.casefold().split()
    return set(pairwise(words))


def coverage(part: str, whole_pairs: set[tuple[str, str]]) -> float:
    """Share of ``part``'s word pairs found among ``whole_pairs``."""
    pairs = _pairs(part)
    return len(pairs & whole_pairs) / len(pairs) if pairs else 1.0


def with_lead(text: str, tree: etree._Element | None, description: str | None) -> str:
    """``text`` with the page's visible lead prepended when trafilatura left it out."""
    if tree is None or not description:
        return text
    words = description.split()
    if len(words) < MIN_WORDS:
        return text
    have = _pairs(text)
    if coverage(description, have) >= COVERED:
        return text
    block = lead_block(tree, description)
    if block is None:
        return text
    lead = " ".join(block.split())
    if coverage(lead, have) >= COVERED:
        return text
    return f"{lead}\n{text}"


def lead_block(tree: etree._Element, description: str) -> str | None:
    """The text of the visible block carrying ``description`` (see the module docstring), or None."""
    words = description.split()
    probe = " ".join(words[:PROBE_WORDS])
    try:
        hits = _TEXT_WITH(tree, probe=probe)
    except (etree.XPathError, ValueError):  # a probe with characters XPath strings cannot hold
        return None
    desc_pairs = _pairs(description)
    limit = MAX_GROWTH * len(words) + 10
    for hit in hits[:5]:
        block = _block_of(hit)
        if block is None or _hidden(block):
            continue
        text = etree.tostring(block, method="text", encoding="unicode", with_tail=False)
        n = len(text.split())
        if n > limit or n < MIN_WORDS:
            continue
        pairs = _pairs(text)
        if desc_pairs and len(desc_pairs & pairs) / len(desc_pairs) >= MATCH:
            return str(text)
    return None


def _block_of(hit: object) -> etree._Element | None:
    """The nearest block element holding the text node ``hit``."""
    parent = hit.getparent() if hasattr(hit, "getparent") else None
    if parent is None:
        return None
    el: etree._Element | None = parent.getparent() if getattr(hit, "is_tail", False) else parent
    while el is not None and el.tag not in _BLOCKS:
        if not isinstance(el.tag, str) or el.tag in ("body", "html"):
            return None
        el = el.getparent()
    return el


def _hidden(el: etree._Element) -> bool:
    for node in (el, *el.iterancestors()):
        if node.tag in _HIDDEN_TAGS or node.get("hidden") is not None or node.get("aria-hidden") == "true":
            return True
        style = (node.get("style") or "").replace(" ", "").casefold()
        if "display:none" in style or "visibility:hidden" in style:
            return True
    return False
