"""The extractor stage alone on real pages: pipelined vs one batch at a time, in the same run.

    .venv/bin/python bench/extractor_stage.py --pages 120 --workers 1 2 --rounds 2

An embedded broker; per round and worker count, the same N real fundus pages (every k-th page, as
``bench/load.py --real``) are produced to a fresh pages topic, then consumed by the real extractor
stage until all are produced to the extracted topic and committed, once **pipelined** (the
service's own ``build``: the workers extract batch N+1 while the main process writes batch N) and
once **sequential** (the same steps built without ``start``: each batch waits for its pages, then is
written; how the stage ran before issue 20). The two alternate, first one then the other, so a
busy machine slows both alike; the figures are ratios within the run. Baseline: standalone
``analyse`` (extract + tag, no Kafka) over the same pages in this process, before and after.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from kafka import KafkaProducer

from bench.extraction_eval import DEFAULT_DATA
from bench.extractor_speed import page_messages
from bench.load_real import baseline
from services.common.broker import EmbeddedBroker
from services.common.health import Health
from services.common.kafka import ensure_topics, make_consumer, make_producer
from services.common.messages import PageMessage, encode
from services.common.settings import load
from services.common.stage import Stage, build_stage
from services.common.steps import retry_on
from services.extractor.service import STAGE, Extraction, build, make_writer
from services.extractor.settings import ExtractorSettings
from services.extractor.workers import AnalysePool

WARM = 4  # pages through each new stage before the timed ones (group join, first worker start)


def settings_for(broker: EmbeddedBroker, workers: int) -> ExtractorSettings:
    suffix = uuid.uuid4().hex[:8]
    return load(ExtractorSettings, kafka_bootstrap_servers=broker.bootstrap, topic_pages=f"b{suffix}.pages",
                topic_extracted=f"b{suffix}.extracted", topic_articles=f"b{suffix}.articles",
                topic_dlq=f"b{suffix}.dlq", group_id=f"b{suffix}", workers=workers, log_level="WARNING")


def sequential(settings: ExtractorSettings) -> Stage:
    """The extractor's steps without ``start``: one batch at a time (the stage before issue 20)."""
    extraction = Extraction(AnalysePool(settings.workers, timeout_seconds=settings.extract_timeout_seconds))
    producer = make_producer(settings)
    return build_stage(name=STAGE, settings=settings, input_topic=settings.topic_pages, process=extraction.process,
                       write=retry_on((OSError,), make_writer(producer, settings.topic_extracted)), health=Health(),
                       consumer=make_consumer(settings, group_id=settings.group_id), producer=producer)


def produce(producer: KafkaProducer, topic: str, pages: list[PageMessage]) -> None:
    for page in pages:
        producer.send(topic, key=page.id.encode(), value=encode(page))
    producer.flush()


def consume_all(stage: Stage, n: int) -> None:
    done = 0
    while done < n:
        done += stage.run_once()
    stage.drain()


def timed_run(broker: EmbeddedBroker, pages: list[PageMessage], workers: int, pipelined: bool) -> float:
    """Pages per second through a fresh stage (topics, group, worker pool), after a warm-up."""
    settings = settings_for(broker, workers)
    ensure_topics(settings)
    stage = build(settings, Health()) if pipelined else sequential(settings)
    feeder = make_producer(settings)
    try:
        produce(feeder, settings.topic_pages, pages[:WARM])
        consume_all(stage, WARM)
        produce(feeder, settings.topic_pages, pages)
        started = time.perf_counter()
        consume_all(stage, len(pages))
        return len(pages) / (time.perf_counter() - started)
    finally:
        feeder.close()
        stage.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=120)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    everything = page_messages(DEFAULT_DATA)
    pages = everything[::max(1, len(everything) // args.pages)][:args.pages]
    print(f"extractor stage: {len(pages)} real fundus pages, {args.rounds} round(s), "
          f"{time.strftime('%Y-%m-%d')}", flush=True)
    before, failed = baseline(pages)
    print(f"  standalone analyse, 1 process: {before:.1f} pages/s ({failed} rejected)", flush=True)
    rates: dict[tuple[int, bool], list[float]] = {}
    with EmbeddedBroker() as broker:
        for r in range(args.rounds):
            for workers in args.workers:
                for pipelined in ((True, False) if r % 2 else (False, True)):
                    rate = timed_run(broker, pages, workers, pipelined)
                    rates.setdefault((workers, pipelined), []).append(rate)
                    print(f"  round {r + 1}, {workers} worker(s), {'pipelined ' if pipelined else 'sequential'}: "
                          f"{rate:.1f} pages/s", flush=True)
    after, _ = baseline(pages)
    base = (before + after) / 2
    print(f"  standalone analyse again: {after:.1f} pages/s; baseline (mean) {base:.1f} pages/s\n")
    for workers in args.workers:
        pipe, seq = rates[(workers, True)], rates[(workers, False)]
        gains = [p / s for p, s in zip(pipe, seq, strict=True)]
        print(f"  {workers} worker(s): pipelined {min(pipe):.1f}-{max(pipe):.1f} pages/s "
              f"({min(pipe) / base:.2f}-{max(pipe) / base:.2f}x standalone analyse), sequential "
              f"{min(seq):.1f}-{max(seq):.1f} ({min(seq) / base:.2f}-{max(seq) / base:.2f}x); "
              f"pipelined / sequential per round {', '.join(f'{g:.2f}x' for g in gains)}")
    if len(args.workers) >= 2 and args.workers[0] == 1:
        for workers in args.workers[1:]:
            for pipelined in (True, False):
                ratios = [m / o for m, o in zip(rates[(workers, pipelined)], rates[(1, pipelined)], strict=True)]
                print(f"  {workers} workers / 1 worker, {'pipelined ' if pipelined else 'sequential'}: "
                      f"{', '.join(f'{x:.2f}x' for x in ratios)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
