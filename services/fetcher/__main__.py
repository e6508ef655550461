"""``python -m services.fetcher``: the fetcher service alone, as ``newsflow fetcher`` runs it.

``newsflow up`` used to start the fetcher this way, when ``python -m services.cli fetcher`` imported
the whole command line first (extractor, tagger, sink, API: ~65 MB of the fetcher's memory for
modules it never uses). The command line now imports only the sub-command that runs (services/cli),
so ``up`` starts every service as ``python -m services.cli NAME``; this entry stays for scripts
that use it (bench/memory.py --fetcher --entry fetcher).
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
