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

Multilingual gold (issue 18): ``tests/data/tagging_gold_multi.txt``, 105 short news texts in 10
languages (en, de, fr, es, it, pt, pl, ru, uk, sv; batch 1: 76 texts, batch 2: 29 more for the
languages with few), excerpts of fundus pages and texts written for the set, annotated inline
(``[[Olaf Scholz|PER]]``). Rules as above, plus: LOC also covers
continents, multi-country and sub-national regions ("East Africa", "Siberia", "Bayern"); clubs and
national teams named after a place are ORG in sports text ("Spain beat England"); inflected forms
are annotated as written ("w Warszawie"); stadiums, palaces, airports, seas and events are not
annotated. A place mention whose surface is a demonym ("Russian officials" -> Russia) is a link,
not a name: it is counted apart ("demonym links"), never as a false positive.

Splits, decided before any result was looked at: the English jsonl rows keep theirs (``dev`` =
tuned on, ``heldout`` -> test); the multilingual texts are split per language and batch by
:func:`split_of` (sorted by the SHA-1 of their id, every second one is ``test``), so that a new
batch never moves an earlier text between the splits. Rules are only ever written looking at
``dev``; ``test`` is measured.

Speed and quality are also measured for the previous release of the tagger (``--baseline``, a
commit: its ``services/extractor/tagging`` is unpacked into a temporary package) in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import itertools
import json
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
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
from services.extractor.tagging.lexicon import DEMONYMS
from services.stories.index import StoryIndex

GOLD = ROOT / "tests" / "data" / "tagging_gold.jsonl"
MULTI = ROOT / "tests" / "data" / "tagging_gold_multi.txt"
BASELINE = "8192ec1"  # the tagger before issue 18
_MARK = re.compile(r"\[\[(.+?)\|(PER|ORG|LOC)\]\]")
_LABEL = {"PER": "PERSON", "ORG": "ORG", "LOC": "PLACE"}
SEEDS = ROOT.parent / "shared" / "seeds"
LABELS = ("PERSON", "ORG", "PLACE")


def load_gold(path: Path = GOLD) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def parse_marked(marked: str) -> tuple[str, list[list[Any]]]:
    """ "[[Olaf Scholz|PER]] sagte" -> ("Olaf Scholz sagte", [[0, 11, "PERSON"]])."""
    out: list[str] = []
    spans: list[list[Any]] = []
    pos = n = 0
    for m in _MARK.finditer(marked):
        out.append(marked[pos : m.start()])
        n += m.start() - pos
        surface = m.group(1)
        spans.append([n, n + len(surface), _LABEL[m.group(2)]])
        out.append(surface)
        n += len(surface)
        pos = m.end()
    out.append(marked[pos:])
    return "".join(out), spans


def split_of(ids_by_lang: dict[str, list[str]]) -> dict[str, str]:
    """The split rule, fixed before any score was seen: within a language, texts sorted by the SHA-1
    of their id; every second one (ranks 1, 3, 5, ...) is ``test``, the others ``dev``."""
    out: dict[str, str] = {}
    for ids in ids_by_lang.values():
        for rank, i in enumerate(sorted(ids, key=lambda x: hashlib.sha1(x.encode()).hexdigest())):
            out[i] = "test" if rank % 2 else "dev"
    return out


def load_multi(path: Path = MULTI) -> list[dict[str, Any]]:
    """Texts of the multilingual gold file. A ``## batch <n>`` line starts a batch of texts added
    later; the split rule is applied within each language *and batch*, so that adding texts never
    moves an earlier text from one split to the other (texts before the first marker: batch 1)."""
    rows: list[dict[str, Any]] = []
    parts = re.split(r"^## batch (\d+).*$", path.read_text(encoding="utf-8"), flags=re.M)
    for batch, chunk in zip(["1", *parts[1::2]], parts[0::2], strict=True):
        for block in re.split(r"^### ", chunk, flags=re.M)[1:]:
            head, _, body = block.partition("\n")
            rid, lang, source = ([*head.split(maxsplit=2), ""])[:3]
            text, spans = parse_marked(body.strip("\n"))
            row = {"id": rid, "lang": lang, "source": source, "text": text, "entities": spans, "batch": batch}
            rows.append(row)
    by_lang: dict[str, list[str]] = {}
    for r in rows:
        by_lang.setdefault(f"{r['lang']}/{r['batch']}", []).append(r["id"])
    splits = split_of(by_lang)
    for r in rows:
        r["split"] = splits[r["id"]]
    return rows


def entity_rows() -> list[dict[str, Any]]:
    """Every annotated text with ``lang`` and ``split`` (``dev`` / ``test``)."""
    out = []
    for r in load_gold():
        if r.get("entities") is None:
            continue
        out.append({**r, "lang": "en", "split": "test" if r.get("split") == "heldout" else "dev"})
    return out + load_multi()


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
    entities: dict[str, Counts] = field(default_factory=dict)  # dev, every language
    heldout: dict[str, Counts] = field(default_factory=dict)  # test, every language
    table: Table = field(default_factory=dict)
    prev_table: Table = field(default_factory=dict)
    demonym_links: int = 0
    prev_ms_5kb: float = 0.0
    prev_ms_5kb_p95: float = 0.0
    prev_cpu_5kb: float = 0.0
    cpu_5kb: float = 0.0  # process CPU time: less sensitive to a busy shared machine than wall time
    pairs: Counts = field(default_factory=Counts)
    duplicates: Counts = field(default_factory=Counts)
    ms_per_article: float = 0.0
    ms_5kb: float = 0.0
    ms_5kb_p95: float = 0.0
    ms_assign: float = 0.0
    errors: list[str] = field(default_factory=list)


Table = dict[str, dict[str, dict[str, Counts]]]  # split -> language (or "all") -> label (or "ALL") -> counts


def _table() -> Table:
    return {}


def _cell(table: Table, split: str, lang: str) -> dict[str, Counts]:
    return table.setdefault(split, {}).setdefault(lang, {lab: Counts() for lab in (*LABELS, "ALL")})


def score_entities(
    rows: Iterable[dict[str, Any]], tagger: Callable[..., Tags], errors: list[str] | None = None
) -> tuple[Table, int]:
    """Exact-span scores per split, language and label; and the number of demonym links."""
    table = _table()
    links = 0
    for row in rows:
        text = row["text"]
        gold = {(a, b, lab) for a, b, lab in row["entities"]}
        pred = predicted_spans(tagger(text))
        demonym = {x for x in pred if x[2] == "PLACE" and text[x[0] : x[1]] in DEMONYMS and x not in gold}
        links += len(demonym)
        pred -= demonym
        for lang in (row["lang"], "all"):
            counts = _cell(table, row["split"], lang)
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
        if errors is not None:
            for a, b, lab in sorted(pred - gold):
                errors.append(f"{row['split']} {row['id']}: FP {lab} {text[a:b]!r} @{a}")
            for a, b, lab in sorted(gold - pred):
                errors.append(f"{row['split']} {row['id']}: FN {lab} {text[a:b]!r} @{a}")
    return table, links


def evaluate_entities(rows: Iterable[dict[str, Any]], report: Report, verbose: bool = False) -> None:
    table, report.demonym_links = score_entities(rows, tag, report.errors)
    report.table = table
    report.entities = table.get("dev", {}).get("all", _cell(_table(), "dev", "all"))
    report.heldout = table.get("test", {}).get("all", _cell(_table(), "test", "all"))


def load_previous(commit: str = BASELINE) -> Callable[..., Tags] | None:
    """``tag`` of the tagger as it was at ``commit``, imported from a temporary package."""
    try:
        blob = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, "services/extractor/tagging"],
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    tmp = Path(tempfile.mkdtemp(prefix="tagging_prev_"))
    with tarfile.open(fileobj=__import__("io").BytesIO(blob)) as tar:
        tar.extractall(tmp, filter="data")
    pkg = tmp / "tagging_prev"
    (tmp / "services" / "extractor" / "tagging").rename(pkg)
    sys.path.insert(0, str(tmp))
    try:
        mod = importlib.import_module("tagging_prev.tagger")
    finally:
        sys.path.remove(str(tmp))
    return mod.tag  # type: ignore[no-any-return]


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


def _five_kb_samples(texts: list[str]) -> list[str]:
    samples = [p.read_text(encoding="utf-8")[:5000] for p in sorted(SEEDS.glob("*.txt"))]
    if not samples:
        joined = "\n".join(texts)
        samples = [joined[:5000], joined[5000:10000]]
    return samples


def _median_ms(tagger: Callable[..., Tags], samples: list[str], rounds: int = 20) -> tuple[float, float, float]:
    """Median and p95 wall time, and median process CPU time, of one call, in ms."""
    per: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        for s in samples:
            t1, c1 = time.perf_counter(), time.process_time()
            tagger(s)
            per.append((time.perf_counter() - t1) * 1000)
            cpu.append((time.process_time() - c1) * 1000)
    per.sort()
    return statistics.median(per), per[int(0.95 * (len(per) - 1))], statistics.median(cpu)


def measure_speed(
    rows: list[dict[str, Any]], report: Report, rounds: int = 5, previous: Callable[..., Tags] | None = None
) -> None:
    texts = [r["text"] for r in rows]
    tag(texts[0])  # load the gazetteer and models once
    t0 = time.perf_counter()
    for _ in range(rounds):
        for t in texts:
            tag(t)
    report.ms_per_article = (time.perf_counter() - t0) * 1000 / (rounds * len(texts))
    samples = _five_kb_samples(texts)
    if previous is not None:
        previous(texts[0])
    # current and previous in turns, so that a busy machine slows both alike
    for _ in range(2):
        report.ms_5kb, report.ms_5kb_p95, report.cpu_5kb = _median_ms(tag, samples)
        if previous is not None:
            report.prev_ms_5kb, report.prev_ms_5kb_p95, report.prev_cpu_5kb = _median_ms(previous, samples)


def run(verbose: bool = False, real_dates: bool = False, speed: bool = True, baseline: str | None = None) -> Report:
    rows = load_gold()
    report = Report()
    evaluate_entities(entity_rows(), report, verbose)
    evaluate_clusters(rows, report, real_dates)
    previous = load_previous(baseline) if baseline else None
    if previous is not None:
        report.prev_table, _ = score_entities(entity_rows(), previous)
    if speed:
        measure_speed(rows, report, previous=previous)
    return report


def print_table(name: str, table: Table) -> None:
    print(f"{name}: F1 per language and type (P / R of all types; n = gold mentions)")
    print(f"{'split':<6}{'lang':<6}{'P':>7}{'R':>7}{'F1':>7}{'PER':>7}{'ORG':>7}{'LOC':>7}{'n':>6}")
    for split in ("dev", "test"):
        langs = table.get(split, {})
        for lang in sorted(langs, key=lambda x: (x == "all", x != "en", x)):
            c = langs[lang]
            a = c["ALL"]
            f = [c[lab].f1 if c[lab].tp + c[lab].fn else float("nan") for lab in LABELS]
            print(
                f"{split:<6}{lang:<6}{a.precision:7.3f}{a.recall:7.3f}{a.f1:7.3f}"
                f"{f[0]:7.3f}{f[1]:7.3f}{f[2]:7.3f}{a.tp + a.fn:6d}"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--verbose", "-v", action="store_true", help="list every false positive / negative")
    ap.add_argument("--real-dates", action="store_true", help="use the articles' own dates (window applies)")
    ap.add_argument("--baseline", default=BASELINE, help="commit of the previous tagger ('' to skip)")
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args(argv)
    rows = load_gold()
    report = run(args.verbose, args.real_dates, speed=not args.no_speed, baseline=args.baseline or None)
    ents = entity_rows()
    n_dev = sum(1 for r in ents if r["split"] == "dev")
    n_test = len(ents) - n_dev
    n_stories = len({r["story"] for r in rows})
    langs = sorted({r["lang"] for r in ents})
    print(
        f"gold: {n_dev} dev + {n_test} test annotated texts in {len(langs)} languages ({', '.join(langs)}); "
        f"clustering: {len(rows)} texts, {n_stories} stories"
    )
    for name, table in (("dev", report.entities), ("test", report.heldout)):
        print(f"{name + ' label':<16}{'P':>7}{'R':>7}{'F1':>7}{'tp':>6}{'fp':>6}{'fn':>6}")
        for lab, c in table.items():
            print(f"{lab:<16}{c.precision:7.3f}{c.recall:7.3f}{c.f1:7.3f}{c.tp:6d}{c.fp:6d}{c.fn:6d}")
    print_table("this tagger", report.table)
    print(f"demonym links (place mentions such as 'Russian' -> Russia, not scored): {report.demonym_links}")
    if report.prev_table:
        print_table(f"previous tagger ({args.baseline})", report.prev_table)
    p = report.pairs
    print(
        f"story pairs: precision {p.precision:.3f} recall {p.recall:.3f} F1 {p.f1:.3f} "
        f"(same-story pairs found {p.tp}, wrongly joined {p.fp}, missed {p.fn})"
    )
    d = report.duplicates
    print(f"duplicates: found {d.tp}, false {d.fp}, missed {d.fn}")
    if not args.no_speed:
        print(
            f"speed: tag() {report.ms_per_article:.2f} ms/article on gold excerpts; "
            f"5 KB article median {report.ms_5kb:.2f} ms, p95 {report.ms_5kb_p95:.2f} ms "
            f"(CPU time median {report.cpu_5kb:.2f} ms); "
            f"features + StoryIndex.place {report.ms_assign:.2f} ms"
        )
        if report.prev_ms_5kb:
            print(
                f"speed, previous tagger ({args.baseline}), same run: 5 KB article median "
                f"{report.prev_ms_5kb:.2f} ms, p95 {report.prev_ms_5kb_p95:.2f} ms (CPU time median "
                f"{report.prev_cpu_5kb:.2f} ms); CPU time ratio {report.cpu_5kb / max(report.prev_cpu_5kb, 1e-9):.2f}"
            )
    if args.verbose:
        for e in report.errors:
            print("  " + e)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
