"""``python -m services.fetcher``: the fetcher service alone, as ``newsflow fetcher`` runs it.

``newsflow up`` starts the fetcher this way: ``python -m services.cli fetcher`` would import the
whole command line first (extractor, tagger, sink, API: ~65 MB of the fetcher's memory for
modules it never uses; bench/memory.py --fetcher --entry cli).
"""

import click

from services.common.commands import settings_or_exit
from services.fetcher import main
from services.fetcher.settings import FetcherSettings


@click.command()
def fetcher() -> None:
    """Run the fetcher service (configured by NEWSFLOW_* variables)."""
    main.run(settings_or_exit(FetcherSettings))


fetcher()
