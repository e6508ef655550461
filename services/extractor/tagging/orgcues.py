"""Organisation cues beyond the English rules (issue 18, second round).

- Russian/Ukrainian names written with one capital: a capitalised word, up to three lower-case
  words ending in a head noun ("суд", "банк", "биржа", "рада"...), and an optional capitalised
  genitive ("Окружного административного суда Киева", "Національний банк України").
- Known organisations in a case form ("Газпрома", "Сбербанком", "Equinorem").
- Multi-word names with a head word in any position ("Banco de España", "Polskiego Związku
  Tenisowego", "Technische Universität München") or a club token ("MSV Duisburg", "AC Milan").
"""

from __future__ import annotations

import re

from .inflection import INFLECTED_GIVEN, SURNAME_ENDINGS
from .lexicon import FIRST_NAMES, KNOWN_ORGS
from .multilingual_more import CLUB_TOKENS, ORG_HEAD_ENDINGS_DE, ORG_HEADS_CYR, ORG_HEADS_INTL
from .spans import Token

_PAREN_ACRONYM = re.compile(r"\(([A-Z][A-Z&]{1,7})\)")
_ACR_SKIP = frozenset(("of", "and", "for", "the", "on", "in", "de", "&"))


def _words(s: str) -> frozenset[str]:
    return frozenset(s.split())


_CYR_UP = "А-ЯЁІЇЄҐ"
_CYR_LOW = "а-яёіїєґʼ'’"
_CYR_ORG = re.compile(rf"(?<![{_CYR_UP}{_CYR_LOW}\w])[{_CYR_UP}][{_CYR_LOW}]+(?:-[{_CYR_LOW}]+)?(?: [{_CYR_LOW}]+){{1,3}}")
_CYR_NEXT = re.compile(rf" [{_CYR_UP}][{_CYR_LOW}]+")
_HEAD_CYR = re.compile(r"^\w*?(?:" + "|".join(ORG_HEADS_CYR) + r")[аеиоуыяюіїєймхв]{0,3}$")
_ADJ_ENDINGS = tuple(
    _words("ый ий ой ая яя ое ее ые ие ого его ому ему ым им ом ем ую юю ых их ыми ими ій ої ою ім іх ні ка на не ня")
)
# adjectives of countries ("российский суд", "американські сили"): stems
_COUNTRY_ADJ = (
    "российск",
    "русск",
    "украинск",
    "українськ",
    "американск",
    "американськ",
    "британск",
    "британськ",
    "китайск",
    "китайськ",
    "французск",
    "французьк",
    "немецк",
    "німецьк",
    "польск",
    "польськ",
    "израильск",
    "ізраїльськ",
    "иранск",
    "іранськ",
    "турецк",
    "турецьк",
    "белорусск",
    "білоруськ",
    "грузинск",
    "грузинськ",
    "местн",
    "місцев",
    "городск",
    "міськ",
    "районн",
)
_GENITIVE_ENDINGS = tuple(_words("ы и а я ов ев ей ых их ого его ой ої ів ки ти ни"))
_DETERMINERS = _words(
    "этот эта это эти тот та те такой такая каждый любой новый новая новое один одна весь вся наш наша "
    "ваш их его ее её свой своя цей ця це ці той такий така кожен кожний новий нова одне уся увесь"
)


def cyrillic_orgs(text: str) -> list[tuple[int, int]]:
    """Spans of Russian/Ukrainian organisation names written with one capital."""
    out: list[tuple[int, int]] = []
    if not any("а" <= c <= "я" or c in "іїє" for c in text[:400]):
        return out
    for m in _CYR_ORG.finditer(text):
        words = m.group().split(" ")
        # adjectives, then the head noun ("Окружного административного суда"), then genitives
        # ("Высший совет правосудия")
        head = -1
        for i, w in enumerate(words):
            if i and _HEAD_CYR.match(w):
                head = i
                break
            if not w.lower().endswith(_ADJ_ENDINGS):
                break
        # else a name led by its head noun: "Министерство иностранных дел", "Служба безпеки України"
        head = _genitives_after(words, head) if head > 0 else _head_first(words)
        if head < 1:
            continue
        end = m.start() + len(" ".join(words[: head + 1]))
        nxt = _CYR_NEXT.match(text, end)  # a capitalised genitive: "банк України", not a given name
        if nxt is not None and _given(nxt.group()[1:].lower()):
            nxt = None
        # "Российский суд приговорил", "Этот суд": a country's adjective or a determiner is no name
        first = words[0].lower()
        if first in _DETERMINERS or (head < 2 and nxt is None and first.startswith(_COUNTRY_ADJ)):
            continue
        out.append((m.start(), nxt.end() if nxt else end))
    return out


def _head_first(words: list[str]) -> int:
    """The last word of a name that starts with its head noun and goes on with genitives, or -1."""
    if not _HEAD_CYR.match(words[0].lower()):
        return -1
    last = _genitives_after(words, 0)
    return last if last > 0 else -1


def _genitives_after(words: list[str], head: int) -> int:
    """The index of the last genitive right after ``words[head]`` (not a verb: "суд отменили")."""
    last = head
    for i in range(head + 1, len(words)):
        w = words[i]
        if not (w.endswith(_GENITIVE_ENDINGS) or w in ("дел", "справ")) or w.endswith(("ли", "ла", "ло", "ся")):
            break
        last = i
    return last


def _given(low: str) -> bool:
    return low in FIRST_NAMES or low in INFLECTED_GIVEN


def _phrase_regex() -> re.Pattern[str]:
    """Known organisations whose names go on in lower case or with a digit ("Assemblée nationale",
    "Movimento 5 Stelle"): the capitalised-sequence splitter never sees them whole."""
    connectors = {"of", "for", "the", "and", "de", "da", "do", "del", "della", "di", "du", "des", "d'"}
    names = [
        k
        for k in KNOWN_ORGS
        if " " in k and any((w[:1].islower() or w[:1].isdigit()) and w not in connectors for w in k.split()[1:])
    ]
    names.sort(key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(n) for n in names) + r")(?!\w)")


_PHRASES = _phrase_regex()


def known_phrases(text: str) -> list[tuple[int, int, str]]:
    """Spans and canonical names of the known organisations of :func:`_phrase_regex` in ``text``."""
    return [(m.start(), m.end(), KNOWN_ORGS[m.group()]) for m in _PHRASES.finditer(text)]


_ROMANCE = re.compile(r"(?<![\w'’])([A-ZÀ-Ý][a-zà-ÿ]+)((?: [a-zà-ÿ]{4,}){1,2})(?![\w'’])")
_ROMANCE_ADJ = tuple(
    _words(
        "ale ali ano ana ani ane ese esi ica ico ici iche ique iques aise ain aine enne ien ienne nal nale nali "
        "nel nelle eu eia ia io ário ária ivo iva ive if ile il ar aria ario ero era ista iste ense ño ña ina ino "
        "esa eso al ois oise ês éen éenne"
    )
)


def romance_orgs(text: str) -> list[tuple[int, int]]:
    """ "Commissione europea", "Protezione civile", "Partido socialista": an organisation head word
    followed by adjectives in lower case (French, Spanish, Italian, Portuguese)."""
    out: list[tuple[int, int]] = []
    for m in _ROMANCE.finditer(text):
        if m.group(1).lower() not in ORG_HEADS_INTL:
            continue
        end = m.start(2)
        masculine = m.group(1).endswith("o")
        for w in m.group(2).split(" ")[1:]:
            # "del Consiglio italiana": a feminine adjective belongs to another noun
            if not w.endswith(_ROMANCE_ADJ) or (masculine and w.endswith("a")):
                break
            end += 1 + len(w)
        if end > m.start(2):
            out.append((m.start(), end))
    return out


def inflected_org(surface: str) -> str | None:
    """The canonical name of a known organisation written in a case form ("Газпрома" -> Gazprom)."""
    for e in (*SURNAME_ENDINGS, "ej"):
        if surface.endswith(e) and len(surface) - len(e) >= 3:
            stem = surface[: -len(e)]
            for cand in (stem, stem + "a", stem + "а", stem + "я"):
                hit = KNOWN_ORGS.get(cand)
                if hit:
                    return hit
    return None


def head_word_org(toks: list[Token]) -> bool:
    """A sequence of two or more words with an organisation head word or a club token in it."""
    if len(toks) < 2:
        return False
    for i, t in enumerate(toks):
        # a club word first or a club token last: "FC Porto", "Malmö FF", not "Schnelligkeit Fortuna"
        if t.text in CLUB_TOKENS and (i == 0 or (i == len(toks) - 1 and len(t.text) <= 3)):
            return True
        if t.cap and t.low in ORG_HEADS_INTL:
            return True
        # not "Streik der Lokführergewerkschaft GDL" (German nouns join with "der"; a compound
        # common noun in front of a name is an apposition)
        if i and t.cap and len(t.low) > 8 and t.low.endswith(ORG_HEAD_ENDINGS_DE) and all(x.cap for x in toks):
            return True
    return False


def acronym_definitions(text: str, toks: list[Token]) -> list[tuple[int, int, str]]:
    """ "Civil Aviation Authority of Nepal (CAAN)": the long form before a parenthesised acronym."""
    out: list[tuple[int, int, str]] = []
    starts = {t.end: i for i, t in enumerate(toks)}
    for m in _PAREN_ACRONYM.finditer(text):
        acr = m.group(1).replace("&", "")
        # the token that ends right before " ("
        j = m.start() - 1
        while j >= 0 and text[j] == " ":
            j -= 1
        i = starts.get(j + 1)
        if i is None:
            continue
        k = len(acr) - 1
        first = -1
        while i >= 0 and k >= 0:
            t = toks[i]
            if t.low in _ACR_SKIP and not t.cap:
                i -= 1
                continue
            if not t.cap or t.text[0].upper() != acr[k]:
                break
            first = i
            k -= 1
            i -= 1
            if i >= 0 and text[toks[i].end : toks[i + 1].start] not in (" ", ", "):
                break
        if k < 0 and first >= 0 and len(acr) >= 2:
            out.append((toks[first].start, toks[starts[j + 1]].end, acr))
    return out


def german_noun_phrase(toks: list[Token]) -> bool:
    """A German run joined by an article ("Streik der GDL"), the part before it no organisation."""
    for i, t in enumerate(toks):
        if not t.cap and t.low in ("der", "des", "den", "dem"):
            before = toks[:i]
            return i > 0 and not head_word_org(before) and not any(x.low in ORG_HEADS_INTL for x in before)
    return False
