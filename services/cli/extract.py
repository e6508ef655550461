"""``newsflow extract``: extract, tag and cluster HTML files offline (the extractor and the story index)."""

import sys
from pathlib import Path

import click

from services.common.commands import settings_or_exit
from services.extractor.files import extract_file
from services.stories.index import StoryIndex
from services.stories.placing import place_article
from services.stories.settings import StoriesSettings


@click.command()
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
