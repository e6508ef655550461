"""``newsflow fetcher``: the fetcher service (it imports the fetcher only)."""

import click

from services.common.commands import settings_or_exit
from services.fetcher import main
from services.fetcher.settings import FetcherSettings


@click.command()
def fetcher() -> None:
    """Run the fetcher service (configured by NEWSFLOW_* variables)."""
    main.run(settings_or_exit(FetcherSettings))
