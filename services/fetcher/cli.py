"""``newsflow feeds ...``: check, discover, add, import and export feeds, without Kafka; status, poll, backfill.

``feeds check`` never prints a traceback for a bad feed: every argument gives
either a summary or one ``ERROR`` line, and the exit status says whether any
failed. URLs are fetched with the fetcher's own HTTP client (same SSRF guard,
caps and timeouts; ``NEWSFLOW_ALLOWED_NETWORKS`` lets local servers through); a URL
listed in ``NEWSFLOW_FEEDS_FILE`` with options gets its headers, auth and user agent
(on its own origin only), as the fetcher's polls do.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import click
from kafka.errors import KafkaError

from services.common import kafka
from services.common.commands import settings_or_exit
from services.common.urls import BadURLError, normalize_url
from services.fetcher.backfill import MAX_PAGES, Backfill, BackfillReport
from services.fetcher.discover import discover_feeds, looks_like_html, robots_sitemaps
from services.fetcher.feedlist import FeedListError, ListedFeed, append_feeds, outlines, read_feeds, to_opml
from services.fetcher.feedoptions import FeedOptions, HostHeaders, OptionError
from services.fetcher.feedstatus import poll, status
from services.fetcher.http import FetchError, HttpClient
from services.fetcher.pages import PagePublisher
from services.fetcher.parse import FeedParseError, ParsedFeed, ParsePool, parse_safely
from services.fetcher.pgstate import open_state
from services.fetcher.poller import FeedPoller
from services.fetcher.settings import FetcherSettings


@click.group()
def feeds() -> None:
    """Check, discover, import, export, see and poll feeds (the list is NEWSFLOW_FEEDS_FILE)."""


feeds.add_command(status)
feeds.add_command(poll)


@dataclass(frozen=True)
class CheckResult:
    source: str
    parsed: ParsedFeed | None = None
    error: str | None = None
    discovered: tuple[str, ...] = ()  # a site page: the feeds it announces (checked after it)


def _settings() -> FetcherSettings:
    # One request at a time per host and no politeness delay: this is an interactive check.
    return settings_or_exit(FetcherSettings, per_host_min_delay_seconds=0, parse_workers=1)


def _listed_options(settings: FetcherSettings) -> dict[str, FeedOptions]:
    """The feed list's options by normalised URL (none when the list is missing or broken: a check still runs)."""
    try:
        return {_key(f.url): f.options for f in read_feeds(settings.feeds_file)} if settings.feeds_file.exists() else {}
    except FeedListError:
        return {}


def _key(url: str) -> str:
    try:
        return normalize_url(url)
    except BadURLError:
        return url


async def _fetch(http: HttpClient, url: str, settings: FetcherSettings,
                 listed: Mapping[str, FeedOptions]) -> tuple[bytes, str, str | None]:
    """GET ``url``; a listed feed with options gets its headers, auth and user agent, on its own origin only."""
    options = listed.get(_key(url))
    try:
        host_headers = HostHeaders.for_feed(url, options.request_headers(os.environ)) if options else None
    except OptionError as exc:
        raise FetchError("feed_option", f"feed {exc}") from None
    resp = await http.get(url, kind="feed", max_bytes=settings.max_feed_bytes, host_headers=host_headers)
    if resp.status != 200:
        raise FetchError("status", f"HTTP {resp.status}", resp.status)
    return resp.body, resp.url, resp.headers.get("content-type")


async def check_one(source: str, http: HttpClient, settings: FetcherSettings, base_url: str | None,
                    follow: bool = True, listed: Mapping[str, FeedOptions] | None = None) -> list[CheckResult]:
    """One argument: a file or a URL; a site page's discovered feeds are checked too. ``listed``: the feed
    list's options (a listed feed is fetched as the fetcher polls it)."""
    try:
        path = Path(source)
        if "://" not in source and path.is_dir():
            return [CheckResult(source, error="a directory, not a feed file")]
        if "://" not in source and path.exists():
            if path.stat().st_size > settings.max_feed_bytes:
                return [CheckResult(source, error=f"file larger than {settings.max_feed_bytes} bytes")]
            body, url, ctype = path.read_bytes(), base_url or path.resolve().as_uri(), None
        elif "://" not in source:
            return [CheckResult(source, error="no such file (URLs start with http:// or https://)")]
        else:
            body, url, ctype = await _fetch(http, source, settings, listed or {})
        try:
            return [CheckResult(source, parsed=parse_safely(body, url, ctype, settings.max_feed_entries))]
        except FeedParseError:
            if not (looks_like_html(body, ctype) and url.startswith("http")):
                raise
            found = discover_feeds(body, url)
            if not found:
                raise FeedParseError("an HTML page that announces no feed (no <link rel=\"alternate\">)") from None
            results = [CheckResult(source, discovered=tuple(found))]
            if follow:
                for feed_url in found[:5]:
                    results += await check_one(feed_url, http, settings, None, follow=False, listed=listed)
            return results
    except (FetchError, FeedParseError) as exc:
        return [CheckResult(source, error=str(exc))]
    except (OSError, ValueError) as exc:
        return [CheckResult(source, error=f"{type(exc).__name__}: {exc}")]


def _print(result: CheckResult, items: int) -> None:
    if result.discovered:
        checked = " (the first 5 are checked below)" if len(result.discovered) > 5 else " (checked below)"
        click.echo(f"{result.source}: an HTML page, not a feed; it announces {len(result.discovered)} "
                   f"feed(s){checked}:")
        for url in result.discovered:
            click.echo(f"  feed: {url}")
        return
    if result.error:
        click.echo(f"{result.source}: ERROR {result.error}")
        return
    parsed = result.parsed
    assert parsed is not None
    skipped = f", {parsed.skipped} without a link skipped" if parsed.skipped else ""
    click.echo(f"{result.source}: {parsed.format} {parsed.title or '(no title)'!r}: "
               f"{len(parsed.entries)} items{skipped}")
    if parsed.warning:
        click.echo(f"  warning: {parsed.warning}")
    if parsed.sitemaps:  # a sitemap index
        click.echo(f"  {len(parsed.sitemaps)} child sitemaps, newest first: {', '.join(parsed.sitemaps[:items])}")
    for entry in parsed.entries[:items]:
        when = entry.published_at or entry.updated_at
        stamp = when.strftime("%Y-%m-%d") if when else "----------"
        click.echo(f"  {stamp}  {(entry.title or '(no title)')[:80]}  <{entry.link}>")


@feeds.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--items", default=3, show_default=True, help="How many items to show per feed.")
@click.option("--base-url", help="Base URL for relative links in local files.")
def check(sources: tuple[str, ...], items: int, base_url: str | None) -> None:
    """Parse feeds (URLs or files) and print format, title, item count and first items."""
    settings = _settings()

    async def run() -> int:
        http = HttpClient(settings)
        failed = 0
        listed = _listed_options(settings)
        try:
            for source in sources:
                for result in await check_one(source, http, settings, base_url, listed=listed):
                    failed += result.error is not None
                    _print(result, items)
        finally:
            await http.aclose()
        return failed

    failed = asyncio.run(run())
    sys.exit(1 if failed else 0)


@feeds.command()
@click.argument("page_url")
def discover(page_url: str) -> None:
    """Print the feeds a site page announces (<link rel="alternate">), then the sitemaps its site's robots.txt
    names, as comment lines (``# sitemap (robots.txt): URL``: the output stays a feed list)."""
    settings = _settings()
    found = asyncio.run(_discover(page_url, settings))
    sitemaps = asyncio.run(robots_sitemaps(page_url, settings))
    for url in found:
        click.echo(url)
    for url in sitemaps:
        click.echo(f"# sitemap (robots.txt): {url}")
    if not found:
        named = f"; its site's robots.txt names {len(sitemaps)} sitemap(s), listed above" if sitemaps else ""
        raise click.ClickException(f"{page_url}: no feed found{named}")


async def _discover(page_url: str, settings: FetcherSettings) -> list[str]:
    http = HttpClient(settings)
    try:
        body, url, ctype = await _fetch(http, page_url, settings, {})  # a site page: no feed's options
    except FetchError as exc:
        raise click.ClickException(f"{page_url}: {exc}") from None
    finally:
        await http.aclose()
    try:
        parse_safely(body, url, ctype, settings.max_feed_entries)
        return [url]  # already a feed
    except FeedParseError:
        return discover_feeds(body, url)


@feeds.command()
@click.argument("urls", nargs=-1, required=True)
def add(urls: tuple[str, ...]) -> None:
    """Add feeds (or site pages: their announced feeds) to the feed list."""
    settings = _settings()
    found: list[ListedFeed] = []
    for url in urls:
        feeds_of_page = asyncio.run(_discover(url, settings))
        if not feeds_of_page:
            raise click.ClickException(f"{url}: neither a feed nor a page announcing one")
        found += [ListedFeed(u) for u in feeds_of_page]
    _append(settings.feeds_file, found, "added with `newsflow feeds add`")


@feeds.command("import")
@click.argument("opml_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def import_(opml_file: Path) -> None:
    """Append the feeds of an OPML file (or a text list) to the feed list, skipping those already there."""
    settings = settings_or_exit(FetcherSettings)
    try:
        items = outlines(opml_file.read_text(encoding="utf-8", errors="replace"), str(opml_file))
    except FeedListError as exc:
        raise click.ClickException(str(exc)) from None
    _append(settings.feeds_file, items, f"imported from {opml_file.name}")


def _append(path: Path, items: list[ListedFeed], what: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    try:
        added, known = append_feeds(path, items, f"{what} on {stamp}")
    except FeedListError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{path}: {added} feeds added, {known} already listed")


@feeds.command()
def export() -> None:
    """Print the feed list as OPML 2.0 (moved feeds at their new URL, titles from the last poll, options as
    newsflow: attributes)."""
    settings = settings_or_exit(FetcherSettings)
    path = settings.feeds_file
    try:
        items = outlines(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise click.ClickException(f"cannot read feed list {path}: {exc}") from None
    except FeedListError as exc:
        raise click.ClickException(str(exc)) from None
    db = settings.data_dir / "fetcher.db"
    if db.exists() or settings.fetcher_state_url.get_secret_value():
        state = open_state(settings)  # the state fetcher replicas share (SQLite file or PostgreSQL)
        try:
            known = state.moved_and_titles()
        finally:
            state.close()
        items = [replace(f, url=known[f.url][0] or f.url, title=f.title or known[f.url][1]) if f.url in known else f
                 for f in items]
    click.echo(to_opml(items), nl=False)


@feeds.command()
@click.argument("url")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Only entries published on or after this date (UTC); the walk stops at a document whose "
              "dated entries are all older.")
@click.option("--max-pages", default=MAX_PAGES, show_default=True, type=click.IntRange(min=1),
              help="Documents walked at most.")
def backfill(url: str, since: datetime | None, max_pages: int) -> None:
    """Walk a feed's archives (RFC 5005 prev-archive/next links) or a sitemap index; publish what was not seen.

    Needs the broker (pages go to newsflow.pages like a poll's) and the fetcher's state (NEWSFLOW_DATA_DIR
    or NEWSFLOW_FETCHER_STATE_URL), with the fetcher's politeness (NEWSFLOW_PER_HOST_MIN_DELAY_SECONDS).
    """
    settings = settings_or_exit(FetcherSettings, parse_workers=1)
    start = since.replace(tzinfo=UTC) if since else None
    try:
        report = asyncio.run(_backfill(settings, url, start, max_pages))
    except KafkaError as exc:
        raise click.ClickException(f"the broker at {settings.kafka_bootstrap_servers} is not reachable: {exc}") from None
    click.echo(f"{url}: {report.summary()}")
    sys.exit(1 if report.error else 0)


async def _backfill(settings: FetcherSettings, url: str, since: datetime | None, max_pages: int) -> BackfillReport:
    state = open_state(settings)  # the running fetchers' state: what they published is not published again
    try:
        producer = kafka.make_producer(settings)
    except BaseException:
        state.close()
        raise
    http = HttpClient(settings, shared_hosts=state)  # per-host delay shared with the running replicas
    parser = ParsePool(1, settings.max_feed_entries, settings.parse_timeout_seconds)
    try:
        poller = FeedPoller(settings, http, state, PagePublisher(settings, http, state, producer).publish, parser)
        return await Backfill(settings, http, poller, parser).run(url, since, max_pages)
    finally:
        await http.aclose()
        producer.close(timeout=10)
        state.close()
