"""The lxml fast path gives exactly feedparser's entries, or steps aside (services.fetcher.fastparse).

Every document here is parsed twice, ``parse_feed(..., fast=False)`` (feedparser only) and
``parse_feed(...)`` (fast path first), and the two ParsedFeeds must be equal: entries field by
field (links, ids, titles, summaries, content, authors, dates, categories, image, media), feed
title, site URL, links by relation, TTL, warning, skipped. Documents the fast path must read
itself are marked so, so that a path that always stepped aside would fail too.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from services.fetcher.fastparse import fast_parse
from services.fetcher.parse import FeedParseError, ParsedFeed, parse_feed
from tests.conftest import shared_data

URL = "https://site.example/news/feed.xml"
CONTENT_TYPES = (None, "application/rss+xml", "application/atom+xml", "application/xml; charset=utf-8",
                 "text/xml; charset=utf-8", "text/xml", "text/html; charset=utf-8", "application/xml; charset=latin-1")


def both(body: bytes, content_type: str | None, url: str = URL) -> tuple[ParsedFeed | str, ParsedFeed | str]:
    out: list[ParsedFeed | str] = []
    for fast in (False, True):
        try:
            out.append(parse_feed(body, url, content_type, fast=fast))
        except FeedParseError as exc:
            out.append(f"error: {exc}")
    return out[0], out[1]


def assert_same(body: bytes, content_type: str | None = None, url: str = URL) -> None:
    slow, fast = both(body, content_type, url)
    if isinstance(slow, ParsedFeed) and isinstance(fast, ParsedFeed):
        for a, b in zip(slow.entries, fast.entries, strict=True):
            assert a.model_dump() == b.model_dump()
    assert slow == fast


def rss(items: str, channel: str = "<title>Channel</title><link>https://site.example/</link>",
        decl: str = '<?xml version="1.0" encoding="utf-8"?>', ns: str = "") -> bytes:
    return (f'{decl}<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom"{ns}>'
            f"<channel>{channel}{items}</channel></rss>").encode()


def atom(entries: str, head: str = '<title>Atom feed</title><link href="/"/><id>urn:x</id>') -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">{head}{entries}'
            "</feed>").encode()


ITEM = ("<item><title>A story</title><link>https://site.example/a</link><guid isPermaLink=\"false\">g-1</guid>"
        "<description>Plain words &gt; more words</description><pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate>"
        "<category>news</category><category>news</category><category>world</category>"
        "<dc:creator>Jane Doe</dc:creator><dc:creator></dc:creator></item>")

FAST_DOCS = {  # the fast path reads these itself, with feedparser's result
    "rss basic": rss(ITEM),
    "rss relative link and permalink guid": rss(
        "<item><title>R</title><link>/r/1?x=1</link><guid>/r/1</guid></item>"
        "<item><title>only guid</title><guid>https://site.example/g/2</guid></item>"
        "<item><guid>relative/3</guid><title>guid first</title><link>https://site.example/l/3</link></item>"
        "<item><title>no link at all</title><guid isPermaLink=\"false\">x</guid></item>"),
    "rss offsets and content": rss(
        "<item><title>T</title><link>https://site.example/t</link><pubDate>Tue, 31 Dec 2024 23:30:00 -0230"
        "</pubDate><content:encoded>Longer plain content</content:encoded><dc:date>2025-01-01T00:00:00+01:00"
        "</dc:date></item><item><title>U</title><link>https://site.example/u</link><pubDate>01 Feb 2025 "
        "08:00:00 +0100</pubDate><content:encoded>only content</content:encoded></item>"),
    "rss enclosure and comments": rss(
        '<item><title>Ep</title><link>https://site.example/ep</link><enclosure url="/audio/ep.mp3" '
        'length="12345" type="Audio/MPEG"/><comments>https://site.example/ep#c</comments></item>'
        '<item><title>Pic</title><link>https://site.example/pic</link><enclosure url="https://cdn.example/p.jpg" '
        'type="image/jpeg" length="0"/></item>'),
    "rss channel links ttl": rss(ITEM, channel=(
        '<title>C</title><atom:link href="https://site.example/feed" rel="self" type="application/rss+xml"/>'
        '<link>https://site.example/</link><atom:link rel="hub" href="https://hub.example/"/>'
        '<atom:link rel="next" href="/feed?page=2"/><ttl>30</ttl><description>d</description>'
        "<language>en</language><image><url>https://site.example/i.png</url><title>C</title>"
        "<link>https://site.example/</link></image>")),
    "rss unicode and mojibake": rss(
        "<item><title>Ünïcode — “quoted” Ã© \u0645\u0631\u062d\u0628\u0627</title><link>https://site.example/"
        "%C3%BC</link><description>Ã¼ber</description><author>Jos\u00e9 Garc\u00eda</author></item>"),
    "rss no declaration, whitespace": b"\n  " + rss(ITEM, decl=""),
    "atom basic": atom(
        '<entry><title>E1</title><link href="/e/1"/><id>https://site.example/e/1</id>'
        "<updated>2025-01-06T10:00:00Z</updated><published>2025-01-05T09:00:00+02:00</published>"
        "<summary>short</summary><content type=\"text\">a &lt;b&gt; literal &amp; text</content>"
        "<author><name>Ann</name><email>ann@site.example</email></author><author><name>Bo</name></author>"
        '<category term="world" scheme="https://site.example/s"/><category term="world" '
        'scheme="https://site.example/s"/><category term="eu"/></entry>'
        '<entry><id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id><title type="html">Plain html</title>'
        '<link rel="alternate" type="text/html" href="https://site.example/e/2"/>'
        '<link rel="enclosure" type="image/png" href="https://cdn.example/2.png" length="99"/>'
        "<updated>2025-01-06T10:00:00-05:00</updated><content type=\"html\">just text</content></entry>"
        '<entry><title>only id</title><id>/e/3</id><updated>2025-01-06T10:00:00Z</updated></entry>'),
    "atom feed links": atom(
        '<entry><title>E</title><link href="https://site.example/e"/><id>e</id></entry>',
        head='<title type="text">T</title><link rel="self" href="https://site.example/atom"/>'
             '<link rel="hub" href="https://hub.example/"/><link href="https://site.example/" rel="alternate"/>'
             '<link rel="prev-archive" href="/archive/1"/><id>urn:f</id><updated>2025-01-06T10:00:00Z</updated>'
             "<author><name>F</name></author>"),
    "rss media": rss(
        '<item><title>M</title><link>https://site.example/m</link><media:thumbnail url="/t/1.jpg" width="80"/>'
        '<media:content url="https://cdn.example/v.mp4" type="Video/MP4" fileSize="1000" duration="61.5"/>'
        '<media:group><media:content url="https://cdn.example/a.jpg" medium="image"/><media:content '
        'url="https://cdn.example/b.jpg" type="image/jpeg"/><media:thumbnail url="https://cdn.example/t2.jpg"/>'
        "</media:group></item><item><title>N</title><link>https://site.example/n</link><media:content "
        'url="https://cdn.example/n.png"/><enclosure url="https://cdn.example/n.png" type="image/png"/></item>',
        ns=' xmlns:media="http://search.yahoo.com/mrss/"'),
    "atom media": atom('<entry><title>M</title><link href="/m"/><id>m</id><media:thumbnail '
                       'xmlns:media="http://search.yahoo.com/mrss/" url="https://cdn.example/t.jpg"/></entry>'),
    "atom feed id before its link": atom('<entry><id>urn:e</id><title>E</title><link href="https://n.example/e"/>'
                                         "</entry>", head="<title>Archive</title><id>urn:f</id>"
                                         '<link rel="prev-archive" href="/archive/3.xml"/>'),
}

FALLBACK_DOCS = {  # the fast path steps aside; feedparser's result stands
    "html description": rss("<item><title>H</title><link>https://site.example/h</link><description>"
                            "<![CDATA[<p>Hello <a href='/x'>link</a><script>x()</script></p>]]></description></item>"),
    "entity in description": rss("<item><title>H</title><link>https://site.example/h</link>"
                                 "<description>AT&amp;T &amp;amp; co</description></item>"),
    "html-looking title": rss("<item><title>&lt;b&gt;Bold&lt;/b&gt;</title><link>https://site.example/b</link></item>"),
    "e-mail author": rss("<item><title>M</title><link>https://site.example/m</link>"
                         "<author>jane@site.example (Jane)</author></item>"),
    "odd date": rss("<item><title>D</title><link>https://site.example/d</link><pubDate>6 Jan 2025 10:00 EST"
                    "</pubDate></item>"),
    "category domain": rss("<item><title>C</title><link>https://site.example/c</link>"
                           '<category domain="https://s.example">x</category></item>'),
    "media rss title": rss("<item><title>M</title><link>https://site.example/m</link><media:content "
                           'url="https://cdn.example/t.jpg"><media:title>x</media:title></media:content></item>',
                           ns=' xmlns:media="http://search.yahoo.com/mrss/"'),
    "media rss keywords": rss("<item><title>M</title><link>https://site.example/m</link><media:keywords>a, b"
                              "</media:keywords></item>", ns=' xmlns:media="http://search.yahoo.com/mrss/"'),
    "xml:base": atom('<entry xml:base="https://other.example/dir/"><title>B</title><link href="x"/><id>b</id>'
                     "</entry>"),
    "latin-1": rss(ITEM, decl='<?xml version="1.0" encoding="iso-8859-1"?>'),
    "C1 control": rss("<item><title>x\u0085y</title><link>https://site.example/c1</link></item>"),
    "amp in link": rss("<item><title>Q</title><link>https://site.example/q?a=1&amp;b=2</link></item>"),
    "atom xhtml": atom('<entry><title>X</title><link href="/x"/><id>x</id><content type="xhtml">'
                       '<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div></content></entry>'),
    "atom author email only": atom("<entry><title>E</title><link href=\"/e\"/><id>e</id><author>"
                                   "<email>e@site.example</email></author></entry>"),
    "atom fractional seconds": atom('<entry><title>F</title><link href="/f"/><id>f</id>'
                                    "<updated>2025-01-06T10:00:00.75Z</updated></entry>"),
    "rss 0.91": rss(ITEM).replace(b'version="2.0"', b'version="0.91"'),
    "doctype after a long comment": (b'<?xml version="1.0" encoding="utf-8"?><!-- ' + b"x" * 2000 + b' -->'
                                     b'<!DOCTYPE rss [<!ENTITY nbsp "&#160;">]><rss version="2.0"><channel>'
                                     b"<title>T&nbsp;x</title><item><title>a&nbsp;b</title>"
                                     b"<link>https://site.example/a</link></item></channel></rss>"),
    "not well-formed": rss(ITEM).replace(b"</title>", b"", 1),
    "unknown element": rss("<item><title>U</title><link>https://site.example/u</link><foo>bar</foo></item>"),
    "source element": rss("<item><title>S</title><link>https://site.example/s</link>"
                          '<source url="https://other.example/rss">Other</source></item>'),
}


@pytest.mark.parametrize("name", sorted(FAST_DOCS))
def test_the_fast_path_reads_plain_feeds_exactly_like_feedparser(name: str) -> None:
    body = FAST_DOCS[name]
    assert fast_parse(body, URL, None) is not None, "the fast path should read this document itself"
    for content_type in CONTENT_TYPES:
        assert_same(body, content_type)
    assert_same(body, None, url="http://other.example:8080/deep/path/feed")


@pytest.mark.parametrize("name", sorted(FALLBACK_DOCS))
def test_what_the_fast_path_cannot_be_sure_of_goes_to_feedparser(name: str) -> None:
    body = FALLBACK_DOCS[name]
    assert fast_parse(body, URL, None) is None
    for content_type in CONTENT_TYPES:
        assert_same(body, content_type)


def test_every_real_feed_is_parsed_identically() -> None:
    folder = shared_data("feeds")
    paths = sorted(p for p in folder.iterdir() if p.is_file())
    assert len(paths) >= 20
    for path in paths:
        for content_type in (None, "application/rss+xml", "application/atom+xml", "text/xml; charset=utf-8"):
            assert_same(path.read_bytes(), content_type, url=f"https://feeds.example/{path.name}")


def test_the_feed_documents_of_the_other_fetcher_tests_are_parsed_identically() -> None:
    found = 0
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        module = importlib.import_module(f"tests.fetcher.{path.stem}")
        for value in vars(module).values():
            body = value.encode() if isinstance(value, str) else value
            if isinstance(body, bytes) and any(tag in body[:400] for tag in (b"<rss", b"<feed", b"<rdf:RDF")):
                found += 1
                for content_type in (None, "application/rss+xml"):
                    assert_same(body, content_type)
    assert found >= 4
