"""Tokens and capitalised sequences: the raw material of the name and place taggers."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from .lexicon import ABBREV_TITLES, CONNECTORS, CORE_TITLES, DAYS_MONTHS, FIRST_NAMES, STOPWORDS, TITLE_MODIFIERS

# an elided article or preposition in front of a word ("l'Assemblée", "dell'Inter", "d'Al-Haouz"): not part of it
_ELISION = re.compile(r"(?:[lLdDjJnsScmt]|[Qq]u|[Dd]ell|[Aa]ll|[Nn]ell|[Dd]all|[Ss]ull|un)['’](?=[^\W\d_])")
_TOKEN_RE = re.compile(r"(?:[A-Za-z]\.){2,}|[A-Z]\.[A-Z](?![\w.])|[^\W\d_][^\W_]*(?:['’\-][^\W\d_][^\W_]*)*")
_POSS = ("'s", "’s")
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")


@dataclass(slots=True)
class Token:
    text: str
    start: int
    end: int
    cap: bool  # starts with an upper-case letter
    allcaps: bool
    sent_start: bool
    low: str  # ``text.lower()``, computed once: the rules ask for it ~1,400 times per article
    poss: bool = False  # followed by 's (which is not part of the token)
    brk: bool = False  # a lower-case hyphenated tail was cut off ("Berlin-supplied")
    headline: bool = False  # part of a Title Case line


def _is_sent_start(text: str, start: int) -> bool:
    i = start - 1
    while i >= 0 and text[i] in " \t\"“‘'(«*•·-–—|":
        if text[i] in "·•|–—" and (i == 0 or text[i - 1] in " \n"):
            return True
        i -= 1
    if i < 0 or text[i] in "\n!?:;":
        return True
    if text[i] == ".":
        j = i - 1
        while j >= 0 and (text[j].isalpha() or text[j] == "."):
            j -= 1
        word = text[j + 1 : i]
        return not (_INITIALS.fullmatch(word) or word.lower() in ABBREV_TITLES)
    return False


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        s, e = m.start(), m.end()
        w = m.group()
        el = _ELISION.match(w) if ("'" in w or "’" in w) else None
        if el and len(w) > el.end() + 1:
            s, w = s + el.end(), w[el.end() :]
        poss = brk = False
        if w.endswith(_POSS) and len(w) > 3:
            w, e, poss = w[:-2], e - 2, True
        elif e < len(text) and text[e] in "'’" and w.endswith("s") and (e + 1 >= len(text) or not text[e + 1].isalnum()):
            poss = True
        if "-" in w and w[0].isupper():
            head, _, tail = w.rpartition("-")
            if tail[:1].islower():
                w, e, brk = head, s + len(head), True
        cap = w[0].isupper()
        allcaps = cap and len(w) >= 2 and w.isupper()
        out.append(Token(w, s, e, cap, allcaps, cap and _is_sent_start(text, s), w.lower(), poss, brk))
    return out


@dataclass(slots=True)
class Segment:
    """A capitalised sequence (or part of one) to be classified."""

    toks: list[Token]
    cue: bool = False  # a title ("President", "Gen.") stands right before it

    @property
    def start(self) -> int:
        return self.toks[0].start

    @property
    def end(self) -> int:
        return self.toks[-1].end

    def surface(self, text: str) -> str:
        return text[self.start : self.end]


def _joinable(text: str, a: Token, b: Token) -> bool:
    if a.poss or a.brk or a.headline or b.headline:
        return False
    gap = text[a.end : b.start]
    if gap == " ":
        return True
    return gap == ". " and (a.low in ABBREV_TITLES or (len(a.text) == 1 and a.cap))


def runs(text: str, toks: list[Token], is_name: Callable[[str], bool] | None = None) -> list[list[Token]]:
    """Maximal sequences of capitalised tokens, with connectors ("of", "for the") inside.

    On Title Case lines a sequence is only kept together when ``is_name`` knows it ("Saudi Arabia").
    """
    out: list[list[Token]] = []
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        if not t.cap:
            i += 1
            continue
        if t.headline:
            k = 1
            if is_name is not None:
                for m in range(min(4, n - i), 1, -1):
                    group = toks[i : i + m]
                    if all(text[a.end : b.start] == " " for a, b in pairwise(group)) and is_name(
                        text[group[0].start : group[-1].end]
                    ):
                        k = m
                        break
            out.append(toks[i : i + k])
            i += k
            continue
        run = [t]
        j = i + 1
        while j < n:
            prev = toks[j - 1]
            nxt = toks[j]
            if not _joinable(text, prev, nxt):
                break
            if nxt.cap:
                run.append(nxt)
                j += 1
                continue
            # connectors: only when a capitalised token follows (possibly after more connectors)
            k = j
            while k < n and not toks[k].cap and toks[k].low in CONNECTORS and _joinable(text, toks[k - 1], toks[k]):
                k += 1
            if k > j and k < n and toks[k].cap and _joinable(text, toks[k - 1], toks[k]) and k - j <= 2:
                run.extend(toks[j : k + 1])
                j = k + 1
                continue
            break
        out.append(run)
        i = j
    return out


def _title_word(t: Token) -> bool:
    return t.cap and (t.low in CORE_TITLES or t.low in TITLE_MODIFIERS or _hyphen_title(t))


def _hyphen_title(t: Token) -> bool:
    """ "Siemens-Chef", "EZB-Präsidentin", "Bahnchef", "Riksbankschefen": a compound ending in a
    title (German, Swedish)."""
    return ("-" in t.low and t.low.rsplit("-", 1)[1] in CORE_TITLES) or compound_title(t.low)


# endings of German and Swedish compounds that are titles ("Gesundheitsminister", "Bahnchef",
# "Riksbankschefen", "Regierungssprecher", "Bundestagspräsidentin")
_TITLE_ENDINGS = (
    "minister",
    "ministerin",
    "ministern",
    "präsident",
    "präsidentin",
    "präsidenten",
    "chef",
    "chefin",
    "chefen",
    "sprecher",
    "sprecherin",
    "bürgermeister",
    "bürgermeisterin",
)


def compound_title(low: str) -> bool:
    return low.endswith(_TITLE_ENDINGS) and any(len(low) >= len(e) + 4 and low.endswith(e) for e in _TITLE_ENDINGS)


def split_titles(run: list[Token]) -> list[Segment]:
    """Cut title blocks out of a run: "U.S. Secretary of Defense Lloyd Austin" -> [U.S.], [Lloyd Austin]*."""
    segs: list[Segment] = []
    cur: list[Token] = []
    i, n = 0, len(run)
    cue = False
    while i < n:
        t = run[i]
        if _title_word(t):
            # a title block: modifiers/core titles, plus "of X" / "for X" phrases
            j = i
            has_core = False
            while j < n:
                if _title_word(run[j]):
                    has_core = has_core or run[j].low in CORE_TITLES or _hyphen_title(run[j])
                    j += 1
                elif run[j].low in ("of", "for") and has_core and j + 1 < n:
                    j += 2
                    while j < n - 2 and run[j].cap and run[j].low not in CORE_TITLES and not _looks_given(run[j]):
                        j += 1
                else:
                    break
            if has_core and (j < n or i > 0):
                if cur:
                    segs.append(Segment(cur, cue))
                cur = []
                cue = j < n
                i = j
                continue
        cur.append(t)
        i += 1
    if cur:
        segs.append(Segment(cur, cue))
    return segs


def _looks_given(t: Token) -> bool:
    return t.low in FIRST_NAMES


def _date_word(t: Token, text: str) -> bool:
    """A day or month name; a three-letter form ("Jun", "Mar") only when a period or a number follows
    (else it ends a name: "Dong Jun")."""
    if t.low not in DAYS_MONTHS:
        return False
    return (
        len(t.text) > 3
        or not text
        or text[t.end : t.end + 2].lstrip(" ")[:1] in (".", "")
        or text[t.end : t.end + 2].strip()[:1].isdigit()
    )


def trim(seg: Segment, text: str = "") -> Segment | None:
    """Drop sentence-initial function words, day/month names and dangling connectors at the edges."""
    toks = list(seg.toks)
    while toks and (
        (toks[0].low in STOPWORDS and (toks[0].sent_start or toks[0].low in _ARTICLES) and not toks[0].allcaps)
        or toks[0].low in DAYS_MONTHS
        or not toks[0].cap
    ):
        toks.pop(0)
    while toks and (_date_word(toks[-1], text) or not toks[-1].cap):
        toks.pop()
    if not toks:
        return None
    return Segment(toks, seg.cue)


_ARTICLES = frozenset(("the", "a", "an"))


def headline_lines(text: str, toks: list[Token]) -> None:
    """Mark the tokens of Title Case lines ("U.S. Gives Ukraine Permission To Strike ...") as sentence starts
    and cut them into one-token runs: there, capitals say nothing about names."""
    line_start = 0
    i = 0
    n = len(toks)
    while i < n:
        line_end = text.find("\n", toks[i].start)
        if line_end < 0:
            line_end = len(text)
        j = i
        while j < n and toks[j].start < line_end:
            j += 1
        words = [t for t in toks[i:j] if len(t.text) > 3]
        line = text[toks[i].start : line_end]
        # a headline is one short line without a sentence break (German prose capitalises its nouns)
        # (nor one ending in a full stop: "Bahnchef Richard Lutz sagte, der Minister sei eingeladen.")
        if (
            len(words) >= 4
            and sum(t.cap for t in words) >= 0.75 * len(words)
            and (len(line) <= 160 and ". " not in line and not line.rstrip().endswith("."))
        ):
            for t in toks[i:j]:
                t.sent_start = True
                t.headline = True
        line_start = line_end
        i = j
    del line_start


def segments(text: str, toks: list[Token], is_name: Callable[[str], bool] | None = None) -> list[Segment]:
    headline_lines(text, toks)
    out: list[Segment] = []
    for run in runs(text, toks, is_name):
        for seg in split_titles(run):
            s = trim(seg, text)
            if s is not None:
                out.append(s)
    return out
