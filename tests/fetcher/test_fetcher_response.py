"""The fetch-result classifier (services/fetcher/response.py): the table, without a server."""

from __future__ import annotations

import pytest

from services.fetcher.http import FetchError, Response
from services.fetcher.response import (
    Action,
    classify_error,
    classify_feed,
    classify_page,
    conditional_headers,
    validators,
)

URL = "https://site.example/feed"


def response(status: int, content_type: str = "application/rss+xml", url: str = URL, permanent: bool = False,
             **headers: str) -> Response:
    hdrs = {"content-type": content_type} if content_type else {}
    hdrs.update({k.replace("_", "-"): v for k, v in headers.items()})
    return Response(url=url, status=status, headers=hdrs, redirected_permanently=permanent)


@pytest.mark.parametrize(("status", "action"), [
    (200, Action.USE),
    (304, Action.NOT_MODIFIED),
    (410, Action.GONE),
    (408, Action.RETRY),
    (429, Action.RETRY),
    (500, Action.RETRY),
    (502, Action.RETRY),
    (503, Action.RETRY),
    (599, Action.RETRY),
    (204, Action.GIVE_UP),
    (400, Action.GIVE_UP),
    (401, Action.GIVE_UP),
    (403, Action.GIVE_UP),
    (404, Action.GIVE_UP),
    (451, Action.GIVE_UP),
])
def test_status_table_is_the_same_for_feeds_and_pages(status: int, action: Action) -> None:
    assert classify_feed(response(status), URL).action is action
    assert classify_page(response(status, "text/html"), URL).action is action


def test_a_failed_status_explains_itself_as_the_fetch_error_a_feed_records() -> None:
    decision = classify_feed(response(404), URL)
    error = decision.error()
    assert (error.reason, str(error), error.status, error.retry_after) == ("status", f"{URL}: HTTP 404", 404, None)
    assert decision.refusal is None


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_read_for_429_and_503(status: int) -> None:
    decision = classify_feed(response(status, retry_after="120"), URL)
    assert decision.action is Action.RETRY and decision.retry_after == 120.0
    assert decision.error().retry_after == 120.0


@pytest.mark.parametrize("status", [500, 502, 408])
def test_retry_after_is_ignored_for_other_statuses(status: int) -> None:
    assert classify_feed(response(status, retry_after="120"), URL).retry_after is None


def test_gone_names_the_final_url() -> None:
    decision = classify_feed(response(410, url="https://site.example/new"), URL)
    assert (decision.message, decision.status) == ("HTTP 410 Gone at https://site.example/new", 410)


@pytest.mark.parametrize("content_type", ["image/png", "audio/mpeg", "video/mp4", "font/woff2", "application/pdf",
                                          "application/zip"])
def test_a_feed_of_a_non_feed_type_is_refused(content_type: str) -> None:
    decision = classify_feed(response(200, content_type), URL)
    assert (decision.action, decision.refusal, decision.reason) == (Action.GIVE_UP, "content_type", "content_type")
    assert str(decision.error()) == f"{URL}: {content_type} is not a feed" and decision.error().status == 200


@pytest.mark.parametrize("content_type", ["application/rss+xml", "application/atom+xml", "text/xml", "text/html",
                                          "text/plain", "application/json", "application/feed+json", ""])
def test_a_feed_may_come_as_many_types(content_type: str) -> None:
    assert classify_feed(response(200, content_type), URL).action is Action.USE


@pytest.mark.parametrize(("content_type", "action"), [
    ("text/html", Action.USE),
    ("application/xhtml+xml", Action.USE),
    ("", Action.USE),  # no Content-Type: let the extractor judge
    ("application/pdf", Action.GIVE_UP),
    ("image/jpeg", Action.GIVE_UP),
    ("application/rss+xml", Action.GIVE_UP),
])
def test_a_page_must_be_html(content_type: str, action: Action) -> None:
    decision = classify_page(response(200, content_type), URL)
    assert decision.action is action
    assert decision.refusal == (None if action is Action.USE else "content_type")


def test_a_content_type_is_judged_only_on_a_200() -> None:
    assert classify_page(response(304, "image/png"), URL).action is Action.NOT_MODIFIED
    assert classify_page(response(500, "image/png"), URL).refusal is None


@pytest.mark.parametrize("status", [200, 304, 410, 500])
def test_a_permanent_redirect_to_another_url_is_a_move_whatever_the_status(status: int) -> None:
    decision = classify_feed(response(status, url="https://site.example/new", permanent=True), URL)
    assert decision.moved_to == "https://site.example/new"


def test_a_temporary_redirect_or_the_same_url_is_no_move() -> None:
    assert classify_feed(response(200, url="https://site.example/new"), URL).moved_to is None
    assert classify_feed(response(200, permanent=True), URL).moved_to is None


@pytest.mark.parametrize(("reason", "action"), [
    ("timeout", Action.RETRY),
    ("network", Action.RETRY),
    ("dns", Action.RETRY),
    ("ssrf", Action.GIVE_UP),
    ("scheme", Action.GIVE_UP),
    ("size", Action.GIVE_UP),
    ("encoding", Action.GIVE_UP),
    ("redirects", Action.GIVE_UP),
])
def test_fetch_errors(reason: str, action: Action) -> None:
    decision = classify_error(FetchError(reason, "why"))
    assert (decision.action, decision.reason, decision.message) == (action, reason, "why")


def test_conditional_get_round_trip() -> None:
    assert conditional_headers(None, None) == {}
    assert conditional_headers('"v1"', None) == {"If-None-Match": '"v1"'}
    assert conditional_headers('"v1"', "Mon, 06 Jan 2025 10:00:00 GMT") == {
        "If-None-Match": '"v1"', "If-Modified-Since": "Mon, 06 Jan 2025 10:00:00 GMT"}
    resp = response(200, etag='"v2"', last_modified="Tue, 07 Jan 2025 10:00:00 GMT")
    assert validators(resp) == ('"v2"', "Tue, 07 Jan 2025 10:00:00 GMT")
    assert validators(response(200)) == (None, None)
