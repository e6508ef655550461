"""``newsflow sink``: the sink service and its API (it imports the sink only)."""

import click

from services.common.commands import settings_or_exit
from services.sink import main
from services.sink.settings import SinkSettings


@click.command()
def sink() -> None:
    """Run the sink service (configured by NEWSFLOW_* variables)."""
    main.run(settings_or_exit(SinkSettings))
