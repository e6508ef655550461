"""Per-domain extraction-quality metrics and the access flag, through the stage's own functions."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import Metric

from services.common.messages import FeedEntry, PageMessage, encode
from services.extractor import metrics
from services.extractor.extract import extract_page
from services.extractor.pipeline import extract_record
from services.extractor.service import record_quality

BODY = (
    "The regional water authority said on Monday that reservoir levels had recovered after weeks of "
    "rain, lifting the hosepipe ban that had been in place since the start of the summer season. "
)


def sample(metric: Metric, **labels: str) -> float:
    """Current value of one labelled series (read through collect(), the public API)."""
    for family in metric.collect():
        for s in family.samples:
            if s.name.endswith("_total") and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def page_message(host: str, html: str) -> PageMessage:
    url = f"https://{host}/news/1"
    return PageMessage(
        id=f"id-{host}", url=url, final_url=url, status=200, html=html,
        fetched_at=datetime(2024, 6, 1, tzinfo=UTC),
        entry=FeedEntry(feed_url=f"https://{host}/feed", entry_id=url, link=url),
    )


def test_short_body_without_date_or_author_is_counted_for_its_domain() -> None:
    host = "short-quality.example"
    html = f"<html><head><title>Rain ends ban</title></head><body><article><p>{BODY}</p></article></body></html>"
    page = page_message(host, html)
    before = {i: sample(metrics.EXTRACTION_QUALITY, domain=host, issue=i)
              for i in ("short", "missing_date", "missing_author", "fallback")}
    record_quality(extract_record(encode(page)))  # what the worker sends back, as the stage counts it
    after = {i: sample(metrics.EXTRACTION_QUALITY, domain=host, issue=i) for i in before}
    assert after["short"] == before["short"] + 1
    assert after["missing_date"] == before["missing_date"] + 1
    assert after["missing_author"] == before["missing_author"] + 1
    assert after["fallback"] == before["fallback"]  # trafilatura found the text itself
    assert sample(metrics.EXTRACTED_PAGES, domain=host, outcome="ok") >= 1


def test_complete_article_raises_no_issue() -> None:
    host = "complete-quality.example"
    paras = "".join(f"<p>{BODY} Paragraph {i}.</p>" for i in range(6))
    html = (
        "<html><head><title>Rain ends ban</title>"
        '<meta property="article:published_time" content="2024-06-01T08:00:00Z">'
        '<meta name="author" content="Jane Doe"></head>'
        f"<body><article>{paras}</article></body></html>"
    )
    page = page_message(host, html)
    record_quality(extract_record(encode(page)))  # what the worker sends back, as the stage counts it
    for issue in ("short", "missing_date", "missing_author", "fallback"):
        assert sample(metrics.EXTRACTION_QUALITY, domain=host, issue=issue) == 0, issue


def test_teaser_ending_in_a_subscription_prompt_is_paywalled() -> None:
    html = (
        "<html><body><article><h1>Budget talks</h1>"
        f"<p>{BODY}</p><p>Subscribe to continue reading this article.</p></article></body></html>"
    )
    assert extract_page(html, "https://news.example/a").access == "paywalled"


def test_german_consent_interstitial_is_flagged() -> None:
    html = (
        "<html><body><div><h2>Datenschutzeinstellungen</h2>"
        "<p>Wir verwenden Cookies und ähnliche Technologien. Mit Ihrer Zustimmung helfen Sie uns.</p>"
        "<button>Alle akzeptieren</button></div></body></html>"
    )
    assert extract_page(html, "https://zeitung.example/artikel").access == "consent"


def test_long_open_article_mentioning_subscribers_stays_open() -> None:
    paras = "".join(f"<p>{BODY} Paragraph {i}.</p>" for i in range(12))
    html = (
        f"<html><body><article><h1>Newspapers</h1>{paras}"
        "<p>The paper said subscribers only pay for print.</p></article></body></html>"
    )
    assert extract_page(html, "https://news.example/b").access == "open"
