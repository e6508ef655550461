"""The feed's own options on the extractor's side (issue 17.5): its tags reach the article, its language
hint the language detection (ahead of the page's ``<html lang>``, which templates often leave at "en")."""

from __future__ import annotations

from datetime import UTC, datetime

from services.common.messages import PageMessage
from services.extractor.pipeline import analyse, build_article
from tests.extractor.test_extract import entry

URL = "https://nyheder.example/a/1"
# Danish that the model takes for Norwegian (no 0.54, da 0.44): the case a feed's language hint is for.
DANISH = "Politiet fik en melding om brand i en bolig natten til søndag. Ingen personer kom til skade."
HTML = (f'<html lang="en"><head><title>Brand i bolig</title></head><body><article><h1>Brand i bolig</h1>'
        f"{f'<p>{DANISH}</p>' * 2}</article></body></html>")


def message(**options: object) -> PageMessage:
    return PageMessage(id="p1", url=URL, final_url=URL, status=200, html=HTML,
                       fetched_at=datetime(2025, 1, 6, tzinfo=UTC), entry=entry(link=URL, **options))


def test_the_feeds_tags_reach_the_article() -> None:
    page = message(tags=["politics", "denmark"])
    analysis = analyse(page)
    assert build_article(page, analysis.extracted, analysis.tags).tags == ["politics", "denmark"]
    plain = message()
    assert build_article(plain, analyse(plain).extracted, analyse(plain).tags).tags == []


def test_the_feeds_language_hint_settles_an_unsure_detection() -> None:
    assert analyse(message()).tags.language == "no"  # the page says "en", the model leans Norwegian
    hinted = message(language_hint="da")
    analysis = analyse(hinted)
    assert analysis.tags.language == "da"
    assert build_article(hinted, analysis.extracted, analysis.tags).language == "da"
