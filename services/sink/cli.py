"""``newsflow articles ...``: reading what the sink stored."""

from __future__ import annotations

import csv
import json
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from services.common.commands import running_overrides, settings_or_exit
from services.common.messages import Article
from services.sink.api import ApiServer, StoryOut, open_api_store
from services.sink.backends import open_store
from services.sink.settings import SinkSettings
from services.sink.store import AmbiguousId, BadQuery, Filters, IdTooShort, Store, StoreError


class QueryError(click.ClickException):
    """A search the store cannot run: one line on stderr, exit status 2 (a usage error)."""

    exit_code = 2

    def __init__(self, exc: BadQuery) -> None:
        super().__init__(str(exc) if isinstance(exc, (AmbiguousId, IdTooShort)) else f"bad query: {exc}")


@click.group()
def articles() -> None:
    """Read stored articles."""


def _store() -> Store:
    return _store_for(settings_or_exit(SinkSettings, **running_overrides()))


def _store_for(settings: SinkSettings, *, api: bool = False) -> Store:
    url = settings.sink_url.get_secret_value()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise click.ClickException(f"no database at {url.removeprefix('sqlite:///')}: run `newsflow up` first "
                                   "or set NEWSFLOW_SINK_URL")
    try:
        return open_api_store(settings) if api else open_store(url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def _filters(**kw: Any) -> Filters:
    since = kw.pop("since", None)
    return Filters(since=_parse_since(since) if since else None, **kw)


def _parse_since(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO date/time: {value!r}", param_hint="--since") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _filter_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed([
        click.option("--place"), click.option("--person"), click.option("--org", "organisation"),
        click.option("--topic"), click.option("--story", help="A story id, or the start of one (as `stories` shows it)."),
        click.option("--source"),
        click.option("--since", help="ISO date, e.g. 2026-11-01"),
    ]):
        fn = opt(fn)
    return fn


@articles.command("search")
@click.argument("query", required=False)
@_filter_options
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def articles_search(query: str | None, limit: int, as_json: bool, **filters: Any) -> None:
    """Full-text search over stored articles, shown as a table."""
    store = _store()
    try:
        hits = store.search(_filters(query=query, limit=limit, **filters))
    except BadQuery as exc:
        raise QueryError(exc) from None
    if as_json:
        for hit in hits:
            click.echo(hit.article.model_dump_json())
        return
    table = Table(title=f"{len(hits)} article(s)" + (f" matching {query!r}" if query else ""))
    for col in ("id", "published", "source", "title", "match"):
        table.add_column(col, overflow="fold")
    for hit in hits:
        a = hit.article
        table.add_row(a.id[:12], a.published_at.date().isoformat() if a.published_at else "",
                      a.source, a.title or "", (hit.snippet or "")[:120])
    Console().print(table)


@articles.command("export")
@_filter_options
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
def articles_export(fmt: str, **filters: Any) -> None:
    """Every stored article, one JSON object per line (or CSV: lists such as places and people in one
    cell, joined with '; ')."""
    store = _store()
    try:
        rows = store.iter_articles(_filters(limit=-1, **filters))
    except BadQuery as exc:
        raise QueryError(exc) from None
    if fmt == "jsonl":
        for article in rows:
            click.echo(article.model_dump_json())
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for article in rows:
        writer.writerow(csv_row(article))


CSV_FIELDS = ["id", "url", "source", "title", "authors", "published_at", "language", "story_id", "duplicate_of",
              "places", "people", "organisations", "topics", "tags", "image", "media", "extractor_version", "text"]
CSV_LIST_SEPARATOR = "; "
"""Joins a list in one CSV cell (authors, places, people, organisations, topics, tags, media URLs): docs/storage.md."""


def csv_row(article: Article) -> dict[str, Any]:
    """One article as a CSV row: lists joined with :data:`CSV_LIST_SEPARATOR`, places by name, media by URL."""
    doc = article.model_dump(mode="json", include={"id", "url", "source", "title", "published_at", "language",
                                                   "story_id", "duplicate_of", "extractor_version", "text", "image"})
    lists = {"authors": article.authors, "places": [p.name for p in article.places],
             "people": [p.name for p in article.people], "organisations": [o.name for o in article.organisations],
             "topics": article.topics, "tags": article.tags, "media": [m.url for m in article.media]}
    return {**doc, **{k: CSV_LIST_SEPARATOR.join(v) for k, v in lists.items()}}


@articles.command("show")
@click.argument("article_id")
@click.option("--history", is_flag=True, help="Every kept revision, oldest first.")
def articles_show(article_id: str, history: bool) -> None:
    """One article as JSON (with --history, all its revisions). ARTICLE_ID: an id, or the start of one
    (6 characters or more, as tables show it)."""
    store = _store()
    try:
        found = store.resolve("article", article_id)
    except BadQuery as exc:
        raise QueryError(exc) from None
    if found is None:
        raise click.ClickException(f"no article with id {article_id}")
    article_id = found
    if history:
        versions = store.history(article_id)
        if not versions:
            raise click.ClickException(f"no article with id {article_id}")
        for revision, version, when in versions:
            click.echo(json.dumps({"revision": revision, "recorded_at": when,
                                   "article": version.model_dump(mode="json")}, ensure_ascii=False))
        return
    current = store.get(article_id)
    if current is None:
        raise click.ClickException(f"no article with id {article_id}")
    click.echo(current.model_dump_json(indent=2))


@click.command("stories")
@_filter_options
@click.argument("query", required=False)
@click.option("--min-articles", default=2, show_default=True, help="Stories with at least this many articles.")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per story and line.")
def stories(query: str | None, min_articles: int, limit: int, as_json: bool, **filters: Any) -> None:
    """Recent stories several articles cover, with their articles and outlets."""
    store = _store()
    try:
        found = store.stories(_filters(query=query, limit=limit, **filters), min_articles=min_articles)
    except BadQuery as exc:
        raise QueryError(exc) from None
    if as_json:
        for story in found:
            click.echo(StoryOut.of(story).model_dump_json())
        return
    if not found:
        click.echo("no stories" + (" matching these filters" if query or any(filters.values()) else ""))
    for story in found:
        when = story.latest_at.date().isoformat() if story.latest_at else "?"
        click.secho(f"{when}  story {story.story_id[:12]}  {len(story.articles)} articles from "
                    f"{', '.join(story.outlets)}", bold=True)
        for a in story.articles:
            day = a.published_at.date().isoformat() if a.published_at else "          "
            click.echo(f"  {day}  {a.source:<24.24}  {a.title or a.url}  [{a.id[:12]}]")


@click.command("api")
@click.option("--host", help="Bind address (default NEWSFLOW_API_HOST, 127.0.0.1).")
@click.option("--port", type=int, help="Port (default NEWSFLOW_API_PORT, 9104; 0 picks a free one).")
def api(host: str | None, port: int | None) -> None:
    """Serve the read-only HTTP JSON API alone (the sink also serves it; see docs/storage.md)."""
    overrides: dict[str, Any] = {k: v for k, v in (("api_host", host), ("api_port", port)) if v is not None}
    settings = settings_or_exit(SinkSettings, **running_overrides(), **overrides)
    try:
        server = ApiServer(_store_for(settings, api=True), settings).start()
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {settings.api_host}:{settings.api_port}: {exc}") from exc
    click.echo(f"newsflow API on {server.url} (schema: {server.url}/openapi.json, docs: {server.url}/docs)")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
