"""``newsflow up``: the local supervisor (services/up.py); the services run as their own processes."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from services.common import logs
from services.common.commands import settings_or_exit
from services.common.settings import ConfigError
from services.up import UpSettings, check_config, parse_scale, run_up


@click.command()
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
