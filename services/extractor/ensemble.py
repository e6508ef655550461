"""A second opinion on the extracted text: line-level voting, paid for only where it may help.

trafilatura's default mode keeps some boilerplate fragments (teaser headlines, "Advertisement",
e-mail lines, author blurbs); its ``favor_precision`` mode drops most of them but also drops real
paragraphs and whole sections. Neither wins page by page (on the tuning half the better of the
two per page is only +0.001 over the default), so the two vote per line instead:

* the **cheap quality estimate** (:func:`suspect_lines`): short lines (under
  :data:`SHORT_LINE_WORDS` words) that trafilatura did not mark as headings. A page with fewer
  than :data:`MIN_SUSPECTS` of them gets no second opinion (no second extraction run);
* the **vote**: a suspect line stays if the precision mode kept it too, or if the page's
  JSON-LD ``articleBody`` contains it (the publisher's own copy of the text); otherwise it goes.
  Long lines are never voted out: precision mode's mistakes are long paragraphs.

Also :func:`without_title_line`: the headline repeated as the first lines of the text is
dropped (it is the article's ``title``, not its body).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

#: a line with fewer words than this is a suspect when it is not a heading
SHORT_LINE_WORDS = 12
#: a page needs this many suspect lines before the second extraction runs
MIN_SUSPECTS = 8
#: the title is looked for among this many first lines
TITLE_LINES = 3


def _norm(line: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", line).casefold().split())


def headings(doc: Any) -> set[str]:
    """The normalised text of the headings trafilatura marked (``<head>``) in its output."""
    body = getattr(doc, "body", None)
    if body is None:
        return set()
    return {_norm(" ".join(h.itertext())) for h in body.iter("head")}


def suspect_lines(text: str, heads: set[str]) -> list[str]:
    """Short lines that are not headings: where boilerplate fragments hide."""
    return [
        line
        for line in text.split("\n")
        if line.strip() and len(line.split()) < SHORT_LINE_WORDS and _norm(line) not in heads
    ]


def second_opinion(
    text: str,
    doc: Any,
    precise: Callable[[], str],
    ld_body: str | None,
) -> str:
    """``text`` with the suspect lines that neither the precision mode nor JSON-LD vouch for removed.

    ``precise`` runs the precision-mode extraction (only called when the estimate asks for it).
    """
    suspects = suspect_lines(text, headings(doc))
    if len(suspects) < MIN_SUSPECTS:
        return text
    vouched = {_norm(line) for line in precise().split("\n")}
    ld = _norm(ld_body) if ld_body else ""
    out = [
        line
        for line in text.split("\n")
        if line not in suspects or _norm(line) in vouched or (ld and _norm(line) in ld)
    ]
    return "\n".join(out) if out else text


def without_title_line(text: str, title: str | None) -> str:
    """``text`` without the headline repeated among its first :data:`TITLE_LINES` lines."""
    if not title:
        return text
    want = _norm(title)
    lines = text.split("\n")
    for i, line in enumerate(lines[:TITLE_LINES]):
        if _norm(line) == want:
            rest = lines[:i] + lines[i + 1 :]
            return "\n".join(rest) if any(x.strip() for x in rest) else text
    return text
