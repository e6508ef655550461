"""The one HTML decoding function of the project: bytes as fetched -> text.

The order: a byte-order mark; then **valid UTF-8 wins** over any declaration
(non-ASCII bytes that decode as UTF-8 are almost never text in a legacy
charset, while pages re-served as UTF-8 often keep their site's old
``<meta charset>``: mojibake otherwise); then the charset of the HTTP
``Content-Type`` header, then the document's ``<meta charset>`` (or
``http-equiv``), then detection (charset_normalizer's guess: trafilatura's
``detect_encoding``, without importing trafilatura), and UTF-8 as the last resort; bytes that do not fit the chosen encoding are
replaced, never an error.
Text that is already ``str`` passes through unchanged.

Size caps are not decoding: a stage that bounds its input does so before or
after calling this.
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes
from w3lib.encoding import html_to_unicode


def decode_html(body: bytes | str, content_type: str | None = None) -> str:
    """Text of an HTML document: BOM, valid UTF-8, the HTTP charset, <meta charset>, detection."""
    if isinstance(body, str):
        return body
    if not body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return body.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass  # not UTF-8: the declarations decide
    _, text = html_to_unicode(content_type, body, auto_detect_fun=_guess_encoding)
    return str(text)


def _guess_encoding(body: bytes) -> str | None:
    """charset_normalizer's first guess that is not UTF-8, as ``trafilatura.utils.detect_encoding`` (2.3)
    makes it, here so that the fetcher does not import trafilatura (and its language model, numpy,
    htmldate, justext: ~335 ms and tens of MB) for this one function. One difference: trafilatura
    asks cchardet first when it is installed; it is not a dependency, so the guesses are the same."""
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    # a long document: its first and last 5,000 bytes, the whole document when they give no guess
    results = (from_bytes(body) if len(body) < 10_000
               else (from_bytes(body[:5000] + body[-5000:]) or from_bytes(body)))
    return next((r.encoding for r in results if r.encoding not in ("utf-8", "utf_8")), None)
