"""Issue 17.6 end to end: enclosure and lead image on the stored article.

A local site (``http.server`` on 127.0.0.1) serves an RSS feed whose items carry an
``<enclosure>``, Media RSS ``media:content`` and ``media:thumbnail``, and the article pages: one
with ``og:image``, one with a JSON-LD ``ImageObject`` (a relative URL), one with no image of its
own. ``newsflow up --feeds FILE --once`` runs the real pipeline (embedded broker, fetcher,
extractor, stories, sink as processes); the articles the sink stored carry the page's image (else
the feed's) and the feed's media, in the document and in the columns.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.local_site import serve
from services.common.messages import Media
from services.common.urls import article_id
from services.sink.sqlite import SqliteStore
from tests.hostile.pipeline import FAST_POLLING

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARAGRAPHS = [
    "The harbour ferry service will add two boats next spring after a year of record ridership, the city "
    "council decided on Tuesday evening after a long debate about the cost of the new vessels.",
    "Residents who spoke at the meeting welcomed the plan but asked for later evening sailings, and the "
    "transport committee promised to publish a revised timetable before the end of the month.",
    "The two boats will be built at the yard on the north shore, which employs about three hundred people "
    "and has delivered four ferries to the city over the past twenty years, officials said.",
]


def article_page(title: str, head: str) -> str:
    body = "".join(f"<p>{p} ({title})</p>" for p in PARAGRAPHS)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>{head}</head>"
            f"<body><article><h1>{title}</h1>{body}</article></body></html>")


def site_files(base: str) -> dict[str, tuple[str, str]]:
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Ferry news two",
          "image": {"@type": "ImageObject", "url": "/img/two-ld.jpg", "width": 1200}}
    items = (
        f"<item><title>Ferry news one</title><link>{base}/news/one.html</link><guid>one</guid>"
        '<enclosure url="/audio/one.mp3" length="4200000" type="audio/mpeg"/>'
        '<media:content url="https://cdn.example/one.mp4" type="video/mp4" fileSize="9000000" duration="95"'
        ' medium="video"/>'
        '<media:thumbnail url="https://cdn.example/one-thumb.jpg"/></item>'
        f"<item><title>Ferry news two</title><link>{base}/news/two.html</link><guid>two</guid>"
        '<media:thumbnail url="https://cdn.example/two-thumb.jpg"/></item>'
        f"<item><title>Ferry news three</title><link>{base}/news/three.html</link><guid>three</guid>"
        '<media:content url="/img/three-feed.jpg" medium="image"/></item>'
    )
    feed = ('<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
            f"<title>Harbour Times</title><link>{base}/</link>{items}</channel></rss>")
    return {
        "/feed.xml": ("application/rss+xml", feed),
        "/news/one.html": ("text/html", article_page(
            "Ferry news one", '<meta property="og:image" content="https://cdn.example/one-og.jpg">')),
        "/news/two.html": ("text/html", article_page(
            "Ferry news two", f'<script type="application/ld+json">{json.dumps(ld)}</script>')),
        "/news/three.html": ("text/html", article_page("Ferry news three", "")),
    }


@pytest.fixture
def site() -> Iterator[str]:
    files: dict[str, tuple[str, str]] = {}

    def route(path: str) -> tuple[bytes, str] | None:
        found = files.get(path.split("?", 1)[0])
        return None if found is None else (found[1].encode(), f"{found[0]}; charset=utf-8")

    server = serve(route)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    files.update(site_files(base))
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


def test_enclosure_and_lead_image_on_the_stored_article(site: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (tmp_path / "feeds.txt").write_text(f"{site}/feed.xml\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env.update({**FAST_POLLING, "NEWSFLOW_DATA_DIR": str(data_dir), "NEWSFLOW_WORKERS": "1"})
    result = subprocess.run([sys.executable, "-m", "services.cli", "up", "--feeds", str(tmp_path / "feeds.txt"),
                             "--once"], env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in (data_dir / "logs").glob("*.log"))
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{logs}"

    store = SqliteStore(data_dir / "newsflow.db")
    try:
        one, two, three = (store.get(article_id(f"{site}/news/{n}.html")) for n in ("one", "two", "three"))
        assert one is not None and two is not None and three is not None, result.stdout
        # the page's og:image wins over the feed's thumbnail; the feed's enclosure and media:content
        assert one.image == "https://cdn.example/one-og.jpg"
        assert one.media == [
            Media(url=f"{site}/audio/one.mp3", type="audio/mpeg", length=4_200_000, medium="audio"),
            Media(url="https://cdn.example/one.mp4", type="video/mp4", length=9_000_000, duration=95.0, medium="video"),
        ]
        # a JSON-LD ImageObject with a relative URL, resolved against the page's URL
        assert (two.image, two.media) == (f"{site}/img/two-ld.jpg", [])
        # no image on the page: the feed's (its image media:content, made absolute)
        assert three.image == f"{site}/img/three-feed.jpg"
        assert three.media == [Media(url=f"{site}/img/three-feed.jpg", medium="image")]
        with sqlite3.connect(data_dir / "newsflow.db") as db:
            image, media = db.execute("SELECT image, media FROM articles WHERE id = ?", (one.id,)).fetchone()
        assert image == one.image and json.loads(media) == [m.model_dump(mode="json") for m in one.media]
    finally:
        store.close()
