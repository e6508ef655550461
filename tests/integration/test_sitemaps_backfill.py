"""Issue 17 on a local site: a Google News sitemap's articles stored by the whole pipeline; an RFC 5005
archive chain backfilled once through the real broker, a second backfill publishing nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from services.common import kafka
from services.common.urls import article_id
from services.fetcher.cli import feeds
from services.fetcher.settings import FetcherSettings
from services.sink.sqlite import SqliteStore
from tests.fetcher.helpers import local_server, pages
from tests.fetcher.test_fetcher_backfill import atom
from tests.fetcher.test_fetcher_sitemaps import news_url, urlset

pytestmark = pytest.mark.integration

PARAGRAPH = ("The river rose through the night and by morning the lower town was under water, officials said. "
             "Crews worked from first light to clear the roads, and the school stayed closed while engineers "
             "checked the old bridge for damage. Residents who left their homes were told to wait for the all clear. ")


def article(title: str) -> str:
    body = "".join(f"<p>{title}: {PARAGRAPH}</p>" for _ in range(4))
    return (f"<html><head><title>{title}</title></head><body><nav>Home | World</nav>"
            f"<article><h1>{title}</h1>{body}</article></body></html>")


@pytest.fixture
def site() -> Iterator[HTTPServer]:
    yield from local_server(no_robots=True)  # no robots.txt: every page allowed


@pytest.mark.slow
def test_a_news_sitemap_in_the_feed_list_has_its_articles_stored(site: HTTPServer, tmp_path: Path) -> None:
    titles = {"/news/floods": "Floods close the lower town", "/news/bridge": "Engineers inspect the old bridge"}
    site.expect_request("/news-sitemap.xml").respond_with_data(
        urlset(*(news_url(site.url_for(path), title, "2026-11-29T08:00:00Z") for path, title in titles.items())),
        content_type="application/xml")
    for path, title in titles.items():
        site.expect_request(path).respond_with_data(article(title), content_type="text/html; charset=utf-8")
    feeds_file = tmp_path / "feeds.txt"
    feeds_file.write_text(site.url_for("/news-sitemap.xml") + "\n")
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")} | {
        "NEWSFLOW_DATA_DIR": str(data_dir), "NEWSFLOW_ALLOWED_NETWORKS": f"127.0.0.1/32:{site.port}",
        "NEWSFLOW_PER_HOST_MIN_DELAY_SECONDS": "0"}
    result = subprocess.run([sys.executable, "-m", "services.cli", "up", "--feeds", str(feeds_file), "--once",
                             "--data-dir", str(data_dir)], env=env, capture_output=True, text=True, timeout=400,
                            cwd=tmp_path)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "all 2 items stored" in result.stdout
    store = SqliteStore(data_dir / "newsflow.db")
    for path, title in titles.items():
        stored = store.get(article_id(site.url_for(path)))
        assert stored is not None and stored.title == title and "lower town" in stored.text
        assert stored.feed_url == site.url_for("/news-sitemap.xml")


@pytest.mark.usefixtures("on_topics")
def test_an_archive_chain_is_backfilled_once_through_the_broker(
    site: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWSFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NEWSFLOW_ALLOWED_NETWORKS", f"127.0.0.1/32:{site.port}")
    monkeypatch.setenv("NEWSFLOW_PER_HOST_MIN_DELAY_SECONDS", "0")
    settings = FetcherSettings()
    kafka.ensure_topics(settings)
    docs = {"/feed.xml": atom([("p3", "2026-11-29")], {"prev-archive": "/archive/2.xml"}),
            "/archive/2.xml": atom([("p2", "2026-10-01")], {"prev-archive": "/archive/1.xml"}, archive=True),
            "/archive/1.xml": atom([("p1", "2026-09-01")], {}, archive=True)}
    for path, doc in docs.items():
        site.expect_request(path).respond_with_data(
            doc.replace("https://news.example/", site.url_for("/a/")), content_type="application/atom+xml")
    for n in (1, 2, 3):
        site.expect_request(f"/a/p{n}").respond_with_data(article(f"Report {n}"), content_type="text/html")

    first = CliRunner().invoke(feeds, ["backfill", site.url_for("/feed.xml")])
    assert first.exit_code == 0, first.output
    assert "3 pages walked, 3 entries published" in first.output
    assert sorted(p.url for p in pages(settings)) == [site.url_for(f"/a/p{n}") for n in (1, 2, 3)]

    second = CliRunner().invoke(feeds, ["backfill", site.url_for("/feed.xml")])
    assert second.exit_code == 0, second.output
    assert "3 pages walked, 0 entries published" in second.output and "3 already seen" in second.output
    assert len(pages(settings)) == 3
