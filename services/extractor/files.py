"""``newsflow extract``: the extractor stage's processing on local HTML files, no broker.

Each file goes through the same steps as a page from Kafka (:mod:`services.extractor.pipeline`):
its bytes are decoded by the project's one HTML decoder, wrapped in a :class:`PageMessage`,
analysed and built into an :class:`Article` with its story features. Placing the files in their
stories is the story stage's (a stage does not import another): ``newsflow extract``
(``services/cli/extract.py``) hands each article to an in-memory ``services.stories`` index, so the files
of one run are clustered together.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.common.decoding import decode_html
from services.common.messages import Article, FeedEntry, PageMessage
from services.common.urls import article_id
from services.extractor.pipeline import analyse, build_article


def file_url(path: Path) -> str:
    """The URL a local file stands for when none is given: ``http://localhost/<absolute path>``."""
    return path.resolve().as_uri().replace("file://", "http://localhost", 1)


class NotHTML(ValueError):
    """The file is binary (an image, an archive, a PDF...), not an HTML page."""


_DECOMPRESSORS: dict[bytes, tuple[str, Callable[[], Any]]] = {
    b"\x1f\x8b": ("gzip", lambda: zlib.decompressobj(wbits=31)),
    b"BZh": ("bzip2", bz2.BZ2Decompressor),
    b"\xfd7zXZ\x00": ("xz", lzma.LZMADecompressor),
}
_BINARY = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image",
           b"%PDF": "a PDF document", b"PK\x03\x04": "a ZIP archive", b"RIFF": "a RIFF (WebP/AVI/WAV) file",
           b"\x00\x00\x01\x00": "an icon", b"\x7fELF": "an executable"}
MAX_FILE_BYTES = 64 * 1024 * 1024


def html_bytes(raw: bytes) -> bytes:
    """The bytes of an HTML page from a file's bytes: compressed files (gzip, bzip2, xz, recognised by
    content, not by name) are decompressed (at most :data:`MAX_FILE_BYTES`); binary files are refused."""
    for magic, (name, decompressor) in _DECOMPRESSORS.items():
        if raw.startswith(magic):
            try:  # bounded: a small bomb must not fill the memory
                raw = decompressor().decompress(raw, MAX_FILE_BYTES + 1)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
                raise NotHTML(f"looks {name}-compressed but does not decompress: {exc}") from exc
            break
    if len(raw) > MAX_FILE_BYTES:
        raise NotHTML(f"{len(raw)} bytes is more than {MAX_FILE_BYTES} (not a web page)")
    for magic, what in _BINARY.items():
        if raw.startswith(magic):
            raise NotHTML(f"{what}, not an HTML page")
    head = raw[:4096]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):  # NUL bytes outside UTF-16
        raise NotHTML("binary data, not an HTML page")
    return raw


def page_from_file(path: Path, url: str | None = None) -> PageMessage:
    """A page message for ``path`` as if the fetcher had fetched it from ``url`` just now."""
    page_url = url or file_url(path)
    return PageMessage(
        id=article_id(page_url), url=page_url, final_url=page_url, status=200,
        content_type="text/html", html=decode_html(html_bytes(path.read_bytes())),
        fetched_at=datetime.now(UTC), entry=FeedEntry(feed_url="", entry_id=page_url, link=page_url),
    )


def extract_file(path: Path, url: str | None) -> Article:
    """Extract and tag one HTML file exactly as the extractor stage would (no feed: ``feed_url``
    is None); the article has its story features, no story yet."""
    page = page_from_file(path, url)
    analysis = analyse(page)
    return build_article(page, analysis.extracted, analysis.tags).model_copy(update={"feed_url": None})
