"""``newsflow stories-worker``: the story stage (it imports the story stage only)."""

import click

from services.common.commands import settings_or_exit
from services.stories import main
from services.stories.settings import StoriesSettings


@click.command("stories-worker")
def stories_worker() -> None:
    """Run the story stage (configured by NEWSFLOW_* variables): one active member places every
    article in its story; more processes are standbys that take over."""
    main.run(settings_or_exit(StoriesSettings))
