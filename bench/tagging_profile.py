"""The tagger's cost figures of ``docs/tagging.md`` and ``docs/scaling.md`` (issue 20), one option each.

Texts: the article texts ``extract_page`` gives for the fundus pages (``bench/extraction_eval``'s
loader, as ``bench/extractor_speed.py`` feeds them to the stage) and the 5 KB seeds of
``bench/tagging_quality.py``.

    .venv/bin/python bench/tagging_profile.py --language      # py3langid on 1,500 vs 3,000 characters
    .venv/bin/python bench/tagging_profile.py --keywords      # YAKE on 500 vs 1,000 characters / whole text
    .venv/bin/python bench/tagging_profile.py --components    # tag() per page: YAKE, language, GC, rules
    .venv/bin/python bench/tagging_profile.py --components --unfreeze   # ... without gc.freeze()
    .venv/bin/python bench/tagging_profile.py --fundus        # tag() CPU per page, best of 3
    .venv/bin/python bench/tagging_profile.py --long          # tag() on the 5.0-6.5 KB fundus texts
    .venv/bin/python bench/tagging_profile.py --interleaved   # 5 KB seeds, this vs --baseline per call
    .venv/bin/python bench/tagging_profile.py --interleaved --tagger 017cb10 --baseline 70d3f74  # one fix
    .venv/bin/python bench/tagging_profile.py --memory        # fresh processes: load time, RSS per load

``--memory`` runs each measurement in a fresh interpreter (this script with ``--child``): RSS added by
loading the language model, by loading the gazetteer (built in its own child process), the time of
``warm_up()``; peak RSS after a first ``tag()`` for this tagger and ``--first-round`` (the tagger
before issue 18); RSS after tagging the gold set twice, and its rise over the imports, for this
tagger and ``--baseline`` (the first round of issue 18).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import io
import json
import re
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIRST_ROUND = "8192ec1"  # the tagger before issue 18
SECOND_ROUND_BASE = "1c09323"  # the tagger after issue 18's first round


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fundus_texts() -> list[tuple[str, str | None]]:
    """(text, title) of every fundus page ``extract_page`` gives a text for."""
    from bench.extraction_eval import DEFAULT_DATA
    from bench.extractor_speed import page_messages
    from services.extractor.extract import ExtractionError, extract_page

    out: list[tuple[str, str | None]] = []
    for page in page_messages(DEFAULT_DATA):
        try:
            ex = extract_page(page.html, url=page.final_url, entry=page.entry)
        except ExtractionError:
            continue
        if ex.text:
            out.append((ex.text, ex.title))
    return out


def language_check(texts: list[tuple[str, str | None]]) -> None:
    from services.extractor.tagging import language

    old = language.SAMPLE_CHARS
    answers: dict[int, list[str | None]] = {}
    try:
        for n in (1000, 1500, 3000):
            language.SAMPLE_CHARS = n
            answers[n] = [language.detect(t) for t, _ in texts]
    finally:
        language.SAMPLE_CHARS = old
    for n in (1000, 1500):
        same = sum(a == b for a, b in zip(answers[n], answers[3000], strict=True))
        print(f"language: {n:,} vs 3,000 characters: same answer on {same} of {len(texts)} fundus texts")


def keywords_check(texts: list[tuple[str, str | None]]) -> None:
    from services.extractor.tagging import keywords, language

    old = keywords.MAX_CHARS

    def run(n: int) -> list[set[str]]:
        keywords.MAX_CHARS = n
        return [set(keywords.extract(t, title, language.detect(t))) for t, title in texts]

    try:
        base = run(old)
        others = {"1,000 characters": run(1000), "the whole text": run(10**9)}
    finally:
        keywords.MAX_CHARS = old
    for name, sets in others.items():
        shares = [len(a & b) / max(len(a), len(b)) for a, b in zip(base, sets, strict=True) if a or b]
        print(
            f"keywords: {old} characters vs {name}: {100 * statistics.mean(shares):.0f} % of the phrases agree "
            f"(mean of |A & B| / max(|A|, |B|) over {len(shares)} fundus texts)"
        )


def components(texts: list[tuple[str, str | None]], unfreeze: bool = False) -> None:
    """Per-page wall time of tag() split into YAKE, language, cyclic GC and the rest (the rules).

    ``unfreeze``: put the frozen objects (the gazetteer's) back in the cyclic GC's sight, as before
    ``gc.freeze()`` was added (2026-11-22)."""
    from services.extractor.tagging import keywords, tag, tagger

    tag(texts[0][0], title=texts[0][1])
    if unfreeze:
        gc.unfreeze()
    spent = {"keywords": 0.0, "language": 0.0, "gc": 0.0}
    gc_start: list[float] = []
    collections = [0]
    full_ms: list[float] = []

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.perf_counter() - t0
        return wrapper

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_start.append(time.perf_counter())
        elif gc_start:
            took = time.perf_counter() - gc_start.pop()
            spent["gc"] += took
            if info["generation"] == 2:
                collections[0] += 1
                full_ms.append(1000 * took)

    orig_kw, orig_lang = keywords.extract, tagger.detect
    keywords.extract, tagger.detect = timed("keywords", orig_kw), timed("language", orig_lang)
    gc.callbacks.append(on_gc)
    try:
        t0 = time.perf_counter()
        for t, title in texts:
            tag(t, title=title)
        total = time.perf_counter() - t0
    finally:
        gc.callbacks.remove(on_gc)
        keywords.extract, tagger.detect = orig_kw, orig_lang
    n = len(texts)
    rest = total - sum(spent.values())
    print(
        f"components over {n} fundus texts, ms per page (wall): tag() {1000 * total / n:.2f} = "
        f"YAKE {1000 * spent['keywords'] / n:.2f} + language {1000 * spent['language'] / n:.2f} + "
        f"cyclic GC {1000 * spent['gc'] / n:.2f} + rules {1000 * rest / n:.2f}; "
        f"{collections[0]} full collections of {statistics.mean(full_ms) if full_ms else 0:.0f} ms each"
        + (" (gazetteer unfrozen)" if unfreeze else "")
    )


def fundus_cpu(texts: list[tuple[str, str | None]], rounds: int = 3) -> None:
    from services.extractor.tagging import tag

    tag(texts[0][0], title=texts[0][1])
    per: list[float] = []
    for _ in range(rounds):
        c0 = time.process_time()
        for t, title in texts:
            tag(t, title=title)
        per.append((time.process_time() - c0) * 1000 / len(texts))
    print(f"tag() over {len(texts)} fundus texts, process CPU ms per page, best of {rounds}: {min(per):.2f} "
          f"(rounds: {', '.join(f'{x:.2f}' for x in per)})")


def long_texts(texts: list[tuple[str, str | None]], rounds: int = 20) -> None:
    from services.extractor.tagging import tag

    chosen = [(t, title) for t, title in texts if 5000 <= len(t) <= 6500]
    tag(chosen[0][0], title=chosen[0][1])
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        for t, title in chosen:
            t0, c0 = time.perf_counter(), time.process_time()
            tag(t, title=title)
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
    wall.sort()
    print(
        f"tag() on the {len(chosen)} fundus texts of 5,000-6,500 characters, {rounds} rounds: median "
        f"{statistics.median(wall):.2f} ms, p95 {wall[int(0.95 * (len(wall) - 1))]:.2f} ms wall "
        f"(CPU median {statistics.median(cpu):.2f} ms)"
    )


def interleaved(baseline: str, rounds: int = 30, commit: str | None = None) -> None:
    """CPU time per call of this tagger (or the one at ``commit``) and the one at ``baseline``, in turn."""
    from bench.tagging_quality import _five_kb_samples, load_gold
    from services.extractor.tagging import tag as current

    tag = _previous_tag(commit) if commit else current
    previous = _previous_tag(baseline)
    samples = _five_kb_samples([r["text"] for r in load_gold()])
    tag(samples[0])
    previous(samples[0])
    cur: list[float] = []
    prev: list[float] = []
    for _ in range(rounds):
        for s in samples:
            c0 = time.process_time()
            tag(s)
            c1 = time.process_time()
            previous(s)
            c2 = time.process_time()
            cur.append((c1 - c0) * 1000)
            prev.append((c2 - c1) * 1000)
    a, b = statistics.median(cur), statistics.median(prev)
    print(f"interleaved per call, {rounds} rounds of the {len(samples)} 5 KB seeds: CPU median {a:.2f} ms for "
          f"{commit or 'this tagger'} vs {b:.2f} ms for {baseline}, ratio {a / b:.3f}")


# --- fresh-process measurements ------------------------------------------------------------


def child(kind: str, commit: str | None) -> dict[str, float]:
    if kind == "language":
        from services.extractor.tagging import language

        before = _rss_mb()
        language._model()
        return {"added": _rss_mb() - before}
    if kind == "gazetteer":
        from services.extractor.tagging import gazetteer

        before = _rss_mb()
        gazetteer.get_gazetteer()
        return {"added": _rss_mb() - before}
    if kind == "warm_up":
        from services.extractor.tagging import gazetteer, language, warm_up

        t0 = time.perf_counter()
        gazetteer.get_gazetteer()
        t1 = time.perf_counter()
        language._model()
        t2 = time.perf_counter()
        warm_up()
        return {"seconds": time.perf_counter() - t0, "gazetteer": t1 - t0, "language": t2 - t1}
    # neither bench.tagging_quality nor the current tagger is imported for a previous one: its
    # process holds that tagger's modules only
    if commit:
        tagger = _previous_tag(commit)
    else:
        from services.extractor.tagging import tag as tagger
    texts = _gold_texts()
    imports = _rss_mb()
    if kind == "first_tag":
        tagger(texts[0])
        return {"peak": _peak_mb(), "rss": _rss_mb()}
    for _ in range(2):  # "gold"
        for t in texts:
            tagger(t)
    return {"rss": _rss_mb(), "added": _rss_mb() - imports}


def _gold_texts() -> list[str]:
    """The texts of both gold files (the English jsonl, the multilingual file without its markup)."""
    data = ROOT / "tests" / "data"
    lines = (data / "tagging_gold.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines if line.strip()]
    for block in re.split(r"^### ", (data / "tagging_gold_multi.txt").read_text(encoding="utf-8"), flags=re.M)[1:]:
        body = block.partition("\n")[2].split("\n## batch")[0].strip("\n")
        texts.append(re.sub(r"\[\[(.+?)\|(?:PER|ORG|LOC)\]\]", r"\1", body))
    return texts


def _previous_tag(commit: str) -> Callable[..., Any]:
    """``tag`` of the tagger at ``commit``, unpacked into a temporary package (as bench/tagging_quality.py does)."""
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "services/extractor/tagging"],
                          check=True, capture_output=True).stdout
    tmp = Path(tempfile.mkdtemp(prefix="tagging_prev_"))
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(tmp, filter="data")
    name = f"tagging_{commit}"  # one package per commit: two previous taggers can be compared
    (tmp / "services" / "extractor" / "tagging").rename(tmp / name)
    sys.path.insert(0, str(tmp))
    try:
        return importlib.import_module(f"{name}.tagger").tag  # type: ignore[no-any-return]
    finally:
        sys.path.remove(str(tmp))


def _in_child(kind: str, commit: str | None = None) -> dict[str, float]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind]
    if commit:
        cmd += ["--commit", commit]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def memory(baseline: str, first_round: str) -> None:
    lang = _in_child("language")
    gaz = _in_child("gazetteer")
    warm = _in_child("warm_up")
    print(f"fresh process: language model +{lang['added']:.0f} MB RSS; gazetteer +{gaz['added']:.0f} MB RSS; "
          f"warm_up() {warm['seconds']:.2f} s (gazetteer {warm['gazetteer']:.2f} s, language model "
          f"{warm['language']:.2f} s, then the first tag() and a freeze)")
    now, old = _in_child("first_tag"), _in_child("first_tag", first_round)
    print(f"peak RSS after a first tag(): {now['peak']:.0f} MB (RSS {now['rss']:.0f}) vs {old['peak']:.0f} MB "
          f"(RSS {old['rss']:.0f}) for {first_round}")
    now, old = _in_child("gold"), _in_child("gold", baseline)
    print(f"RSS after tagging the gold set twice: {now['rss']:.0f} MB, +{now['added']:.0f} MB over the imports, vs "
          f"{old['rss']:.0f} MB, +{old['added']:.0f} MB for {baseline}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--language", action="store_true", help="py3langid on 1,000/1,500 vs 3,000 characters")
    ap.add_argument("--keywords", action="store_true", help="keywords on MAX_CHARS vs 1,000 characters / whole text")
    ap.add_argument("--components", action="store_true", help="tag() per page split into YAKE, language, GC, rules")
    ap.add_argument("--unfreeze", action="store_true", help="--components with the gazetteer back in the GC's sight")
    ap.add_argument("--fundus", action="store_true", help="tag() CPU per page over the fundus texts, best of 3")
    ap.add_argument("--long", action="store_true", help="tag() on the fundus texts of 5,000-6,500 characters")
    ap.add_argument("--interleaved", action="store_true", help="5 KB seeds, this tagger vs --baseline per call")
    ap.add_argument("--tagger", help="--interleaved: the tagger at this commit instead of the working tree's")
    ap.add_argument("--memory", action="store_true", help="fresh processes: RSS per load, warm-up time")
    ap.add_argument("--baseline", default=SECOND_ROUND_BASE, help="commit for --interleaved and --memory's gold run")
    ap.add_argument("--first-round", default=FIRST_ROUND, help="commit for --memory's first tag()")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--commit", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.commit)))
        return 0
    if args.language or args.keywords or args.components or args.fundus or args.long:
        texts = fundus_texts()
        print(f"fundus texts: {len(texts)}")
        if args.language:
            language_check(texts)
        if args.keywords:
            keywords_check(texts)
        if args.components:
            components(texts, unfreeze=args.unfreeze)
        if args.fundus:
            fundus_cpu(texts)
        if args.long:
            long_texts(texts)
    if args.interleaved:
        interleaved(args.baseline, commit=args.tagger)
    if args.memory:
        memory(args.baseline, args.first_round)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
