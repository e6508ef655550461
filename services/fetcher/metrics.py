"""The fetcher's metrics (registered when ``newsflow fetcher`` starts; see :class:`MetricSet`)."""

from __future__ import annotations

from services.common.metrics import FRESHNESS_BUCKETS, MetricSet

FETCHER = MetricSet("fetcher")

POLLS = FETCHER.counter(
    "newsflow_feed_polls_total", "Feed polls by result: new, not_modified, error, lost (lease taken over), skipped.", ["result"]
)
POLL_DURATION = FETCHER.histogram(
    "newsflow_feed_poll_duration_seconds",
    "Time of one feed poll: feed fetch, parse, page fetches and publishing.",
)
HTTP_RESPONSES = FETCHER.counter(
    "newsflow_http_responses_total",
    "HTTP responses by kind and status class; kind: feed (feed polls, child sitemaps, backfill documents, "
    "feeds check), page (article pages), robots (robots.txt), hub (WebSub subscribe/unsubscribe requests).",
    ["kind", "status_class"],
)
FETCH_DURATION = FETCHER.histogram("newsflow_fetch_duration_seconds", "HTTP fetch time of feeds and pages.", ["kind"])
FETCHED_BYTES = FETCHER.counter("newsflow_fetched_bytes_total", "Body bytes downloaded.", ["kind"])
FETCH_REFUSALS = FETCHER.counter(
    "newsflow_fetch_refusals_total",
    "Fetches refused or cut off before completion, by reason (ssrf, size, timeout, scheme, "
    "content_type, binary (a body that is not text, e.g. a PNG served as text/html), redirects, "
    "parse_timeout (a feed parse past NEWSFLOW_PARSE_TIMEOUT_SECONDS), encoding (a corrupt or unsupported "
    "compressed body)).",
    ["reason"],
)
ENTRIES = FETCHER.counter(
    "newsflow_feed_entries_total", "Feed entries published as pages, new or updated.", ["kind"]
)
ENTRIES_DEFERRED = FETCHER.counter(
    "newsflow_feed_entries_deferred_total",
    "Feed entries left for a later poll because one poll publishes at most NEWSFLOW_MAX_ENTRIES_PER_POLL.",
)
ENTRIES_CUT = FETCHER.counter(
    "newsflow_feed_entries_cut_total",
    "Feed entries not read because a document held more than NEWSFLOW_MAX_FEED_ENTRIES.",
)
PAGES_GIVEN_UP = FETCHER.counter(
    "newsflow_pages_given_up_total",
    "Entries whose page failed NEWSFLOW_MAX_PAGE_ATTEMPTS times in a row (timeouts, network errors) and "
    "were given up.",
)
FEEDS = FETCHER.gauge("newsflow_feeds", "Feeds by state: active, backing_off, dead, retired, disabled (listed with "
                      "disabled=true: never polled).", ["state"])
FEED_OPTION_ERRORS = FETCHER.counter(
    "newsflow_feed_option_errors_total",
    "Feed polls failed because a per-feed option could not be applied (an environment variable it names is not "
    "set, or options stored by a newer version).",
)
DISCOVERY_LATENCY = FETCHER.histogram(
    "newsflow_discovery_latency_seconds", "Entry's published time to first seen by the fetcher.",
    buckets=FRESHNESS_BUCKETS,
)

SITEMAP_CHILDREN = FETCHER.counter(
    "newsflow_sitemap_children_total",
    "Child sitemaps of a sitemap index in the feed list, at its polls, by result: read, failed (fetch or parse "
    "error; the poll goes on with the others), nested (itself an index: not followed), not_read (past "
    "NEWSFLOW_MAX_SITEMAP_CHILDREN, the newest by lastmod are read).",
    ["result"],
)
BACKFILL_PAGES = FETCHER.counter(
    "newsflow_backfill_pages_total",
    "Documents walked by `newsflow feeds backfill` (archive pages, paged feeds, child sitemaps), by result: "
    "read, failed (fetch or parse error: the walk stops there).",
    ["result"],
)
BACKFILL_ENTRIES = FETCHER.counter(
    "newsflow_backfill_entries_total",
    "Entries met by `newsflow feeds backfill`, by result: published, known (seen before: not published "
    "again), given_up (their page failed), pending (their page failed for now: a later backfill or poll "
    "tries again), older (published before --since: not published).",
    ["result"],
)
SITEMAP_CHILD_RESULTS = ("read", "failed", "nested", "not_read")
BACKFILL_PAGE_RESULTS = ("read", "failed")
BACKFILL_ENTRY_RESULTS = ("published", "known", "given_up", "pending", "older")

LEASES = FETCHER.counter(
    "newsflow_fetcher_leases_total",
    "Feed leases by event: claimed (a due feed taken for a poll), taken_over (claimed after another "
    "replica's lease expired: it died or stalled), lost (this replica stalled past its lease; the poll's "
    "results were dropped).",
    ["event"],
)
LEASES_HELD = FETCHER.gauge("newsflow_fetcher_leases_held", "Feed leases this replica holds (polls in flight).")
HOST_WAITS = FETCHER.counter(
    "newsflow_fetcher_host_waits_total",
    "Request starts that waited for a host slot shared by all replicas (per-host concurrency or delay).",
)
ROBOTS_REFUSALS = FETCHER.counter(
    "newsflow_fetcher_robots_refusals_total",
    "Entries' pages not fetched because of the site's robots.txt, by reason: disallowed (its rules for "
    "newsflow's product token disallow the URL: given up), unreachable (robots.txt answered 5xx or could not be "
    "fetched: the whole site counts as disallowed for NEWSFLOW_ROBOTS_ERROR_SECONDS; the page is tried again).",
    ["reason"],
)
ROBOTS_LOOKUPS = FETCHER.counter(
    "newsflow_fetcher_robots_lookups_total",
    "robots.txt rules looked up for a page fetch, by result: hit (cached and fresh), miss (fetched), joined "
    "(waited for the same site's fetch already in flight). Hit rate: (hit + joined) / all.",
    ["result"],
)
ROBOTS_FETCHES = FETCHER.counter(
    "newsflow_fetcher_robots_fetches_total",
    "robots.txt fetches by result: ok (2xx: its rules apply), missing (4xx or too many redirects: everything "
    "allowed), unreachable (5xx, 429, network error or timeout: everything disallowed for a while, or the last "
    "good copy kept), refused (the SSRF guard refused the robots.txt URL: the page's own fetch is refused too).",
    ["result"],
)
ROBOTS_REFUSAL_REASONS = ("disallowed", "unreachable")
ROBOTS_LOOKUP_RESULTS = ("hit", "miss", "joined")
ROBOTS_FETCH_RESULTS = ("ok", "missing", "unreachable", "refused")

WEBSUB_PUSHES = FETCHER.counter(
    "newsflow_websub_pushes_total",
    "WebSub content distributions (pushes) by outcome: accepted, bad_signature (missing, wrong or a sha1 "
    "downgrade: answered 403), unknown_subscription (404), too_large (over NEWSFLOW_MAX_FEED_BYTES: 413), "
    "unparseable (not a feed: 400), busy (too many pushes in flight: 503), encoding (a compressed body: 415), "
    "not_polled (the feed left the list, is disabled or retired: 410, the hub drops the subscription).",
    ["outcome"],
)
WEBSUB_UNPUBLISHED = FETCHER.counter(
    "newsflow_websub_pushes_unpublished_total",
    "Accepted WebSub pushes whose entries were not published (the feed's polls find them), by reason: "
    "lease_wait (a poll of the feed held it past the wait), lost (this replica lost the feed's lease), error.",
    ["reason"],
)
WEBSUB_VERIFICATIONS = FETCHER.counter(
    "newsflow_websub_verifications_total",
    "WebSub intent verifications from hubs by mode (subscribe, unsubscribe, denied) and result (confirmed: "
    "the challenge echoed; refused: no such pending request, answered 404).",
    ["mode", "result"],
)
WEBSUB_REQUESTS = FETCHER.counter(
    "newsflow_websub_requests_total",
    "WebSub requests sent to hubs by kind (subscribe, renew, unsubscribe) and result (accepted: 2xx, failed).",
    ["kind", "result"],
)
WEBSUB_FEEDS_LEFT = FETCHER.counter(
    "newsflow_websub_feeds_left_total",
    "WebSub subscriptions ended because their feed is no longer polled (left the feed list, disabled=true, "
    "retired), by action: unsubscribed (hub.mode=unsubscribe sent to the hub), forgotten (never live, or "
    "an unsubscription the hub never confirmed: dropped).",
    ["action"],
)
WEBSUB_SUBSCRIPTIONS = FETCHER.gauge(
    "newsflow_websub_subscriptions", "WebSub subscriptions by state: pending, verified, failed, denied, unsubscribing.",
    ["state"],
)
WEBSUB_PUSH_OUTCOMES = ("accepted", "bad_signature", "unknown_subscription", "too_large", "unparseable", "busy",
                        "encoding", "not_polled")
WEBSUB_STATES = ("pending", "verified", "failed", "denied", "unsubscribing")

LEASE_EVENTS = ("claimed", "taken_over", "lost")
FETCH_KINDS = ("feed", "page", "robots")
REFUSAL_REASONS = ("ssrf", "size", "timeout", "scheme", "content_type", "binary", "redirects", "parse_timeout",
                   "encoding")


def init_series() -> None:
    """The fetcher's known label sets, at 0."""
    for result in ("new", "not_modified", "error", "lost"):
        POLLS.labels(result)
    for result in SITEMAP_CHILD_RESULTS:
        SITEMAP_CHILDREN.labels(result)
    for result in BACKFILL_PAGE_RESULTS:
        BACKFILL_PAGES.labels(result)
    for result in BACKFILL_ENTRY_RESULTS:
        BACKFILL_ENTRIES.labels(result)
    for event in LEASE_EVENTS:
        LEASES.labels(event)
    for kind in FETCH_KINDS:
        FETCH_DURATION.labels(kind)
        FETCHED_BYTES.labels(kind)
        for status_class in ("2xx", "3xx", "4xx", "5xx"):
            HTTP_RESPONSES.labels(kind, status_class)
    for reason in REFUSAL_REASONS:
        FETCH_REFUSALS.labels(reason)
    for kind in ("new", "updated"):
        ENTRIES.labels(kind)
    for state in ("active", "backing_off", "dead", "retired", "disabled"):
        FEEDS.labels(state)
    for reason in ROBOTS_REFUSAL_REASONS:
        ROBOTS_REFUSALS.labels(reason)
    for result in ROBOTS_LOOKUP_RESULTS:
        ROBOTS_LOOKUPS.labels(result)
    for result in ROBOTS_FETCH_RESULTS:
        ROBOTS_FETCHES.labels(result)
    for outcome in WEBSUB_PUSH_OUTCOMES:
        WEBSUB_PUSHES.labels(outcome)
    for reason in ("lease_wait", "lost", "error"):
        WEBSUB_UNPUBLISHED.labels(reason)
    for mode in ("subscribe", "unsubscribe", "denied"):
        for result in ("confirmed", "refused"):
            WEBSUB_VERIFICATIONS.labels(mode, result)
    for kind in ("subscribe", "renew", "unsubscribe"):
        for result in ("accepted", "failed"):
            WEBSUB_REQUESTS.labels(kind, result)
    for state in WEBSUB_STATES:
        WEBSUB_SUBSCRIPTIONS.labels(state)
    for action in ("unsubscribed", "forgotten"):
        WEBSUB_FEEDS_LEFT.labels(action)
    for status_class in ("2xx", "3xx", "4xx", "5xx"):
        HTTP_RESPONSES.labels("hub", status_class)
