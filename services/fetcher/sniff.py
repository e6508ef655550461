"""Is a body text at all? Content sniffing for what a server labels ``text/html`` (or a feed type).

A server's ``Content-Type`` is a claim; a PNG served as ``text/html`` must not reach the
extractor as an "article" of binary. :func:`binary_kind` looks at the first bytes: known
signatures of images, documents, archives, media and executables, then the share of NUL and
other control bytes (over 5%: random binary has ~10%, text in any encoding next to none; a stray
NUL in a page is text, stripped by the extractor; UTF-16 text, which has NULs, is recognised by
its byte order mark or its first "<"). Pure function.
"""

from __future__ import annotations

SNIFF_BYTES = 2048

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"), (b"II*\x00", "a TIFF image"), (b"MM\x00*", "a TIFF image"),
    (b"\x00\x00\x01\x00", "an icon"), (b"%PDF-", "a PDF document"), (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "gzip data"), (b"\xfd7zXZ\x00", "xz data"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"), (b"\x7fELF", "an executable"), (b"\x00asm", "WebAssembly"),
    (b"OggS", "Ogg media"), (b"ID3", "MP3 audio"), (b"fLaC", "FLAC audio"), (b"\x1aE\xdf\xa3", "Matroska/WebM media"),
    (b"wOFF", "a web font"), (b"wOF2", "a web font"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Office document"),
    (b"\x28\xb5\x2f\xfd", "zstd data"), (b"SQLite format 3\x00", "an SQLite database"),
)
_TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_CONTROL = frozenset(range(0, 9)) | frozenset(range(14, 27)) | frozenset(range(28, 32)) | {11, 127}
"""Control bytes text does not contain: not tab, newline, form feed, carriage return, nor ESC (ISO-2022-JP)."""


def binary_kind(body: bytes) -> str | None:
    """What the body is when it is not text (``"a PNG image"``, ``"binary data"``), else None."""
    head = body[:SNIFF_BYTES]
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[4:8] == b"ftyp":
        return "MP4/QuickTime media"
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return "RIFF media (WebP, WAV or AVI)"
    if head.startswith(_TEXT_BOMS) or head.startswith((b"<\x00", b"\x00<")):
        return None  # UTF-8/16 text (a BOM, or "<" in UTF-16): NULs are expected in UTF-16
    controls = sum(1 for byte in head if byte in _CONTROL)
    if head and controls * 20 > len(head):  # over 5% NUL and control bytes: not text in any encoding
        return "binary data (NUL and control bytes)"
    return None  # a stray NUL or control character in a text page is the extractor's to strip
