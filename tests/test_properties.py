"""Property-based tests (hypothesis): URL normalisation, feed parsing, message decoding.

The properties are the promises other code relies on:

* ``normalize_url`` is idempotent and either returns an http(s) URL without a fragment or
  raises ``BadURLError`` (never anything else); ``article_id`` is a 32-hex-digit function of
  the normalised URL, so cosmetic variants get the same id.
* ``parse_feed`` on any bytes returns a ``ParsedFeed`` or raises ``FeedParseError``; on a
  generated RSS document it finds every item with a link.
* ``decode`` on any bytes returns a model or raises ``MessageError``; ``decode(encode(m)) == m``.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.common.messages import Article, FeedEntry, MessageError, PageMessage, decode, encode
from services.common.urls import BadURLError, article_id, normalize_url
from services.fetcher.parse import FeedParseError, ParsedFeed, parse_feed

SLOW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,6}){1,2}", fullmatch=True)
segments = st.lists(st.text(string.ascii_letters + string.digits + "-_.~%", min_size=1, max_size=8), max_size=4)
params = st.lists(st.tuples(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.text(string.ascii_letters, max_size=6)),
                  max_size=4, unique_by=lambda kv: kv[0])


@st.composite
def http_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(hosts)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    path = "/" + "/".join(draw(segments))
    query = "&".join(f"{k}={v}" for k, v in draw(params))
    frag = draw(st.sampled_from(["", "#top", "#section-2"]))
    return f"{scheme}://{host}{port}{path}{'?' + query if query else ''}{frag}"


@SLOW
@given(http_urls())
def test_normalize_url_is_idempotent_and_drops_the_fragment(url: str) -> None:
    once = normalize_url(url)
    assert normalize_url(once) == once
    assert "#" not in once and once.split("://", 1)[0] in ("http", "https")


@SLOW
@given(http_urls())
def test_article_id_ignores_cosmetics(url: str) -> None:
    aid = article_id(url)
    assert len(aid) == 32 and all(c in "0123456789abcdef" for c in aid)
    scheme, rest = url.split("://", 1)
    host, _, tail = rest.partition("/")
    assert article_id(f"{scheme}://{host.upper()}/{tail}#frag") == aid
    assert article_id(normalize_url(url)) == aid


@SLOW
@given(st.text(max_size=200))
def test_normalize_url_accepts_or_raises_bad_url(text: str) -> None:
    try:
        result = normalize_url(text)
    except BadURLError:
        return
    assert result.startswith(("http://", "https://"))


@SLOW
@given(st.binary(max_size=2000))
def test_parse_feed_on_any_bytes_parses_or_refuses(body: bytes) -> None:
    try:
        assert isinstance(parse_feed(body, "http://example.com/feed"), ParsedFeed)
    except FeedParseError:
        pass


@SLOW
@given(st.text(max_size=300), st.sampled_from(["application/json", "application/rss+xml", None]))
def test_parse_feed_on_any_text_parses_or_refuses(text: str, ctype: str | None) -> None:
    try:
        parse_feed(text.encode("utf-8", "surrogatepass"), "http://example.com/feed", ctype)
    except (FeedParseError, UnicodeEncodeError):
        pass


titles = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=40)


@SLOW
@given(st.lists(st.tuples(titles, http_urls()), min_size=1, max_size=15))
def test_every_linked_rss_item_is_found(items: list[tuple[str, str]]) -> None:
    body = "".join(f"<item><title>{escape(t)}</title><link>{escape(u)}</link></item>" for t, u in items)
    doc = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>{body}</channel></rss>'
    parsed = parse_feed(doc.encode(), "http://example.com/feed")
    assert {e.link for e in parsed.entries} == {normalize_url(u) for _, u in items}


@SLOW
@given(st.binary(max_size=500))
def test_decode_any_bytes_gives_a_model_or_message_error(raw: bytes) -> None:
    for model in (PageMessage, Article):
        try:
            decode(model, raw)
        except MessageError:
            pass


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
    max_leaves=10,
)


@SLOW
@given(st.dictionaries(st.sampled_from(["schema_version", "id", "url", "final_url", "status", "html", "fetched_at",
                                        "entry", "text", "source", "extractor_version", "content_hash"]),
                       json_like, max_size=12))
def test_decode_wrong_shapes_is_a_message_error(doc: dict[str, object]) -> None:
    import json

    raw = json.dumps(doc).encode()
    for model in (PageMessage, Article):
        try:
            decode(model, raw)
        except MessageError:
            pass


@SLOW
@given(st.text(max_size=300), titles, st.datetimes(timezones=st.just(UTC)), http_urls())
def test_page_message_round_trips(html: str, title: str, when: datetime, url: str) -> None:
    entry = FeedEntry(feed_url="http://example.com/feed", entry_id=url, link=url, title=title or None,
                      published_at=when)
    page = PageMessage(id=article_id(url), url=url, final_url=url, status=200, html=html, fetched_at=when,
                       entry=entry)
    assert decode(PageMessage, encode(page)) == page
