"""The ``newsflow`` command: one sub-command per service, plus the tools around them."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from services.common.config import (
    CommonSettings,
    ConfigError,
    ExtractorSettings,
    FetcherSettings,
    SinkSettings,
    load,
    masked,
)

S = TypeVar("S", bound=CommonSettings)


def _settings(cls: type[S], **overrides: Any) -> S:
    """Settings from the environment, or a clean exit naming the bad variable."""
    try:
        return load(cls, **overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _data_dir() -> Path:
    return _settings(CommonSettings).data_dir


def _running_overrides() -> dict[str, Any]:
    """Settings of the pipeline that ``newsflow up`` runs from this directory, if any."""
    from services.up import read_run_info

    info = read_run_info(_data_dir())
    if info is None:
        return {}
    return {"kafka_bootstrap_servers": info.bootstrap, "sink_url": info.sink_url}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsflow")
def main() -> None:
    """newsflow: feeds -> Kafka -> extraction and tagging -> storage.

    Settings come from NEWSFLOW_* environment variables (see `newsflow config show`).
    """


# --- the pipeline -------------------------------------------------------------

@main.command()
@click.option("--feeds", "feeds_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Feed list: one URL per line (# comments) or OPML.")
@click.option("--demo", is_flag=True, help="Serve the bundled demo site on 127.0.0.1 and poll it.")
@click.option("--once", is_flag=True, help="Poll every feed once; exit when every item is stored.")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False), help="Default: ./data")
def up(feeds_file: Path | None, demo: bool, once: bool, data_dir: Path | None) -> None:
    """Run broker + fetcher + extractor + sink (embedded broker and SQLite by default)."""
    import logging

    from services.common import logs
    from services.up import UpSettings, run_up

    if not demo and feeds_file is None:
        raise click.UsageError("give --feeds FILE (your feed list) or --demo")
    if feeds_file is not None and not feeds_file.exists():
        raise click.UsageError(f"feed list not found: {feeds_file}")
    settings = _settings(UpSettings, **({"data_dir": data_dir} if data_dir else {}))
    logs.setup("up", "text", "INFO")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # up reports problems itself
    sys.exit(run_up(settings, feeds_file, demo=demo, once=once))


@main.command()
def fetcher() -> None:
    """Run the fetcher service (configured by NEWSFLOW_* variables)."""
    from services.common.runner import run_fetcher

    run_fetcher(_settings(FetcherSettings))


@main.command()
def extractor() -> None:
    """Run the extractor service (configured by NEWSFLOW_* variables)."""
    from services.common.runner import run_extractor

    run_extractor(_settings(ExtractorSettings))


@main.command()
def sink() -> None:
    """Run the sink service (configured by NEWSFLOW_* variables)."""
    from services.common.runner import run_sink

    run_sink(_settings(SinkSettings))


# --- offline tools ----------------------------------------------------------------

@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--url", help="The page's URL (for relative links, site name and id).")
def extract(files: tuple[Path, ...], url: str | None) -> None:
    """Extract and tag HTML files offline: one JSON line per file (no broker needed)."""
    from services.offline import extract_file

    failed = 0
    for path in files:
        try:
            article = extract_file(path, url)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
            failed += 1
            click.echo(f"newsflow extract: {path}: {type(exc).__name__}: {exc}", err=True)
            continue
        click.echo(article.model_dump_json())
    sys.exit(1 if failed else 0)


@main.command()
def tag() -> None:
    """Tag JSON lines from stdin ({"id", "text", ...}); write tags as JSON lines."""
    from services.extractor.tagging.cli import run_tag_stream

    sys.exit(run_tag_stream(sys.stdin, sys.stdout))


# --- reading storage ----------------------------------------------------------------

@main.group()
def articles() -> None:
    """Read stored articles."""


def _store() -> Any:
    from services.sink.store import StoreError, open_store

    settings = _settings(SinkSettings, **_running_overrides())
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
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
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


# --- operations ---------------------------------------------------------------------

@main.group()
def topics() -> None:
    """Kafka topics."""


@topics.command("ensure")
def topics_ensure() -> None:
    """Create the missing topics with their partitions and retention."""
    from services.common.kafka import ensure_topics

    created = ensure_topics(_settings(CommonSettings, **_broker_override()))
    click.echo(f"created: {', '.join(created)}" if created else "all topics exist")


@topics.command("describe")
def topics_describe() -> None:
    """Partitions of each newsflow topic."""
    from services.common.kafka import make_admin

    settings = _settings(CommonSettings, **_broker_override())
    admin = make_admin(settings)
    try:
        for topic in admin.describe_topics([settings.topic_pages, settings.topic_articles, settings.topic_dlq]):
            click.echo(f"{topic['topic']}: {len(topic['partitions'])} partition(s)")
    finally:
        admin.close()


def _broker_override() -> dict[str, Any]:
    overrides = _running_overrides()
    return {"kafka_bootstrap_servers": overrides["kafka_bootstrap_servers"]} if overrides else {}


@main.group()
def config() -> None:
    """Configuration."""


@config.command("show")
@click.argument("service", type=click.Choice(["fetcher", "extractor", "sink"]))
def config_show(service: str) -> None:
    """The effective settings of SERVICE, secrets masked."""
    cls = {"fetcher": FetcherSettings, "extractor": ExtractorSettings, "sink": SinkSettings}[service]
    for name, value in masked(_settings(cls)).items():
        click.echo(f"{name}={value}")


if __name__ == "__main__":
    main()
