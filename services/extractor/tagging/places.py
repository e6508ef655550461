"""Place mentions resolved to gazetteer entries, disambiguated by the rest of the article.

A candidate is a capitalised sequence whose whole surface is a gazetteer name (so "Austin" in
"Lloyd Austin" is never one). Among the entries of that name the best is chosen by a prior
(country > region > city by population, capitals first) plus evidence from the article: an
explicit qualifier right after the mention ("Paris, Ontario", "Larder Lake, Ont."), and the
countries the article otherwise mentions (names and nationality adjectives). Names that are
also ordinary words or given names ("Reading", "Nice", "Mobile", "Bala") and small towns are
only accepted with such evidence.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from services.common.messages import Mention, Place

from .gazetteer import SMALL_CITY, GazEntry, Gazetteer, get_gazetteer
from .lexicon import AMBIGUOUS_PLACES, DEMONYMS, FIRST_NAMES, LOCATIVES, REGION_ABBREVS

_QUALIFIER = re.compile(r"^,\s+((?:[A-Z][\w.]*)(?:[ -][A-Z][\w.]*){0,3})")
_REGION_WORD = re.compile(r"^ (?:region|oblast|province|Oblast|Region|Province)\b")


@dataclass(slots=True)
class PlaceCandidate:
    """A mention that may be a place: its span and the gazetteer entries its name matches
    (:func:`resolve` picks one entry, or drops the mention)."""

    start: int
    end: int
    surface: str
    entries: list[GazEntry]
    prev_word: str  # lower-cased word before the mention ("" if none)
    sent_start: bool
    weak: bool = False  # found inside a longer name ("East Elmwood"): needs the country in context
    sure: bool = False  # an unambiguous form ("Conn." after a comma)


def _qualifier(text: str, end: int, gaz: Gazetteer) -> list[GazEntry]:
    m = _QUALIFIER.match(text[end : end + 60])
    if not m:
        return []
    q = m.group(1)
    out: list[GazEntry] = []
    # try the longest prefix that names a region or country ("Ontario", "Ont.", "New South Wales")
    words = q.split()
    for k in range(len(words), 0, -1):
        cand = " ".join(words[:k])
        abbr = REGION_ABBREVS.get(cand.rstrip("."))
        if abbr and abbr in gaz.regions:
            return [gaz.regions[abbr]]
        out = [e for e in gaz.lookup(cand.rstrip(".") if k > 1 else cand) if e.kind != "city"]
        if not out and cand.endswith("."):
            out = [e for e in gaz.lookup(cand) if e.kind != "city"]
        if out:
            return out
    return []


def _matches_qualifier(e: GazEntry, quals: list[GazEntry]) -> bool:
    for q in quals:
        if q.kind == "country" and e.country_code == q.country_code and e.kind != "country":
            return True
        if q.kind == "region" and e.kind == "city" and e.country_code == q.country_code and e.admin1 == q.admin1:
            return True
    return False


def _prior(e: GazEntry) -> float:
    if e.kind == "country":
        return 7.0
    if e.kind == "region":
        return 5.0
    return math.log10(e.population + 10) + (2.0 if e.capital else 0.0)


@dataclass(slots=True)
class _Context:
    """What the rest of the article says: weights of the countries it mentions, regions it names."""

    countries: dict[str, float]
    regions: set[tuple[str, str]]

    def country_weight(self, e: GazEntry) -> float:
        """Mentions of ``e``'s country besides ``e`` itself."""
        return self.countries.get(e.country_code or "", 0.0) - (1 if e.kind == "country" else 0)

    def has_region(self, e: GazEntry) -> bool:
        return bool(e.country_code and e.admin1 and (e.country_code, e.admin1) in self.regions)


def resolve(text: str, cands: list[PlaceCandidate], demonym_counts: Counter[str]) -> list[Place]:
    gaz = get_gazetteer()
    ctx = _context(cands, demonym_counts)
    by_id: dict[str, tuple[GazEntry, list[Mention]]] = {}
    for c in cands:
        quals = _qualifier(text, c.end, gaz)
        best = _best_entry(c, quals, ctx)
        if best is None or not _accepted(c, best, quals, ctx):
            continue
        if _REGION_WORD.match(text[c.end : c.end + 12]) and best.kind == "city":
            reg = gaz.region_by_admin1.get((best.country_code or "", best.admin1 or ""))
            if reg is not None and reg.name.split()[0] == best.name.split()[0]:
                best = reg
        mention = Mention(start=c.start, end=c.end, text=text[c.start : c.end])
        if best.place_id in by_id:
            by_id[best.place_id][1].append(mention)
        else:
            by_id[best.place_id] = (best, [mention])
    out = [
        Place(
            name=e.name,
            place_id=e.place_id,
            kind=e.kind,
            country_code=e.country_code,
            lat=e.lat,
            lon=e.lon,
            mentions=ms,
        )
        for e, ms in by_id.values()
    ]
    out.sort(key=lambda p: (-len(p.mentions), p.mentions[0].start))
    return out


def _context(cands: list[PlaceCandidate], demonym_counts: Counter[str]) -> _Context:
    """Countries (and regions) the article mentions unambiguously, and its nationality adjectives."""
    ctx: dict[str, float] = {}
    ctx_regions: set[tuple[str, str]] = set()
    for c in cands:
        kinds = {e.kind for e in c.entries}
        ccs = {e.country_code for e in c.entries}
        if "country" in kinds or "region" in kinds:
            top = max(c.entries, key=_prior)
            if top.country_code:
                ctx[top.country_code] = ctx.get(top.country_code, 0.0) + 1.0
            if top.kind == "region" and top.country_code and top.admin1:
                ctx_regions.add((top.country_code, top.admin1))
        elif len(ccs) == 1 and c.surface.lower() not in AMBIGUOUS_PLACES:
            cc = next(iter(ccs))
            if cc:
                ctx[cc] = ctx.get(cc, 0.0) + 0.5
    for dcc, n in demonym_counts.items():
        ctx[dcc] = ctx.get(dcc, 0.0) + 0.5 * n
    return _Context(ctx, ctx_regions)


def _best_entry(c: PlaceCandidate, quals: list[GazEntry], ctx: _Context) -> GazEntry | None:
    """The entry of the candidate's name with the best prior + qualifier + context score."""
    best: GazEntry | None = None
    best_score = -1e9
    for e in c.entries:
        s = _prior(e)
        if _matches_qualifier(e, quals):
            s += 20.0
        if e.country_code:
            s += 2.5 * min(2.0, ctx.country_weight(e))
        if e.kind != "country" and ctx.has_region(e):
            s += 3.0
        if s > best_score:
            best, best_score = e, s
    return best


def _accepted(c: PlaceCandidate, best: GazEntry, quals: list[GazEntry], ctx: _Context) -> bool:
    """Whether the evidence is strong enough for an ambiguous name, a small town, a weak position."""
    qual = c.sure or _matches_qualifier(best, quals)
    region_ctx = ctx.has_region(best)
    country_ctx = bool(best.country_code and ctx.country_weight(best) >= 1)
    low = c.surface.lower()
    ambiguous = best.kind != "country" and (low in AMBIGUOUS_PLACES or low in FIRST_NAMES)
    if ambiguous and not (qual or region_ctx or (c.prev_word in LOCATIVES and country_ctx)):
        return False
    if best.kind == "city" and best.population < SMALL_CITY and not (qual or region_ctx):
        return False
    # a sentence-initial word ("Police are ...") or a part of a longer name: too weak alone
    return not (
        best.kind == "city"
        and (c.sent_start or c.weak)
        and best.population < 100_000
        and not (qual or region_ctx or (country_ctx and c.prev_word in LOCATIVES and not c.weak))
    )


def demonyms(words: list[str]) -> Counter[str]:
    c: Counter[str] = Counter()
    for w in words:
        cc = DEMONYMS.get(w)
        if cc:
            c[cc] += 1
    return c
