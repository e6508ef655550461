"""``newsflow tag``: tag a stream of JSON lines (one article per line) and cluster them into stories.

Input lines: ``{"id", "text", "title"?, "published_at"?, "source"?, "url"?, "categories"?, "language"?}``.
Output lines: ``{"id", "entities": [{"start", "end", "text", "label"}], "places", "keywords", "topics",
"language", "story_id", "duplicate_of"}``. A bad line gets an error on stderr and the stream goes on.

The story fields come from ``place`` (the story stage's index, which ``services/cli/tag.py`` passes in:
a stage does not import another); this module computes each line's story features for it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from services.common.messages import StoryFeatures
from services.extractor.features import story_features

from .tagger import tag

#: (article id, its story features, published at) -> (story_id, duplicate_of)
PlaceFn = Callable[[str, StoryFeatures, datetime | None], tuple[str | None, str | None]]


def _unplaced(_aid: str, _features: StoryFeatures, _published: datetime | None) -> tuple[str | None, str | None]:
    return None, None


def _entities(tags: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for label, group in (("PERSON", tags.people), ("ORG", tags.organisations), ("PLACE", tags.places)):
        for ent in group:
            for m in ent.mentions:
                out.append({"start": m.start, "end": m.end, "text": m.text, "label": label, "name": ent.name})
    out.sort(key=lambda e: (e["start"], e["end"]))
    return out


def _published(value: Any) -> datetime | None:
    if not value:
        return None
    if not isinstance(value, str):
        raise TypeError("published_at must be an ISO 8601 string")
    return datetime.fromisoformat(value)


def run_tag_stream(inp: TextIO, out: TextIO, place: PlaceFn = _unplaced) -> int:
    """Tag every JSON line of ``inp``; write one JSON line per good input line, with the story
    ``place`` gives it (none by default).

    Exit code: 0, or 1 if any line failed."""
    failed = 0
    for lineno, line in enumerate(inp, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise TypeError("a line must be a JSON object")
            aid = obj.get("id")
            text = obj.get("text")
            if not isinstance(aid, str) or not aid:
                raise ValueError('missing "id"')
            if not isinstance(text, str):
                raise TypeError('missing "text"')
            title = obj.get("title") if isinstance(obj.get("title"), str) else None
            cats = obj.get("categories") or ()
            tags = tag(
                text,
                title=title,
                categories=[str(c) for c in cats] if isinstance(cats, list) else (),
                url=obj.get("url") if isinstance(obj.get("url"), str) else None,
                language_hint=obj.get("language") if isinstance(obj.get("language"), str) else None,
            )
            story_id, duplicate_of = place(aid, story_features(text, title, tags), _published(obj.get("published_at")))
            record = {
                "id": aid,
                "entities": _entities(tags),
                "places": [p.model_dump() for p in tags.places],
                "people": [e.name for e in tags.people],
                "organisations": [e.name for e in tags.organisations],
                "keywords": tags.keywords,
                "topics": tags.topics,
                "language": tags.language,
                "story_id": story_id,
                "duplicate_of": duplicate_of,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
        except Exception as exc:  # one bad line must not stop the stream
            failed += 1
            print(f"tag: line {lineno}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 1 if failed else 0


def main() -> int:
    return run_tag_stream(sys.stdin, sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
