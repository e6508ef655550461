"""Feed parsing: every format, encodings, JSON Feed adapter, entity attacks, entry identity, real feeds."""

from __future__ import annotations

import json
import resource
from datetime import UTC, datetime

import pytest

from services.fetcher.feedbounds import refuse_entity_declarations
from services.fetcher.parse import FeedParseError, entry_identity, parse_feed
from tests.conftest import shared_data

URL = "https://site.example/feed"


def rss(items: str, extra: str = "", encoding: str = "utf-8") -> str:
    return (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>T</title>{extra}'
            f"{items}</channel></rss>")


# --- formats --------------------------------------------------------------------------------------

def test_rss20_with_guid_ttl_and_dates() -> None:
    doc = rss('<item><title>A</title><link>https://site.example/a</link><guid isPermaLink="false">g-1</guid>'
              "<pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate></item>", extra="<ttl>90</ttl>")
    feed = parse_feed(doc.encode(), URL)
    assert feed.format == "rss20" and feed.title == "T" and feed.ttl_seconds == 90 * 60
    (entry,) = feed.entries
    assert (entry.entry_id, entry.link, entry.title) == ("g-1", "https://site.example/a", "A")
    assert entry.published_at == datetime(2025, 1, 6, 10, tzinfo=UTC)


def test_rss091_and_rss10_rdf() -> None:
    rss091 = ('<rss version="0.91"><channel><title>Old</title><item><title>x</title>'
              "<link>http://old.example/1</link></item></channel></rss>")
    assert parse_feed(rss091.encode(), URL).format == "rss091u"
    rdf = ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
           '<channel rdf:about="http://r.example/"><title>R</title></channel>'
           '<item rdf:about="http://r.example/1"><title>one</title><link>http://r.example/1</link></item></rdf:RDF>')
    feed = parse_feed(rdf.encode(), URL)
    assert feed.format == "rss10" and feed.entries[0].link == "http://r.example/1"


def test_atom10_xml_base_resolves_relative_links() -> None:
    doc = ('<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example/posts/"><title>B</title>'
           '<entry><id>urn:x:1</id><title>One</title><link href="one.html"/>'
           "<updated>2025-01-02T03:04:05Z</updated></entry></feed>")
    feed = parse_feed(doc.encode(), URL)
    assert feed.format == "atom10"
    assert feed.entries[0].link == "https://blog.example/posts/one.html"
    assert feed.entries[0].entry_id == "urn:x:1"


def test_atom03() -> None:
    doc = ('<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Old atom</title>'
           '<entry><id>tag:a,2004:1</id><title>e</title><link rel="alternate" href="http://a.example/e"/>'
           "<issued>2004-01-01T00:00:00Z</issued></entry></feed>")
    feed = parse_feed(doc.encode(), URL)
    assert feed.format == "atom03" and feed.entries[0].link == "http://a.example/e"


def test_relative_rss_link_resolves_against_feed_url() -> None:
    feed = parse_feed(rss("<item><title>r</title><link>/news/1</link></item>").encode(), URL)
    assert feed.entries[0].link == "https://site.example/news/1"


def test_not_a_feed_and_empty_are_clear_errors() -> None:
    with pytest.raises(FeedParseError, match="not a feed"):
        parse_feed(b"<html><body>hello</body></html>", URL)
    with pytest.raises(FeedParseError, match="empty"):
        parse_feed(b"  \n", URL)


def test_entry_without_link_is_counted_not_silently_dropped() -> None:
    feed = parse_feed(rss("<item><title>no link</title></item><item><link>https://s.example/2</link></item>")
                      .encode(), URL)
    assert len(feed.entries) == 1 and feed.skipped == 1


# --- encodings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, text", [
    ("iso-8859-1", "Café crème à Noël"),
    ("windows-1251", "Новости дня"),
    ("koi8-r", "Привет, мир"),
])
def test_declared_legacy_encodings_give_correct_text(encoding: str, text: str) -> None:
    doc = rss(f"<item><title>{text}</title><link>https://s.example/1</link></item>", encoding=encoding)
    feed = parse_feed(doc.encode(encoding), URL)
    assert feed.entries[0].title == text


def test_charset_from_http_header() -> None:
    doc = ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>Новости</title>'
           "<link>https://s.example/1</link></item></channel></rss>")
    feed = parse_feed(doc.encode("windows-1251"), URL, "application/rss+xml; charset=windows-1251")
    assert feed.entries[0].title == "Новости"


def test_real_iso_8859_1_feeds_declared_and_undeclared() -> None:
    declared = parse_feed(shared_data("feeds", "miniflux__v2__encoding_ISO-8859-1.xml").read_bytes(), URL)
    assert any("ü" in (e.title or "") or "ä" in (e.title or "") or "ö" in (e.title or "") for e in declared.entries)
    undeclared = parse_feed(shared_data("feeds", "miniflux__v2__no_encoding_ISO-8859-1.xml").read_bytes(), URL)
    assert undeclared.entries[0].title == "Perturbateurs endocriniens : quels effets sur le cerveau ?"
    assert any("é" in (e.title or "") for e in undeclared.entries)
    assert all("\ufffd" not in (e.title or "") for e in undeclared.entries)


# --- JSON Feed ------------------------------------------------------------------------------------

def jsonfeed(items: list[object], version: str = "1.1", **top: object) -> bytes:
    return json.dumps({"version": f"https://jsonfeed.org/version/{version}", "title": "J", "items": items,
                       **top}).encode()


def test_json_feed_11_authors_tags_and_content() -> None:
    feed = parse_feed(jsonfeed([{
        "id": "1", "url": "https://j.example/1", "title": "One", "content_html": "<p>x</p>",
        "date_published": "2025-02-03T04:05:06Z", "authors": [{"name": "Ann"}], "tags": ["a", 3],
    }]), URL)
    (entry,) = feed.entries
    assert feed.format == "json11"
    assert (entry.entry_id, entry.title, entry.content, entry.authors, entry.categories) == (
        "1", "One", "<p>x</p>", ["Ann"], ["a"])
    assert entry.published_at == datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)


def test_json_feed_10_author_object_int_id_relative_url_and_feed_author() -> None:
    feed = parse_feed(jsonfeed([
        {"id": 7, "url": "/p/7", "content_text": "t", "author": {"name": "Bob"}},
        {"id": 8, "external_url": "https://else.example/8"},
        {"id": 9},  # no URL: skipped and counted
        "junk",
    ], version="1", home_page_url="https://j.example/", author={"name": "Feed Author"},
        feed_url="https://j.example/feed.json"), URL)
    assert feed.format == "json1" and feed.skipped == 2 and feed.site_url == "https://j.example/"
    first, second = feed.entries
    assert (first.entry_id, first.link, first.authors, first.content) == ("7", "https://j.example/p/7", ["Bob"], "t")
    assert second.link == "https://else.example/8" and second.authors == ["Feed Author"]


@pytest.mark.parametrize("body, message", [
    (b"{not json", "invalid JSON"),
    (b'{"items": []}', "not a JSON Feed"),
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}', "no 'items' list"),
    (b"[" * 100_000 + b"]" * 100_000, "invalid JSON|not a JSON Feed"),
    (b'\xff\xfe{"bad', "invalid JSON"),
])
def test_bad_json_feeds_are_clear_errors(body: bytes, message: str) -> None:
    with pytest.raises(FeedParseError, match=message):
        parse_feed(body, URL, "application/feed+json")


def test_json_feed_bad_field_types_are_ignored() -> None:
    feed = parse_feed(jsonfeed([{"id": None, "url": "https://j.example/1", "title": 5, "summary": [],
                                 "date_published": "yesterday", "tags": "x", "authors": "nobody"}]), URL)
    entry = feed.entries[0]
    assert entry.title is None and entry.summary is None and entry.published_at is None
    assert entry.entry_id == "https://j.example/1"


# --- entity attacks -------------------------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">\n'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10))
    + ']>\n<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
    "<link>http://a.example/1</link></item></channel></rss>"
)


def test_billion_laughs_is_refused_without_exhausting_memory() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(FeedParseError, match="entity"):
        parse_feed(BILLION_LAUGHS.encode(), URL)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 50_000  # expanded, it would be ~3 GB


@pytest.mark.parametrize("decl", [
    '<!ENTITY x SYSTEM "file:///etc/passwd">',
    '<!ENTITY % p SYSTEM "http://evil.example/x.dtd">',
    '<!ENTITY big "' + "x" * 5000 + '">',
])
def test_external_and_text_entities_are_refused(decl: str) -> None:
    doc = f'<?xml version="1.0"?><!DOCTYPE rss [{decl}]><rss version="2.0"><channel><title>t</title></channel></rss>'
    with pytest.raises(FeedParseError, match="refused"):
        parse_feed(doc.encode(), URL)


def test_character_reference_entities_of_old_rss_are_allowed() -> None:
    refuse_entity_declarations(b'<!DOCTYPE rss [<!ENTITY nbsp "&#160;"> <!ENTITY copy "&#xA9;">]><rss/>')
    refuse_entity_declarations(b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
                               b'"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss/>')


# --- identity -------------------------------------------------------------------------------------

def test_identity_prefers_stable_guid_then_link_then_hash() -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    assert entry_identity("g1", "https://a/1", "t", when, URL, {"g1"}) == "g1"
    assert entry_identity("g1", "https://a/1", "t", when, URL, set()) == "https://a/1"  # repeated guid
    assert entry_identity(URL, "https://a/1", "t", when, URL, {URL}) == "https://a/1"  # the feed's own URL
    hashed = entry_identity(None, None, "t", when, URL, set())
    assert hashed.startswith("sha256:") and hashed == entry_identity("", None, "t", when, URL, set())
    assert hashed != entry_identity(None, None, "t", None, URL, set())


def test_repeated_guids_fall_back_to_links() -> None:
    doc = rss("<item><guid>same</guid><link>https://s.example/1</link></item>"
              "<item><guid>same</guid><link>https://s.example/2</link></item>")
    ids = [e.entry_id for e in parse_feed(doc.encode(), URL).entries]
    assert ids == ["https://s.example/1", "https://s.example/2"]


# --- the real feeds -------------------------------------------------------------------------------

def test_every_real_feed_gives_items_or_a_clear_error() -> None:
    folder = shared_data("feeds")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    assert len(files) >= 24
    with_items = 0
    for path in files:
        try:
            feed = parse_feed(path.read_bytes(), "https://example.org/feed")
        except FeedParseError as exc:
            assert str(exc), path
            continue
        with_items += bool(feed.entries)
        for entry in feed.entries:
            assert entry.link.startswith("http") and entry.entry_id
    assert with_items >= 20


def test_feed_links_by_relation_are_absolute() -> None:
    rss = (b'<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title>'
           b'<atom:link rel="hub" href="http://hub.example/"/><atom:link rel="self" href="/feed.xml"/>'
           b'<item><link>http://a.example/1</link><title>x</title></item></channel></rss>')
    assert parse_feed(rss, "http://a.example/feed").links == {"hub": "http://hub.example/",
                                                              "self": "http://a.example/feed.xml"}
    atom = (b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><link rel="self" href="http://a.example/f"/>'
            b'<link rel="prev-archive" href="/arch/2"/><link rel="next" href="?page=2"/>'
            b'<entry><id>1</id><link href="http://a.example/1"/><title>x</title></entry></feed>')
    assert parse_feed(atom, "http://a.example/f").links == {
        "self": "http://a.example/f", "prev-archive": "http://a.example/arch/2", "next": "http://a.example/f?page=2"}
    json_feed = (b'{"version":"https://jsonfeed.org/version/1.1","feed_url":"http://a/f.json","next_url":"/p2",'
                 b'"hubs":[{"type":"WebSub","url":"http://h/"}],"items":[]}')
    assert parse_feed(json_feed, "http://a/f.json").links == {"self": "http://a/f.json", "next": "http://a/p2",
                                                              "hub": "http://h/"}
