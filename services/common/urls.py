"""URL normalisation and article ids.

The article id is what makes the pipeline idempotent end to end: the fetcher
keys ``newsflow.pages`` by it, the sink upserts by it. It must therefore not
change with cosmetic URL differences (host case, default port, fragment,
tracking parameters, parameter order). courlan does the normalisation; we only
drop the fragment, which courlan keeps.
"""

from __future__ import annotations

import hashlib
import html
import re
from urllib.parse import urldefrag, urljoin, urlsplit

from courlan import normalize_url as _courlan_normalize


class BadURLError(ValueError):
    """The string is not an absolute http(s) URL."""


def normalize_url(url: str) -> str:
    """Canonical form of an http(s) URL: lower-case host, no default port,
    no fragment, no tracking parameters (utm_*, fbclid, ...), sorted query."""
    raw = url.strip()
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise BadURLError(f"not an absolute http(s) URL: {raw[:200]!r}")
    try:
        # courlan unescapes every HTML entity of a string, legacy ones without ';' too (``&sect``,
        # ``&not``): ``?id=1&section=a`` became ``?id=1%C2%A7ion%3Da``, a page that does not exist.
        # Only complete references (``&amp;`` of a double-escaped feed) are unescaped here.
        normalised = _courlan_normalize(urlsplit(_unescape_references(raw)), strict=False)
    except (ValueError, AttributeError) as exc:
        raise BadURLError(f"cannot normalise URL {raw[:200]!r}: {exc}") from exc
    return urldefrag(normalised).url


_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _unescape_references(url: str) -> str:
    """``url`` with its complete character references (``&amp;``, ``&#38;``) unescaped, and nothing else."""
    return _REFERENCE.sub(lambda m: html.unescape(m.group(0)), url) if "&" in url else url


MAX_LINK_CHARS = 2000
_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f]")


def absolute_http_url(value: object, base: str | None) -> str | None:
    """``value`` (a link from a feed or a page) as an absolute http(s) URL, resolved against ``base``;
    None when it is not one: not a string, another scheme (``javascript:``, ``data:``), no host,
    whitespace or control characters inside, longer than :data:`MAX_LINK_CHARS`. Not normalised: a
    media or image URL is kept as the publisher wrote it (signed CDN URLs depend on every character)."""
    if not isinstance(value, str):
        return None
    raw = value.strip()
    if not raw or len(raw) > MAX_LINK_CHARS or _UNSAFE_IN_URL.search(raw):
        return None
    try:
        url = urljoin(base, raw) if base else raw
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # an invalid IPv6 literal, a bad port
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or len(url) > MAX_LINK_CHARS:
        return None
    return url


def article_id(url: str) -> str:
    """Stable id of an article: the first 16 bytes of SHA-256 of its normalised URL, hex."""
    return _digest(normalize_url(url))


def article_id_of_normalised(url: str) -> str:
    """:func:`article_id` of ``url``, a URL :func:`normalize_url` returned (a feed entry's link): the
    same id, without normalising again where that provably returns ``url`` unchanged.

    :func:`normalize_url` unescapes complete character references first (``&amp;`` -> ``&``), so a
    normalised URL that still holds one (``?q=a%26amp;b`` decoded to ``&amp;``) would change again;
    its output is otherwise a fixed point (lower-case host, default port dropped, single slashes,
    path quoted with ``%`` safe, query decoded, sorted and re-encoded, fragment dropped). So the id
    is hashed directly when unescaping changes nothing and the host is plain ASCII (no punycode to
    decode, no user info); any other URL is normalised again, as :func:`article_id` does.
    """
    if url.isascii() and "xn--" not in url and "@" not in url and _unescape_references(url) == url:
        return _digest(url)
    return article_id(url)


def _digest(normalised: str) -> str:
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:32]


def domain(url: str) -> str:
    """Host of a URL without a leading ``www.``, for display and bounded metric labels."""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pass|sslpassword)=)[^&]*")


def redact_url(url: str) -> str:
    """``url`` with the password of its user info (and any ``password=`` query parameter) replaced
    by ``***``; also for URLs a parser rejects (a ``/`` or ``%`` in the password, an unclosed ``[``),
    so that an error message about a malformed URL cannot leak the secret in it."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _SECRET_QUERY.sub(r"\1***", url)
    userinfo, at, host = rest.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        rest = f"{user}{':***' if colon else ''}@{host}"
    return _SECRET_QUERY.sub(r"\1***", f"{scheme}://{rest}")
