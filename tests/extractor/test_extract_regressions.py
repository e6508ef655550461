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


# --------------------------------------------------------------------------- bug 2

EN = (
    "The council compared the offers of every ferry builder in the region and published the "
    "full scores on Tuesday, saying the cheapest bid was not the one it would choose."
)


def en_page(body: str) -> str:
    prose = "".join(f"<p>{EN} ({i})</p>" for i in range(4))
    return (
        "<html><head><title>Ferry bids compared</title></head><body><article>"
        f"<h1>Ferry bids compared</h1>{prose}{body}</article></body></html>"
    )


def test_table_wrapped_in_a_figure_is_kept() -> None:
    rows = "".join(
        f"<tr><td>Builder {i}</td><td>Hull {i}</td><td>Delivery in {i + 10} months</td>"
        f"<td>Range {i * 40 + 200} nautical miles with a full load</td></tr>"
        for i in range(40)
    )
    table = f"<figure class='table'><table><tbody>{rows}</tbody></table><figcaption>Scores</figcaption></figure>"
    ex = extract_page(en_page(table), "https://harbour.example/bids")
    assert "Delivery in 49 months" in ex.text
    assert "Range 1760 nautical miles" in ex.text


def test_slideshow_captions_that_are_the_story_are_kept() -> None:
    slides = "".join(
        f"<figure><img src='/s{i}.jpg'><figcaption>Slide {i}: {STORY2}</figcaption></figure>"
        for i in range(12)
    )
    page = (
        "<html><head><title>Bilder vom Hafen</title></head><body><article><h1>Bilder vom Hafen</h1>"
        f"<p>Ein Rundgang in Bildern.</p>{slides}</article></body></html>"
    )
    ex = extract_page(page, "https://hafen.example/bilder")
    assert "Slide 3: Anwohner begrüßten" in ex.text
    assert "Slide 11:" in ex.text


def test_photo_with_a_short_caption_is_still_dropped() -> None:
    photo = "<figure><img src='/f.jpg'><figcaption>The new ferry at dawn. Photo: John Roe/AP</figcaption></figure>"
    ex = extract_page(en_page(photo), "https://harbour.example/bids")
    assert "ferry at dawn" not in ex.text


def test_content_list_of_outside_links_in_the_prose_is_kept() -> None:
    reports = {
        "transport.gov.example/r": "National ferry fleet review 2024: costs, safety records and fuel use of 212 vessels",
        "www.maritime-institute.example/h": "Hull materials and fuel use in cold water: a study of aluminium and steel ferries",
        "survey.example/t": "Regional timetable survey: what 4,000 passengers said about evening sailings",
        "port-authority.example/p": "Port authority capacity plan for the next decade, with berth-by-berth figures",
    }
    items = "".join(f"<li><a href='https://{href}'>{title}</a></li>" for href, title in reports.items())
    sources = f"<p>The council relied on these reports, which it published with its decision:</p><ul>{items}</ul>"
    ex = extract_page(en_page(sources), "https://harbour.example/bids")  # (trafilatura keeps it too)
    assert "National ferry fleet review 2024" in ex.text
    assert "what 4,000 passengers said" in ex.text


def test_related_articles_list_of_the_site_itself_is_still_dropped() -> None:
    related = (
        "<ul><li><a href='https://harbour.example/news/fares'>Ferry fares to rise next year</a></li>"
        "<li><a href='/news/pier'>New pier opens in the old harbour</a></li>"
        "<li><a href='https://www.harbour.example/news/parking'>Council debates parking rules</a></li></ul>"
    )
    ex = extract_page(en_page(related), "https://harbour.example/bids")
    assert "Ferry fares to rise" not in ex.text
    assert "New pier opens" not in ex.text
