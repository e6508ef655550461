"""Tagging and story-clustering quality on the hand-annotated gold set, plus speed.

    .venv/bin/python bench/tagging_quality.py [--verbose] [--real-dates]

Gold set: ``tests/data/tagging_gold.jsonl``. Each line has ``text`` (a short excerpt: the two seed
articles and the first paragraphs of 39 English pages of the fundus test data), ``entities`` as
``[start, end, label]`` (PERSON, ORG, PLACE; ``null`` for lines used for clustering only),
``story`` (lines with the same value report the same event: the two seeds, a syndicated copy of
seed 000 and nine hand-written rewrites of gold pages) and ``split``: ``dev`` lines were looked at
while the rules were written, ``heldout`` lines (10 pages) were annotated afterwards and only
measured, so their scores are the honest estimate.

Annotation rules: PERSON is a person's name without title or role ("King Charles" -> "Charles");
ORG an organisation (agencies, companies, media, parties, clubs, government bodies such as
"Pentagon" or "Downing Street"); PLACE a country, first-level region or city/town (the kinds of
``services.common.messages.Place``), not nationality adjectives, continents, streets or
neighbourhoods. Every occurrence is annotated; the longest name wins ("Ottawa Citizen" is one ORG).

Entity scores are exact-span matches per label. Clustering scores are pairwise: a pair of
articles is "same story" when both got the same ``story_id``. By default every article gets the
same publication time, so that the time window does not make the task easy.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.common.messages import Tags
from services.extractor.features import story_features
from services.extractor.tagging import tag
from services.stories.index import StoryIndex

GOLD = ROOT / "tests" / "data" / "tagging_gold.jsonl"
SEEDS = ROOT.parent / "shared" / "seeds"
LABELS = ("PERSON", "ORG", "PLACE")


def load_gold(path: Path = GOLD) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def predicted_spans(tags: Tags) -> set[tuple[int, int, str]]:
    out: set[tuple[int, int, str]] = set()
    for label, group in (("PERSON", tags.people), ("ORG", tags.organisations), ("PLACE", tags.places)):
        for ent in group:
            for m in ent.mentions:
                out.add((m.start, m.end, label))
    return out


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    entities: dict[str, Counts] = field(default_factory=dict)
    heldout: dict[str, Counts] = field(default_factory=dict)
    pairs: Counts = field(default_factory=Counts)
    duplicates: Counts = field(default_factory=Counts)
    ms_per_article: float = 0.0
    ms_5kb: float = 0.0
    ms_5kb_p95: float = 0.0
    ms_assign: float = 0.0
    errors: list[str] = field(default_factory=list)


def evaluate_entities(rows: Iterable[dict[str, Any]], report: Report, verbose: bool = False) -> None:
    dev = {lab: Counts() for lab in (*LABELS, "ALL")}
    held = {lab: Counts() for lab in (*LABELS, "ALL")}
    for row in rows:
        if row.get("entities") is None:
            continue
        counts = held if row.get("split") == "heldout" else dev
        text = row["text"]
        gold = {(a, b, lab) for a, b, lab in row["entities"]}
        pred = predicted_spans(tag(text))
        for lab in LABELS:
            g = {x for x in gold if x[2] == lab}
            p = {x for x in pred if x[2] == lab}
            c = counts[lab]
            c.tp += len(g & p)
            c.fp += len(p - g)
            c.fn += len(g - p)
        counts["ALL"].tp += len(gold & pred)
        counts["ALL"].fp += len(pred - gold)
        counts["ALL"].fn += len(gold - pred)
        for a, b, lab in sorted(pred - gold):
            report.errors.append(f"{row['id']}: FP {lab} {text[a:b]!r} @{a}")
        for a, b, lab in sorted(gold - pred):
            report.errors.append(f"{row['id']}: FN {lab} {text[a:b]!r} @{a}")
    report.entities = dev
    report.heldout = held


def evaluate_clusters(rows: list[dict[str, Any]], report: Report, real_dates: bool = False) -> dict[str, str]:
    index = StoryIndex(window_days=3.0)
    fixed = datetime.fromisoformat("2024-06-04T00:00:00+00:00")
    assigned: dict[str, str] = {}
    dup_pred: dict[str, str | None] = {}
    times: list[float] = []
    ordered = sorted(rows, key=lambda r: r["published_at"]) if real_dates else rows
    for row in ordered:
        published = datetime.fromisoformat(row["published_at"]) if real_dates else fixed
        tags = tag(row["text"], title=row.get("title"))
        t0 = time.perf_counter()
        features = story_features(row["text"], row.get("title"), tags)
        placed = index.place(row["id"], features, published)
        sid, dup = placed.story_id, placed.duplicate_of
        times.append((time.perf_counter() - t0) * 1000)
        assigned[row["id"]] = sid
        dup_pred[row["id"]] = dup
    gold_story = {r["id"]: r["story"] for r in rows}
    for a, b in itertools.combinations(sorted(assigned), 2):
        same_gold = gold_story[a] == gold_story[b]
        same_pred = assigned[a] == assigned[b]
        if same_gold and same_pred:
            report.pairs.tp += 1
        elif same_pred:
            report.pairs.fp += 1
            report.errors.append(f"cluster FP: {a} ~ {b}")
        elif same_gold:
            report.pairs.fn += 1
            report.errors.append(f"cluster FN: {a} / {b}")
    for row in rows:
        want = row.get("duplicate_of")
        got = dup_pred[row["id"]]
        if want and got == want:
            report.duplicates.tp += 1
        elif got:
            report.duplicates.fp += 1
            report.errors.append(f"duplicate FP: {row['id']} -> {got}")
        elif want:
            report.duplicates.fn += 1
            report.errors.append(f"duplicate FN: {row['id']} (want {want})")
    report.ms_assign = statistics.mean(times) if times else 0.0
    return assigned


def measure_speed(rows: list[dict[str, Any]], report: Report, rounds: int = 5) -> None:
    texts = [r["text"] for r in rows]
    tag(texts[0])  # load the gazetteer and models once
    t0 = time.perf_counter()
    for _ in range(rounds):
        for t in texts:
            tag(t)
    report.ms_per_article = (time.perf_counter() - t0) * 1000 / (rounds * len(texts))
    # a 5 KB article: the first 5,000 characters of the two seed texts (or of the gold texts)
    samples = []
    for p in sorted(SEEDS.glob("*.txt")):
        samples.append(p.read_text(encoding="utf-8")[:5000])
    if not samples:
        joined = "\n".join(texts)
        samples = [joined[:5000], joined[5000:10000]]
    per: list[float] = []
    for _ in range(20):
        for s in samples:
            t1 = time.perf_counter()
            tag(s)
            per.append((time.perf_counter() - t1) * 1000)
    per.sort()
    report.ms_5kb = statistics.median(per)
    report.ms_5kb_p95 = per[int(0.95 * (len(per) - 1))]


def run(verbose: bool = False, real_dates: bool = False, speed: bool = True) -> Report:
    rows = load_gold()
    report = Report()
    evaluate_entities(rows, report, verbose)
    evaluate_clusters(rows, report, real_dates)
    if speed:
        measure_speed(rows, report)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--verbose", "-v", action="store_true", help="list every false positive / negative")
    ap.add_argument("--real-dates", action="store_true", help="use the articles' own dates (window applies)")
    args = ap.parse_args(argv)
    rows = load_gold()
    report = run(args.verbose, args.real_dates)
    n_dev = sum(1 for r in rows if r.get("entities") is not None and r.get("split") != "heldout")
    n_held = sum(1 for r in rows if r.get("entities") is not None and r.get("split") == "heldout")
    n_stories = len({r["story"] for r in rows})
    print(f"gold: {n_dev} dev + {n_held} held-out annotated texts; {len(rows)} texts, {n_stories} stories")
    for name, table in (("dev", report.entities), ("held-out", report.heldout)):
        print(f"{name + ' label':<16}{'P':>7}{'R':>7}{'F1':>7}{'tp':>6}{'fp':>6}{'fn':>6}")
        for lab, c in table.items():
            print(f"{lab:<16}{c.precision:7.3f}{c.recall:7.3f}{c.f1:7.3f}{c.tp:6d}{c.fp:6d}{c.fn:6d}")
    p = report.pairs
    print(
        f"story pairs: precision {p.precision:.3f} recall {p.recall:.3f} F1 {p.f1:.3f} "
        f"(same-story pairs found {p.tp}, wrongly joined {p.fp}, missed {p.fn})"
    )
    d = report.duplicates
    print(f"duplicates: found {d.tp}, false {d.fp}, missed {d.fn}")
    print(
        f"speed: tag() {report.ms_per_article:.2f} ms/article on gold excerpts; "
        f"5 KB article median {report.ms_5kb:.2f} ms, p95 {report.ms_5kb_p95:.2f} ms; "
        f"features + StoryIndex.place {report.ms_assign:.2f} ms"
    )
    if args.verbose:
        for e in report.errors:
            print("  " + e)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
