"""The messages that travel between stages, one module, versioned.

Every message carries ``schema_version``; writers write :data:`SCHEMA_VERSION`.
So that old and new replicas can run side by side during a rolling upgrade, a
reader accepts its own version, the **next** one (a newer writer: additive
changes are not breaking, and fields it does not know are ignored), and older
ones for which the model has an **upcaster** (a function from version ``n``'s
dict to version ``n + 1``'s; an additive change registers ``dict`` as-is, a
breaking change writes one). Anything else is refused with a clear error (the
message is dead-lettered, not dropped), so that a replay of an old topic after
a breaking change is visible instead of silently wrong.

Topics and their values:

* ``newsflow.pages``: :class:`PageMessage` (a fetched page plus its feed entry)
* ``newsflow.extracted``: :class:`Article` as the extractor made it, with its
  :class:`StoryFeatures` and no story yet (one partition: the story stage reads it in order)
* ``newsflow.articles``: :class:`Article` (extracted, tagged, placed in its story)
* ``newsflow.dlq``: the original bytes, untouched, with the reason in headers

Values are JSON (UTF-8); keys are the article id, so one article always lands
on one partition.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SCHEMA_VERSION = 2
"""Version history (all additive so far; the upcaster of an additive change is ``dict``):

1. the first versioned messages
2. media: ``FeedEntry.image``/``media``/``tags``/``language_hint``, ``Article.image``/``media``/``tags``
"""


class MessageError(ValueError):
    """A message that cannot be decoded: wrong JSON, wrong shape or unknown version."""


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean_text(value: Any) -> Any:
    """Drop NUL and other control characters (tab and newlines stay) from strings and lists of
    strings: feeds and pages carry them, and PostgreSQL rejects NUL in text."""
    if isinstance(value, str):
        return _CONTROL_CHARS.sub("", value)
    if isinstance(value, list):
        return [_CONTROL_CHARS.sub("", v) if isinstance(v, str) else v for v in value]
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
ADDITIVE: dict[int, Upcaster] = {1: dict}  # version n -> n+1 of the changes listed under SCHEMA_VERSION


class _Versioned(BaseModel):
    """A top-level message: ``schema_version`` checked and older versions upcast before validation."""

    SCHEMA_VERSION: ClassVar[int] = SCHEMA_VERSION
    #: version n -> a function turning a version-n dict into a version n+1 dict
    UPCASTERS: ClassVar[dict[int, Upcaster]] = ADDITIVE

    schema_version: int = SCHEMA_VERSION

    @model_validator(mode="before")
    @classmethod
    def _readable_version(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        version = data.get("schema_version", cls.SCHEMA_VERSION)
        if not isinstance(version, int) or version > cls.SCHEMA_VERSION + 1:
            raise ValueError(f"schema_version {version!r}: this newsflow reads versions up to "
                             f"{cls.SCHEMA_VERSION + 1} (upgrade it)")
        while version < cls.SCHEMA_VERSION:
            upcast = cls.UPCASTERS.get(version)
            if upcast is None:
                raise ValueError(f"schema_version {version}: too old for this newsflow (reads "
                                 f"{cls.SCHEMA_VERSION} and {cls.SCHEMA_VERSION + 1}; no upcaster from {version})")
            data = {**upcast(dict(data)), "schema_version": version + 1}
            version += 1
        # a newer writer's message is read as this version: the fields it added are ignored
        return {**data, "schema_version": cls.SCHEMA_VERSION}


class _TextModel(_Model):
    """A message with text from the outside world: control characters are removed on the way in."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        return _clean_text(value)


class Media(_Model):
    """A media object of an item: an RSS ``<enclosure>``, a Media RSS ``media:content``/``media:thumbnail``,
    a JSON Feed attachment, or the page's lead image."""

    url: str
    type: str | None = Field(None, description="MIME type, e.g. 'audio/mpeg'")
    length: int | None = Field(None, ge=0, description="size in bytes, as the feed states it")
    duration: float | None = Field(None, ge=0, description="seconds")
    medium: Literal["image", "audio", "video", "document", "executable"] | None = None


class FeedEntry(_TextModel):
    """One item of a feed, as the fetcher saw it (the feed's own metadata)."""

    feed_url: str
    entry_id: str = Field(description="GUID/id when stable, else the normalised link")
    link: str
    title: str | None = None
    summary: str | None = None
    content: str | None = Field(None, description="full content (content:encoded) when the feed has it")
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    updated_at: datetime | None = None
    categories: list[str] = Field(default_factory=list)
    feed_title: str | None = None
    first_seen_at: datetime | None = None
    image: str | None = Field(None, description="the entry's lead image URL (media:thumbnail, an image enclosure)")
    media: list[Media] = Field(default_factory=list, description="enclosures and media:content of the entry")
    tags: list[str] = Field(default_factory=list, description="the feed's category tags (per-feed option tags=)")
    language_hint: str | None = Field(None, description="the feed's language option (per-feed option language=)")


class PageMessage(_Versioned, _Model):
    """``newsflow.pages``: a fetched article page and the feed entry that linked it."""

    id: str = Field(description="article id: stable hash of the normalised entry URL")
    url: str = Field(description="normalised entry URL")
    final_url: str = Field(description="URL after redirects")
    status: int
    content_type: str | None = None
    html: str
    fetched_at: datetime
    is_update: bool = Field(False, description="the entry was seen before and its content changed")
    entry: FeedEntry


class Mention(_Model):
    """Where a tag was found: character offsets into ``Article.text``."""

    start: int
    end: int
    text: str


class Entity(_Model):
    """A person or organisation, normalised to one canonical name per article."""

    name: str
    mentions: list[Mention] = Field(default_factory=list)


class Place(_Model):
    """A place resolved to a gazetteer entry."""

    name: str
    place_id: str = Field(description="stable gazetteer id, e.g. 'geonames:706483' or 'iso3166:UA'")
    kind: Literal["country", "region", "city"]
    country_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    mentions: list[Mention] = Field(default_factory=list)


class Tags(_Model):
    """Everything the tagger says about one text."""

    language: str | None = None
    places: list[Place] = Field(default_factory=list)
    people: list[Entity] = Field(default_factory=list)
    organisations: list[Entity] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)


class StoryFeatures(_Model):
    """What the story stage needs of an article to place it, computed by the extractor
    (``services/extractor/features.py``) so that placing stays cheap. Optional on
    :class:`Article` (an additive field): an article without it is not placed.

    ``signature``: base64 of the MinHash signature over the word shingles, ``64`` little-endian
    uint32 values; ``format`` names how it was made (signatures of another format are not
    comparable, and the story stage does not place such an article). ``terms``: the article's
    top terms (most frequent first) with their weight ``1 + log(count)``; ``entities``: entity
    keys (``p:``/``o:``/``g:``) with their salience weight.
    """

    FORMAT: ClassVar[str] = "minhash-affine32-64/1"

    format: str = FORMAT
    signature: str
    shingles: int = Field(ge=0, description="distinct shingles the signature was made from")
    terms: dict[str, float] = Field(default_factory=dict)
    entities: dict[str, float] = Field(default_factory=dict)


class Article(_Versioned, _TextModel):
    """``newsflow.articles``: one extracted, tagged article (also one line of ``articles export``)."""

    id: str
    url: str
    canonical_url: str | None = None
    source: str = Field(description="site name, else the domain")
    feed_url: str | None = None
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    updated_at: datetime | None = None
    language: str | None = None
    text: str
    summary: str | None = None
    access: Literal["open", "paywalled", "consent"] = "open"
    places: list[Place] = Field(default_factory=list)
    people: list[Entity] = Field(default_factory=list)
    organisations: list[Entity] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    story_id: str | None = None
    duplicate_of: str | None = None
    extractor_version: str
    content_hash: str = Field(description="hash of title + text: what makes a revision")
    fetched_at: datetime
    first_seen_at: datetime | None = None
    image: str | None = Field(None, description="lead image URL: the page's og:image / JSON-LD image, else the feed's")
    media: list[Media] = Field(default_factory=list, description="the feed entry's enclosures and media:content")
    tags: list[str] = Field(default_factory=list, description="category tags of the feed it came from")
    story_features: StoryFeatures | None = Field(
        None, exclude_if=lambda v: v is None,
        description="what the story stage places the article by (set by the extractor; left out when None: "
        "the sink does not store it)")


M = TypeVar("M", bound=BaseModel)


def encode(message: BaseModel) -> bytes:
    """Serialise a message to the JSON bytes that go on a topic (the same bytes as
    ``model_dump_json().encode()``, without a round trip through ``str``: half the cost on a page)."""
    return message.__pydantic_serializer__.to_json(message)


def decode(model: type[M], raw: bytes | None) -> M:
    """Parse topic bytes into ``model``; any problem becomes a :class:`MessageError`."""
    if raw is None:
        raise MessageError("empty message (tombstone)")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise MessageError(_short(exc)) from exc


def _short(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(root)"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"
