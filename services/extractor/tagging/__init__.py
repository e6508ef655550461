"""The tagger and the story clusterer (issue #5).

``tag(text, ...)`` returns :class:`services.common.messages.Tags`; ``StoryIndex`` assigns each
article a story id and, for near-duplicates, the id of the first copy seen.
"""

from __future__ import annotations

from .stories import StoryIndex
from .tagger import tag

__all__ = ["StoryIndex", "tag"]
