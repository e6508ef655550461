"""Sports reports: clubs and national sides named after places, or unknown words, by a score or
an opponent cue ("Spain beat England 2-1", "Liverpool 3 Brentford 0", "Hammarby slog Djurgården",
"Шахтар переміг Динамо"), in the languages of :mod:`multilingual`."""

from __future__ import annotations

import re

from .lexicon import DEMONYMS, STOPWORDS
from .multilingual import SPORTS_WORDS as _SPORTS_WORDS
from .multilingual_more import CLUB_TOKENS, SPORTS_WORDS_MORE, TEAM_VERBS_AFTER, TEAM_WORDS_BEFORE
from .spans import Segment, Token

SPORTS_WORDS = _SPORTS_WORDS | SPORTS_WORDS_MORE
# sports text: a score ("2-1", "3:0") or a results line ("Liverpool 3 Brentford 0")
_SCORE = re.compile(r"\b\d{1,2} ?[-:–] ?\d{1,2}\b")
_TEAM_AFTER = re.compile(
    r"^(?:'s)? (?:\d{1,2}\b|beat|beats|drew|draw|lost|won|defeated|v|vs\.?|gegen|contre|contra|против|проти|mot|"
    + TEAM_VERBS_AFTER
    + r")\b"
)
_TEAM_VERB_AFTER = re.compile(r"^(?:'s)? (?:beat|beats|drew|defeated|" + TEAM_VERBS_AFTER + r")\b")
_TEAM_WORD_BEFORE = re.compile(
    r"\b(?:beat|beating|against|vs\.?|gegen|contre|face à|против|проти|" + TEAM_WORDS_BEFORE + r")$"
    r"|\b(?:" + TEAM_VERBS_AFTER + r")(?: (?:il|la|lo|l'|el|le|o|a|den|die|das|der))?$"  # "Hammarby slog Djurgården"
)
_TEAM_BEFORE = re.compile(
    r"\b(?:beat|beating|against|vs\.?|v|gegen|contre|contra|face à|против|проти|mot|bei|vor|dei|des|do|da|"
    + TEAM_WORDS_BEFORE
    + r")$|\b(?:"
    + TEAM_VERBS_AFTER
    + r")(?: (?:il|la|lo|l'|el|le|o|a|den|die|das|der))?$"
)


def sports_text(text: str, toks: list[Token], orgs: list[str]) -> bool:
    """Scores, sports words and clubs ("Olympique de Marseille") together at least twice."""
    clubs = any(len(n.split()) >= 2 and n.split()[0] in CLUB_TOKENS for n in orgs)
    return len(_SCORE.findall(text)) + sum(1 for t in toks if t.low in SPORTS_WORDS) + clubs >= 2


def find_teams(text: str, places: list[tuple[int, int, str]]) -> set[str]:
    """Places named as a team: with a score, a result verb or an opponent cue next to them."""
    teams = set()
    for start, end, surface in places:
        after = text[end : end + 16]
        before = text[max(0, start - 12) : start].rstrip()
        if _TEAM_AFTER.match(after) or _TEAM_BEFORE.search(before) or _SCORE.match(text[end + 1 : end + 8]):
            teams.add(surface)
    return teams


def unknown_teams(text: str, words: list[Segment]) -> set[str]:
    """Unknown single words named as a team: only with a result verb or an opponent cue (not
    "No 38", "against Russian forces")."""
    teams = set()
    for g in words:
        t = g.toks[0]
        if t.text in DEMONYMS or t.low in STOPWORDS or t.low in SPORTS_WORDS or "-" in t.text:
            continue
        after = text[g.end : g.end + 16]
        before = text[max(0, g.start - 12) : g.start].rstrip()
        if _TEAM_VERB_AFTER.match(after) or _TEAM_WORD_BEFORE.search(before):
            teams.add(g.surface(text))
    return teams


def club_places(orgs: list[str]) -> set[str]:
    """ "Olympique de Marseille ... Marseille reste troisième": the place a club is named after."""
    out = set()
    for name in orgs:
        words = name.split()
        if len(words) >= 2 and any(w in CLUB_TOKENS for w in words):
            out.add(words[-1])
    return out
