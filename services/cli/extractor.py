"""``newsflow extractor``: the extractor service (it imports the extractor only)."""

import click

from services.common.commands import settings_or_exit
from services.extractor import main
from services.extractor.settings import ExtractorSettings


@click.command()
def extractor() -> None:
    """Run the extractor service (configured by NEWSFLOW_* variables)."""
    main.run(settings_or_exit(ExtractorSettings))
