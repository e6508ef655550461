"""``newsflow tag``: tag JSON lines (the tagger and the story index, not the HTML extractor)."""

import sys

import click

from services.extractor.tagging.cli import run_tag_stream
from services.stories.index import StoryIndex
from services.stories.placing import placer


@click.command()
def tag() -> None:
    """Tag JSON lines from stdin ({"id", "text", ...}); write tags as JSON lines."""
    sys.exit(run_tag_stream(sys.stdin, sys.stdout, placer(StoryIndex())))
