"""An entry's media: its lead image and its media objects (:class:`~services.common.messages.Media`).

From a feedparser entry (RSS/Atom):

* ``<enclosure url length type>`` (feedparser: ``links`` with ``rel="enclosure"``; Atom's
  ``<link rel="enclosure">`` too);
* Media RSS ``media:content`` (``url``, ``type``, ``fileSize``, ``duration``, ``medium``, also
  inside ``media:group``) and ``media:thumbnail``;
* the iTunes ``itunes:duration`` of a podcast episode, for its one audio/video enclosure.

From a JSON Feed item: ``image`` and ``banner_image``, and ``attachments`` (``url``,
``mime_type``, ``size_in_bytes``, ``duration_in_seconds``).

``media`` holds the enclosures, ``media:content`` and attachments, in document order;
``image`` is the entry's lead image: its first ``media:thumbnail`` (JSON Feed: ``image``, then
``banner_image``), else its first image among ``media``. URLs are made absolute against the
feed's URL and kept only when they are http(s) without whitespace or control characters, at
most 2,000 characters long (:func:`~services.common.urls.absolute_http_url`); a URL seen twice
is kept once; at most :data:`MAX_MEDIA` objects per entry. A size, duration, type or medium that
does not parse is left out (the object stays).
These are an entry's attributes, not items of the feed: what is left out is not counted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from typing import Any, Literal, cast, get_args

from services.common.messages import Media
from services.common.urls import absolute_http_url

MAX_MEDIA = 20
"""The most media objects one entry keeps (a feed listing 500 images per item keeps 20)."""
MAX_BYTES = 2**62
"""Sizes beyond this are not sizes (PostgreSQL's bigint, and JSON readers, end near 2**63)."""
MAX_SECONDS = 1e7
"""Durations beyond ~115 days are not durations."""

Medium = Literal["image", "audio", "video", "document", "executable"]
MEDIUMS: frozenset[str] = frozenset(get_args(Medium))
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_CLOCK = re.compile(r"^(?:(\d{1,4}):)?(\d{1,4}):(\d{1,2}(?:\.\d+)?)$")


def mime_type(value: object) -> str | None:
    """A MIME type (``type/subtype``, lower case, parameters dropped), else None."""
    if not isinstance(value, str):
        return None
    found = value.split(";", 1)[0].strip().lower()
    return found if _MIME.match(found) else None


def byte_size(value: object) -> int | None:
    """A positive size in bytes (``0``, as many feeds write for "unknown", is None)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 19:
        value = int(value.strip())
    return value if isinstance(value, int) and 0 < value <= MAX_BYTES else None


def seconds(value: object) -> float | None:
    """A duration in seconds: a number, or ``H:MM:SS`` / ``MM:SS`` (iTunes); None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        clock = _CLOCK.match(text)
        if clock:
            hours, minutes, secs = clock.groups()
            value = int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
        else:
            try:
                value = float(text) if len(text) <= 32 else None
            except ValueError:
                return None
    if isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= MAX_SECONDS:
        return float(value)
    return None


def medium_of(stated: object, kind: str | None) -> Medium | None:
    """The ``medium`` a feed states when it is one Media RSS knows, else the MIME type's major part."""
    if isinstance(stated, str) and stated.strip().lower() in MEDIUMS:
        return cast(Medium, stated.strip().lower())
    major = (kind or "").split("/", 1)[0]
    return cast(Medium, major) if major in ("image", "audio", "video") else None


def media_object(url: object, base: str, kind: object = None, length: object = None, duration: object = None,
                 medium: object = None) -> Media | None:
    """One :class:`Media`, or None when its URL is not an absolute http(s) URL."""
    found = absolute_http_url(url, base)
    if found is None:
        return None
    mime = mime_type(kind)
    return Media(url=found, type=mime, length=byte_size(length), duration=seconds(duration),
                 medium=medium_of(medium, mime))


def _bounded(objects: Iterable[Media | None]) -> list[Media]:
    """The objects with a URL, each URL once, at most :data:`MAX_MEDIA`."""
    kept: dict[str, Media] = {}
    for obj in objects:
        if obj is not None and obj.url not in kept:
            kept[obj.url] = obj
            if len(kept) == MAX_MEDIA:
                break
    return list(kept.values())


def _is_image(media: Media) -> bool:
    return media.medium == "image"


# --- feedparser (RSS, Atom) ---------------------------------------------------------------------

def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _feedparser_objects(raw: Any, base: str) -> Iterator[Media | None]:
    for link in _dicts(raw.get("links")):
        if link.get("rel") == "enclosure":
            yield media_object(link.get("href"), base, link.get("type"), link.get("length"))
    for content in _dicts(raw.get("media_content")):
        yield media_object(content.get("url"), base, content.get("type"), content.get("filesize"),
                           content.get("duration"), content.get("medium"))


def feedparser_media(raw: Any, base: str) -> tuple[str | None, list[Media]]:
    """(lead image, media objects) of a feedparser entry; URLs absolute against ``base``."""
    media = _bounded(_feedparser_objects(raw, base))
    playable = [m for m in media if m.medium in ("audio", "video")]
    duration = seconds(raw.get("itunes_duration"))
    if len(playable) == 1 and playable[0].duration is None and duration is not None:
        media = [m.model_copy(update={"duration": duration}) if m is playable[0] else m for m in media]
    thumbnails = (absolute_http_url(t.get("url"), base) for t in _dicts(raw.get("media_thumbnail")))
    image = next((url for url in thumbnails if url), None)
    return image or next((m.url for m in media if _is_image(m)), None), media


# --- JSON Feed ----------------------------------------------------------------------------------

def json_item_media(item: dict[str, Any], base: str) -> tuple[str | None, list[Media]]:
    """(lead image, media objects) of a JSON Feed item; URLs absolute against ``base``."""
    media = _bounded(
        media_object(a.get("url"), base, a.get("mime_type"), a.get("size_in_bytes"), a.get("duration_in_seconds"))
        for a in _dicts(item.get("attachments"))
    )
    image = absolute_http_url(item.get("image"), base) or absolute_http_url(item.get("banner_image"), base)
    return image or next((m.url for m in media if _is_image(m)), None), media
