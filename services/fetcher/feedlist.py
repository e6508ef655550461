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


# --- OPML import and export, titles ------------------------------------------------------------

def is_opml(text: str) -> bool:
    return text.lstrip().startswith("<")


def outlines(text: str, source: str = "<feeds>") -> list[tuple[str, str | None]]:
    """``(url, title)`` pairs of a feed list: OPML ``text``/``title`` attributes, or ``URL  # title`` lines."""
    if is_opml(text):
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        try:
            root = etree.fromstring(text.lstrip().encode("utf-8"), parser)
        except etree.XMLSyntaxError as exc:
            raise FeedListError(f"{source}: not a valid OPML document: {exc}") from exc
        pairs = [(el.get("xmlUrl", "").strip(), el.get("title") or el.get("text"))
                 for el in root.iter("outline") if el.get("xmlUrl")]
        bad = [u for u, _ in pairs if not u.startswith(("http://", "https://"))]
        if bad:
            raise FeedListError(f"{source}: OPML outline with a non-http xmlUrl: {bad[0]!r}")
    else:
        parse_feed_list(text, source)  # validates every line
        pairs = []
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                url = line.split()[0]
                rest = line[len(url):].strip()
                pairs.append((url, rest.lstrip("#").strip() or None if rest.startswith("#") else None))
    seen: dict[str, str | None] = {}
    for url, title in pairs:
        seen.setdefault(url, title)
    return list(seen.items())


def to_opml(feeds: list[tuple[str, str | None]], title: str = "newsflow feeds") -> str:
    """An OPML 2.0 document listing ``feeds`` (``type="rss"`` is what readers expect for any feed)."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    for url, name in feeds:
        etree.SubElement(body, "outline", type="rss", text=name or url, title=name or url, xmlUrl=url)
    return str(etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8").decode("utf-8"))


def append_feeds(path: Path, feeds: list[tuple[str, str | None]], note: str) -> tuple[int, int]:
    """Append feeds not yet listed to the plain-text list at ``path``; returns (added, already listed)."""
    existing = read_feed_list(path) if path.exists() else []
    if path.exists() and is_opml(path.read_text(encoding="utf-8")):
        raise FeedListError(f"{path} is an OPML file: point NEWSFLOW_FEEDS_FILE at a plain-text list to add feeds "
                            "(`newsflow feeds import` writes one URL per line)")
    known = set(existing)
    new = [(u, t) for u, t in feeds if u not in known]
    if new:
        lines = [f"# {note}"] + [f"{u}  # {' '.join(t.split())}" if t else u for u, t in new]
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        prefix = "" if not text or text.endswith("\n") else "\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(prefix + "\n".join(lines) + "\n")
    return len(new), len(feeds) - len(new)
