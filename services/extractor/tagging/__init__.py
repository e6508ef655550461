"""The tagger (issue #5): ``tag(text, ...)`` returns :class:`services.common.messages.Tags`.

The story index (which story an article belongs to, and which copy it duplicates) is the
extractor's state, not tagging: :mod:`services.extractor.stories`.
"""

from __future__ import annotations

from .tagger import tag, warm_up

__all__ = ["tag", "warm_up"]
