"""Case forms of given names and surnames in Polish, Russian and Ukrainian (issue 18).

"с Анваром Ибрагимом", "uwolnić Татьяну Шейко", "z prezydentem Emmanuelem Macronem": the given
name is in the instrumental, accusative or genitive, so the nominative word lists do not know it.
:data:`INFLECTED_GIVEN` holds the case forms generated from the given-name lists (Cyrillic names
with Russian/Ukrainian endings, Latin names with the Polish ones); :func:`base_surname` strips a
case ending from a surname so that "Tuska" and "Вовка" find "Donald Tusk" and "Павел Вовк".
"""

from __future__ import annotations

from .lexicon import FIRST_NAMES

_CYR = frozenset("абвгґдеєжзиіїйклмнопрстуфхцчшщъыьэюяё")
_VOWELS = frozenset("аеєиіїоуыэюяaeiouyąęó")

# ending of the nominative -> endings of the other cases (the nominative's stem + ending)
_CYR_HARD = ("а", "у", "ом", "е", "ові", "ою", "і")  # Иван, Андрій -> Ивана, Ивану, Иваном ...
_CYR_A = ("ы", "и", "е", "у", "ой", "ою", "і", "ю")  # Татьяна -> Татьяны, Татьяне, Татьяну, Татьяной
_CYR_YA = ("и", "е", "ю", "ей", "ею", "і", "ї")  # Юлия -> Юлии, Юлию, Юлией
_CYR_J = ("я", "ю", "ем", "е", "єм", "ю")  # Сергей / Андрій -> Сергея, Сергею, Сергеем
_CYR_O = ("а", "у", "ові", "ом")  # Петро, Дмитро -> Петра, Петру, Петрові, Петром
_PL_HARD = ("a", "owi", "em", "ie", "u")  # Donald -> Donalda, Donaldowi, Donaldem
_PL_A = ("y", "i", "ie", "ę", "ą", "o")  # Iga, Aryna -> Igi, Arynę, Aryną


def _stem_forms(name: str) -> set[str]:
    """The case forms of one given name (lower case), without the nominative itself."""
    out: set[str] = set()
    last = name[-1]
    cyr = last in _CYR
    if cyr:
        if last == "а":
            out.update(name[:-1] + e for e in _CYR_A)
        elif last == "я":
            out.update(name[:-1] + e for e in _CYR_YA)
        elif last in "йь":
            out.update(name[:-1] + e for e in _CYR_J)
        elif last == "о":
            out.update(name[:-1] + e for e in _CYR_O)
        elif last not in _VOWELS:
            stem = name
            if len(name) >= 4 and name[-2] in "еоё" and name[-3] not in _VOWELS:
                stem = name[:-2] + name[-1]  # Павел -> Павла, Лев -> Льва is irregular: not covered
            out.update(stem + e for e in _CYR_HARD)
            out.update(name + e for e in _CYR_HARD)
        return out
    if not name.isalpha():
        return out
    if last == "a":
        out.update(name[:-1] + e for e in _PL_A)
    elif last not in _VOWELS:
        stem = name[:-2] + name[-1] if len(name) >= 4 and name[-2] == "e" and name[-1] in "kc" else name
        out.update(stem + e for e in _PL_HARD)  # Marek -> Marka, Jacek -> Jacka
    return out


def _inflected_given() -> frozenset[str]:
    out: set[str] = set()
    for name in FIRST_NAMES:
        if len(name) >= 3:
            out |= _stem_forms(name)
    # a form that is itself another word of the lists stays what the lists say
    return frozenset(out - FIRST_NAMES)


INFLECTED_GIVEN = _inflected_given()

# case endings of surnames (Latin: Polish; Cyrillic: Russian, Ukrainian), longest first
SURNAME_ENDINGS = (
    "owi",
    "ego",
    "iem",
    "ого",
    "ому",
    "ові",
    "ым",
    "им",
    "ой",
    "ою",
    "ей",
    "ом",
    "ем",
    "em",
    "ie",
    "a",
    "u",
    "ą",
    "ę",
    "y",
    "а",
    "у",
    "е",
    "ы",
    "и",
    "і",
    "ю",
    "я",
    "ї",
)


_ENDING_SET = frozenset(SURNAME_ENDINGS)


def base_surnames(key: str) -> list[str]:
    """Candidate nominatives of a folded surname in a case form ("tuska" -> ["tusk"])."""
    return [key[:-n] for n in (3, 2, 1) if len(key) - n >= 3 and key[-n:] in _ENDING_SET]
