"""Issue 17.6: an entry's lead image and media (enclosures, Media RSS, JSON Feed attachments), real feeds
and small synthetic ones, through the one parser the fetcher runs (:func:`parse_feed`)."""

from __future__ import annotations

import json

from services.common.messages import Media
from services.common.urls import absolute_http_url
from services.fetcher.media import MAX_MEDIA, byte_size, mime_type, seconds
from services.fetcher.parse import parse_feed
from tests.conftest import shared_data

URL = "https://site.example/feeds/main.xml"
MRSS = 'xmlns:media="http://search.yahoo.com/mrss/" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'


def rss(items: str) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0" {MRSS}><channel><title>T</title>'
            f"<link>https://site.example/</link>{items}</channel></rss>").encode()


def item(inner: str, n: int = 1) -> str:
    return f"<item><title>A{n}</title><link>https://site.example/a{n}</link>{inner}</item>"


# --- real feeds -----------------------------------------------------------------------------------

def test_real_rss_enclosures_become_media_and_the_image() -> None:
    feed = parse_feed(shared_data("feeds", "Ranchero-Software__RSParser__macworld.rss").read_bytes(), URL)
    entry = feed.entries[0]
    jpg = "https://images.idgesg.net/images/article/2017/08/best-smart-locks-100730768-medium.jpg"
    # length="0" is how feeds say "unknown": no length rather than a size of 0 bytes
    assert entry.media == [Media(url=jpg, type="image/jpeg", length=None, medium="image")]
    assert entry.image == jpg
    assert all(e.image and len(e.media) == 1 for e in feed.entries)


def test_real_media_thumbnails_are_the_image() -> None:
    feed = parse_feed(shared_data("feeds", "miniflux__v2__urdu_UTF8.xml").read_bytes(), URL)
    assert feed.entries[0].image == "http://c.files.bbci.co.uk/A787/production/_99478824_gettyimages-856735580.jpg"
    assert all(e.image and e.media == [] for e in feed.entries)


def test_real_json_feed_image_and_attachments() -> None:
    feed = parse_feed(shared_data("feeds", "adbar__trafilatura__feed.json").read_bytes(), URL)
    entry = feed.entries[0]
    assert entry.image and entry.image.startswith("https://media.npr.org/assets/img/2021/10/29/kellerrinaudo")
    assert [(m.type, m.duration, m.medium) for m in entry.media] == [
        ("audio/mp3", 550.0, "audio"), ("audio/aac", 550.0, "audio"), ("audio/m3u8", 550.0, "audio")]
    assert entry.media[0].url.startswith("https://ondemand.npr.org/anon.npr-mp3/npr/ted/2021/10/20211028_ted_04.mp3?")
    assert all(e.image for e in feed.entries)


def test_every_real_feed_has_only_absolute_http_media() -> None:
    folder = shared_data("feeds")
    seen = 0
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            feed = parse_feed(path.read_bytes(), URL)
        except ValueError:
            continue
        for entry in feed.entries:
            urls = [m.url for m in entry.media] + ([entry.image] if entry.image else [])
            seen += len(urls)
            assert all(u.startswith(("http://", "https://")) for u in urls), path
            assert len({m.url for m in entry.media}) == len(entry.media) <= MAX_MEDIA
    assert seen > 100


# --- synthetic feeds ------------------------------------------------------------------------------

def test_enclosure_media_content_and_thumbnail() -> None:
    doc = rss(item(
        '<enclosure url="/pod/a.mp3" length="12345" type="audio/mpeg"/>'
        '<media:content url="https://cdn.example/v.mp4" type="video/mp4" fileSize="999" duration="61.5" medium="video"/>'
        '<media:group><media:content url="g1.jpg" medium="image"/><media:content url="https://cdn.example/g2.jpg"'
        ' type="image/jpeg"/></media:group>'
        '<media:thumbnail url="https://cdn.example/thumb.jpg" width="100"/>'))
    (entry,) = parse_feed(doc, URL).entries
    assert entry.media == [
        Media(url="https://site.example/pod/a.mp3", type="audio/mpeg", length=12345, medium="audio"),
        Media(url="https://cdn.example/v.mp4", type="video/mp4", length=999, duration=61.5, medium="video"),
        Media(url="https://site.example/feeds/g1.jpg", medium="image"),
        Media(url="https://cdn.example/g2.jpg", type="image/jpeg", medium="image"),
    ]
    assert entry.image == "https://cdn.example/thumb.jpg"  # the thumbnail is the lead image


def test_without_a_thumbnail_the_first_image_is_the_lead_image() -> None:
    doc = rss(item('<enclosure url="https://cdn.example/a.mp3" type="audio/mpeg" length="1"/>'
                   '<enclosure url="https://cdn.example/pic.png" type="image/png" length="2"/>')
              + item("<description>no media</description>", 2))
    first, second = parse_feed(doc, URL).entries
    assert first.image == "https://cdn.example/pic.png"
    assert (second.image, second.media) == (None, [])


def test_podcast_duration_goes_to_its_one_enclosure() -> None:
    doc = rss(item('<enclosure url="https://cdn.example/ep.mp3" type="audio/mpeg" length="5000000"/>'
                   "<itunes:duration>1:02:03</itunes:duration>"))
    (entry,) = parse_feed(doc, URL).entries
    assert entry.media[0].duration == 3723.0


def test_bad_urls_and_numbers_are_left_out() -> None:
    doc = rss(item(
        '<enclosure url="javascript:alert(1)" type="audio/mpeg"/>'
        '<enclosure url="data:image/png;base64,AAAA" type="image/png"/>'
        '<enclosure url="ftp://files.example/a.mp3" type="audio/mpeg"/>'
        '<enclosure url="https://cdn.example/ok.mp3" type="not a type" length="-5"/>'
        '<media:content url="https://cdn.example/ok.mp3" fileSize="12"/>'  # the same URL again: kept once
        '<media:content url="https://cdn.example/v.mp4" fileSize="lots" duration="forever" medium="hologram"/>'
        '<media:thumbnail url="javascript:void(0)"/>'))
    (entry,) = parse_feed(doc, URL).entries
    assert entry.media == [Media(url="https://cdn.example/ok.mp3"), Media(url="https://cdn.example/v.mp4")]
    assert entry.image is None


def test_media_per_entry_are_bounded() -> None:
    many = "".join(f'<media:content url="https://cdn.example/{i}.jpg" medium="image"/>' for i in range(500))
    (entry,) = parse_feed(rss(item(many)), URL).entries
    assert len(entry.media) == MAX_MEDIA and entry.media[-1].url == f"https://cdn.example/{MAX_MEDIA - 1}.jpg"


def test_atom_enclosure_link() -> None:
    doc = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
           b'<entry><id>urn:1</id><title>A</title><link href="https://site.example/a"/>'
           b'<link rel="enclosure" type="audio/ogg" length="77" href="https://cdn.example/a.ogg"/></entry></feed>')
    (entry,) = parse_feed(doc, URL).entries
    assert entry.media == [Media(url="https://cdn.example/a.ogg", type="audio/ogg", length=77, medium="audio")]


def test_json_feed_image_banner_and_attachments() -> None:
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [
        {"id": "1", "url": "https://site.example/1", "banner_image": "/banner.jpg",
         "attachments": [{"url": "ep1.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 1234,
                          "duration_in_seconds": 60},
                         {"url": "https://cdn.example/x", "size_in_bytes": "many", "duration_in_seconds": -1},
                         {"mime_type": "audio/mpeg"}, "not an object"]},
        {"id": "2", "url": "https://site.example/2", "image": "https://cdn.example/lead.jpg",
         "banner_image": "https://cdn.example/banner.jpg", "attachments": "not a list"},
        {"id": "3", "url": "https://site.example/3", "image": 7,
         "attachments": [{"url": "https://cdn.example/p.webp", "mime_type": "image/webp"}]},
    ]}
    first, second, third = parse_feed(json.dumps(doc).encode(), URL).entries
    assert first.image == "https://site.example/banner.jpg"
    assert first.media == [Media(url="https://site.example/feeds/ep1.mp3", type="audio/mpeg", length=1234,
                                 duration=60.0, medium="audio"),
                           Media(url="https://cdn.example/x")]
    assert (second.image, second.media) == ("https://cdn.example/lead.jpg", [])
    assert third.image == "https://cdn.example/p.webp"


# --- the value parsers ----------------------------------------------------------------------------

def test_value_parsers() -> None:
    assert absolute_http_url(" /a b.jpg", URL) is None and absolute_http_url("//cdn.example/x.jpg", URL) == "https://cdn.example/x.jpg"
    assert absolute_http_url("https://[::1/x", URL) is None and absolute_http_url("https://x.example/" + "a" * 3000, URL) is None
    assert absolute_http_url(None, URL) is None and absolute_http_url("mailto:a@b.example", URL) is None
    assert mime_type("Audio/MPEG; charset=x") == "audio/mpeg" and mime_type("audio") is None and mime_type(3) is None
    assert byte_size("12") == 12 and byte_size(12.0) == 12 and byte_size("0") is None and byte_size(True) is None
    assert byte_size("²") is None and byte_size("9" * 40) is None and byte_size(2**70) is None
    assert seconds("90") == 90.0 and seconds("01:30") == 90.0 and seconds("1:00:00") == 3600.0
    assert seconds("nan") is None and seconds("inf") is None and seconds("-3") is None and seconds("1e400") is None
    assert seconds(True) is None and seconds("soon") is None
