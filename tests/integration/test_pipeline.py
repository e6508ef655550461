"""End to end: `newsflow up --demo --once` on the real embedded broker, then storage is checked.

This runs the real CLI as a user would: broker, demo site, fetcher, extractor and
sink as separate processes, SQLite storage in a fresh data directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.common.urls import article_id
from services.demo.server import DemoSite
from services.sink.sqlite import SqliteStore
from services.sink.store import Filters

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CTV_STORY = [
    "Ukraine has used U.S weapons to strike inside Russia in recent days",
    "Kharkiv sits just 20 kilometres (12 miles) from the Russian border",
    "White House national security spokesman John Kirby told reporters",
]
CTV_SIDEBAR = ["Local Spotlight", "Top Stories", "pizza", "Larder Lake", "TFSA", "taxicab"]
CBC_STORY = [
    "Various media outlets, including Reuters are quoting anonymous U.S. sources",
    "Jens Stoltenberg, the secretary general of NATO",
]
CBC_CHROME = ["Leave a Reply", "Your email address will not be published"]


def newsflow(*args: str, data_dir: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env["NEWSFLOW_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "services.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=data_dir.parent)


def _demo_ids(data_dir: Path) -> dict[str, str]:
    """Ids of the demo articles as `up` served them (on the port it recorded)."""
    with DemoSite(port=int((data_dir / "demo.port").read_text())) as site:
        urls = site.article_urls()
        base = site.base_url
    return {article_id(u): u.removeprefix(base) for u in urls}


def _rows(store: SqliteStore) -> list[tuple[str, str, int]]:
    return store.db.execute("SELECT id, content_hash, revision FROM articles ORDER BY id").fetchall()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    started = time.monotonic()
    result = newsflow("up", "--demo", "--once", data_dir=data_dir)
    elapsed = time.monotonic() - started
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in (data_dir / "logs").glob("*.log"))
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{logs}"
    assert "all 8 items stored" in result.stdout
    print(f"\nnewsflow up --demo --once took {elapsed:.1f}s")
    return data_dir, elapsed


def test_every_demo_article_is_stored_once(demo_run: tuple[Path, float]) -> None:
    data_dir, _ = demo_run
    store = SqliteStore(data_dir / "newsflow.db")
    expected = _demo_ids(data_dir)
    rows = _rows(store)
    assert sorted(r[0] for r in rows) == sorted(expected)
    assert all(revision == 1 for *_, revision in rows)


def _article_by_path(data_dir: Path, fragment: str) -> dict[str, object]:
    store = SqliteStore(data_dir / "newsflow.db")
    found = [a for a in store.iter_articles(Filters(limit=-1)) if fragment in a.url]
    assert len(found) == 1, f"expected one stored article with {fragment!r} in its URL"
    return found[0].model_dump()


def test_ctv_article_is_clean(demo_run: tuple[Path, float]) -> None:
    art = _article_by_path(demo_run[0], "/ctvnews/")
    text = str(art["text"])
    for line in CTV_STORY:
        assert line in text
    for chrome in CTV_SIDEBAR:
        assert chrome.lower() not in text.lower(), f"sidebar text {chrome!r} leaked into the article"
    assert art["title"] and "Ukraine uses U.S. weapons" in str(art["title"])
    assert art["published_at"] is not None and art["authors"]


def test_cbc_article_is_clean(demo_run: tuple[Path, float]) -> None:
    art = _article_by_path(demo_run[0], "/cbc/")
    text = str(art["text"])
    for line in CBC_STORY:
        assert line in text
    for chrome in CBC_CHROME:
        assert chrome not in text
    assert art["authors"] == ["Briar Stewart"]
    assert art["published_at"] is not None and art["title"]
    assert art["language"] == "en" and art["extractor_version"]


def test_the_seeds_share_a_story_in_the_pipeline(demo_run: tuple[Path, float]) -> None:
    """CTV and CBC report the same event 4.7 days apart: one story, neither a copy of the other
    (the story stage places every article; newer-dated demo articles read first do not push the
    seeds out of its window)."""
    ctv, cbc = _article_by_path(demo_run[0], "/ctvnews/"), _article_by_path(demo_run[0], "/cbc/")
    assert ctv["story_id"] and ctv["story_id"] == cbc["story_id"]
    assert ctv["duplicate_of"] is None and cbc["duplicate_of"] is None
    store = SqliteStore(demo_run[0] / "newsflow.db")
    others = [a for a in store.iter_articles(Filters(limit=-1)) if "/ctvnews/" not in a.url and "/cbc/" not in a.url]
    assert others and all(a.story_id and a.story_id != ctv["story_id"] for a in others)


def test_articles_search_and_export(demo_run: tuple[Path, float]) -> None:
    data_dir, _ = demo_run
    found = newsflow("articles", "search", "Kharkiv", "--json", data_dir=data_dir, timeout=60)
    assert found.returncode == 0, found.stderr
    urls = [json.loads(line)["url"] for line in found.stdout.splitlines()]
    assert any("/ctvnews/" in u for u in urls) and any("/cbc/" in u for u in urls)
    table = newsflow("articles", "search", "Kharkiv", data_dir=data_dir, timeout=60)
    assert table.returncode == 0 and "Kharkiv" in table.stdout
    export = newsflow("articles", "export", data_dir=data_dir, timeout=60)
    lines = [json.loads(line) for line in export.stdout.splitlines()]
    assert len(lines) == 8
    required = {"id", "url", "canonical_url", "source", "feed_url", "title", "authors", "published_at",
                "updated_at", "language", "text", "summary", "story_id", "duplicate_of",
                "extractor_version", "fetched_at", "schema_version", "places", "people",
                "organisations", "keywords", "topics"}
    assert all(required <= set(doc) for doc in lines)


def test_running_the_demo_again_changes_nothing(demo_run: tuple[Path, float]) -> None:
    data_dir, _ = demo_run
    before = _rows(SqliteStore(data_dir / "newsflow.db"))
    again = newsflow("up", "--demo", "--once", data_dir=data_dir)
    assert again.returncode == 0, again.stderr
    assert _rows(SqliteStore(data_dir / "newsflow.db")) == before
