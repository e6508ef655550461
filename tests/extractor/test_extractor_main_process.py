"""The extractor's service process stays light (issue 20): it imports none of the extraction and
tagging code, neither when it starts nor when its workers send articles and failures back; the
workers do a page's whole work (decode, extract, tag, build, encode) through the same pipeline
functions ``newsflow extract`` calls."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.common.messages import Article, FeedEntry, PageMessage, decode, encode
from services.extractor import pipeline
from services.extractor.task import EXTRACT_RECORD, WARM_UP, ArticleRecord

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("trafilatura", "scipy", "numpy", "datasketch", "lxml", "services.extractor.tagging",
         "services.extractor.pipeline", "services.extractor.extract", "services.extractor.features")

#: prints, as JSON, the heavy modules the process has imported (see HEAVY)
LOADED = f"""
import json, sys
heavy = {HEAVY!r}
print(json.dumps(sorted({{h for h in heavy for m in sys.modules if m == h or m.startswith(h + ".")}})))
"""

#: a real worker pool and the stage's step on a good page, a page without text and a record that is not JSON
PROCESS = """
import json, sys
from datetime import UTC, datetime
from services.common.messages import FeedEntry, PageMessage, encode
from tests.common.fakes import Rec  # a consumed record (kafka's structs only: nothing heavy)
from services.extractor.service import Extraction
from services.extractor.workers import AnalysePool


def page(n, body):
    url = f"https://harbour.example/news/{n}"
    return encode(PageMessage(id=f"a{n}", url=url, final_url=url, status=200, html=body,
                              fetched_at=datetime(2024, 6, 1, tzinfo=UTC),
                              entry=FeedEntry(feed_url="https://harbour.example/feed", entry_id=url, link=url)))

text = "".join(f"<p>The harbour ferry service will expand after a year of record ridership ({i}).</p>"
               for i in range(8))
records = [Rec("pages", 0, 0, None, page(0, f"<html><body><article><h1>Ferries</h1>{text}</article></body></html>")),
           Rec("pages", 0, 1, None, page(1, "<html><body><nav>x</nav></body></html>")),
           Rec("pages", 0, 2, None, b"{not json")]
with AnalysePool(1, timeout_seconds=120) as pool:
    processed = Extraction(pool).process(records)
print(json.dumps({"ok": [r.key.decode() for _, r in processed.items],
                  "dead": [type(d.error).__name__ for d in processed.dead]}))
"""


def run_python(code: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()


def test_importing_the_service_imports_no_extraction_code() -> None:
    (loaded,) = run_python("import services.extractor.service, services.extractor.main\n" + LOADED)
    assert json.loads(loaded) == []


@pytest.mark.timeout(300)
def test_articles_and_failures_coming_back_from_the_workers_import_none_either() -> None:
    """Unpickling an ArticleRecord or the extractor's own errors needs none of the extraction code."""
    outcome, loaded = run_python(PROCESS + LOADED)
    assert json.loads(outcome) == {"ok": ["a0"], "dead": ["ExtractionError", "MessageError"]}
    assert json.loads(loaded) == []


def test_the_named_functions_are_the_pipelines_and_pickle_as_names() -> None:
    assert EXTRACT_RECORD.resolve() is pipeline.extract_record
    assert WARM_UP.resolve() is pipeline.warm_up
    assert pickle.loads(pickle.dumps(EXTRACT_RECORD)) == EXTRACT_RECORD
    assert b"extract_record" in pickle.dumps(EXTRACT_RECORD)


def test_the_workers_record_is_build_article_encoded_with_what_the_service_counts() -> None:
    url = "https://harbour.example/news/9"
    body = "".join(f"<p>Residents welcomed the plan for later evening sailings on the ferry ({i}).</p>"
                   for i in range(6))
    page = PageMessage(
        id="a9", url=url, final_url=url, status=200, fetched_at=datetime(2024, 6, 1, tzinfo=UTC),
        html=("<html lang='en'><head><title>Ferries</title><meta name='author' content='Jane Doe'></head>"
              f"<body><article><h1>Ferries</h1>{body}</article></body></html>"),
        entry=FeedEntry(feed_url="https://harbour.example/feed", entry_id=url, link=url),
    )
    analysis = pipeline.analyse(page)
    article = pipeline.build_article(page, analysis.extracted, analysis.tags)
    record = pipeline.extract_record(encode(page))
    assert decode(Article, record.value) == article
    assert record.key == b"a9" and record.url == url and record.text_chars == len(article.text)
    assert (record.has_date, record.has_authors, record.method) == (False, True, analysis.extracted.method)
    assert record.tags == len(article.places) + len(article.people) + len(article.organisations) + len(
        article.keywords) + len(article.topics)
    assert isinstance(record, ArticleRecord) and record.seconds > 0
