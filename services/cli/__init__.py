"""The ``newsflow`` command: one sub-command per service, plus the tools around them.

Each sub-command lives in its own module and is imported only when it runs (click's lazy
sub-commands: :class:`LazyGroup`). ``newsflow sink`` imports the sink, not the extractor's
trafilatura and scipy or the fetcher's feedparser: the services that ``newsflow up`` and the
containers start with ``python -m services.cli NAME`` (and the ``up`` supervisor itself) carry only
the modules they use (issue 20: the whole command line cost every process ~165 MB RSS).
``newsflow --help`` imports every sub-command, for their short help.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

from services.common.heap import keep_big_blocks_apart

#: sub-command -> ``module:attribute`` of its click command or group. The one place a module of the
#: project is imported by its name (tests/test_cli_lazy.py imports each entry and checks its name).
COMMANDS = {
    # the pipeline
    "up": "services.cli.up:up",
    "fetcher": "services.cli.fetcher:fetcher",
    "extractor": "services.cli.extractor:extractor",
    "stories-worker": "services.cli.stories_worker:stories_worker",
    "sink": "services.cli.sink:sink",
    # offline tools
    "extract": "services.cli.extract:extract",
    "tag": "services.cli.tag:tag",
    # reading the store, feeds, day-2 operations
    "articles": "services.sink.cli:articles",
    "stories": "services.sink.cli:stories",
    "api": "services.sink.cli:api",
    "feeds": "services.fetcher.cli:feeds",
    "topics": "services.ops.cli:topics",
    "config": "services.ops.cli:config",
    "replay": "services.ops.cli:replay",
    "dlq": "services.ops.cli:dlq",
    "status": "services.ops.cli:status",
}


class LazyGroup(click.Group):
    """A group whose sub-commands (``lazy``: name -> ``module:attribute``) are imported when used."""

    def __init__(self, *args: Any, lazy: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            self.add_command(load(self.lazy[cmd_name]), cmd_name)
        return super().get_command(ctx, cmd_name)


def load(entry: str) -> click.Command:
    """The click command that ``module:attribute`` names."""
    module, _, attribute = entry.partition(":")
    command = getattr(importlib.import_module(module), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{entry} is a {type(command).__name__}, not a click command")
    return command


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsflow")
def main() -> None:
    """newsflow: feeds -> Kafka -> extraction and tagging -> storage.

    Settings come from NEWSFLOW_* environment variables (see `newsflow config show`).
    """
    keep_big_blocks_apart()  # every service and the supervisor: freed pages leave the process (common/heap.py)
