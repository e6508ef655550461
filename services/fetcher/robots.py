"""robots.txt for page fetches (RFC 9309), cached per site.

Before an entry's page is fetched, :meth:`RobotsCache.check` looks up the rules of the page's site
(scheme, host and port: ``http://a.example`` and ``https://a.example:8443`` are two sites) for
newsflow's **product token**, the first word of ``NEWSFLOW_USER_AGENT`` (``newsflow`` from
``newsflow/0.1 (+https://...)``): a ``User-agent: newsflow`` group when the file has one, else
``User-agent: *``. The whole User-Agent string is not matched, since its contact URL would match
groups meant for other crawlers (``github`` in ``https://github.com/...``). Parsing and matching
are protego's (RFC 9309: longest match, Allow wins a tie, ``*`` and ``$``).

What a robots.txt fetch means (RFC 9309 2.3.1):

==========================================  ================================================
2xx                                         its rules; cached ``NEWSFLOW_ROBOTS_CACHE_SECONDS``
                                            (24 h at most, RFC 9309 2.4); only the first
                                            500 KiB are read (2.5)
4xx (404, 401, 403, 410...), > 5 redirects  no rules: everything allowed; cached as long
5xx, 429, network error, timeout            everything disallowed, or the last good copy kept;
                                            tried again after ``NEWSFLOW_ROBOTS_ERROR_SECONDS``
the SSRF guard refuses the robots.txt URL   allowed here: the page's own fetch is refused too
==========================================  ================================================

429 is a 4xx but is read as "slow down", like a 5xx (as Google does), not as "no robots.txt".
robots.txt is fetched through the fetcher's guarded :class:`~services.fetcher.http.HttpClient`
(SSRF guard, timeouts, per-host slots and delay), one fetch per site at a time: lookups for a site
whose robots.txt is being fetched wait for that fetch (``joined``). The cache is per process (each
fetcher replica fetches a site's robots.txt once a day) and bounded (``MAX_SITES``: the oldest
entries go first).

``Crawl-delay`` (of the matched group) raises the host's delay between request starts to
``max(Crawl-delay, NEWSFLOW_PER_HOST_MIN_DELAY_SECONDS)``, with Crawl-delay capped at
``MAX_CRAWL_DELAY_SECONDS`` (a site asking for an hour between requests gets a minute).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import yarl
from protego import Protego

from services.fetcher import metrics
from services.fetcher.http import FetchError, HttpClient
from services.fetcher.response import RETRY_REASONS
from services.fetcher.settings import FetcherSettings

log = logging.getLogger(__name__)

ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309 2.5: parse at least the first 500 KiB
MAX_CRAWL_DELAY_SECONDS = 60.0
MAX_SITES = 10_000
_TOKEN = re.compile(r"[A-Za-z_-]+")  # RFC 9309 2.2.1: the product token's characters


def product_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched on: ``newsflow`` of ``newsflow/0.1 (+https://...)``."""
    match = _TOKEN.match(user_agent.strip())
    return match.group(0).lower() if match else ""


def site_of(url: str) -> tuple[str, str] | None:
    """``(site key, robots.txt URL)`` of a page URL; None when it is not an http(s) URL with a host."""
    try:
        parsed = yarl.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.raw_host:
            return None
        origin = parsed.origin()
        return f"{parsed.scheme}://{parsed.raw_host.lower()}:{parsed.port}", str(origin.with_path("/robots.txt"))
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class Rules:
    """A site's robots.txt as fetched: ``kind`` ok (its rules), missing (allow all), unreachable (disallow all)."""

    kind: str
    expires: float  # on the cache's clock
    parser: Protego | None = None
    detail: str = ""  # why unreachable

    def allows(self, url: str, token: str) -> bool:
        if self.parser is not None:
            return self.parser.can_fetch(url, token)
        return self.kind != "unreachable"

    def crawl_delay(self, token: str) -> float:
        """The matched group's Crawl-delay in seconds (0 without one), capped at ``MAX_CRAWL_DELAY_SECONDS``."""
        delay = self.parser.crawl_delay(token) if self.parser is not None else None
        return min(max(float(delay or 0.0), 0.0), MAX_CRAWL_DELAY_SECONDS)

    @property
    def sitemaps(self) -> list[str]:
        """The ``Sitemap:`` URLs the file names (for every crawler, whatever the groups)."""
        return list(self.parser.sitemaps) if self.parser is not None else []


@dataclass(frozen=True)
class Verdict:
    """Whether a page may be fetched; ``reason`` (disallowed, unreachable) and ``message`` when not."""

    allowed: bool
    crawl_delay: float = 0.0
    reason: str = ""
    message: str = ""
    first: bool = True  # unreachable: the first refusal of this URL since robots.txt was last tried


ALLOWED = Verdict(True)


class RobotsCache:
    """The robots.txt rules of the sites pages are fetched from, fetched once per site and expiry."""

    def __init__(self, http: HttpClient, settings: FetcherSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.http = http
        self.enabled = settings.robots_txt
        self.token = product_token(settings.user_agent)
        self.ttl = settings.robots_cache_seconds
        self.error_ttl = settings.robots_error_seconds
        self.clock = clock
        self._rules: OrderedDict[str, Rules] = OrderedDict()
        self._fetching: dict[str, asyncio.Task[Rules]] = {}
        self._told: dict[str, set[str]] = {}  # unreachable sites: pages refused since robots.txt was last tried

    async def check(self, url: str) -> Verdict:
        """May ``url`` be fetched, and with what delay before the host's next request."""
        if not self.enabled:
            return ALLOWED
        site = site_of(url)
        if site is None:
            return ALLOWED  # not an http(s) URL: the HTTP client refuses it itself
        rules = await self.rules(*site)
        if rules.allows(url, self.token):
            return Verdict(True, rules.crawl_delay(self.token))
        if rules.kind == "unreachable" and rules.parser is None:
            told = self._told.setdefault(site[0], set())
            first = url not in told
            told.add(url)
            return Verdict(False, reason="unreachable", first=first,
                           message=f"robots.txt of its site could not be fetched ({rules.detail}): "
                                   f"not fetched for now, tried again at a later poll: {url}")
        return Verdict(False, reason="disallowed", message=f"disallowed by its site's robots.txt: {url}")

    async def rules(self, site: str, robots_url: str) -> Rules:
        """The site's rules: cached while fresh, else fetched (one fetch per site at a time)."""
        cached = self._rules.get(site)
        if cached is not None and cached.expires > self.clock():
            metrics.ROBOTS_LOOKUPS.labels("hit").inc()
            return cached
        task = self._fetching.get(site)
        if task is not None:
            metrics.ROBOTS_LOOKUPS.labels("joined").inc()
        else:
            metrics.ROBOTS_LOOKUPS.labels("miss").inc()
            task = asyncio.ensure_future(self._fetch(site, robots_url, cached))
            self._fetching[site] = task
        return await asyncio.shield(task)  # a cancelled waiter leaves the fetch to the others

    async def _fetch(self, site: str, robots_url: str, stale: Rules | None) -> Rules:
        try:
            rules = await self._get(robots_url, stale)
        finally:
            self._fetching.pop(site, None)
        self._remember(site, rules)
        return rules

    async def _get(self, robots_url: str, stale: Rules | None) -> Rules:
        """Fetch and read one robots.txt (RFC 9309 2.3.1)."""
        try:
            resp = await self.http.get(robots_url, kind="robots", max_bytes=ROBOTS_MAX_BYTES, truncate=True)
        except FetchError as exc:
            if exc.reason == "redirects":
                return self._fetched("missing", Rules("missing", self.clock() + self.ttl))
            if exc.reason in RETRY_REASONS or exc.reason in ("encoding", "size"):
                return self._unreachable(robots_url, str(exc), stale)
            return self._fetched("refused", Rules("missing", self.clock() + self.error_ttl))
        if 200 <= resp.status < 300:
            body = resp.body
            if len(body) >= ROBOTS_MAX_BYTES:  # cut at the cap: the last, partial line is dropped
                body = body[: body.rfind(b"\n") + 1]
                log.info("robots.txt larger than %d bytes: its first %d bytes are used", ROBOTS_MAX_BYTES, len(body),
                         extra={"url": robots_url})
            parser = Protego.parse(body.decode("utf-8", errors="replace"))
            return self._fetched("ok", Rules("ok", self.clock() + self.ttl, parser))
        if resp.status >= 500 or resp.status == 429:
            return self._unreachable(robots_url, f"HTTP {resp.status}", stale)
        return self._fetched("missing", Rules("missing", self.clock() + self.ttl))  # 4xx, 1xx, 3xx without Location

    def _unreachable(self, robots_url: str, detail: str, stale: Rules | None) -> Rules:
        """5xx or no answer: the last good copy for a while longer, else the whole site disallowed for a while."""
        until = self.clock() + self.error_ttl
        if stale is not None and stale.kind != "unreachable":
            log.warning("robots.txt could not be fetched (%s): its last copy is used for %gs more", detail,
                        self.error_ttl, extra={"url": robots_url})
            return self._fetched("unreachable", Rules(stale.kind, until, stale.parser))
        log.warning("robots.txt could not be fetched (%s): the site's pages wait %gs (RFC 9309: disallowed)",
                    detail, self.error_ttl, extra={"url": robots_url})
        return self._fetched("unreachable", Rules("unreachable", until, detail=detail))

    @staticmethod
    def _fetched(result: str, rules: Rules) -> Rules:
        metrics.ROBOTS_FETCHES.labels(result).inc()
        return rules

    def _remember(self, site: str, rules: Rules) -> None:
        self._told.pop(site, None)
        self._rules[site] = rules
        self._rules.move_to_end(site)
        if len(self._rules) > MAX_SITES:
            now = self.clock()
            for key in [k for k, r in self._rules.items() if r.expires <= now]:
                del self._rules[key]
                self._told.pop(key, None)
            while len(self._rules) > MAX_SITES:
                self._told.pop(self._rules.popitem(last=False)[0], None)

    def __len__(self) -> int:
        return len(self._rules)
