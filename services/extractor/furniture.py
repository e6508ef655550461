"""Pre-cleaning: drop page furniture trafilatura tends to keep, and only furniture.

Two kinds, each with the test that tells furniture from content (issue 19: dropping every
``<figure>`` and every list of links lost real article text):

* **Figures** (:func:`is_furniture_figure`): a photo with a short caption is furniture; a figure
  that holds a table, a list, a quote, or more than a caption's worth of text is content (sites
  wrap comparison tables and pull quotes in ``<figure>``). When the figures' text outweighs the
  prose outside them, the page *is* its figures (a slideshow whose captions are the story) and
  none is dropped (:func:`figures_are_the_story`).
* **Link lists** (:func:`is_furniture_link_list`): at least 80 % of the (2+) items are at least
  80 % link text (a menu, related articles, tags), *unless* the list sits in the article's prose
  (its container has paragraphs of text) and links away from the site (sources, products,
  documents: content made of links). A related-articles list inside the prose links to the
  site itself and stays furniture.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from services.extractor.htmlprocessing import drop_element

#: a figure whose own text (without its caption) reaches this many words is content
FIGURE_BODY_WORDS = 25
#: a caption this long is text, not a photo credit
CAPTION_WORDS = 60
#: words of paragraph text a list's container needs for the list to count as "in the prose"
PROSE_WORDS = 40

_FIGURE_CONTENT = etree.XPath(".//table | .//ul | .//ol | .//dl | .//blockquote | .//pre")
_TOP_FIGURES = etree.XPath("//figure[not(ancestor::figure)]")
_LONE_CAPTIONS = etree.XPath("//figcaption[not(ancestor::figure)]")
_PROSE = etree.XPath("//p[not(ancestor::figure)]")


def preclean(
    tree: lxml.html.HtmlElement,
    *,
    drop_figures: bool = True,
    drop_link_lists: bool = True,
    url: str | None = None,
) -> lxml.html.HtmlElement:
    """Remove captions and lists of links that are furniture (see the module docstring)."""
    if drop_figures:
        figures = _TOP_FIGURES(tree)
        if figures and not figures_are_the_story(tree, figures):
            for el in [f for f in figures if is_furniture_figure(f)]:
                drop_element(el)
        for el in [c for c in _LONE_CAPTIONS(tree) if words_in(c) < CAPTION_WORDS]:
            drop_element(el)
    if drop_link_lists:
        host = _host(url)
        for lst in [el for el in tree.iter("ul", "ol") if is_furniture_link_list(el, host)]:
            drop_element(lst)
    return tree


def words_in(el: etree._Element) -> int:
    return len(etree.tostring(el, method="text", encoding="unicode", with_tail=False).split())


# --------------------------------------------------------------------------- figures


def is_furniture_figure(fig: etree._Element) -> bool:
    """A picture with a short caption (see the module docstring)."""
    if _FIGURE_CONTENT(fig):
        return False
    caption = sum(words_in(c) for c in fig.iter("figcaption"))
    if caption >= CAPTION_WORDS:
        return False
    return words_in(fig) - caption < FIGURE_BODY_WORDS


def figures_are_the_story(tree: etree._Element, figures: list[etree._Element]) -> bool:
    """More words in the figures than in all the paragraphs outside them: a slideshow."""
    in_figures = sum(words_in(f) for f in figures)
    if in_figures < PROSE_WORDS:
        return False
    prose = 0
    for p in _PROSE(tree):
        prose += words_in(p)
        if prose >= in_figures:
            return False
    return True


# --------------------------------------------------------------------------- link lists


def is_furniture_link_list(lst: etree._Element, host: str | None = None) -> bool:
    """Mostly links, and not a content list of outside links within the prose."""
    if not _is_link_list(lst):
        return False
    return not (_in_prose(lst) and _links_away(lst, host))


def _is_link_list(lst: etree._Element) -> bool:
    """At least 80 % of the (2+) items are at least 80 % link text."""
    items = [li for li in lst if li.tag == "li"]
    if len(items) < 2:
        return False
    linked = 0
    for li in items:
        total = words_in(li)
        if total and sum(words_in(a) for a in li.iter("a")) >= 0.8 * total:
            linked += 1
    return linked >= 0.8 * len(items)


def _in_prose(lst: etree._Element) -> bool:
    """The list's container (parent or grandparent) has paragraphs with some text."""
    parent = lst.getparent()
    for container in (parent, parent.getparent() if parent is not None else None):
        if container is None:
            continue
        words = 0
        for p in container.iterchildren("p"):
            words += words_in(p)
            if words >= PROSE_WORDS:
                return True
    return False


def _links_away(lst: etree._Element, host: str | None) -> bool:
    """Most links go to another site than the page's (relative links are the site's own)."""
    hrefs = [a.get("href") or "" for a in lst.iter("a")]
    if not hrefs:
        return False
    away = 0
    for href in hrefs:
        link_host = _host(href.strip())
        if link_host and link_host != host and not _same_site(link_host, host):
            away += 1
    return away >= 0.8 * len(hrefs)


def _host(url: str | None) -> str | None:
    if not url or not url.startswith(("http://", "https://", "//")):
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.removeprefix("www.") if host else None


def _same_site(a: str, b: str | None) -> bool:
    """Same registrable-ish domain: the last two labels agree (news.example.org ~ example.org)."""
    return b is not None and a.split(".")[-2:] == b.split(".")[-2:]
