"""Extraction-quality benchmark: newsflow ``extract_page`` vs plain ``trafilatura.extract``.

Scores both, in the same run, over ``../shared/data/extraction/fundus/test_data/*/*.html.gz``
(258 real news pages, 181 publishers). See :mod:`bench.extraction_eval` for the metric.

    .venv/bin/python bench/extraction_quality.py            # table
    .venv/bin/python bench/extraction_quality.py --json     # machine-readable
    .venv/bin/python bench/extraction_quality.py --worst 15 # + pages where we lose most
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.extraction_eval import (
    DEFAULT_DATA,
    DataMissing,
    Summary,
    compare,
    load_pages,
)
from services.extractor.extract import EXTRACTOR_VERSION


def _fmt(x: float | None) -> str:
    return "   n/a" if x is None else f"{x:6.3f}"


def table(ours: Summary, plain: Summary) -> str:
    rows = [
        ("pages (non-CJK, by tokens)", f"{ours.pages:6d}", f"{plain.pages:6d}"),
        ("precision", _fmt(ours.precision), _fmt(plain.precision)),
        ("recall", _fmt(ours.recall), _fmt(plain.recall)),
        ("F1", _fmt(ours.f1), _fmt(plain.f1)),
        ("CJK pages (by characters)", f"{ours.cjk_pages:6d}", f"{plain.cjk_pages:6d}"),
        ("CJK precision", _fmt(ours.cjk_precision), _fmt(plain.cjk_precision)),
        ("CJK recall", _fmt(ours.cjk_recall), _fmt(plain.cjk_recall)),
        ("CJK F1", _fmt(ours.cjk_f1), _fmt(plain.cjk_f1)),
        ("F1, all pages", _fmt(ours.all_f1), _fmt(plain.all_f1)),
        ("title accuracy", _fmt(ours.title_acc), _fmt(plain.title_acc)),
        ("authors accuracy", _fmt(ours.authors_acc), _fmt(plain.authors_acc)),
        ("date accuracy", _fmt(ours.date_acc), _fmt(plain.date_acc)),
        ("pages/s", f"{ours.pages_per_s:6.1f}", f"{plain.pages_per_s:6.1f}"),
        ("errors / empty", f"{ours.errors:6d}", f"{plain.errors:6d}"),
    ]
    w = max(len(r[0]) for r in rows)
    head = f"{'metric':<{w}}  {'ours':>8}  {'plain':>8}"
    lines = [head, "-" * len(head)]
    lines += [f"{name:<{w}}  {a:>8}  {b:>8}" for name, a, b in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="fundus test_data directory")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead")
    ap.add_argument("--worst", type=int, default=0, help="list the N pages where ours loses most")
    ap.add_argument("--pages", action="store_true", help="include per-page scores in --json")
    args = ap.parse_args(argv)

    try:
        pages = load_pages(args.data)
    except DataMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    cmp = compare(pages)
    if args.json:
        doc = cmp.as_dict()
        doc["extractor_version"] = EXTRACTOR_VERSION
        doc["data"] = str(args.data)
        if not args.pages:
            doc.pop("pages")
        print(json.dumps(doc, indent=2, default=str))
        return 0

    print(f"extraction quality, {len(pages)} pages from {args.data}")
    print(f"extractor {EXTRACTOR_VERSION}\n")
    print(table(cmp.ours, cmp.plain))
    print(
        f"\nours worse than plain (F1 by > 0.005): {len(cmp.worse)} pages "
        f"({cmp.worse_fraction:.1%})"
    )
    print(f"speed ratio ours/plain: {cmp.speed_ratio:.2f}")
    if args.worst:
        diffs = sorted(cmp.pages, key=lambda p: p["ours_f1"] - p["plain_f1"])[: args.worst]
        print("\nworst pages (ours - plain F1):")
        for p in diffs:
            print(
                f"  {p['page']:<50} ours {p['ours_f1']:.3f} (P {p['ours_p']:.2f} R {p['ours_r']:.2f})"
                f"  plain {p['plain_f1']:.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
