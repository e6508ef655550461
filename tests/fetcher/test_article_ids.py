"""The poller's article ids (``article_id_of_normalised`` of a parsed link) are ``article_id``'s, byte for byte.

An entry's link is already ``normalize_url`` output (services.fetcher.parse, sitemaps); the poller hashes
it without normalising again where that provably changes nothing. ``normalize_url`` is not idempotent
(courlan unescapes HTML entities, also ``&sect`` in ``?id=1&section=a``), so the ids are compared on
every link of the shared feeds, of the other fetcher tests' feed documents, on links made to break the
shortcut, and on a few thousand links built from awkward parts.
"""

from __future__ import annotations

import importlib
import random
from pathlib import Path

import pytest

from services.common.urls import BadURLError, article_id, article_id_of_normalised, normalize_url
from services.fetcher.parse import FeedParseError, parse_feed
from tests.conftest import shared_data

AWKWARD = [
    "http://x.example/?section=news&id=1",  # -> ?id=1&section=news, and &sect is an entity
    "http://x.example/?region=us&a=1",  # &reg
    "http://x.example/?notify=1&b=2&copy=3&para=4&lt=5&amp=6&times=7&currency=8",
    "http://x.example/a?id=1&amp;b=2",
    "http://x.example/a?q=%26sect%3B&b=&c=1",
    "http://x.example/a&sect/b?x=1",
    "http://xn--bcher-kva.example/a?b=1&c=2",
    "http://BÜCHER.example/a",
    "http://user:pw@x.example:80/a?b=1",
    "https://X.Example:443//a//b/../c/./d?utm_source=rss&fbclid=1&z=2&a=1#frag",
    "http://x.example/../../a",
    "http://x.example/a%zz/b%2F?q=%zz&r=%E9&s=a+b&t=%7E",
    "http://x.example/a;b=c?d=e;f=g",
    "http://x.example?b=2",
    "http://x.example/a?=1&b",
    "http://127.0.0.1:8080/x/y?b=2&a=1",
    "http://[::1]:8080/x",
    "http://x.example/p%C3%A9ch%C3%A9?q=caf%C3%A9",
    "http://x.example/péché?q=café&é=1",
    "http://x.example/a?a=1&a=2&a=0",
]


def assert_same_ids(links: list[str]) -> None:
    for link in links:
        assert article_id_of_normalised(link) == article_id(link), link


@pytest.mark.parametrize("raw", AWKWARD)
def test_links_made_to_break_the_shortcut_keep_their_ids(raw: str) -> None:
    assert_same_ids([normalize_url(raw)])


def test_query_keys_that_start_like_an_entity_name_are_kept() -> None:
    """courlan unescapes legacy entities without ';' in a string (``&sect`` of ``&section=``): the
    fetcher fetched ``?id=1%C2%A7ion%3Dnews``. Only complete references are unescaped now."""
    for key in ("section", "region", "copy", "not", "para", "lt", "gt", "amp"):
        link = normalize_url(f"http://x.example/?{key}=news&id=1")
        assert sorted(link.split("?", 1)[1].split("&")) == sorted(["id=1", f"{key}=news"])
        assert normalize_url(link) == link and article_id_of_normalised(link) == article_id(link)
    assert normalize_url("http://x.example/?a=1&amp;b=2") == "http://x.example/?a=1&b=2"  # a double-escaped feed


def test_a_link_holding_a_reference_once_decoded_is_a_fixed_point() -> None:
    for raw in ("http://x.example/?q=a%26amp%3Bb", "http://x.example/a&amp;amp;b"):
        link = normalize_url(raw)
        assert normalize_url(link) == link and article_id_of_normalised(link) == article_id(link)


def test_links_built_from_awkward_parts_keep_their_ids() -> None:
    rng = random.Random(20)
    hosts = ["x.example", "X.EXAMPLE:80", "x.example:8080", "xn--bcher-kva.example", "bücher.example", "u@x.example"]
    segments = ["a", "..", ".", "", "b%2F", "%zz", "é", "a&amp;b", "a;b", "x=y", "~t", "sect", "&not"]
    keys = ["id", "a", "section", "region", "not", "copy", "para", "amp", "utm_source", "fbclid", "q", "é", "lt;"]
    values = ["1", "", "a+b", "%26", "%zz", "&sect", "x=y", "é", "%E9", "a b"]
    links = []
    for _ in range(3000):
        path = "/".join(rng.choice(segments) for _ in range(rng.randint(0, 4)))
        query = "&".join(f"{rng.choice(keys)}={rng.choice(values)}" for _ in range(rng.randint(0, 4)))
        raw = f"{rng.choice(['http', 'HTTPS'])}://{rng.choice(hosts)}/{path}" + (f"?{query}" if query else "")
        raw += rng.choice(["", "#f", "#a=1&utm_source=x"])
        try:
            links.append(normalize_url(raw))
        except BadURLError:
            continue
    assert len(links) > 2500
    assert_same_ids(links)


def _entry_links(body: bytes, url: str) -> list[str]:
    try:
        return [e.link for e in parse_feed(body, url, None).entries]
    except FeedParseError:
        return []


def test_every_link_of_the_real_feeds_keeps_its_id() -> None:
    folder = shared_data("feeds")
    links = [link for path in sorted(p for p in folder.iterdir() if p.is_file())
             for link in _entry_links(path.read_bytes(), f"https://feeds.example/{path.name}")]
    assert len(links) >= 200
    assert_same_ids(links)


def test_every_link_of_the_other_fetcher_tests_feeds_keeps_its_id() -> None:
    links = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        module = importlib.import_module(f"tests.fetcher.{path.stem}")
        for value in vars(module).values():
            body = value.encode() if isinstance(value, str) else value
            if isinstance(body, bytes) and any(tag in body[:400] for tag in (b"<rss", b"<feed", b"<rdf:RDF", b"<urlset")):
                links += _entry_links(body, "https://site.example/news/feed.xml")
    assert len(links) >= 2  # most of their documents are templates (a local server's port), not parsed here
    assert_same_ids(links)
