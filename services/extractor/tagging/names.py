"""People and organisations: a rule-and-gazetteer tagger with in-article coreference.

Each capitalised sequence (see :mod:`spans`) is classified as an organisation (known list,
organisation suffix/head word, acronym defined in the article), a person (title or role cue,
known given name, speech verb, photo-credit pattern) or left for the place tagger. Short forms
are then linked to the long form seen in the same article ("Biden" -> "Joe Biden",
"ISW" -> "Institute for the Study of War").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

from services.common.messages import Entity, Mention

from .gazetteer import get_gazetteer
from .inflection import INFLECTED_GIVEN, base_surnames
from .lexicon import (
    CONNECTORS,
    CORE_TITLES,
    DEMONYMS,
    FAMOUS,
    FIRST_NAMES,
    KNOWN_ORGS,
    NON_PERSON,
    ORG_HEADS,
    ORG_SUFFIXES,
    ROLE_CUES,
    SPEECH_VERBS,
    STOPWORDS,
)
from .orgcues import head_word_org
from .spans import Segment, Token, compound_title

_AFTER_PERSON = re.compile(
    r"^(?:'s|’s)?,? (?:" + "|".join(sorted(SPEECH_VERBS)) + r")\b|^, (?:a|an|the|who|whose|his|her|[0-9]{1,3})\b|^ \([0-9]{1,3}\)"
)
_BEFORE_PERSON = re.compile(r"\b(?:" + "|".join(sorted(SPEECH_VERBS)) + r"),? $|\bby $|\bBy $")
_CREDIT_AFTER = re.compile(
    r"^\s?(?:/|,\s*(?:[A-Z][\w ]*Photo|Pool|via|The Associated|AP|Reuters|Getty|AFP|File|CP|The Canadian))"
)


@dataclass(slots=True)
class Found:
    label: str  # PERSON | ORG | PLACE?
    seg: Segment
    name: str  # normalised form as written (no title, no possessive)


@dataclass(slots=True)
class EntityGroup:
    canonical: str
    mentions: list[tuple[int, int, str]] = field(default_factory=list)


@functools.lru_cache(maxsize=8192)
def _fold(s: str) -> str:
    """Accents off, lower case ("Zelenskyy" and "Zelenskyý" meet); cached: the same words recur."""
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c)).lower()


def _titlecase_word(t: Token) -> bool:
    w = t.text
    return w[:1].isupper() and (any(c.islower() for c in w) or (len(w) <= 2 and w.endswith(".")) or len(w) == 1)


_SENTENCE_ARTICLES = frozenset(("la", "le", "les", "el", "los", "las", "il", "lo", "der", "die", "das", "het"))
_NAME_PARTICLES = frozenset(("van", "von", "de", "bin", "al", "der", "da", "del", "di", "du", "le", "la"))


def given_name(t: Token) -> bool:
    low = t.low
    if low in FIRST_NAMES or (("-" in low) and low.split("-")[0] in FIRST_NAMES):
        return True
    # a case form ("Татьяну", "Emmanuelem", "Arynę") unless it is a place's name ("Alberta")
    return low in INFLECTED_GIVEN and not get_gazetteer().lookup(t.text)


def _personish(seg: Segment, text: str, prev: Token | None, part: bool = False) -> bool:
    toks = seg.toks
    if not 1 <= len(toks) <= 4:
        return False
    if any(t.low in CONNECTORS and t.low not in _NAME_PARTICLES for t in toks):
        return False
    if not all(_titlecase_word(t) or t.low in _NAME_PARTICLES for t in toks):
        return False
    if toks[0].sent_start and toks[0].low in _SENTENCE_ARTICLES:
        return False  # "La Russie a réagi", "Der Kanzler"
    if any(
        t.low in ORG_SUFFIXES
        or t.low in NON_PERSON
        or t.text in DEMONYMS
        or t.low in STOPWORDS
        or any(p in CORE_TITLES for p in t.low.split("-")[1:])
        for t in toks
    ):
        return False
    if head_word_org(toks):  # "Prezes Polskiego Związku Tenisowego": a cue before an organisation
        return False
    if seg.cue:
        return True
    if len(toks) == 1:
        return False
    if given_name(toks[0]):
        return True
    if part:
        return False
    after = text[seg.end : seg.end + 40]
    before = text[max(0, seg.start - 30) : seg.start]
    if _AFTER_PERSON.search(after) or _BEFORE_PERSON.search(before):
        return True
    if (
        prev is not None
        and not prev.cap
        and (prev.low in ROLE_CUES or compound_title(prev.low))
        and text[prev.end : seg.start] == " "
    ):
        return True
    # photo credits: "(Inna Varenytsia/Reuters)"
    return before.rstrip().endswith("(") and bool(_CREDIT_AFTER.search(after))


def _orgish(seg: Segment, text: str) -> bool:
    toks = seg.toks
    if len(toks) < 2:
        return False
    last = toks[-1].low.rstrip(".")
    if last in ORG_SUFFIXES and "and" not in [t.low for t in toks]:
        return True
    if head_word_org(toks):  # "Banco de España", "Polskiego Związku Tenisowego", "MSV Duisburg"
        return True
    # "Bank of England", "Centre for European Policy Analysis", "Chartered Accountants of Canada"
    for i in range(1, len(toks) - 1):
        if toks[i].low in ("of", "for", "on") and not toks[i].cap:
            head = toks[i - 1].low
            if head in ORG_SUFFIXES or head in ORG_HEADS or (head.endswith("s") and len(head) > 5 and i >= 2):
                return True
            break
    return False


def known_org(surface: str) -> str | None:
    return KNOWN_ORGS.get(surface) or KNOWN_ORGS.get(surface.removeprefix("The "))


def classify(seg: Segment, text: str, prev: Token | None, place: str | None, part: bool = False) -> str | None:
    """PERSON, ORG or None (None: maybe a place, maybe nothing). ``place``: the best gazetteer kind."""
    surface = seg.surface(text)
    if known_org(surface):
        return "ORG"
    if seg.cue and place != "country" and _personish(seg, text, prev):
        return "PERSON"
    if place is not None:
        return None
    if _orgish(seg, text):
        return "ORG"
    if _personish(seg, text, prev, part):
        return "PERSON"
    return None


def acronym_of(name: str) -> str:
    return "".join(w[0] for w in name.split() if w[:1].isupper())


def _surname_key(name: str) -> str:
    return _fold(name.split()[-1])


def _similar_surname(a: str, b: str) -> bool:
    if a == b or a in base_surnames(b) or b in base_surnames(a):  # "tusk" ~ "tuska" (a case form)
        return True
    n = 0
    for x, y in zip(a, b, strict=False):  # a common prefix: the lengths may differ
        if x != y:
            break
        n += 1
    return n >= 5 and abs(len(a) - len(b)) <= 1 and n >= min(len(a), len(b)) - 1


class PersonIndex:
    """Groups person mentions of one article under one canonical name."""

    def __init__(self) -> None:
        self.groups: list[EntityGroup] = []
        self._first: list[str | None] = []  # given name (folded) of the canonical form
        self._sur: list[str] = []
        # surname key prefix -> group indexes, in order: ``_similar_surname`` needs equal keys or a
        # shared 5-character prefix, so only that bucket can match (German text, where every noun is
        # capitalised, asks ~120 times per article)
        self._by_prefix: dict[str, list[int]] = {}

    def add_full(self, name: str, start: int, end: int, surface: str) -> None:
        parts = name.split()
        sur = _surname_key(name)
        given = _fold(parts[0]) if len(parts) > 1 else None
        for i, g in enumerate(self.groups):
            if _similar_surname(self._sur[i], sur) and (given is None or self._first[i] in (None, given)):
                if self._first[i] is None and given is not None:
                    g.canonical = name
                    self._first[i] = given
                g.mentions.append((start, end, surface))
                return
        self._by_prefix.setdefault(sur[:5], []).append(len(self.groups))
        self.groups.append(EntityGroup(name, [(start, end, surface)]))
        self._first.append(given)
        self._sur.append(sur)

    def find_surname(self, word: str) -> int | None:
        """The first group with a given name whose surname is ``word`` (or a spelling variant of it)."""
        key = _fold(word)
        for k in (key, *base_surnames(key)):
            for i in self._by_prefix.get(k[:5], ()):
                if self._first[i] is not None and _similar_surname(self._sur[i], key):
                    return i
        return None

    def finish(self) -> list[EntityGroup]:
        for i, g in enumerate(self.groups):
            if self._first[i] is None:
                famous = FAMOUS.get(g.canonical)
                if famous:
                    g.canonical = famous
        return self.groups


def entity_list(groups: list[EntityGroup]) -> list[Entity]:
    out = []
    for g in groups:
        ms = sorted(set(g.mentions))
        out.append(Entity(name=g.canonical, mentions=[Mention(start=s, end=e, text=t) for s, e, t in ms]))
    out.sort(key=lambda e: (-len(e.mentions), e.mentions[0].start if e.mentions else 0))
    return out
