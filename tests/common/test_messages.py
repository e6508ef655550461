from datetime import UTC, datetime

import pytest

from services.common.messages import Article, FeedEntry, MessageError, PageMessage, decode, encode


def _page() -> PageMessage:
    entry = FeedEntry(feed_url="http://f/rss", entry_id="g1", link="http://x/a", title="Café",
                      published_at=datetime(2024, 5, 30, 19, 2, tzinfo=UTC), categories=["World"])
    return PageMessage(id="abc", url="http://x/a", final_url="http://x/a", status=200, html="<p>é</p>",
                       fetched_at=datetime.now(UTC), entry=entry)


def test_page_round_trip() -> None:
    page = _page()
    assert decode(PageMessage, encode(page)) == page
    assert encode(page).decode().count("schema_version") == 1


def test_article_round_trip_defaults() -> None:
    art = Article(id="a", url="http://x/a", source="x", text="t", extractor_version="v",
                  content_hash="h", fetched_at=datetime.now(UTC))
    back = decode(Article, encode(art))
    assert back == art and back.schema_version == 2 and back.places == [] and back.story_id is None


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"schema_version": 1}', None])
def test_bad_messages_raise_message_error(raw: bytes | None) -> None:
    with pytest.raises(MessageError):
        decode(PageMessage, raw)


def test_unknown_schema_version_is_refused_with_the_field_named() -> None:
    doc = encode(_page()).replace(b'"schema_version":2', b'"schema_version":99')
    with pytest.raises(MessageError, match="schema_version"):
        decode(PageMessage, doc)


def test_control_characters_and_nul_are_removed_from_text() -> None:
    entry = FeedEntry(feed_url="http://f/rss", entry_id="g\x00", link="http://x/a", title="Bad\x00 ti\x07tle",
                      categories=["Wo\x00rld"], summary="line one\nline\ttwo\r\n")
    assert entry.title == "Bad title" and entry.entry_id == "g" and entry.categories == ["World"]
    assert entry.summary == "line one\nline\ttwo\r\n"
    art = Article(id="a", url="http://x/a", source="x", text="para\x00graph\n\nnext\x1b", extractor_version="v",
                  content_hash="h", fetched_at=datetime.now(UTC))
    assert art.text == "paragraph\n\nnext"
    assert decode(Article, encode(art)).text == "paragraph\n\nnext"
