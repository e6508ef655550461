"""``newsflow articles ...``: reading what the sink stored."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from services.clikit import running_overrides, settings_or_exit
from services.common.config import SinkSettings


@click.group()
def articles() -> None:
    """Read stored articles."""


def _store() -> Any:
    from services.sink.store import StoreError, open_store

    settings = settings_or_exit(SinkSettings, **running_overrides())
    url = settings.sink_url.get_secret_value()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise click.ClickException(f"no database at {url.removeprefix('sqlite:///')}: run `newsflow up` first "
                                   "or set NEWSFLOW_SINK_URL")
    try:
        return open_store(url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def _filters(**kw: Any) -> Any:
    from services.sink.store import Filters

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
        click.option("--topic"), click.option("--story"), click.option("--source"),
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
    from rich.console import Console
    from rich.table import Table

    store = _store()
    hits = store.search(_filters(query=query, limit=limit, **filters))
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
    """Every stored article, one JSON object per line (or CSV)."""
    import csv

    store = _store()
    rows = store.iter_articles(_filters(limit=-1, **filters))
    if fmt == "jsonl":
        for article in rows:
            click.echo(article.model_dump_json())
        return
    fields = ["id", "url", "source", "title", "authors", "published_at", "language", "story_id",
              "duplicate_of", "extractor_version", "text"]
    writer = csv.DictWriter(sys.stdout, fieldnames=fields)
    writer.writeheader()
    for article in rows:
        doc = article.model_dump(mode="json")
        doc["authors"] = "; ".join(article.authors)
        writer.writerow({k: doc[k] for k in fields})


@articles.command("show")
@click.argument("article_id")
@click.option("--history", is_flag=True, help="Every kept revision, oldest first.")
def articles_show(article_id: str, history: bool) -> None:
    """One article as JSON (with --history, all its revisions)."""
    store = _store()
    if history:
        versions = store.history(article_id)
        if not versions:
            raise click.ClickException(f"no article with id {article_id}")
        for revision, article, when in versions:
            click.echo(json.dumps({"revision": revision, "recorded_at": when,
                                   "article": article.model_dump(mode="json")}, ensure_ascii=False))
        return
    article = store.get(article_id)
    if article is None:
        raise click.ClickException(f"no article with id {article_id}")
    click.echo(article.model_dump_json(indent=2))
