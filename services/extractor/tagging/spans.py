"""Tokens and capitalised sequences: the raw material of the name and place taggers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .lexicon import ABBREV_TITLES, CONNECTORS, CORE_TITLES, DAYS_MONTHS, STOPWORDS, TITLE_MODIFIERS

_TOKEN_RE = re.compile(r"(?:[A-Za-z]\.){2,}|[^\W\d_][^\W_]*(?:['’\-][^\W\d_][^\W_]*)*")
_POSS = ("'s", "’s")


@dataclass(slots=True)
class Token:
    text: str
    start: int
    end: int
    cap: bool  # starts with an upper-case letter
    allcaps: bool
    sent_start: bool
    poss: bool = False  # followed by 's (which is not part of the token)
    brk: bool = False  # a lower-case hyphenated tail was cut off ("Berlin-supplied")

    @property
    def low(self) -> str:
        return self.text.lower()


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
        if re.fullmatch(r"(?:[A-Za-z]\.)*[A-Za-z]", word) or word.lower() in ABBREV_TITLES:
            return False
        return True
    return False


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        s, e = m.start(), m.end()
        w = m.group()
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
        letters = [c for c in w if c.isalpha()]
        allcaps = len(letters) >= 2 and all(c.isupper() for c in letters)
        out.append(Token(w, s, e, cap, allcaps, _is_sent_start(text, s), poss, brk))
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
    if a.poss or a.brk:
        return False
    gap = text[a.end : b.start]
    if gap == " ":
        return True
    if gap == ". " and (a.low in ABBREV_TITLES or (len(a.text) == 1 and a.cap)):
        return True
    return False


def runs(text: str, toks: list[Token]) -> list[list[Token]]:
    """Maximal sequences of capitalised tokens, with connectors ("of", "for the") inside."""
    out: list[list[Token]] = []
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        if not t.cap:
            i += 1
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
    return t.cap and (t.low in CORE_TITLES or t.low in TITLE_MODIFIERS)


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
                    has_core = has_core or run[j].low in CORE_TITLES
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
    from .lexicon import FIRST_NAMES

    return t.low in FIRST_NAMES


def trim(seg: Segment) -> Segment | None:
    """Drop sentence-initial function words, day/month names and dangling connectors at the edges."""
    toks = list(seg.toks)
    while toks and (
        (toks[0].low in STOPWORDS and (toks[0].sent_start or not toks[0].allcaps) and toks[0].text != "US")
        or toks[0].low in DAYS_MONTHS
        or not toks[0].cap
    ):
        if toks[0].text in ("The",) and len(toks) > 1 and not toks[0].sent_start:
            pass
        toks.pop(0)
    while toks and (toks[-1].low in DAYS_MONTHS or not toks[-1].cap):
        toks.pop()
    if not toks:
        return None
    return Segment(toks, seg.cue)


def segments(text: str, toks: list[Token]) -> list[Segment]:
    out: list[Segment] = []
    for run in runs(text, toks):
        for seg in split_titles(run):
            s = trim(seg)
            if s is not None:
                out.append(s)
    return out
