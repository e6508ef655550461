"""Key phrases with YAKE (unsupervised, statistical; no model files)."""

from __future__ import annotations

import re
import threading
from typing import Any

from .lexicon import FIRST_NAMES, SPEECH_VERBS

_LOCK = threading.Lock()
_EXTRACTORS: dict[str, Any] = {}
# YAKE's cost is linear in the words it reads (~35 us a word, pure Python + networkx): it reads the
# title and the lead, the part of a news article that carries its key phrases. 500 characters
# (~80 words) instead of 1,000 halve the cost (~5.5 -> ~2.8 ms per fundus page); the phrases agree
# with the 1,000-character ones at 75 % (and with YAKE over the whole text at 41 % vs 50 %).
MAX_CHARS = 500
YAKE_TOP = 30
_YAKE_LANGS = {
    "ar",
    "bg",
    "br",
    "cz",
    "da",
    "de",
    "el",
    "en",
    "es",
    "et",
    "fa",
    "fi",
    "fr",
    "hi",
    "hr",
    "hu",
    "hy",
    "id",
    "it",
    "ja",
    "lt",
    "lv",
    "nl",
    "no",
    "pl",
    "pt",
    "ro",
    "ru",
    "sk",
    "sl",
    "sv",
    "tr",
    "uk",
    "zh",
}
_LINE_END = re.compile(r"(?<![.!?:;])\s*\n+")
# page furniture that YAKE likes because it is capitalised and repeated
_JUNK = frozenset(
    [
        "file",
        "photo",
        "photos",
        "pool",
        "video",
        "watch",
        "share",
        "reports",
        "report",
        "reply",
        "comment",
        "comments",
        "copyright",
        "advertisement",
        "subscribe",
        "newsletter",
        "click",
        "read",
        "more",
        "getty",
        "images",
        "ap",
        "reuters",
        "afp",
        "cbc",
        "ctv",
        "bbc",
        "cnn",
        "updated",
        "posted",
    ]
)


def is_fragment(phrase: str, lang: str, stopwords: frozenset[str] | set[str]) -> bool:
    """A fragment, not a phrase a reader would use. Judged on the text's own capitals, so it holds in
    every cased language (CJK has none: nothing is judged there):

    * a verb of saying at either end ("Joe Biden said", "sagte Scholz");
    * a capitalised start and a lower-case end: a name and the verb or words after it ("Angela Merkel
      traf", "Macron a reçu", "Donald Tusk spotkał", "Ukraine received", "Hanna anmäldes");
    * a name cut in two: a known given name at the end ("Kremlin spokesman Dmitry", "Natos
      generalsekreterare Mark");
    * a capitalised word between lower-case ones (three words taken across two phrases: "судей
      Окружного административного");
    * a lower-case word that is no stop word between capitalised ones: a verb between two names
      ("Zelenskiy met French"; "Kirchenparlament in Bayern" stays);
    * words in capitals: a headline's pieces, not a phrase ("ZELENSKIY MEETS", "MEETS MACRON");
    * in German (every noun capitalised) a lone lower-case word: a verb or an adjective ("ertönt");
    * a lone word in capitals longer than an acronym: a dateline ("MOSCOW") or a headline's word.
    """
    words = phrase.split()
    if len(words) < 2:  # a word in capitals past an acronym's length is a dateline or a headline's word
        return (lang == "de" and phrase[:1].islower()) or (phrase.isupper() and len(phrase) > 4)
    if words[0].lower() in SPEECH_VERBS or words[-1].lower() in SPEECH_VERBS:
        return True
    if words[-1].lower() in FIRST_NAMES:
        return True
    caps = [w[:1].isupper() for w in words]
    if caps[0] and not caps[-1] and words[-1][:1].isalpha():
        return True
    inner = range(1, len(words) - 1)
    if any(caps[i] and not caps[i - 1] and not caps[i + 1] for i in inner):
        return True
    if any(caps[i - 1] and caps[i + 1] and not caps[i] and words[i].lower() not in stopwords for i in inner):
        return True
    return all(w.isupper() for w in words if any(c.isalpha() for c in w))


def stopwords(lang: str) -> set[str]:
    """YAKE's stop words of ``lang`` (English for a language YAKE does not know)."""
    return set(_extractor(lang if lang in _YAKE_LANGS else "en").stopword_set)


def _extractor(lang: str) -> Any:
    ex = _EXTRACTORS.get(lang)
    if ex is None:
        with _LOCK:
            ex = _EXTRACTORS.get(lang)
            if ex is None:
                import yake

                # dedup_lim=1.0 turns YAKE's own near-duplicate filter off: it compares every
                # candidate with every kept one by string similarity (~0.5 ms per article), and
                # ``extract`` below already drops a phrase contained in a better one. ``top`` leaves
                # room for that filter to still return ``k`` phrases.
                ex = yake.KeywordExtractor(lan=lang, n=3, top=YAKE_TOP, dedup_lim=1.0)
                _EXTRACTORS[lang] = ex
    return ex


class _Squeezed:
    """``sample`` lower-cased without its whitespace, with the position of each kept character, so that
    a phrase's words with any whitespace (or none) between them are one ``str.find`` (a regex per
    phrase cost a compile each: 8 % of ``tag``)."""

    def __init__(self, sample: str) -> None:
        self.sample = sample
        lowered = sample.lower()
        self.usable = len(lowered) == len(sample)  # lower() changed no length ("İ"): use the regex
        self.pos = [i for i, c in enumerate(lowered) if not c.isspace()] if self.usable else []
        self.text = "".join(lowered[i] for i in self.pos)

    def surface(self, phrase: str) -> str:
        """The phrase as the text writes it: without its own dedup pass YAKE returns lower-cased, space-joined
        tokens ("ireland ’s presidency" for "Ireland’s presidency"); the lower-cased form when not found."""
        words = phrase.split()
        if not self.usable or any(w.lower() != w.casefold() for w in words):
            return _surface_regex(words, self.sample, phrase)
        if not words:
            return phrase
        joined = "".join(words).lower()
        ends, total = set(), 0
        for w in words:
            total += len(w)
            ends.add(total)
        at = self.text.find(joined)
        while at >= 0:
            last = at + len(joined) - 1
            # whitespace in the text only where the phrase has it: "young lawyer saying" is no "young lawyers"
            if all(self.pos[k + 1] == self.pos[k] + 1 or k + 1 - at in ends for k in range(at, last)):
                return " ".join(self.sample[self.pos[at] : self.pos[last] + 1].split())
            at = self.text.find(joined, at + 1)
        return phrase


def _surface_regex(words: list[str], sample: str, phrase: str) -> str:
    m = re.search(r"\s*".join(re.escape(w) for w in words), sample, re.IGNORECASE)
    return " ".join(m.group().split()) if m else phrase


def extract(text: str, title: str | None = None, language: str | None = None, k: int = 10) -> list[str]:
    """Up to ``k`` key phrases (best first); 5-10 for a normal article."""
    body = text[:MAX_CHARS]
    cut = body.rfind(" ")
    if len(text) > MAX_CHARS and cut > 0:
        body = body[:cut]
    if title and title.isupper():
        title = None  # an all-caps headline gives YAKE capitals it reads as names ("ZELENSKIY MEETS")
    sample = (title.strip() + ".\n" if title else "") + body
    sample = _LINE_END.sub(".\n", sample)
    if len(sample.split()) < 5:
        return []
    lang = language if language in _YAKE_LANGS else "en"
    if lang == "cs":
        lang = "cz"
    extractor = _extractor(lang)
    pairs = extractor.extract_keywords(sample)
    out: list[str] = []
    seen: set[str] = set()
    squeezed = _Squeezed(sample)
    for phrase, _score in pairs:
        p = str(phrase).strip(" .,;:-'\"“”")
        key = p.lower()
        if len(p) < 3 or key in seen or not any(c.isalpha() for c in p):
            continue
        words = key.split()
        if words[0] in _JUNK or words[-1] in _JUNK:
            continue
        if any(key in s or s in key for s in seen if len(s.split()) != len(key.split())):
            # keep "Kharkiv region" or "Kharkiv", not both
            continue
        surface = squeezed.surface(p)
        if is_fragment(surface, lang, extractor.stopword_set):
            continue
        seen.add(key)
        out.append(surface)
        if len(out) >= k:
            break
    return out
