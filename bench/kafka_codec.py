"""Kafka + JSON + codec cost per article, as a ratio to a plain trafilatura extraction of the same pages.

What one article costs the pipeline's Python processes on the way through Kafka, on the real
fundus pages (``../shared/data/extraction/fundus``), against the embedded broker (tansu):

- fetcher side: ``encode(PageMessage)`` + ``producer.send`` + flush (codec and CRC in the sender thread);
- extractor side: consume the pages (CRC check, decompress) + ``decode(PageMessage)``, then
  ``encode(Article)`` + produce the article (text from the extraction, no tags) + flush.

CPU is the process's own (``time.process_time``: the main thread, the producer's sender thread and
the consumer's threads); the broker's CPU is printed beside it, not in the ratio. The baseline is
``trafilatura.extract`` on the same pages in the same run, before and after the codecs; the ratio
uses the smaller of the two baselines (the faster one: the ratio is not flattered by a slow baseline).
Each codec is tried against the broker for real: one it refuses is reported as refused.

    .venv/bin/python bench/kafka_codec.py                  # every codec kafka-python can use here, 2 rounds
    .venv/bin/python bench/kafka_codec.py --codecs gzip lz4 --rounds 3 --pages 200
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import trafilatura
from kafka import KafkaConsumer, TopicPartition
from kafka import codec as kafka_codec
from kafka.record import util as record_util

from bench.extraction_eval import DEFAULT_DATA, DataMissing
from bench.extractor_speed import page_messages
from services.common.broker import EmbeddedBroker
from services.common.kafka import make_producer
from services.common.messages import Article, PageMessage, decode, encode
from services.common.settings import CommonSettings

CODECS = {"none": lambda: True, "gzip": kafka_codec.has_gzip, "snappy": kafka_codec.has_snappy,
          "lz4": kafka_codec.has_lz4, "zstd": kafka_codec.has_zstd}
TARGET = 0.15


def native_crc32c() -> bool:
    """True when kafka-python found the ``crc32c`` extension (else it checks CRCs in pure Python)."""
    return bool(getattr(record_util, "crc32c_c", None))


def force_python_crc32c() -> None:
    """Make kafka-python check CRCs in pure Python, as it does without the extension (the "before")."""
    from kafka.record import _crc32c, default_records

    def calc(memview: Any) -> int:
        return int(_crc32c.crc(memview))

    record_util.calc_crc32c = calc
    default_records.calc_crc32c = calc  # type: ignore[attr-defined]


def baseline(pages: list[PageMessage]) -> tuple[float, list[str]]:
    """CPU seconds per page of plain ``trafilatura.extract``, and the texts (the articles' bodies)."""
    texts: list[str] = []
    t0 = time.process_time()
    for page in pages:
        texts.append(trafilatura.extract(page.html) or "")
    return (time.process_time() - t0) / len(pages), texts


def articles_for(pages: list[PageMessage], texts: list[str]) -> list[Article]:
    return [Article(id=p.id, url=p.url, source="example.org", feed_url=p.entry.feed_url, title=p.entry.title,
                    text=text, extractor_version="bench", content_hash="0" * 32, fetched_at=p.fetched_at)
            for p, text in zip(pages, texts, strict=True)]


def _broker_cpu(pid: int | None) -> float:
    """CPU seconds the broker process has used so far (0 when unknown)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _consume(settings: CommonSettings, topic: str, n: int, timeout: float = 120.0) -> list[bytes]:
    consumer = KafkaConsumer(**settings.kafka_client_config(), enable_auto_commit=False,
                             max_partition_fetch_bytes=settings.max_message_bytes + 1024,
                             fetch_max_bytes=52_428_800)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(values) < n and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            values.extend(rec.value for rec in batch)
    consumer.close(autocommit=False)
    if len(values) < n:
        raise RuntimeError(f"consumed {len(values)} of {n} records from {topic}")
    return values


def run_codec(broker: EmbeddedBroker, codec: str, pages: list[PageMessage], articles: list[Article]) -> dict[str, Any]:
    """One pass of every page and article through the broker with ``codec``; CPU seconds per article."""
    settings = CommonSettings(kafka_bootstrap_servers=broker.bootstrap)
    run = uuid.uuid4().hex[:8]
    pages_topic, articles_topic = f"bench.pages.{codec}.{run}", f"bench.articles.{codec}.{run}"
    producer = make_producer(settings, compression_type=None if codec == "none" else codec)
    try:
        producer.send(pages_topic, b"warm-up", partition=0).get(timeout=30)  # metadata and connection outside the timing
        producer.send(articles_topic, b"warm-up").get(timeout=30)
        cpu0, broker0 = time.process_time(), _broker_cpu(broker.pid)
        for page in pages:
            producer.send(pages_topic, key=page.id.encode(), value=encode(page), partition=0)
        producer.flush()
        fetcher_side = time.process_time() - cpu0
        cpu1 = time.process_time()
        values = _consume(settings, pages_topic, len(pages) + 1)[1:]
        for raw in values:
            decode(PageMessage, raw)
        for article in articles:
            producer.send(articles_topic, key=article.id.encode(), value=encode(article))
        producer.flush()
        extractor_side = time.process_time() - cpu1
        broker_cpu = _broker_cpu(broker.pid) - broker0
    finally:
        producer.close(timeout=10)
    n = len(pages)
    return {"fetcher_ms": 1000 * fetcher_side / n, "extractor_ms": 1000 * extractor_side / n,
            "total_ms": 1000 * (fetcher_side + extractor_side) / n, "broker_ms": 1000 * broker_cpu / n,
            "bytes_per_article": compressed_bytes(codec, pages, articles)}


ENCODERS = {"none": lambda b: b, "gzip": kafka_codec.gzip_encode, "snappy": kafka_codec.snappy_encode,
            "lz4": kafka_codec.lz4_encode, "zstd": kafka_codec.zstd_encode}


def compressed_bytes(codec: str, pages: list[PageMessage], articles: list[Article]) -> float:
    """Mean bytes on the wire (and in the broker's memory) per page + article: each record is its own
    batch (a page is larger than the producer's 16 KB batch size), so each is compressed alone."""
    enc = ENCODERS[codec]
    total = sum(len(enc(encode(m))) for m in (*pages, *articles))
    return total / len(pages)


def json_only(pages: list[PageMessage], articles: list[Article]) -> float:
    """Milliseconds per article of the JSON alone (encode + decode of the page, encode of the article)."""
    t0 = time.process_time()
    for page, article in zip(pages, articles, strict=True):
        decode(PageMessage, encode(page))
        encode(article)
    return 1000 * (time.process_time() - t0) / len(pages)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="fundus test_data directory")
    ap.add_argument("--codecs", nargs="+", default=list(CODECS), choices=list(CODECS))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--pages", type=int, default=0, help="use the first N pages (0: all)")
    ap.add_argument("--python-crc", action="store_true", help="CRC32C in pure Python (kafka-python without crc32c)")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead")
    args = ap.parse_args(argv)
    if args.python_crc:
        force_python_crc32c()
    try:
        pages = page_messages(args.data)
    except DataMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.pages:
        pages = pages[: args.pages]
    base_ms, texts = baseline(pages)
    articles = articles_for(pages, texts)
    results: dict[str, Any] = {"pages": len(pages), "native_crc32c": native_crc32c() and not args.python_crc,
                               "codecs": {},
                               "mean_page_bytes": sum(len(encode(p)) for p in pages) / len(pages),
                               "date": datetime.now(UTC).date().isoformat()}
    baselines = [1000 * base_ms]
    with EmbeddedBroker() as broker:
        for _ in range(max(args.rounds, 1)):
            for codec in args.codecs:
                if not CODECS[codec]():
                    results["codecs"][codec] = {"error": "library not installed"}
                    continue
                try:
                    res = run_codec(broker, codec, pages, articles)
                except Exception as exc:  # the broker refused the codec, or the client could not use it
                    results["codecs"][codec] = {"error": f"{type(exc).__name__}: {exc}"}
                    continue
                results["codecs"].setdefault(codec, {"rounds": []})["rounds"].append(res)
            baselines.append(1000 * baseline(pages)[0])
    results["plain_trafilatura_ms"] = baselines
    results["json_ms"] = json_only(pages, articles)
    base = min(baselines)
    for entry in results["codecs"].values():
        for res in entry.get("rounds", []):
            res["ratio"] = res["total_ms"] / base
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    report(results)
    return 0


def report(results: dict[str, Any]) -> None:
    base = results["plain_trafilatura_ms"]
    print(f"Kafka + JSON + codec per article, {results['pages']} real pages ({results['mean_page_bytes'] / 1024:.0f} KB "
          f"of JSON each), embedded broker, {results['date']}; native CRC32C: {results['native_crc32c']}")
    print(f"  plain trafilatura.extract: {', '.join(f'{b:.1f}' for b in base)} ms per page (ratio base: {min(base):.1f})")
    print(f"  JSON alone (page encode+decode, article encode): {results['json_ms']:.2f} ms")
    print(f"  {'codec':7} {'fetcher ms':>11} {'extractor ms':>13} {'total ms':>9} {'ratio':>12} {'broker ms':>10}"
          f" {'bytes/article':>14}   (target ratio <= {TARGET})")
    for codec, entry in results["codecs"].items():
        if "error" in entry:
            print(f"  {codec:7} refused or unavailable: {entry['error']}")
            continue
        rounds = entry["rounds"]

        def rng(key: str, fmt: str = "{:.2f}", rounds: list[dict[str, Any]] = rounds) -> str:
            vals = [r[key] for r in rounds]
            lo, hi = min(vals), max(vals)
            return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}-{fmt.format(hi)}"

        print(f"  {codec:7} {rng('fetcher_ms'):>11} {rng('extractor_ms'):>13} {rng('total_ms'):>9} {rng('ratio'):>12}"
              f" {rng('broker_ms'):>10} {rng('bytes_per_article', '{:.0f}'):>14}")


if __name__ == "__main__":
    raise SystemExit(main())
