"""Title sources in every order: could another order (or a vote) of the title candidates match the reference more often?

    .venv/bin/python bench/title_orders.py

For each fundus page (:mod:`bench.extraction_eval`), the candidates :func:`services.extractor.titles.choose_title`
looks at: JSON-LD headline, og:title, twitter:title, the single ``<h1>``, ``<title>``. For each of the 120
orders of these five, the title is the first candidate present, then the site and section suffixes are cut as
``choose_title`` does; a vote takes the title most candidates give (``norm_title``-equal; ties: the product's
order). Prints how many pages' titles equal the reference (``norm_title``) for the product's order, the best
and worst orders and the vote, and how many misses no candidate of the page could have fixed.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.extraction_eval import DEFAULT_DATA, DataMissing, load_pages, norm_title
from services.extractor.furniture import preclean
from services.extractor.htmlprocessing import bounded_text, parse_bounded
from services.extractor.json_metadata import parse_jsonld
from services.extractor.metadata import PageMeta, meta_content, publisher_and_host
from services.extractor.titles import _without_section_suffix, clean_title, strip_site_suffix

SOURCES = ("json-ld", "og", "twitter", "h1", "title")


def candidates(raw: bytes, url: str | None) -> tuple[dict[str, str], set[str], str | None]:
    """The page's cleaned title candidates by source, its site names and trafilatura's fallback title."""
    tree = parse_bounded(bounded_text(raw))
    if tree is None:
        return {}, set(), None
    ld = parse_jsonld(tree)
    tree = preclean(tree, url=url)
    h1 = tree.xpath("//h1")
    found = {
        "json-ld": ld.headline if ld else None,
        "og": meta_content(tree, "og:title"),
        "twitter": meta_content(tree, "twitter:title"),
        "h1": " ".join(h1[0].text_content().split()) if len(h1) == 1 else None,
        "title": tree.findtext(".//title"),
    }
    sites = {meta_content(tree, "og:site_name") or ""} | publisher_and_host(ld, url)
    sites.discard("")
    cleaned = {k: t for k, v in found.items() if (t := clean_title(v))}
    return cleaned, sites, clean_title(PageMeta(tree, url).title)


def pick(ordered: list[str], sites: set[str], fallback: str | None) -> str | None:
    """``choose_title``'s rule on candidates already in order."""
    if ordered:
        return _without_section_suffix(strip_site_suffix(ordered[0], sites) or ordered[0], ordered)
    return strip_site_suffix(fallback, sites) or fallback if fallback else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="fundus test_data directory")
    args = ap.parse_args(argv)
    try:
        pages = load_pages(args.data)
    except DataMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pages = [p for p in pages if p.reference.get("title")]
    rows = [(norm_title(p.reference["title"]), *candidates(p.html(), p.url)) for p in pages]
    hits: Counter[tuple[str, ...]] = Counter()
    for order in itertools.permutations(SOURCES):
        for ref, cands, sites, fallback in rows:
            hits[order] += norm_title(pick([cands[s] for s in order if s in cands], sites, fallback)) == ref
    vote = unreachable = 0
    for ref, cands, sites, fallback in rows:
        ordered = [cands[s] for s in SOURCES if s in cands]
        picked = [norm_title(pick([c], sites, None)) for c in ordered]
        counts = Counter(picked)
        top = max(picked, key=lambda t: counts[t]) if picked else norm_title(pick([], sites, fallback))
        vote += top == ref
        unreachable += ref not in {*picked, norm_title(pick([], sites, fallback))}
    n, product = len(rows), hits[SOURCES]
    (best, best_n), (worst, worst_n) = hits.most_common(1)[0], hits.most_common()[-1]
    print(f"title sources on {n} fundus pages with a reference title ({len(hits)} orders)")
    print(f"  product order ({' > '.join(SOURCES)}): {product} of {n} ({n - product} misses)")
    print(f"  best order ({' > '.join(best)}): {best_n}; worst ({' > '.join(worst)}): {worst_n}")
    print(f"  orders as good as the product's: {sum(1 for v in hits.values() if v >= product)}")
    print(f"  majority vote of the candidates: {vote}")
    print(f"  misses that no candidate of the page matches: {unreachable}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
