"""The feed list: plain text (one URL per line, ``#`` comments) or OPML."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from services.common.urls import BadURLError, normalize_url


class FeedListError(ValueError):
    """The feed list cannot be read; the message names the file and line."""


def parse_feed_list(text: str, source: str = "<feeds>") -> list[str]:
    """Feed URLs from a plain-text or OPML document, de-duplicated, in order."""
    stripped = text.lstrip()
    if stripped.startswith("<"):
        urls = _parse_opml(stripped, source)
    else:
        urls = []
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            url = line.split()[0]  # anything after the URL is a comment
            try:
                normalize_url(url)
            except BadURLError as exc:
                raise FeedListError(f"{source}:{lineno}: {exc}") from exc
            urls.append(url)
    return list(dict.fromkeys(urls))


def _parse_opml(text: str, source: str) -> list[str]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise FeedListError(f"{source}: not a valid OPML document: {exc}") from exc
    urls = [el.get("xmlUrl") for el in root.iter("outline") if el.get("xmlUrl")]
    bad = [u for u in urls if not u.startswith(("http://", "https://"))]
    if bad:
        raise FeedListError(f"{source}: OPML outline with a non-http xmlUrl: {bad[0]!r}")
    return urls


def read_feed_list(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedListError(f"cannot read feed list {path}: {exc}") from exc
    return parse_feed_list(text, str(path))
