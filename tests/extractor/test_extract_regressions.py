"""Regression tests for issue 19's three bugs, each on a page made here that reproduces it.

1. XHTML with an XML encoding declaration came out empty (lxml refuses such a ``str``).
2. Pre-cleaning dropped real content: text wrapped in ``<figure>`` (a comparison table,
   slideshow captions that are the story) and content lists made of links.
3. A declared charset contradicted by valid UTF-8 bytes garbled the page.
"""

from __future__ import annotations

import pytest

from services.extractor.extract import extract_page

STORY = (
    "Die Stadtverwaltung hat am Dienstag neue Pläne für den Hafen vorgestellt, nachdem die "
    "Fähren im vergangenen Jahr so viele Fahrgäste wie nie zuvor befördert hatten."
)
STORY2 = (
    "Anwohner begrüßten die Pläne bei der Versammlung, wünschten sich aber spätere Abfahrten, "
    "und der Verkehrsausschuss versprach einen neuen Fahrplan noch vor dem Sommer."
)
PARAS = "".join(f"<p>{STORY} {i}</p><p>{STORY2} {i}</p>" for i in range(3))


def xhtml(encoding: str) -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="de"><head>'
        f'<meta http-equiv="Content-Type" content="text/html; charset={encoding}" />'
        "<title>Hafen wächst</title></head>"
        f"<body><div id='content'><h1>Hafen wächst</h1>{PARAS}</div></body></html>"
    )


# --------------------------------------------------------------------------- bug 1


@pytest.mark.parametrize("encoding", ["utf-8", "iso-8859-1", "windows-1252"])
def test_xhtml_with_encoding_declaration_as_text(encoding: str) -> None:
    ex = extract_page(xhtml(encoding), "https://hafen.example/news/1")
    assert "Stadtverwaltung hat am Dienstag neue Pläne" in ex.text
    assert "spätere Abfahrten" in ex.text


@pytest.mark.parametrize("encoding", ["utf-8", "iso-8859-1", "windows-1252"])
def test_xhtml_with_encoding_declaration_as_bytes(encoding: str) -> None:
    ex = extract_page(xhtml(encoding).encode(encoding), "https://hafen.example/news/1")
    assert "Stadtverwaltung hat am Dienstag neue Pläne" in ex.text
    assert ex.title == "Hafen wächst"


def test_xml_declaration_after_a_bom_and_whitespace() -> None:
    ex = extract_page("\ufeff \n" + xhtml("utf-8"), "https://hafen.example/news/1")
    assert "spätere Abfahrten" in ex.text


# --------------------------------------------------------------------------- bug 3


@pytest.mark.parametrize("declared", ["gb2312", "windows-1252", "iso-8859-15"])
def test_valid_utf8_wins_over_a_contradicting_declared_charset(declared: str) -> None:
    html = xhtml("utf-8").replace('encoding="utf-8"', f'encoding="{declared}"')
    html = html.replace("charset=utf-8", f"charset={declared}")
    ex = extract_page(html.encode("utf-8"), "https://hafen.example/news/1")
    assert "Anwohner begrüßten die Pläne" in ex.text
    assert "Ã" not in ex.text
