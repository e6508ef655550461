"""Issue 17.6: the page's lead image (og:image / twitter:image / JSON-LD image) and the feed's media
on the article the extractor builds."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from services.common.messages import FeedEntry, Media, PageMessage, Tags
from services.extractor.extract import extract_page
from services.extractor.pipeline import build_article
from tests.extractor.test_extract import PARA, PARA2, article, entry, ld_script, page

URL = "https://news.example/world/2025/ferry.html"


def image_of(html: str, url: str | None = URL) -> str | None:
    return extract_page(html, url=url).image


def test_og_image() -> None:
    html = page(f"<p>{PARA}</p><p>{PARA2}</p>", head='<meta property="og:image" content="https://cdn.example/lead.jpg">')
    assert image_of(html) == "https://cdn.example/lead.jpg"


def test_twitter_image_when_there_is_no_og_image() -> None:
    html = article().replace("</title>", '</title><meta name="twitter:image" content="https://cdn.example/tw.jpg">')
    assert image_of(html) == "https://cdn.example/tw.jpg"


def test_og_image_wins_over_twitter_and_json_ld() -> None:
    head = ('<meta name="twitter:image" content="https://cdn.example/tw.jpg">'
            '<meta property="og:image" content="https://cdn.example/og.jpg">'
            + ld_script(headline="Ferry service grows", image="https://cdn.example/ld.jpg"))
    html = article().replace("</title>", "</title>" + head)
    assert image_of(html) == "https://cdn.example/og.jpg"


def test_json_ld_image_object() -> None:
    ld = ld_script(headline="Ferry service grows",
                   image={"@type": "ImageObject", "url": "https://cdn.example/ld.jpg", "width": 1200})
    assert image_of(article().replace("</title>", "</title>" + ld)) == "https://cdn.example/ld.jpg"


def test_json_ld_image_list_and_strings() -> None:
    ld = ld_script(headline="Ferry service grows",
                   image=[{"@type": "ImageObject", "contentUrl": "https://cdn.example/16x9.jpg"},
                          "https://cdn.example/4x3.jpg"])
    assert image_of(article().replace("</title>", "</title>" + ld)) == "https://cdn.example/16x9.jpg"
    ld = ld_script(headline="Ferry service grows", image=["", "https://cdn.example/1x1.jpg"])
    assert image_of(article().replace("</title>", "</title>" + ld)) == "https://cdn.example/1x1.jpg"


def test_json_ld_image_by_reference_in_the_graph() -> None:
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "NewsArticle", "headline": "Ferry service grows", "image": {"@id": f"{URL}#primaryimage"}},
        {"@type": "ImageObject", "@id": f"{URL}#primaryimage", "url": "https://cdn.example/yoast.jpg"},
    ]}
    script = f'<script type="application/ld+json">{json.dumps(graph)}</script>'
    assert image_of(article().replace("</title>", "</title>" + script)) == "https://cdn.example/yoast.jpg"


def test_relative_image_is_resolved_against_the_page_url() -> None:
    head = '<meta property="og:image" content="/img/lead.jpg?w=1200&amp;h=630">'
    html = article().replace("</title>", "</title>" + head)
    assert image_of(html) == "https://news.example/img/lead.jpg?w=1200&h=630"
    ld = ld_script(headline="Ferry service grows", image="../../img/ld.jpg")
    assert image_of(article().replace("</title>", "</title>" + ld)) == "https://news.example/img/ld.jpg"


def test_no_usable_image() -> None:
    assert image_of(article()) is None
    head = ('<meta property="og:image" content="javascript:alert(1)">'
            + ld_script(headline="Ferry service grows", image={"@type": "ImageObject"}))
    assert image_of(article().replace("</title>", "</title>" + head)) is None
    relative = '<meta property="og:image" content="img/lead.jpg">'
    assert image_of(article().replace("</title>", "</title>" + relative), url=None) is None


def _page(html: str, feed_entry: FeedEntry) -> PageMessage:
    return PageMessage(id="p1", url=URL, final_url=URL, status=200, html=html,
                       fetched_at=datetime(2025, 1, 6, tzinfo=UTC), entry=feed_entry)


def test_build_article_takes_the_page_image_else_the_feed_image_and_the_feed_media() -> None:
    media = [Media(url="https://cdn.example/ep.mp3", type="audio/mpeg", length=123, medium="audio")]
    feed_entry = entry(link=URL, image="https://cdn.example/feed-thumb.jpg", media=media)
    with_og = article().replace("</title>", '</title><meta property="og:image" content="/lead.jpg">')
    page_first = _page(with_og, feed_entry)
    built = build_article(page_first, extract_page(with_og, url=URL, entry=feed_entry), Tags())
    assert (built.image, built.media) == ("https://news.example/lead.jpg", media)
    bare = _page(article(), feed_entry)
    built = build_article(bare, extract_page(article(), url=URL, entry=feed_entry), Tags())
    assert (built.image, built.media) == ("https://cdn.example/feed-thumb.jpg", media)
