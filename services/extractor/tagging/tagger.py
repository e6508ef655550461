"""``tag()``: language, places, people, organisations, keywords and topics of one text."""

from __future__ import annotations

import gc
import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.common.messages import Entity, Place, Tags

from . import keywords as _keywords
from . import topics as _topics
from .cjk import CJK_LANGS, cjk_names
from .gazetteer import get_gazetteer
from .language import detect
from .lexicon import COMPASS as _COMPASS
from .lexicon import CONNECTORS, COUNTRY_ALIASES, DEMONYMS, FAMOUS, REGION_ABBREVS, STOPWORDS
from .multilingual import COUNTRY_NAMES_INTL, INFLECTIONS
from .multilingual_more import ORG_HEADS_INTL
from .names import EntityGroup, PersonIndex, acronym_of, classify, entity_list, given_name, known_org
from .orgcues import (
    acronym_definitions,
    cyrillic_orgs,
    german_noun_phrase,
    head_word_org,
    inflected_org,
    known_phrases,
    romance_orgs,
)
from .places import PlaceCandidate, demonyms, resolve
from .spans import Segment, Token, segments, tokenize
from .sports import club_places, find_teams, sports_text, unknown_teams

_DATELINE_AFTER = re.compile(r"^\s*(?:,[^\n]{0,40})?\s*(?:-|—|–|\(|/|$)")  # "МОСКВА, 5 июня. /ТАСС/."
_ROMANCE_LANGS = frozenset(("fr", "es", "it", "pt", "ca"))
_GENITIVE_S_LANGS = frozenset(("de", "sv", "nl", "da", "no", "nb"))  # "Georgiens", "Danmarks"
_CYR_ACRONYM_DEF = re.compile(r",? \(([А-ЯЁІЇЄA-Z]{2,8})\)")
_ACRONYM_DEF = re.compile(r"^,? \(([A-Z][A-Za-z]{1,7})\)")
# articles that are also name particles ("Marine Le Pen"): dropped only from an unknown sequence ("La Russie")
_ARTICLES = frozenset(("la", "le", "les", "el", "los", "las", "il", "lo", "der", "die", "das", "den", "de", "het"))
# acronyms that are no organisation
_NOT_ORG_ACRONYMS = frozenset(
    str.split(
        "CEO CFO COO CTO GDP GP TV AI EV PM AM UTC GMT BST EST PST COVID HIV AIDS DNA ID IT OK PR UN US UK EU "
        "LTE SMS PDF USB VIP MVP NLZ XXL FAQ PS MP MEP KO WM EM FILE PHOTO VIDEO II III IV VI VII VIII IX XI XII XIV XV XVI"
    )
)


@dataclass(slots=True)
class FoundEntities:
    """What :func:`find_entities` found in one text: its language and its places, people and
    organisations, each with the offsets of its mentions (``tag`` adds keywords and topics)."""

    language: str | None
    places: list[Place]
    people: list[Entity]
    organisations: list[Entity]


class _EntityFinder:
    """The working state of :func:`find_entities` over one text: its tokens, and the people,
    organisations, acronyms and place candidates found so far, segment by segment."""

    def __init__(self, text: str, toks: list[Token]) -> None:
        self.text = text
        self.toks = toks
        self.idx = {t.start: i for i, t in enumerate(toks)}
        self.gaz = get_gazetteer()
        self.persons = PersonIndex()
        self.orgs: dict[str, EntityGroup] = {}
        self.acronyms: dict[str, str] = {}
        self.place_cands: list[PlaceCandidate] = []
        self.pending: list[Segment] = []
        self.unresolved: list[Segment] = []
        self.taken: list[tuple[int, int]] = []
        self.leftover: list[Segment] = []  # single capitalised words nothing claimed
        self.caps_lines: dict[int, bool] = {}  # line start -> written in capitals
        self.lang: str | None = None

    def prev(self, seg: Segment) -> Token | None:
        i = self.idx.get(seg.start, 0)
        return self.toks[i - 1] if i > 0 else None

    def add_org(self, name: str, seg: Segment, surface: str | None = None) -> None:
        canonical = known_org(name) or name
        g = self.orgs.setdefault(canonical, EntityGroup(canonical))
        g.mentions.append((seg.start, seg.end, surface or self.text[seg.start : seg.end]))
        m = _ACRONYM_DEF.match(self.text[seg.end : seg.end + 12])
        if m and len(seg.toks) > 1:
            self.acronyms[m.group(1)] = canonical
        acr = acronym_of(canonical)
        if len(acr) >= 2:
            self.acronyms.setdefault(acr, canonical)

    def cyrillic_org(self, start: int, end: int, canonical: str | None = None) -> None:
        """ "Окружного административного суда Киева (ОАСК)", "Assemblée nationale": a name the
        capitalised sequences do not hold whole, and its acronym."""
        if any(a < end and start < b for a, b in self.taken):
            return
        long_form = self.text[start:end]
        canonical = canonical or known_org(long_form) or long_form
        self.orgs.setdefault(canonical, EntityGroup(canonical)).mentions.append((start, end, long_form))
        self.taken.append((start, end))
        m = _CYR_ACRONYM_DEF.match(self.text, end)
        if m:
            self.acronyms[m.group(1)] = canonical

    def cjk(self) -> None:
        """Chinese, Japanese, Korean: the names a dictionary scan finds (no word segmentation)."""
        places, orgs = cjk_names(self.text, self.gaz)
        for start, end, entries in places:
            self.place_cands.append(PlaceCandidate(start, end, self.text[start:end], entries, "", False))
        for start, end, canonical in orgs:
            self.cyrillic_org(start, end, canonical)

    def place_entries(self, seg: Segment, surface: str) -> list[object]:
        if len(surface) < 2:
            return []
        if all(t.allcaps for t in seg.toks):
            if surface in COUNTRY_ALIASES or surface in COUNTRY_NAMES_INTL:  # "USA", "RFN", "США"
                return list(self.gaz.lookup(surface))
            if self.caps_line(seg.start):
                # an all-caps headline ("ZELENSKIY MEETS MACRON IN PARIS"): well-known places only
                return [e for e in self.gaz.lookup(surface) if e.kind != "city" or e.population >= 100_000]
            # a dateline ("WASHINGTON -"), at the start of a line
            line_start = seg.start == 0 or self.text[seg.start - 1] == "\n"
            if line_start and _DATELINE_AFTER.match(self.text[seg.end : seg.end + 50]):
                return list(self.gaz.lookup(surface))
            return []
        if surface.lower() in STOPWORDS and surface not in COUNTRY_ALIASES:
            return []
        found: list[object] = list(self.gaz.lookup(surface))
        if not found and self.lang in INFLECTIONS:
            found = self.inflected(surface)
        if not found and self.lang in _GENITIVE_S_LANGS and surface.endswith("s") and len(surface) > 4:
            found = list(self.gaz.lookup(surface[:-1]))
        return list(found)

    def inflected(self, surface: str) -> list[object]:
        """ "w Warszawie" -> Warszawa, "в Москве" -> Москва: the nominative of a case form."""
        for end, base in INFLECTIONS[self.lang or ""]:
            if surface.endswith(end) and len(surface) - len(end) >= 3:
                found = self.gaz.lookup(surface[: len(surface) - len(end)] + base)
                if found:
                    return list(found)
        return []

    def caps_line(self, pos: int) -> bool:
        """Whether the line around ``pos`` is written in capitals (a headline, a dateline)."""
        a = self.text.rfind("\n", 0, pos) + 1
        known = self.caps_lines.get(a)
        if known is None:  # once per line: an all-caps word asks for its line (a paragraph can be long)
            b = self.text.find("\n", pos)
            line = self.text[a : b if b >= 0 else len(self.text)]
            letters = [c for c in line if c.isalpha()]
            known = len(letters) >= 12 and sum(c.isupper() for c in letters) >= 0.8 * len(letters)
            self.caps_lines[a] = known
        return known

    def add_place(self, seg: Segment, entries: list[object], weak: bool = False) -> None:
        prev = self.prev(seg)
        self.place_cands.append(
            PlaceCandidate(
                seg.start,
                seg.end,
                self.text[seg.start : seg.end],
                entries,  # type: ignore[arg-type]
                prev.low if prev else "",
                seg.toks[0].sent_start,
                weak,
            )
        )

    def is_name(self, surface: str) -> bool:
        return bool(known_org(surface) or self.gaz.lookup(surface))

    def inside_taken(self, seg: Segment) -> bool:
        return any(a <= seg.start and seg.end <= b for a, b in self.taken)

    def segment(self, seg: Segment, depth: int = 0) -> None:
        text = self.text
        if not seg.toks or self.inside_taken(seg):
            return
        surface = seg.surface(text)
        if len(seg.toks) == 1 and not seg.cue:
            self.pending.append(seg)
            return
        entries = self.place_entries(seg, surface)
        # "US Supreme Court", "Ukraine's NATO": a country name in front of a known organisation
        if len(seg.toks) > 1 and not entries and not known_org(surface):
            head, rest = Segment(seg.toks[:1], False), Segment(seg.toks[1:], False)
            if head.surface(text) in COUNTRY_ALIASES and known_org(rest.surface(text)):
                self.segment(head, depth + 1)
                self.add_org(rest.surface(text), rest)
                return
            # "Amnesty International Kenya", "Greenpeace Russia": a known organisation's national branch
            body, last = Segment(seg.toks[:-1], False), seg.toks[-1]
            if known_org(body.surface(text)) and any(e.kind == "country" for e in self.gaz.lookup(last.text)):
                self.add_org(surface, seg)
                return
        # "России Сергей Лавров", "Chinese Defence Minister ...": a place before a given name is no part of the name
        if not entries and len(seg.toks) >= 3 and given_name(seg.toks[1]) and not given_name(seg.toks[0]):
            head = Segment(seg.toks[:1], False)
            # German: a capitalised noun before a name ("des Diktators Ferdinand Marcos")
            if head.toks[0].text in DEMONYMS or self.lang == "de" or self.place_entries(head, head.surface(text)):
                self.segment(head, depth + 1)
                self.segment(Segment(seg.toks[1:], seg.cue), depth + 1)
                return
        if not entries and len(seg.toks) >= 3 and self.split_before_name(seg, depth):
            return
        if self.lang == "de" and not entries and not known_org(surface) and german_noun_phrase(seg.toks):
            self.split(seg, depth)  # "Forscher der Technischen Universität München": two names at most
            return
        first = seg.toks[0]
        if first.sent_start and first.low in _ARTICLES and not entries and not known_org(surface):
            self.segment(Segment(seg.toks[1:], seg.cue), depth + 1)  # "El Banco de España", "La Commissione"
            return
        kind = max((e.kind for e in entries), key=("city", "region", "country").index) if entries else None  # type: ignore[attr-defined]
        label = classify(seg, text, self.prev(seg), kind, part=depth > 0)
        if label == "ORG":
            self.add_org(surface, seg)
            return
        if label == "PERSON":
            if len(seg.toks) == 1:
                self.pending.append(seg)
            else:
                self.persons.add_full(_clean_name(seg), seg.start, seg.end, surface)
            return
        if entries:
            self.add_place(seg, entries)
            return
        if depth > 2:
            return
        if 2 <= len(seg.toks) <= 3 and all(t.cap and not t.allcaps for t in seg.toks):
            self.unresolved.append(seg)
        self.split(seg, depth)

    def split_before_name(self, seg: Segment, depth: int) -> bool:
        """ "Tribunal Supremo Ángel Hurtado", "Banco de Portugal Mário Centeno": an organisation
        before a given name and a surname is no part of the name."""
        toks = seg.toks
        for k in range(1, len(toks) - 1):
            if len(toks) - k in (2, 3) and given_name(toks[k]) and not given_name(toks[k - 1]):
                head = Segment(toks[:k], False)
                one_head = k == 1 and toks[0].low in ORG_HEADS_INTL  # "presidente del Consiglio Giorgia Meloni"
                if known_org(head.surface(self.text)) or head_word_org(head.toks) or one_head:
                    self.segment(head, depth + 1)
                    self.segment(Segment(toks[k:], True), depth + 1)
                    return True
        return False

    def split(self, seg: Segment, depth: int) -> None:
        """An unknown sequence: split it at connectors ("Ukraine and Russia"), else drop a leading
        compass word, demonym or stopword, and try the parts again."""
        text = self.text
        parts: list[list[Token]] = [[]]
        for t in seg.toks:
            if not t.cap and t.low in CONNECTORS:
                parts.append([])
            else:
                parts[-1].append(t)
        parts = [p for p in parts if p]
        if len(parts) > 1:
            for p in parts:
                self.segment(Segment(p, False), depth + 1)
            return
        first = seg.toks[0]
        if len(seg.toks) < 2:
            # a lone cued word ("Mr I", "President Der"): nothing is left once the word is dropped
            return
        if first.text in _COMPASS or first.text in DEMONYMS or first.low in STOPWORDS or first.low in _ARTICLES:
            rest = Segment(seg.toks[1:], False)
            if first.text in _COMPASS:
                e2 = self.place_entries(rest, rest.surface(text))
                if e2:
                    self.add_place(rest, e2, weak=True)
                return
            self.segment(rest, depth + 1)
            return
        if len(seg.toks) == 2 and (first.sent_start or self.lang == "de") and not given_name(first):
            # "Акции Газпрома", "Lokführergewerkschaft GDL": a capitalised common noun before a name
            rest = Segment(seg.toks[1:], False)
            if self.known_name(rest):
                if seg in self.unresolved:
                    self.unresolved.remove(seg)  # no "Yahya Sinwar" to link: the first word is no name
                self.segment(rest, depth + 1)

    def known_name(self, seg: Segment) -> bool:
        """Whether a one-word segment is a known organisation (in any case form), an acronym or a place."""
        t = seg.toks[0]
        surface = seg.surface(self.text)
        if known_org(surface) or (t.allcaps and 2 <= len(surface) <= 6):
            return True
        if self.lang in INFLECTIONS and inflected_org(surface):
            return True
        entries = self.place_entries(seg, surface)
        # German nouns that are also cities ("Essen", "Namen" = Namur): only a country or a region
        return any(e.kind != "city" for e in entries) if self.lang == "de" else bool(entries)  # type: ignore[attr-defined]

    def coreference(self) -> None:
        """An unknown "Yahya Sinwar" is a person when "Sinwar" also stands alone in the article."""
        alone = {s.toks[0].text for s in self.pending if not s.toks[0].allcaps}
        for seg in self.unresolved:
            last = seg.toks[-1].text
            if last in alone and not self.gaz.lookup(seg.surface(self.text)) and not known_org(last):
                if any(t.low in STOPWORDS or t.text in DEMONYMS for t in seg.toks) or seg.toks[0].low in _ARTICLES:
                    continue
                self.persons.add_full(_clean_name(seg), seg.start, seg.end, seg.surface(self.text))

    def abbreviation_place(self, seg: Segment) -> bool:
        """ "(D., Conn.)", "LA CROSSE, Wis. (AP)": a region abbreviation right after a comma."""
        text = self.text
        surface = seg.surface(text)
        end = seg.end
        if not surface.endswith(".") and end < len(text) and text[end] == ".":
            end += 1
        key = text[seg.start : end].rstrip(".")
        iso = REGION_ABBREVS.get(key)
        if iso is None or (end == seg.end and not surface.endswith(".")):
            return False
        before = text[max(0, seg.start - 2) : seg.start]
        if not before.endswith((", ", ",")):
            return False
        region = self.gaz.regions.get(iso)
        if region is None:
            return False
        self.place_cands.append(PlaceCandidate(seg.start, end, text[seg.start : end], [region], "", False, False, True))
        return True

    def single(self, seg: Segment) -> None:
        t = seg.toks[0]
        w = t.text
        surface = seg.surface(self.text)
        if self.inside_taken(seg):
            return
        if self.abbreviation_place(seg):
            return
        caps = t.allcaps and self.caps_line(seg.start)
        gi = self.persons.find_surname(w) if not t.allcaps or (caps and len(w) >= 4) else None
        if gi is not None and any(e.kind == "country" for e in self.gaz.lookup(w)):
            gi = None  # a country is no surname ("Kenya" after a wrong "... International Kenya")
        if gi is not None:
            self.persons.groups[gi].mentions.append((seg.start, seg.end, surface))
            return
        if caps and len(w) >= 4 and w.title() in FAMOUS:
            self.persons.add_full(FAMOUS[w.title()], seg.start, seg.end, surface)
            return
        org = known_org(surface) or (known_org(w.title()) if caps and len(w) >= 4 else None)
        if org is None and self.lang in INFLECTIONS and not t.allcaps:
            org = inflected_org(surface)  # "Газпрома", "Equinorem"
            if org:
                self.add_org(org, seg, surface)
                return
        if org:
            self.add_org(surface, seg)
            return
        if w in self.acronyms:
            self.add_org(self.acronyms[w], seg)
            return
        if w in FAMOUS:
            self.persons.add_full(FAMOUS[w], seg.start, seg.end, surface)
            return
        if seg.cue and not t.allcaps and w not in DEMONYMS and not self.place_entries(seg, surface):
            self.persons.add_full(w, seg.start, seg.end, surface)
            return
        entries = self.place_entries(seg, surface)
        if entries:
            self.add_place(seg, entries)
            return
        if caps and len(w) >= 4 and w.title() in self.orgs:
            self.add_org(w.title(), seg)
            return
        if t.allcaps and not caps and 2 <= len(w) <= 6 and w.isalpha() and w not in _NOT_ORG_ACRONYMS and not t.sent_start:
            # an acronym that is no place: an organisation ("the GDL", "CSU")
            self.add_org(w, seg)
            return
        if not t.allcaps:
            self.leftover.append(seg)

    def sports_teams(self) -> None:
        """In a sports report a place or an unknown word named with a score or an opponent is a club
        or a national side ("Spain beat England 2-1", "Liverpool 3 Brentford 0", "Hammarby slog
        Djurgården"); its other mentions follow ("Djurgårdens")."""
        text = self.text
        if not sports_text(text, self.toks, list(self.orgs)):
            return
        teams = find_teams(text, [(c.start, c.end, c.surface) for c in self.place_cands])
        teams |= unknown_teams(text, self.leftover if self.lang != "de" else [])  # German capitalises every noun
        teams |= club_places(list(self.orgs))
        if not teams:
            return

        def team(surface: str) -> bool:
            return surface in teams or (surface[-1:] == "s" and surface[:-1] in teams)

        keep = []
        for c in self.place_cands:
            if team(c.surface):
                self.add_org(c.surface, Segment([Token(c.surface, c.start, c.end, True, False, False, c.surface.lower())]))
            else:
                keep.append(c)
        self.place_cands = keep
        for g in self.leftover:
            surface = g.surface(text)
            if team(surface):
                self.add_org(surface.removesuffix("s") if surface not in teams else surface, g, surface)

    def demonym_links(self) -> None:
        """ "Russian officials": a nationality adjective stands for its country (a weak mention)."""
        for t in self.toks:
            cc = DEMONYMS.get(t.text)
            if cc and not t.allcaps:
                e = self.gaz.countries.get(cc)
                if e is not None and not self.inside_taken(Segment([t])):
                    self.place_cands.append(PlaceCandidate(t.start, t.end, t.text, [e], "", False, False, True))


def _clean_name(seg: Segment) -> str:
    return " ".join(t.text for t in seg.toks)


def find_entities(text: str, language_hint: str | None = None, title: str | None = None) -> FoundEntities:
    """The language of ``text`` and the places, people and organisations it mentions."""
    lang = detect(text if len(text) >= 20 else (title or "") + " " + text, language_hint)
    toks = tokenize(text)
    run = _EntityFinder(text, toks)
    run.lang = lang
    for start, end, acr in acronym_definitions(text, toks):
        long_form = text[start:end]
        canonical = known_org(long_form) or long_form
        g = run.orgs.setdefault(canonical, EntityGroup(canonical))
        g.mentions.append((start, end, long_form))
        run.acronyms[acr] = canonical
        run.taken.append((start, end))
    for start, end, canonical in known_phrases(text):
        run.cyrillic_org(start, end, canonical)
    for start, end in cyrillic_orgs(text) + (romance_orgs(text) if lang in _ROMANCE_LANGS else []):
        run.cyrillic_org(start, end)
    if lang in CJK_LANGS:
        run.cjk()
    for seg in segments(text, toks, run.is_name):
        run.segment(seg)
    run.coreference()
    for seg in run.pending:
        run.single(seg)
    run.sports_teams()
    run.demonym_links()
    places = resolve(text, run.place_cands, demonyms([t.text for t in toks if t.cap]))
    # an organisation named like a place ("Ukraine Defense Contact Group") is the organisation
    return FoundEntities(
        language=lang,
        places=places,
        people=entity_list(run.persons.finish()),
        organisations=entity_list(list(run.orgs.values())),
    )


def tag(
    text: str,
    *,
    title: str | None = None,
    categories: Sequence[str] = (),
    url: str | None = None,
    language_hint: str | None = None,
) -> Tags:
    """Tag one article text. Offsets in every ``Mention`` index into ``text``."""
    a = find_entities(text, language_hint, title)
    return Tags(
        language=a.language,
        places=a.places,
        people=a.people,
        organisations=a.organisations,
        keywords=_keywords.extract(text, title, a.language),
        topics=_topics.classify(text, title, tuple(categories), url),
    )


_WARM_UP_TEXT = (
    "KHARKIV, Ukraine (AP) - President Joe Biden said on Monday that NATO allies would send more air "
    "defence systems to Ukraine, the White House said."
)


def warm_up() -> None:
    """Load everything ``tag`` loads on first use (gazetteer ~2 s, built in a child process; language
    model ~0.5 s; the English keyword extractor) by tagging a short text, then freeze what was loaded
    out of the cyclic GC's sight.

    Worker processes call this before they take pages, so that a page's time limit measures the page,
    not the model load.
    """
    tag(_WARM_UP_TEXT, title="Warm-up")
    gc.collect()
    gc.freeze()
