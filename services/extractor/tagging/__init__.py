"""The tagger and the story clusterer (issue #5).

``tag(text, ...)`` returns :class:`services.common.messages.Tags`; ``StoryIndex`` assigns each
article a story id and, for near-duplicates, the id of the first copy seen (``assign`` gives the
pair, ``place`` an :class:`Assignment` that also says whether the article started a new story).
"""

from __future__ import annotations

from .stories import Assignment, StoryIndex
from .tagger import tag, warm_up

__all__ = ["Assignment", "StoryIndex", "tag", "warm_up"]
