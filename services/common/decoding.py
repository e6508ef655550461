"""The one HTML decoding function of the project: bytes as fetched -> text.

The order is what a browser does: a byte-order mark, then the charset of the
HTTP ``Content-Type`` header, then the document's ``<meta charset>`` (or
``http-equiv``), then detection (UTF-8 if the bytes are valid UTF-8, else
charset_normalizer's guess, via trafilatura), and UTF-8 as the last resort;
bytes that do not fit the chosen encoding are replaced, never an error.
Text that is already ``str`` passes through unchanged.

Size caps are not decoding: a stage that bounds its input does so before or
after calling this.
"""

from __future__ import annotations

from trafilatura.utils import detect_encoding
from w3lib.encoding import html_to_unicode


def decode_html(body: bytes | str, content_type: str | None = None) -> str:
    """Text of an HTML document: BOM, then the HTTP charset, then <meta charset>, then detection (w3lib)."""
    if isinstance(body, str):
        return body
    _, text = html_to_unicode(content_type, body, auto_detect_fun=_guess_encoding)
    return str(text)


def _guess_encoding(body: bytes) -> str | None:
    guesses = detect_encoding(body)
    return guesses[0] if guesses else None
