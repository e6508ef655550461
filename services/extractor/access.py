"""The access flag: ``open``, ``paywalled`` (subscriber-only) or ``consent`` (a cookie wall, no article)."""

from __future__ import annotations

import re
from typing import Literal

import lxml.html
from lxml import etree

from services.extractor.json_metadata import LdArticle

Access = Literal["open", "paywalled", "consent"]

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
