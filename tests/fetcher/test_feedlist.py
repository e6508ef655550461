from pathlib import Path

import pytest

from services.fetcher.feedlist import FeedListError, parse_feed_list, read_feed_list


def test_plain_text_with_comments_and_duplicates() -> None:
    text = "# my feeds\nhttp://a.example/rss\n\n  https://b.example/atom.xml  # nightly\nhttp://a.example/rss\n"
    assert parse_feed_list(text) == ["http://a.example/rss", "https://b.example/atom.xml"]


def test_opml() -> None:
    opml = """<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>
      <outline text="News"><outline type="rss" text="A" xmlUrl="http://a.example/rss"/></outline>
      <outline type="rss" text="B" xmlUrl="https://b.example/feed"/></body></opml>"""
    assert parse_feed_list(opml) == ["http://a.example/rss", "https://b.example/feed"]


def test_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "feeds.txt"
    path.write_text("http://ok.example/rss\nnot a url\n")
    with pytest.raises(FeedListError, match=r"feeds.txt:2"):
        read_feed_list(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FeedListError, match="cannot read feed list"):
        read_feed_list(tmp_path / "nope.txt")


def test_broken_opml() -> None:
    with pytest.raises(FeedListError, match="OPML"):
        parse_feed_list("<opml><body><outline xmlUrl='http://a/'></body>")
