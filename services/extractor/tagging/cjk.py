"""Chinese, Japanese and Korean text (issue 18): dictionary recognition without word segmentation.

The text is scanned left to right for the longest name the gazetteer knows in these scripts
(:attr:`Gazetteer.cjk`: country names from pycountry's catalogues, big cities' GeoNames alternate
names) or a known organisation (:data:`multilingual_more.CJK_ORGS`). People are not recognised.
"""

from __future__ import annotations

import re

from .gazetteer import GazEntry, Gazetteer
from .multilingual_more import CJK_ORGS

_MAX_LEN = 8


_CJK_RUN = re.compile("[\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af]+")
CJK_LANGS = frozenset(("zh", "ja", "ko"))


def cjk_names(text: str, gaz: Gazetteer) -> tuple[list[tuple[int, int, list[GazEntry]]], list[tuple[int, int, str]]]:
    """Places (span, gazetteer entries) and organisations (span, canonical name), longest match first."""
    places: list[tuple[int, int, list[GazEntry]]] = []
    orgs: list[tuple[int, int, str]] = []
    for run in _CJK_RUN.finditer(text):
        i, n = run.start(), run.end()
        while i < n - 1:
            for size in range(min(_MAX_LEN, n - i), 1, -1):
                sub = text[i : i + size]
                org = CJK_ORGS.get(sub)
                if org is not None:
                    orgs.append((i, i + size, org))
                    break
                entries = gaz.cjk.get(sub)
                if entries:
                    places.append((i, i + size, entries))
                    break
            else:
                i += 1
                continue
            i += size
    return places, orgs
