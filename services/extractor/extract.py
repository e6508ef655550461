"""Article extraction: HTML page (+ its feed entry) -> main text and metadata.

The core is ``trafilatura.bare_extraction``; around it:

* input bounds (size cap and nesting-depth cap) so hostile HTML cannot stall us;
* JSON-LD ``NewsArticle`` metadata (headline, authors, dates, publisher, body);
* the feed entry's own metadata/content where the page lacks them;
* fallbacks when the main extraction is empty or much shorter than what the
  feed or the JSON-LD already gave us;
* generic boilerplate-line removal (see :mod:`services.extractor.boilerplate`);
* a paywall / consent-wall flag.

Each concern has its module: :mod:`~services.extractor.htmlprocessing` (decoding, bounds,
pre-cleaning), :mod:`~services.extractor.json_metadata`, :mod:`~services.extractor.metadata`
(bylines, dates, meta tags), :mod:`~services.extractor.titles`, :mod:`~services.extractor.access`,
:mod:`~services.extractor.lead` (the visible lead trafilatura misses).
Here: the choice of the text and :func:`extract_page`, which runs the steps in order.

Measured on the fundus set (bench/extraction_quality.py, non-CJK mean token F1;
plain trafilatura.extract = 0.939): bare_extraction without comments 0.948;
+ drop <figure>/<figcaption> +0.002; + drop lists whose items are all links +0.001
(CJK +0.016); + keep only lines the JSON-LD articleBody contains, when it is complete,
+0.002; + boilerplate line rules +0.002 -> 0.955. Dropping sub-headings would add
another +0.011 (fundus keeps them apart from the paragraphs) but they are article
text, so ``ExtractOptions.drop_headings`` stays off. Using JSON-LD articleBody as the text did NOT help
(0.851 vs 0.943 on the 70 pages that have one: often truncated or a teaser).
"""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.external import try_justext
from trafilatura.xml import xmltotxt

from services.common.messages import FeedEntry
from services.extractor.access import Access, detect_access
from services.extractor.boilerplate import clean_text
from services.extractor.ensemble import second_opinion, without_title_line
from services.extractor.furniture import preclean
from services.extractor.htmlprocessing import bounded_text, drop_element, html_to_text, parse_bounded
from services.extractor.json_metadata import LdArticle, parse_jsonld
from services.extractor.lead import with_lead
from services.extractor.metadata import (
    PageMeta,
    canonical_url,
    choose_authors,
    choose_dates,
    choose_description,
    choose_image,
    choose_site_name,
    language_hint,
)
from services.extractor.task import ExtractionError  # defined there, light: the service unpickles it
from services.extractor.titles import choose_title, clean_title

EXTRACTOR_VERSION = f"2026.11-tf{trafilatura.__version__}"

#: less visible text than this (non-space characters) counts as "no article text"
MIN_TEXT_CHARS = 25


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
    image: str | None = None


@dataclass(frozen=True)
class ExtractOptions:
    """Experiment switches, measured in bench/extraction_quality.py (see the module docstring)."""

    #: drop ``<figure>``/``<figcaption>`` that are furniture (photo + short caption) before extraction
    drop_figures: bool = True
    #: drop lists whose items are (almost) all links, unless they are content (outside links in the prose)
    drop_link_lists: bool = True
    #: drop sub-headings from the extracted text
    drop_headings: bool = False
    #: keep only the lines the JSON-LD articleBody contains, when it is complete
    ld_filter: bool = True
    #: let trafilatura's precision mode and JSON-LD vote on short lines (services/extractor/ensemble.py)
    second_opinion: bool = True
    #: drop the headline repeated at the top of the text (it is the title)
    drop_title_line: bool = True
    #: prepend the visible lead that carries the page's description when trafilatura missed it
    add_lead: bool = True


DEFAULT_OPTIONS = ExtractOptions()


def extract_page(
    html: str | bytes,
    url: str | None = None,
    entry: FeedEntry | None = None,
    options: ExtractOptions = DEFAULT_OPTIONS,
) -> Extracted:
    """Extract the main article text and metadata from one page.

    Raises :class:`ExtractionError` when neither the page nor the feed entry has text.
    """
    url = url or (entry.link if entry else None)
    tree = parse_bounded(bounded_text(html) if html else "")
    ld = parse_jsonld(tree) if tree is not None else None
    if tree is not None:
        tree = preclean(
            tree, drop_figures=options.drop_figures, drop_link_lists=options.drop_link_lists, url=url
        )
    text, method = choose_text(tree, url, ld, entry, options)
    if not text:
        raise ExtractionError(f"no article text found for {url or '(no url)'}")
    article = _with_metadata(text, method, tree, ld, entry, url)
    if options.drop_title_line:
        article = replace(article, text=without_title_line(article.text, article.title))
    if options.add_lead and method.startswith("trafilatura"):
        article = replace(article, text=with_lead(article.text, tree, article.description))
    return article


# --------------------------------------------------------------------------- the text


def choose_text(
    tree: lxml.html.HtmlElement | None,
    url: str | None,
    ld: LdArticle | None,
    entry: FeedEntry | None,
    options: ExtractOptions,
) -> tuple[str, str]:
    """(text, method): trafilatura, then fallbacks when that is empty or much shorter than what
    the feed or the JSON-LD already gave us; ``("", "")`` when nothing has article text."""
    doc = _tf_extract(tree, url) if tree is not None else None  # bare_extraction copies the tree
    text = _body_text(doc, options)
    if text and tree is not None and options.second_opinion:
        text = _voted(text, doc, tree, url, ld, options)
    method = "trafilatura" if text else ""
    feed_text = clean_text(html_to_text(entry.content)) if entry is not None and entry.content else ""
    best_known = max(_words(feed_text), _words(ld.body if ld else None))
    if tree is not None and (not text or _words(text) < 0.5 * best_known):
        rec_text = _body_text(_tf_extract(tree, url, favor_recall=True), options)
        if _words(rec_text) > _words(text):
            text, method = rec_text, "trafilatura_recall"
    if ld is not None and ld.body and _words(ld.body) > max(2 * _words(text), 40):
        text, method = clean_text(ld.body), "jsonld"
    if feed_text and _words(feed_text) > max(2 * _words(text), 40):
        text, method = feed_text, "feed_content"
    if not text and tree is not None:
        base = clean_text(str(trafilatura.baseline(deepcopy(tree))[1]))
        if _words(base) >= 20:
            text, method = base, "fallback"
    if options.ld_filter and ld is not None and method.startswith("trafilatura"):
        text = ld_filter(text, ld.body)
    if len("".join(text.split())) < MIN_TEXT_CHARS:
        text = ""
    if not text and entry is not None and entry.summary:
        text, method = clean_text(html_to_text(entry.summary)), "feed_summary"
    return text, method


def _voted(
    text: str, doc: Any, tree: lxml.html.HtmlElement, url: str | None, ld: LdArticle | None, options: ExtractOptions
) -> str:
    """The second opinion (see :mod:`services.extractor.ensemble`): precision mode and JSON-LD vote."""

    def precise() -> str:
        return _body_text(_tf_extract(tree, url, favor_precision=True), options)

    return second_opinion(text, doc, precise, ld.body if ld else None)


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


def _body_text(doc: Any, options: ExtractOptions) -> str:
    """The extracted text (optionally without sub-headings), boilerplate lines removed."""
    if doc is None or not doc.text:
        return ""
    if options.drop_headings and doc.body is not None:
        body = deepcopy(doc.body)
        for head in body.xpath(".//head"):
            drop_element(head)
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


# --------------------------------------------------------------------------- the metadata


def _with_metadata(
    text: str,
    method: str,
    tree: lxml.html.HtmlElement | None,
    ld: LdArticle | None,
    entry: FeedEntry | None,
    url: str | None,
) -> Extracted:
    """The article with its metadata: JSON-LD > meta tags > trafilatura's heuristics > feed entry."""
    meta = PageMeta(tree, url)
    title = choose_title(tree, ld, meta, url)
    if not title and entry is not None:
        title = clean_title(entry.title)
    authors = choose_authors(tree, ld, meta, entry, url)
    published, updated = choose_dates(tree, ld, meta, entry)
    return Extracted(
        text=text,
        title=title,
        authors=authors,
        published_at=published,
        updated_at=updated,
        site_name=choose_site_name(tree, ld, meta),
        description=choose_description(ld, meta, entry),
        canonical_url=canonical_url(tree) if tree is not None else None,
        language_hint=language_hint(tree, ld) if tree is not None else None,
        access=detect_access(tree, text, ld, url),
        method=method,
        image=choose_image(ld, meta, url),
    )


def warm_up() -> None:
    """Load what trafilatura loads on the first page that needs its justext fallback: the stoplists
    of every language (~154,000 words, a tuple in ``trafilatura.external``) and justext's cached,
    lower-cased frozen set of them. Called in the workers' forkserver before any worker forks
    (:mod:`services.extractor.preload`), they are shared by every worker; loaded by the first such
    page in a worker, as before, each worker held ~36 MB of its own (a forked child's private memory
    on the tenth fundus page, 2026-11-29)."""
    try_justext(lxml.html.fromstring("<html><body><p>Warm-up.</p></body></html>"), None, None)
