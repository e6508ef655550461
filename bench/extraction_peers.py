"""Peer comparison on the two dev sets: newsflow ``extract_page`` vs generic extractors.

Same pages, same run, same metric (:mod:`bench.extraction_eval`), reported per dev half
(``tune``: the rules were developed on it; ``heldback``: only measured; see
:func:`bench.extraction_eval.dev_half`) and for all pages:

* ``trafilatura``: plain ``trafilatura.extract(html)`` (comments included: its default);
* ``tf-nocomments``: ``include_comments=False``; ``tf-precision``: + ``favor_precision``;
  ``tf-recall``: + ``favor_recall``;
* ``readability``: readability-lxml's ``Document.summary()`` as text (when installed:
  ``pip install readability-lxml``; it is not a dependency of the product);
* ``newsflow``: ``extract_page``; ``newsflow-single``: the same with the second opinion
  (the ensemble), the title line and the lead switched off; ``newsflow-nolead``: only the lead
  switched off.

``--versus NAME``: per half, how newsflow's per-page F1 differs from NAME's (pages changed, up,
down, mean difference; e.g. ``newsflow-nolead``: what the lead changes). ``--interleave``: run the
systems page by page in turn (order rotated), so their pages/s compare under the same load.

``worse`` counts the pages where newsflow's F1 is more than 0.02 under the best single
extractor on that half (by mean non-CJK F1).

    .venv/bin/python bench/extraction_peers.py
    .venv/bin/python bench/extraction_peers.py --systems newsflow,tf-precision --half tune
    .venv/bin/python bench/extraction_peers.py --systems newsflow,newsflow-nolead --versus newsflow-nolead --interleave
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import lxml.html
import trafilatura

from bench.extraction_eval import (
    DEFAULT_DATA,
    HALVES,
    DataMissing,
    Page,
    PageScore,
    Result,
    System,
    run_system,
    select_half,
    summarise,
)
from services.extractor.extract import ExtractionError, ExtractOptions, extract_page
from services.extractor.htmlprocessing import bounded_text

_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "td", "th", "pre", "blockquote", "dd")


def _tf(**kwargs: object) -> System:
    def run(raw: bytes, url: str | None) -> Result:
        return Result(trafilatura.extract(raw, url=url, **kwargs))  # type: ignore[arg-type]

    return run


def _readability(raw: bytes, url: str | None) -> Result:
    from readability import Document  # optional peer, not a product dependency

    html = "".join(ch for ch in bounded_text(raw) if ch >= " " or ch in "\t\n\r")
    tree = lxml.html.fromstring(Document(html, url=url).summary(html_partial=True))
    leaves = [el for el in tree.iter(*_BLOCKS) if not any(True for _ in el.iterdescendants(*_BLOCKS))]
    lines = [" ".join(el.text_content().split()) for el in leaves]
    return Result("\n".join(line for line in lines if line) or tree.text_content())


def _newsflow(options: ExtractOptions) -> System:
    def run(raw: bytes, url: str | None) -> Result:
        try:
            return Result(extract_page(raw, url, options=options).text)
        except ExtractionError as exc:
            return Result(None, error=str(exc))

    return run


SYSTEMS: dict[str, System] = {
    "trafilatura": _tf(),
    "tf-nocomments": _tf(include_comments=False),
    "tf-precision": _tf(include_comments=False, favor_precision=True),
    "tf-recall": _tf(include_comments=False, favor_recall=True),
    "readability": _readability,
    "newsflow-single": _newsflow(ExtractOptions(second_opinion=False, drop_title_line=False, add_lead=False)),
    "newsflow-nolead": _newsflow(ExtractOptions(add_lead=False)),
    "newsflow": _newsflow(ExtractOptions()),
}
OURS = "newsflow"


def _available(names: Sequence[str]) -> list[str]:
    out = []
    for name in names:
        if name == "readability":
            try:
                import readability  # noqa: F401  (optional peer)
            except ImportError:
                print("(readability-lxml not installed: skipped)", file=sys.stderr)
                continue
        out.append(name)
    return out


def run_interleaved(names: Sequence[str], pages: Sequence[Page], htmls: Sequence[bytes]
                    ) -> dict[str, list[PageScore]]:
    """Every system on page 1, then on page 2, ..., the order rotated each page."""
    scores: dict[str, list[PageScore]] = {n: [] for n in names}
    for i, (page, raw) in enumerate(zip(pages, htmls, strict=True)):
        order = [*names[i % len(names):], *names[: i % len(names)]]
        for name in order:
            scores[name].extend(run_system(SYSTEMS[name], [page], [raw]))
    return scores


def versus(scores: dict[str, list[PageScore]], other: str) -> str:
    """How newsflow's per-page F1 differs from ``other``'s on the non-CJK pages (and the CJK ones)."""
    lines = []
    for cjk in (False, True):
        pairs = [(o.f1, b.f1) for o, b in zip(scores[OURS], scores[other], strict=True) if o.cjk == cjk]
        diffs = [o - b for o, b in pairs]
        up = sorted((d for d in diffs if d > 1e-9), reverse=True)
        down = sorted(d for d in diffs if d < -1e-9)
        mean = sum(diffs) / len(diffs) if diffs else 0.0
        lines.append(
            f"{OURS} vs {other} ({'CJK' if cjk else 'non-CJK'}): {len(up) + len(down)} of {len(diffs)} pages "
            f"changed, {len(up)} up (max {up[0] if up else 0:+.3f}), {len(down)} down "
            f"({', '.join(f'{d:+.3f}' for d in down[:5])}{' ...' if len(down) > 5 else ''}); "
            f"mean F1 {mean:+.4f}"
        )
    return "\n".join(lines)


def _seconds(scores: Sequence[PageScore]) -> float:
    return sum(s.seconds for s in scores)


def report(half: str, pages: Sequence[Page], scores: dict[str, list[PageScore]]) -> str:
    sums = {name: summarise(name, s) for name, s in scores.items()}
    singles = [n for n in sums if not n.startswith(OURS)]
    best = max(singles, key=lambda n: sums[n].f1) if singles else None
    lines = [
        f"\n== {half}: {len(pages)} pages ({sums[next(iter(sums))].pages} non-CJK)",
        f"{'system':<16} {'F1':>6} {'P':>6} {'R':>6} {'CJK F1':>7} {'all F1':>7} {'pages/s':>8} {'s':>7}",
    ]
    for name, s in sums.items():
        lines.append(
            f"{name:<16} {s.f1:6.3f} {s.precision:6.3f} {s.recall:6.3f} {s.cjk_f1:7.3f} "
            f"{s.all_f1:7.3f} {s.pages_per_s:8.1f} {_seconds(scores[name]):7.2f}"
        )
    if best and OURS in scores:
        ours = [s for s in scores[OURS] if not s.cjk]
        ref = [s for s in scores[best] if not s.cjk]
        worse = sum(1 for o, b in zip(ours, ref, strict=True) if o.f1 < b.f1 - 0.02)
        lines.append(
            f"best single: {best} {sums[best].f1:.3f}; {OURS} {sums[OURS].f1 - sums[best].f1:+.3f}; "
            f"pages worse than it by > 0.02: {worse}/{len(ours)} ({worse / max(len(ours), 1):.1%})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="fundus test_data directory")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated, of: " + ", ".join(SYSTEMS))
    ap.add_argument("--half", choices=[*HALVES, "all"], default=None, help="one dev half (default: both + all)")
    ap.add_argument("--versus", metavar="NAME", help="per half, newsflow's per-page F1 against this system's")
    ap.add_argument("--interleave", action="store_true", help="run the systems page by page in turn (fair timing)")
    ap.add_argument("--dump", type=Path, help="also write per-page F1 of every system (JSON) here")
    args = ap.parse_args(argv)
    try:
        from bench.extraction_eval import load_pages

        pages = load_pages(args.data)
    except DataMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = _available([n.strip() for n in args.systems.split(",") if n.strip()])
    htmls = [p.html() for p in pages]
    if args.versus and not {OURS, args.versus} <= set(names):
        print(f"error: --versus needs {OURS} and {args.versus} in --systems", file=sys.stderr)
        return 2
    scores: dict[str, list[PageScore]] = {}
    if args.interleave:
        scores = run_interleaved(names, pages, htmls)
    for name in [] if args.interleave else names:
        t0 = time.perf_counter()
        scores[name] = run_system(SYSTEMS[name], pages, htmls)
        print(f"  ran {name} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if args.dump:
        doc = {n: {s.page: round(s.f1, 4) for s in sc} for n, sc in scores.items()}
        args.dump.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    print(f"extraction peers, fundus {args.data}, {datetime.now(UTC):%Y-%m-%d}")
    for half in [args.half] if args.half else [*HALVES, "all"]:
        keep = {p.name for p in select_half(pages, half)}
        idx = [i for i, p in enumerate(pages) if p.name in keep]
        part = {n: [s[i] for i in idx] for n, s in scores.items()}
        print(report(half, [pages[i] for i in idx], part))
        if args.versus:
            print(versus(part, args.versus))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
