"""The feed list: plain text (one feed a line, ``#`` comments) or OPML; per-feed options in both.

Plain text: ``URL [key=value ...]  [# title or comment]``; values with spaces in quotes
(``user_agent="Bot/1 (+https://x)"``, shell rules). OPML: an outline's ``xmlUrl``, its
``title``/``text``, and the options as attributes in the newsflow namespace
(``newsflow:min_interval="10m"``, namespace :data:`OPML_NS`). The keys are in
:mod:`services.fetcher.feedoptions`. Every error names the file and line.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from services.common.urls import BadURLError, normalize_url
from services.fetcher.feedoptions import NO_OPTIONS, FeedOptions, OptionError

OPML_NS = "https://github.com/newsflow/newsflow#feed-options"


class FeedListError(ValueError):
    """The feed list cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class ListedFeed:
    """One feed of the list: its URL, options, title (the line's comment, OPML title) and where it is."""

    url: str
    options: FeedOptions = NO_OPTIONS
    title: str | None = None
    where: str = ""  # "feeds.txt:3": messages about this feed name its line


def parse_feeds(text: str, source: str = "<feeds>") -> list[ListedFeed]:
    """The feeds of a plain-text or OPML document, de-duplicated, in order.

    A URL listed twice keeps its first line; listed again with other options, it is an error."""
    stripped = text.lstrip()
    if stripped.startswith("<"):
        feeds = _parse_opml(stripped, source)
    else:
        lines = (_parse_line(line, f"{source}:{n}") for n, line in enumerate(text.splitlines(), 1))
        feeds = [f for f in lines if f is not None]
    first: dict[str, ListedFeed] = {}
    for feed in feeds:
        seen = first.setdefault(feed.url, feed)
        if seen.options != feed.options:
            raise FeedListError(f"{feed.where}: {feed.url} is listed again with other options (first at {seen.where})")
    return list(first.values())


def parse_feed_list(text: str, source: str = "<feeds>") -> list[str]:
    """Feed URLs from a plain-text or OPML document, de-duplicated, in order."""
    return [feed.url for feed in parse_feeds(text, source)]


def _parse_line(line: str, where: str) -> ListedFeed | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    url, *more = line.split(None, 1)
    try:
        normalize_url(url)
    except BadURLError as exc:
        raise FeedListError(f"{where}: {exc}") from exc
    body, title = _split_comment(more[0] if more else "")
    try:
        tokens = shlex.split(body)
    except ValueError as exc:  # No closing quotation
        raise FeedListError(f"{where}: {exc} in the options after the URL") from None
    pairs = []
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise FeedListError(f"{where}: {token!r} after the URL is not key=value (a comment starts with #)")
        pairs.append((key, value))
    try:
        return ListedFeed(url, FeedOptions.parse(pairs), title, where)
    except OptionError as exc:
        raise FeedListError(f"{where}: {exc}") from None


def _split_comment(text: str) -> tuple[str, str | None]:
    """``key=value ...  # comment`` -> (the options, the comment); a ``#`` inside quotes is not one."""
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quote != "'":
            i += 2
            continue
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i], " ".join(text[i + 1:].split()) or None
        i += 1
    return text, None


def _parse_opml(text: str, source: str) -> list[ListedFeed]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        raise FeedListError(f"{source}: not a valid OPML document: {exc}") from exc
    feeds = []
    prefix = f"{{{OPML_NS}}}"
    for el in root.iter("outline"):
        url = (el.get("xmlUrl") or "").strip()
        if not url:
            continue
        where = f"{source}:{el.sourceline}"
        if not url.startswith(("http://", "https://")):
            raise FeedListError(f"{where}: OPML outline with a non-http xmlUrl: {url!r}")
        pairs = [(str(k)[len(prefix):], str(v)) for k, v in el.attrib.items() if str(k).startswith(prefix)]
        try:
            options = FeedOptions.parse(pairs)
        except OptionError as exc:
            raise FeedListError(f"{where}: {exc} (attribute newsflow:...)") from None
        title = el.get("title") or el.get("text")
        feeds.append(ListedFeed(url, options, title if title != url else None, where))
    return feeds


def read_feeds(path: Path) -> list[ListedFeed]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedListError(f"cannot read feed list {path}: {exc}") from exc
    return parse_feeds(text, str(path))


def read_feed_list(path: Path) -> list[str]:
    return [feed.url for feed in read_feeds(path)]


def check_environment(feeds: list[ListedFeed], environ: Mapping[str, str]) -> None:
    """Every environment variable the enabled feeds' options name is set; else one error naming each line."""
    problems = [f"{feed.where}: {message}" for feed in feeds if not feed.options.disabled
                for message in feed.options.missing_env(environ)]
    if problems:
        raise FeedListError("; ".join(problems))


# --- OPML import and export, titles ------------------------------------------------------------

def is_opml(text: str) -> bool:
    return text.lstrip().startswith("<")


def outlines(text: str, source: str = "<feeds>") -> list[ListedFeed]:
    """The feeds of a list with their titles (OPML ``title``/``text``, or ``URL ...  # title``) and options."""
    return parse_feeds(text, source)


def format_line(feed: ListedFeed) -> str:
    """``URL key=value ...  # title``: a plain-text line that parses back to ``feed``."""
    options = " ".join(f"{key}={shlex.quote(value)}" for key, value in feed.options.pairs())
    line = f"{feed.url} {options}" if options else feed.url
    return f"{line}  # {' '.join(feed.title.split())}" if feed.title and feed.title.split() else line


def to_opml(feeds: list[ListedFeed], title: str = "newsflow feeds") -> str:
    """An OPML 2.0 document listing ``feeds`` (``type="rss"`` is what readers expect for any feed), their
    options as ``newsflow:`` attributes."""
    with_options = any(feed.options.pairs() for feed in feeds)
    root = etree.Element("opml", version="2.0", nsmap={"newsflow": OPML_NS} if with_options else None)
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    for feed in feeds:
        name = feed.title or feed.url
        outline = etree.SubElement(body, "outline", type="rss", text=name, title=name, xmlUrl=feed.url)
        for key, value in feed.options.pairs():
            outline.set(f"{{{OPML_NS}}}{key}", value)
    return str(etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8").decode("utf-8"))


def append_feeds(path: Path, feeds: list[ListedFeed], note: str) -> tuple[int, int]:
    """Append feeds not yet listed to the plain-text list at ``path``; returns (added, already listed)."""
    existing = read_feed_list(path) if path.exists() else []
    if path.exists() and is_opml(path.read_text(encoding="utf-8")):
        raise FeedListError(f"{path} is an OPML file: point NEWSFLOW_FEEDS_FILE at a plain-text list to add feeds "
                            "(`newsflow feeds import` writes one URL per line)")
    known = set(existing)
    new = [feed for feed in feeds if feed.url not in known]
    if new:
        lines = [f"# {note}"] + [format_line(feed) for feed in new]
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        prefix = "" if not text or text.endswith("\n") else "\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(prefix + "\n".join(lines) + "\n")
    return len(new), len(feeds) - len(new)
