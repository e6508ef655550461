"""What a fetch result means: one classifier for feed polls and page fetches.

The fetcher's HTTP client (:mod:`services.fetcher.http`) returns a :class:`Response` or raises a
:class:`FetchError`; what to do next is decided here, in one table, instead of status checks
spread over the service (miniflux's ``ResponseHandler`` idea):

======================================  ==============  =====================================
result                                  action          notes
======================================  ==============  =====================================
200, wanted content type                USE             parse the feed / publish the page
200, unwanted content type              GIVE_UP         ``refusal="content_type"`` (a metric)
200, a body that is not text (sniffed)  GIVE_UP         ``refusal="binary"``: a PNG as text/html
304 Not Modified                        NOT_MODIFIED    what we have is current
410 Gone                                GONE            a feed is retired, a page given up
408, 429, 5xx                           RETRY           429 and 503 carry ``Retry-After``
any other status (4xx, 1xx, 2xx...)     GIVE_UP
FetchError timeout / network / dns      RETRY
any other FetchError (ssrf, size...)    GIVE_UP         counted by the client already
======================================  ==============  =====================================

A permanent redirect (only 301/308 hops) to a new URL is reported as ``moved_to``, whatever
the action. A feed backs off on every action but USE, NOT_MODIFIED and GONE (RETRY or
GIVE_UP alike: a feed's failures are scheduled, see :mod:`services.fetcher.schedule`);
a page is tried again at the next poll on RETRY and given up otherwise.

Pure functions: no I/O, no metrics, no logs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from services.fetcher.http import HTML_TYPES, FetchError, Response, parse_retry_after
from services.fetcher.sniff import binary_kind

#: Content types that are certainly not a feed (a feed may come as text/html, text/plain, ...).
NOT_A_FEED_TYPES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")
#: Fetch errors worth another try (the network's fault, not the target's).
RETRY_REASONS = ("timeout", "network", "dns")
#: Statuses worth another try: the server is busy, failing or asks us to slow down.
RETRY_STATUSES = frozenset({408, 429})
#: Statuses whose ``Retry-After`` header is honoured.
RETRY_AFTER_STATUSES = frozenset({429, 503})


class Action(StrEnum):
    USE = "use"
    NOT_MODIFIED = "not_modified"
    GONE = "gone"
    RETRY = "retry"
    GIVE_UP = "give_up"


@dataclass(frozen=True)
class Decision:
    """What to do with one fetch result; ``message`` explains anything but USE."""

    action: Action
    status: int | None = None
    message: str = ""
    reason: str = ""  # a bounded label: "status", "content_type", or the FetchError's reason
    retry_after: float | None = None  # seconds, from Retry-After
    moved_to: str | None = None  # a permanent redirect's target
    refusal: str | None = None  # a refusal the fetcher counts (FETCH_REFUSALS label), if any

    def error(self) -> FetchError:
        """The decision as the :class:`FetchError` a failed feed poll is recorded with."""
        return FetchError(self.reason, self.message, self.status, self.retry_after)


def is_feed_type(content_type: str) -> bool:
    return not content_type.startswith(NOT_A_FEED_TYPES)


def is_html_type(content_type: str) -> bool:
    """An HTML page, or a response that does not say (the extractor copes with both)."""
    return not content_type or content_type in HTML_TYPES


def classify(resp: Response, requested_url: str, accepts: Callable[[str], bool], expected: str) -> Decision:
    """The decision for a response to a GET of ``requested_url``; ``accepts`` judges its content type."""
    moved_to = resp.url if resp.redirected_permanently and resp.url != requested_url else None
    status = resp.status
    if status == 304:
        return Decision(Action.NOT_MODIFIED, status, moved_to=moved_to)
    if status == 410:
        return Decision(Action.GONE, status, f"HTTP 410 Gone at {resp.url}", "status", moved_to=moved_to)
    if status != 200:
        retry = status >= 500 or status in RETRY_STATUSES
        retry_after = parse_retry_after(resp.headers.get("retry-after")) if status in RETRY_AFTER_STATUSES else None
        return Decision(Action.RETRY if retry else Action.GIVE_UP, status, f"{resp.url}: HTTP {status}", "status",
                        retry_after, moved_to)
    if not accepts(resp.content_type):
        return Decision(Action.GIVE_UP, status, f"{resp.url}: {resp.content_type} is not {expected}",
                        "content_type", moved_to=moved_to, refusal="content_type")
    kind = binary_kind(resp.body)
    if kind:  # the content type is a claim: a PNG served as text/html is not a page
        return Decision(Action.GIVE_UP, status, f"{resp.url}: {kind} served as {resp.content_type or 'no type'}, "
                        f"not {expected}", "binary", moved_to=moved_to, refusal="binary")
    return Decision(Action.USE, status, moved_to=moved_to)


def classify_feed(resp: Response, requested_url: str) -> Decision:
    return classify(resp, requested_url, is_feed_type, "a feed")


def classify_page(resp: Response, requested_url: str) -> Decision:
    return classify(resp, requested_url, is_html_type, "an HTML page")


def classify_error(exc: FetchError) -> Decision:
    """The decision for a fetch that raised (no response to judge)."""
    action = Action.RETRY if exc.reason in RETRY_REASONS else Action.GIVE_UP
    return Decision(action, exc.status, str(exc), exc.reason, exc.retry_after)


def conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    """Request headers for a conditional GET from the validators of the last 200 (a 304 if unchanged)."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def validators(resp: Response) -> tuple[str | None, str | None]:
    """The response's ``(ETag, Last-Modified)``, to send back on the next conditional GET."""
    return resp.headers.get("etag"), resp.headers.get("last-modified")
