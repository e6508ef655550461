"""The sink's HTTP API on a real uvicorn server over both storage backends."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from services.sink.api import ApiServer, TokenBuckets, create_app
from services.sink.backends import open_store
from services.sink.cli import articles, stories
from services.sink.settings import SinkSettings
from services.sink.store import QueryTimeout
from tests.sink.test_store import make, store_url  # noqa: F401 - store_url is the per-backend fixture


def _serve(url: str, **settings: object) -> ApiServer:
    cfg = SinkSettings(sink_url=url, api_port=0, **settings)  # type: ignore[arg-type]
    return ApiServer(open_store(url), cfg).start()


@pytest.fixture
def api(store_url: str) -> Iterator[httpx.Client]:  # noqa: F811
    store = open_store(store_url)
    store.write_batch([
        make("a1", story_id="s1", source="cbc.ca"),
        make("a2", "Kharkiv again, said NATO.", story_id="s1", source="ctvnews.ca", people=[],
             published_at=datetime(2024, 6, 6, tzinfo=UTC)),
        make("b1", "The Larder Lake council bought a taxicab.", places=[], people=[], organisations=[],
             topics=["politics"], story_id="b1", source="ledger.example",
             published_at=datetime(2024, 1, 1, tzinfo=UTC)),
    ])
    store.write_batch([make("b1", "The council bought two taxicabs.", places=[], people=[], organisations=[],
                            topics=["politics"], story_id="b1", source="ledger.example",
                            published_at=datetime(2024, 1, 1, tzinfo=UTC), fetched_at=datetime(2024, 6, 9, tzinfo=UTC))])
    store.close()
    server = _serve(store_url)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client
    server.stop()


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["article"]["id"] for item in response.json()["items"]]


def test_articles_with_every_filter(api: httpx.Client) -> None:
    assert ids(api.get("/articles")) == ["a2", "a1", "b1"]
    found = api.get("/articles", params={"q": "Kharkiv"}).json()["items"]
    assert {i["article"]["id"] for i in found} == {"a1", "a2"} and "[Kharkiv]" in found[0]["snippet"]
    assert ids(api.get("/articles", params={"place": "kharkiv"})) == ["a2", "a1"]
    assert ids(api.get("/articles", params={"place": "geonames:706483", "person": "Joe Biden"})) == ["a1"]
    assert ids(api.get("/articles", params={"org": "nato", "source": "CTVNEWS.CA"})) == ["a2"]
    assert ids(api.get("/articles", params={"topic": "politics"})) == ["b1"]
    assert ids(api.get("/articles", params={"story": "s1", "since": "2024-06-06"})) == ["a2"]
    assert ids(api.get("/articles", params={"since": "2024-06-06T00:00:00Z"})) == ["a2"]


def test_pagination(api: httpx.Client) -> None:
    first = api.get("/articles", params={"limit": 2}).json()
    assert [i["article"]["id"] for i in first["items"]] == ["a2", "a1"] and first["next_offset"] == 2
    last = api.get("/articles", params={"limit": 2, "offset": first["next_offset"]}).json()
    assert [i["article"]["id"] for i in last["items"]] == ["b1"] and last["next_offset"] is None
    assert api.get("/articles", params={"limit": 10_000}).status_code == 422
    assert api.get("/articles", params={"offset": -1}).status_code == 422
    assert api.get("/articles", params={"since": "yesterday"}).status_code == 422


def test_one_article_its_history_and_stories(api: httpx.Client) -> None:
    assert api.get("/articles/a1").json()["id"] == "a1"
    assert api.get("/articles/nope").status_code == 404
    history = api.get("/articles/b1/history").json()
    assert [h["revision"] for h in history] == [1, 2] and "two taxicabs" in history[1]["article"]["text"]
    assert api.get("/articles/nope/history").status_code == 404
    stories = api.get("/stories").json()["items"]
    assert [s["story_id"] for s in stories] == ["s1"]
    assert stories[0]["outlets"] == ["cbc.ca", "ctvnews.ca"] and len(stories[0]["articles"]) == 2
    assert [s["story_id"] for s in api.get("/stories", params={"min_articles": 1, "topic": "politics"})
            .json()["items"]] == ["b1"]


def test_openapi_schema_documents_the_endpoints(api: httpx.Client) -> None:
    schema = api.get("/openapi.json").json()
    assert {"/articles", "/articles/{article_id}", "/articles/{article_id}/history", "/stories"} <= set(schema["paths"])
    params = {p["name"] for p in schema["paths"]["/articles"]["get"]["parameters"]}
    assert params == {"q", "place", "person", "org", "topic", "story", "source", "since", "limit", "offset"}
    assert set(schema["paths"]) == {p for p in schema["paths"] if "get" in schema["paths"][p]}


def test_read_only_and_size_limits(api: httpx.Client) -> None:
    assert api.post("/articles").status_code in (405, 413)
    assert api.request("GET", "/articles", content=b"x" * 100).status_code == 413
    assert api.get("/articles", params={"q": "x" * 20_000}).status_code == 413
    assert api.get("/articles", headers={"X-Big": "y" * 9000}).status_code in (413, 431, 400)


def test_rate_limit_per_client(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/news.db"
    open_store(url).close()
    server = _serve(url, api_rate_per_second=0.5, api_rate_burst=3)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            codes = [client.get("/articles").status_code for _ in range(5)]
            assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
            assert int(client.get("/articles").headers["retry-after"]) >= 1
    finally:
        server.stop()


def test_token_buckets_refill_and_stay_bounded() -> None:
    buckets = TokenBuckets(rate=2, burst=2, max_clients=10)
    assert [buckets.take("a", now=0) for _ in range(3)] == [0, 0, 0.5]
    assert buckets.take("a", now=1.0) == 0
    for i in range(50):
        buckets.take(f"c{i}", now=100 + i)
        buckets.take(f"c{i}", now=100 + i)
        buckets.take(f"c{i}", now=100 + i)
    assert len(buckets._buckets) <= 12


@pytest.mark.parametrize(("q", "says"), [
    (" ", "no word to search for"), ("\x00", "control character (U+0000)"), ('"Kharkiv', "unbalanced double quote"),
    ("*", "no word to search for"), ("OR", "no word to search for"), ("Kharkiv OR", "'OR' needs a term on each side"),
    (" OR ".join(f"{c}*" for c in "abcdefghijklmnopqrstuvwxyz"), "the limit is"),
])
def test_a_query_the_engine_rejects_is_a_400_with_a_message(api: httpx.Client, q: str, says: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="services.sink.api"):
        for path in ("/articles", "/stories"):
            response = api.get(path, params={"q": q})
            assert response.status_code == 400, response.text
            assert says in response.json()["detail"]
    assert not [r for r in caplog.records if r.levelno >= logging.INFO], "a user error is not an outage"
    assert api.get("/articles", params={"place": "x\x00"}).status_code == 400


class _SlowStore:
    """A store whose every read ran past its timeout."""

    def __getattr__(self, name: str) -> object:
        def timed_out(*args: object, **kw: object) -> object:
            raise QueryTimeout("query cancelled after 5 s")
        return timed_out


def test_a_read_past_its_timeout_is_a_503_to_retry() -> None:
    client = TestClient(create_app(_SlowStore(), SinkSettings()))  # type: ignore[arg-type]
    for path in ("/articles?q=Kharkiv", "/articles/a1", "/stories"):
        response = client.get(path)
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert "cancelled after 5 s" in response.json()["detail"] and "narrow the query" in response.json()["detail"]


def test_cli_search_with_a_bad_query_says_so_in_one_line_and_exits_2(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'news.db'}"
    open_store(url).close()
    monkeypatch.setenv("NEWSFLOW_SINK_URL", url)
    monkeypatch.setenv("NEWSFLOW_DATA_DIR", str(tmp_path))
    for args in (["search", "a* OR b*"], ["search", '"Kharkiv'], ["search", "OR"], ["export", "--place", "x\x00"]):
        result = CliRunner().invoke(articles, args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: bad query: "), result.output
    assert CliRunner().invoke(stories, ["OR"]).exit_code == 2
    assert CliRunner().invoke(articles, ["search", "Kharkiv"]).exit_code == 0
