"""Issue 16.1: an id prefix as tables show it works everywhere an id does (CLI and API, both backends).

A unique prefix resolves; one several ids start with is a clear "ambiguous" error (CLI exit 2, API
409 with the candidates' count); under 6 characters (after ``story-`` for a story) it is refused when it starts any id (else
there is simply no such article: 404);
a whole id always works, however short.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from services.cli import main
from services.sink.api import ApiServer
from services.sink.backends import open_store
from services.sink.settings import SinkSettings
from services.sink.store import AmbiguousId, Filters, IdTooShort, Store
from tests.sink.test_store import make, store_url  # noqa: F401 - store_url is the per-backend fixture

ARTICLES = {
    "514663f71f7c0001": "story-cafee2aa00000001",
    "514663f71f7c0002": "story-cafee2aa00000001",
    "51466300aaaa0003": "story-cafee2bb00000002",
    "9a0b1c2d3e4f5a6b": "story-00d00d0000000003",
}


@pytest.fixture
def filled(store_url: str) -> Iterator[str]:  # noqa: F811
    store = open_store(store_url)
    store.write_batch([make(aid, f"Kharkiv report number {i}.", story_id=sid, content_hash=f"h{i}")
                       for i, (aid, sid) in enumerate(ARTICLES.items())])
    store.close()
    yield store_url


@pytest.fixture
def store(filled: str) -> Iterator[Store]:
    s = open_store(filled)
    yield s
    s.close()


def test_the_store_resolves_unique_prefixes_and_refuses_the_rest(store: Store) -> None:
    assert store.resolve("article", "514663f71f7c0001") == "514663f71f7c0001"
    assert store.resolve("article", "9a0b1c") == "9a0b1c2d3e4f5a6b"
    with pytest.raises(AmbiguousId, match=r"ambiguous: 3 articles start with 514663…, give more characters"):
        store.resolve("article", "514663")
    with pytest.raises(AmbiguousId, match="ambiguous: 2 articles"):
        store.resolve("article", "514663f71f7c")
    with pytest.raises(IdTooShort, match="at least 6 characters"):
        store.resolve("article", "51466")
    assert store.resolve("article", "ffffff") is None and store.resolve("article", "nope") is None
    assert store.resolve("article", "5146_3") is None and store.resolve("article", "51466%") is None  # no wildcards
    assert store.resolve("story", "story-cafee2bb") == "story-cafee2bb00000002"
    with pytest.raises(AmbiguousId, match="ambiguous: 2 stories start with story-cafee2…"):
        store.resolve("story", "story-cafee2")
    with pytest.raises(IdTooShort, match="after story-"):
        store.resolve("story", "story-cafe")


def test_a_story_prefix_filters_searches_exports_and_stories(store: Store) -> None:
    hits = store.search(Filters(story="story-cafee2aa"))
    assert sorted(h.article.id for h in hits) == ["514663f71f7c0001", "514663f71f7c0002"]
    assert [a.id for a in store.iter_articles(Filters(story="story-00d00d", limit=-1))] == ["9a0b1c2d3e4f5a6b"]
    assert [s.story_id for s in store.stories(Filters(story="story-cafee2aa"))] == ["story-cafee2aa00000001"]
    assert store.search(Filters(story="story-123456")) == []
    with pytest.raises(AmbiguousId):
        store.search(Filters(story="story-cafee2"))


def _cli(url: str, tmp_path: Path, *args: str) -> Result:
    env = {"NEWSFLOW_SINK_URL": url, "NEWSFLOW_DATA_DIR": str(tmp_path)}
    return CliRunner().invoke(main, list(args), env=env)


def test_the_cli_takes_the_prefixes_its_tables_show(filled: str, tmp_path: Path) -> None:
    shown = _cli(filled, tmp_path, "articles", "show", "9a0b1c2d3e4f")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["id"] == "9a0b1c2d3e4f5a6b"
    history = _cli(filled, tmp_path, "articles", "show", "--history", "9a0b1c2d3e4f")
    assert history.exit_code == 0 and json.loads(history.output)["revision"] == 1
    found = _cli(filled, tmp_path, "articles", "search", "--json", "--story", "story-cafee2aa")
    assert found.exit_code == 0, found.output
    assert sorted(json.loads(line)["id"] for line in found.output.splitlines()) == [
        "514663f71f7c0001", "514663f71f7c0002"]
    exported = _cli(filled, tmp_path, "articles", "export", "--story", "story-00d00d")
    assert [json.loads(line)["id"] for line in exported.output.splitlines()] == ["9a0b1c2d3e4f5a6b"]
    ambiguous = _cli(filled, tmp_path, "articles", "show", "514663")
    assert ambiguous.exit_code == 2
    assert ambiguous.output.strip() == "Error: ambiguous: 3 articles start with 514663…, give more characters"
    short = _cli(filled, tmp_path, "articles", "search", "--story", "story-ca")
    assert short.exit_code == 2 and "too short" in short.output and len(short.output.strip().splitlines()) == 1
    missing = _cli(filled, tmp_path, "articles", "show", "ffffff")
    assert missing.exit_code == 1 and "no article with id ffffff" in missing.output
    story = _cli(filled, tmp_path, "stories", "--json", "--story", "story-cafee2")
    assert story.exit_code == 2 and "2 stories start with story-cafee2" in story.output


@pytest.fixture
def api(filled: str) -> Iterator[httpx.Client]:
    server = ApiServer(open_store(filled), SinkSettings(sink_url=filled, api_port=0)).start()  # type: ignore[arg-type]
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client
    server.stop()


def test_the_api_takes_the_same_prefixes(api: httpx.Client) -> None:
    one = api.get("/articles/9a0b1c2d3e4f")
    assert one.status_code == 200 and one.json()["id"] == "9a0b1c2d3e4f5a6b"
    assert [r["revision"] for r in api.get("/articles/9a0b1c2d3e4f/history").json()] == [1]
    ambiguous = api.get("/articles/514663")
    assert ambiguous.status_code == 409
    assert ambiguous.json() == {"detail": "ambiguous: 3 articles start with 514663…, give more characters",
                                "candidates": 3}
    assert api.get("/articles/51466").status_code == 400 and "too short" in api.get("/articles/51466").text
    assert api.get("/articles/ffffff").status_code == 404
    page = api.get("/articles", params={"story": "story-cafee2aa"})
    assert sorted(i["article"]["id"] for i in page.json()["items"]) == ["514663f71f7c0001", "514663f71f7c0002"]
    stories = api.get("/stories", params={"story": "story-cafee2", "min_articles": 1})
    assert stories.status_code == 409 and stories.json()["candidates"] == 2
    assert api.get("/stories", params={"story": "story-c"}).status_code == 400
