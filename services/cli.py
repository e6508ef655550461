"""The ``newsflow`` command: one sub-command per service, plus the tools around them."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from services.common import logs
from services.common.commands import settings_or_exit
from services.common.settings import ConfigError
from services.extractor import main as extractor_main
from services.extractor.files import extract_file
from services.extractor.settings import ExtractorSettings
from services.extractor.tagging.cli import run_tag_stream
from services.fetcher import main as fetcher_main
from services.fetcher.cli import feeds
from services.fetcher.settings import FetcherSettings
from services.ops.cli import config, dlq, replay, status, topics
from services.sink import main as sink_main
from services.sink.cli import api, articles, stories
from services.sink.settings import SinkSettings
from services.stories import main as stories_main
from services.stories.index import StoryIndex
from services.stories.placing import place_article, placer
from services.stories.settings import StoriesSettings
from services.up import UpSettings, check_config, parse_scale, run_up


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
@click.option("--scale", "scale_values", multiple=True, metavar="SERVICE=N",
              help="Run N processes of a service (repeatable), e.g. --scale extractor=3.")
def up(feeds_file: Path | None, demo: bool, once: bool, data_dir: Path | None, scale_values: tuple[str, ...]) -> None:
    """Run broker + fetcher + extractor + story stage + sink (embedded broker and SQLite by default)."""
    try:
        scale = parse_scale(scale_values)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    settings = settings_or_exit(UpSettings, **({"data_dir": data_dir} if data_dir else {}))
    feeds_file = None if demo else feeds_file or settings.feeds_file
    if not demo and feeds_file is None:
        raise click.UsageError("give --feeds FILE (your feed list, or set NEWSFLOW_FEEDS_FILE) or --demo")
    if feeds_file is not None and not feeds_file.exists():
        raise click.UsageError(f"feed list not found: {feeds_file}")
    try:
        check_config(feeds_file)
    except ConfigError as exc:
        raise click.ClickException(f"not started: {exc}") from None
    logs.setup("up", "text", "INFO")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # up reports problems itself
    sys.exit(run_up(settings, feeds_file, demo=demo, once=once, scale=scale))


@main.command()
def fetcher() -> None:
    """Run the fetcher service (configured by NEWSFLOW_* variables)."""
    fetcher_main.run(settings_or_exit(FetcherSettings))


@main.command()
def extractor() -> None:
    """Run the extractor service (configured by NEWSFLOW_* variables)."""
    extractor_main.run(settings_or_exit(ExtractorSettings))


@main.command("stories-worker")
def stories_worker() -> None:
    """Run the story stage (configured by NEWSFLOW_* variables): one active member places every
    article in its story; more processes are standbys that take over."""
    stories_main.run(settings_or_exit(StoriesSettings))


@main.command()
def sink() -> None:
    """Run the sink service (configured by NEWSFLOW_* variables)."""
    sink_main.run(settings_or_exit(SinkSettings))


# --- offline tools ----------------------------------------------------------------

@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--url", help="The page's URL (for relative links, site name and id).")
def extract(files: tuple[Path, ...], url: str | None) -> None:
    """Extract and tag HTML files offline: one JSON line per file (no broker needed)."""
    settings = settings_or_exit(StoriesSettings)
    # the story stage's index, in memory, one for the run: the files are clustered together
    story_index = StoryIndex(window_days=settings.story_window_days, max_items=settings.story_max_items)
    failed = 0
    for path in files:
        try:
            article, _ = place_article(story_index, extract_file(path, url))
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
            failed += 1
            click.echo(f"newsflow extract: {path}: {type(exc).__name__}: {exc}", err=True)
            continue
        click.echo(article.model_dump_json(exclude={"story_features"}))
    sys.exit(1 if failed else 0)


@main.command()
def tag() -> None:
    """Tag JSON lines from stdin ({"id", "text", ...}); write tags as JSON lines."""
    sys.exit(run_tag_stream(sys.stdin, sys.stdout, placer(StoryIndex())))


main.add_command(articles)
main.add_command(stories)
main.add_command(api)
main.add_command(feeds)
main.add_command(topics)
main.add_command(config)
main.add_command(replay)
main.add_command(dlq)
main.add_command(status)


if __name__ == "__main__":
    main()
