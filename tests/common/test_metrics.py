"""Unit tests of services/common/metrics.py and the pure part of services/common/lag.py."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY, generate_latest

from services.common import metrics
from services.common.health import Health, serve
from services.common.lag import compute_lag
from services.common.messages import Article
from services.extractor import metrics as extractor_metrics
from services.extractor.extract import ExtractionError
from services.fetcher import metrics as fetcher_metrics
from services.sink import metrics as sink_metrics


def sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


# --- lag ---------------------------------------------------------------------------

def test_lag_is_end_minus_committed() -> None:
    assert compute_lag({0: 10, 1: 5}, {0: 4, 1: 5}, {0: 0, 1: 0}) == {0: 6, 1: 0}


def test_lag_without_a_commit_counts_from_the_beginning() -> None:
    assert compute_lag({0: 10}, {}, {0: 3}) == {0: 7}


def test_lag_is_clamped_at_zero_when_the_broker_undercounts_the_end() -> None:
    # tansu's ListOffsets(latest) can report less than what the group already committed.
    assert compute_lag({0: 8}, {0: 12}, {0: 0}) == {0: 0}


# --- bounded domain labels ---------------------------------------------------------------

def test_top_domains_keeps_the_first_n_and_folds_the_rest() -> None:
    top = metrics.TopDomains(limit=2)
    assert [top.label(d) for d in ("a.com", "b.com", "c.com", "a.com")] == ["a.com", "b.com", "other", "a.com"]


def test_newest_article_age_is_bounded_and_keeps_the_newest() -> None:
    newest = sink_metrics.NewestArticles(limit=1)
    now = datetime.now(UTC)
    newest.update("https://www.a.example/x", now - timedelta(hours=2))
    newest.update("https://a.example/y", now - timedelta(hours=1))
    newest.update("https://a.example/z", now - timedelta(hours=5))  # older: ignored
    newest.update("https://b.example/z", now + timedelta(hours=1))  # past the limit; future date
    (family,) = newest.collect()
    ages = {s.labels["domain"]: s.value for s in family.samples}
    assert set(ages) == {"a.example", "other"}
    assert 3590 < ages["a.example"] < 3700
    assert ages["other"] == 0.0  # a future publish date is clamped, not negative


def test_failed_extraction_is_counted_per_domain() -> None:
    top = metrics.TopDomains()
    before_empty = sample("newsflow_extracted_pages_total", domain="t1.example", outcome="empty")
    before_issue = sample("newsflow_extraction_quality_issues_total", domain="t1.example", issue="empty")
    extractor_metrics.count_failed_extraction(top, "https://t1.example/a", ExtractionError("no article text"))
    extractor_metrics.count_failed_extraction(top, "https://t1.example/b", ValueError("boom"))
    extractor_metrics.count_failed_extraction(top, None, ValueError("undecodable"))
    assert sample("newsflow_extracted_pages_total", domain="t1.example", outcome="empty") == before_empty + 1
    assert sample("newsflow_extraction_quality_issues_total", domain="t1.example", issue="empty") == before_issue + 1
    assert sample("newsflow_extracted_pages_total", domain="t1.example", outcome="failed") >= 1
    assert sample("newsflow_extracted_pages_total", domain="unknown", outcome="failed") >= 1


def test_tag_count_adds_every_kind_of_tag() -> None:
    article = Article.model_construct(places=[1, 2], people=[1], organisations=[], keywords=["a", "b", "c"],
                                      topics=["t"])
    assert extractor_metrics.tag_count(article) == 7


def test_timed_observes_failures_too() -> None:
    before = sample("newsflow_feed_poll_duration_seconds_count")

    async def fails() -> None:
        raise RuntimeError("poll failed")

    with pytest.raises(RuntimeError):
        asyncio.run(metrics.timed(fetcher_metrics.POLL_DURATION, fails()))
    assert sample("newsflow_feed_poll_duration_seconds_count") == before + 1


# --- naming rules ----------------------------------------------------------------------

def test_every_newsflow_metric_has_help_and_bounded_labels() -> None:
    families = [f for f in REGISTRY.collect() if f.name.startswith("newsflow")]
    assert len(families) >= 35
    for family in families:
        assert family.documentation.strip(), family.name
        labels = {k for s in family.samples for k in s.labels}
        assert not labels & {"feed", "url", "article_id", "id"}, family.name


def test_process_metrics_are_exported() -> None:
    text = generate_latest(REGISTRY).decode()
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"):
        assert f"\n{name} " in text, name


def test_metrics_endpoint_serves_the_registry() -> None:
    server = serve(Health(), "127.0.0.1", 0)
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            assert resp.headers["Content-Type"].startswith("text/plain")
            assert b"newsflow_messages_consumed_total" in resp.read()
    finally:
        server.shutdown()


# --- per-service registry (in a subprocess: it changes the global registry) --------------------

SCRAPE = """
import importlib, sys
from prometheus_client import REGISTRY, generate_latest
from services.common import lifecycle
service = sys.argv[1]
metrics = importlib.import_module(f"services.{service}.metrics")
if service == "fetcher":
    lifecycle.register_metrics(service, (metrics.FETCHER,), metrics.init_series)
else:
    lifecycle.register_consumer_metrics(service, getattr(metrics, service.upper()), metrics.init_series)
print(generate_latest(REGISTRY).decode())
"""


@pytest.mark.parametrize(
    ("service", "present", "absent"),
    [
        ("fetcher", ['newsflow_feed_polls_total{result="error"} 0.0', "newsflow_feed_poll_duration_seconds_count"],
         ["newsflow_articles_stored", "newsflow_messages_consumed", "newsflow_pages_processed"]),
        ("extractor", ['newsflow_dead_letters_total{error_class="ExtractionError",stage="extractor"} 0.0',
                       'newsflow_dead_letters_total{error_class="MessageError",stage="extractor"} 0.0',
                       'newsflow_extraction_quality_issues_total{domain="other",issue="short"} 0.0',
                       'newsflow_messages_consumed_total{stage="extractor"} 0.0',
                       'newsflow_stage_stopped{stage="extractor"} 0.0', "newsflow_extract_duration_seconds_count"],
         ["newsflow_articles_stored", "newsflow_feed_polls"]),
        ("stories", ['newsflow_story_assignments_total{kind="unplaced"} 0.0',
                     'newsflow_messages_consumed_total{stage="stories"} 0.0', "newsflow_story_index_items 0.0"],
         ["newsflow_articles_stored", "newsflow_pages_processed", "newsflow_feed_polls"]),
        ("sink", ["newsflow_articles_stored 0.0", 'newsflow_dead_letters_total{error_class="RowRejected",stage="sink"} 0.0',
                  'newsflow_sink_rows_written_total{result="inserted"} 0.0',
                  'newsflow_offset_commit_failures_total{stage="sink"} 0.0'],
         ["newsflow_feed_polls", "newsflow_pages_processed", "newsflow_discovery_latency"]),
    ],
)
def test_each_service_exports_its_own_series(service: str, present: list[str], absent: list[str]) -> None:
    out = subprocess.run([sys.executable, "-c", SCRAPE, service], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    for line in present:
        assert line in out, line
    for name in absent:
        assert name not in out, name
