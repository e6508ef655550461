"""Extraction-quality scoring against the fundus test set (``../shared/data``).

Used by ``bench/extraction_quality.py`` (the report), ``bench/extractor_speed.py`` (the pages)
and ``tests/extractor/test_extraction_gate.py`` (the floors). Nothing here is specific to a
publisher: the reference body is whatever fundus's parsers produced.

Scoring, per page:

* text: multiset precision / recall / F1 of lowercased whitespace tokens of the
  extracted text against the reference body (summary + all section paragraphs,
  joined). Japanese/Chinese/Korean pages (country jp/cn/tw/kr, or CJK script in
  the reference) are scored on non-space characters instead and reported apart.
  An empty result scores 0.
* title: equal after :func:`norm_title` (NFKC, casefold, invisible characters and quote
  marks removed, dashes unified, whitespace collapsed);
* authors: equal as sets of casefolded, whitespace-collapsed names;
* date: equal calendar day (YYYY-MM-DD, in the page's own offset).

Two dev sets (issue 19): the fundus pages are split by :func:`dev_half`, a fixed rule on the
file name (fixed before any tuning on the split): the SHA-256 of ``country/publisher`` (the file
name without its date), even first byte -> ``"tune"``, odd -> ``"heldback"``. All pages of one
publisher fall in the same half, so the held-back half has only sites never looked at while
tuning. Rules are developed on ``tune``; ``heldback`` is only measured, and reported apart.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import statistics
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import trafilatura

from services.extractor.extract import ExtractionError, extract_page

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "extraction" / "fundus" / "test_data"

CJK_COUNTRIES = frozenset({"jp", "cn", "tw", "kr"})
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_PAGE_RE = re.compile(r"^(?P<pub>.+)_(?P<date>\d{4}_\d{2}_\d{2})\.html\.gz$")


class DataMissing(FileNotFoundError):
    """The fundus test data is not where we expect it."""


@dataclass(frozen=True)
class Page:
    country: str
    publisher: str
    path: Path
    url: str | None
    reference: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.country}/{self.path.name}"

    @property
    def body(self) -> str:
        return reference_body(self.reference)

    @property
    def cjk(self) -> bool:
        return self.country in CJK_COUNTRIES or is_cjk(self.body)

    def html(self) -> bytes:
        return gzip.decompress(self.path.read_bytes())

    @property
    def half(self) -> str:
        return dev_half(self.country, self.publisher)


#: the two dev sets of :func:`dev_half`
HALVES = ("tune", "heldback")


def dev_half(country: str, publisher: str) -> str:
    """``"tune"`` or ``"heldback"``: the split rule of the module docstring (by publisher)."""
    digest = hashlib.sha256(f"{country}/{publisher}".encode()).digest()
    return HALVES[digest[0] % 2]


def select_half(pages: Sequence[Page], half: str | None) -> list[Page]:
    """The pages of one dev half (``None`` or ``"all"``: every page)."""
    if half in (None, "all"):
        return list(pages)
    if half not in HALVES:
        raise ValueError(f"unknown dev half {half!r} (one of {', '.join(HALVES)}, all)")
    return [p for p in pages if p.half == half]


def reference_body(ref: dict[str, Any]) -> str:
    body = ref.get("body") or {}
    parts: list[str] = list(body.get("summary") or [])
    for section in body.get("sections") or []:
        parts.extend(section.get("paragraphs") or [])
    return "\n".join(p for p in parts if isinstance(p, str))


def is_cjk(text: str) -> bool:
    sample = text[:3000]
    return bool(sample) and len(_CJK_RE.findall(sample)) > 0.2 * len(sample.replace(" ", ""))


def load_pages(data_dir: Path | None = None) -> list[Page]:
    """All pages of the set, each with its reference version (versions follow date order)."""
    root = Path(data_dir) if data_dir else DEFAULT_DATA
    if not root.is_dir():
        raise DataMissing(
            f"fundus test data not found at {root} (expected ../shared/data/extraction/fundus/"
            "test_data beside the repository; pass --data to point elsewhere)"
        )
    pages: list[Page] = []
    for ref_file in sorted(root.glob("*/*.json")):
        country, publisher = ref_file.parent.name, ref_file.stem
        refs = json.loads(ref_file.read_text(encoding="utf-8"))
        meta_file = ref_file.parent / "meta.info"
        meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.exists() else {}
        htmls = sorted(
            p
            for p in ref_file.parent.glob(f"{glob_escape(publisher)}_*.html.gz")
            if (m := _PAGE_RE.match(p.name)) and m.group("pub") == publisher
        )
        keys = sorted(refs, key=_version_key)
        for path, key in zip(htmls, keys, strict=True):
            url = (meta.get(path.name) or {}).get("url")
            pages.append(Page(country, publisher, path, url, refs[key]))
    if not pages:
        raise DataMissing(f"no *.html.gz pages with references under {root}")
    return pages


def glob_escape(s: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", s)


def _version_key(key: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", key)) or (0,)


# --------------------------------------------------------------------------- metrics


def tokens(text: str, by_chars: bool = False) -> Counter[str]:
    if by_chars:
        return Counter(ch for ch in text.lower() if not ch.isspace())
    return Counter(text.lower().split())


def prf(
    candidate: str | None, reference: str, by_chars: bool = False
) -> tuple[float, float, float]:
    if not candidate:
        return 0.0, 0.0, 0.0
    cand, ref = tokens(candidate, by_chars), tokens(reference, by_chars)
    overlap = sum((cand & ref).values())
    if not overlap:
        return 0.0, 0.0, 0.0
    p = overlap / sum(cand.values())
    r = overlap / sum(ref.values())
    return p, r, 2 * p * r / (p + r)


_INVISIBLE_RE = re.compile("[\u00ad\u200b-\u200f\u2060\ufeff]")
_QUOTES_RE = re.compile("[\"'‘’‚‛“”„‟«»‹›`´]")
_DASHES_RE = re.compile("[‐‑‒–—―−]")


def norm_title(t: str | None) -> str:
    """Unicode NFKC, casefold, no invisible characters (soft hyphen, zero-width), no quote marks
    of any kind, every dash as '-', whitespace collapsed: typography, not wording, may differ."""
    t = unicodedata.normalize("NFKC", t or "")
    t = _DASHES_RE.sub("-", _QUOTES_RE.sub("", _INVISIBLE_RE.sub("", t)))
    return re.sub(r"\s+", " ", t).strip().casefold()


def norm_authors(names: Iterable[str]) -> frozenset[str]:
    return frozenset(re.sub(r"\s+", " ", n).strip().casefold() for n in names if n and n.strip())


def norm_date(d: datetime | str | None) -> str | None:
    if d is None:
        return None
    if isinstance(d, datetime):
        return d.date().isoformat()
    m = re.match(r"\s*(\d{4}-\d{2}-\d{2})", d)
    return m.group(1) if m else None


# --------------------------------------------------------------------------- runner


@dataclass
class Meta:
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    date: datetime | str | None = None


@dataclass
class Result:
    """One system's output on one page."""

    text: str | None
    meta: Meta | None = None
    seconds: float = 0.0
    error: str | None = None


#: a system: (raw html bytes, url) -> Result (text and, if it has them, metadata)
System = Callable[[bytes, "str | None"], Result]


@dataclass
class PageScore:
    page: str
    cjk: bool
    p: float
    r: float
    f1: float
    title_ok: bool | None
    authors_ok: bool | None
    date_ok: bool | None
    seconds: float
    error: str | None = None


@dataclass
class Summary:
    system: str
    pages: int
    precision: float
    recall: float
    f1: float
    cjk_pages: int
    cjk_precision: float
    cjk_recall: float
    cjk_f1: float
    all_f1: float
    title_acc: float | None
    authors_acc: float | None
    date_acc: float | None
    pages_per_s: float
    errors: int


def score_page(page: Page, res: Result) -> PageScore:
    ref = page.reference
    p, r, f = prf(res.text, page.body, by_chars=page.cjk)
    title_ok = authors_ok = date_ok = None
    if res.meta is not None:
        if ref.get("title"):
            title_ok = norm_title(res.meta.title) == norm_title(ref["title"])
        if ref.get("authors"):
            authors_ok = norm_authors(res.meta.authors) == norm_authors(ref["authors"])
        if ref.get("publishing_date"):
            date_ok = norm_date(res.meta.date) == norm_date(ref["publishing_date"])
    return PageScore(
        page.name, page.cjk, p, r, f, title_ok, authors_ok, date_ok, res.seconds, res.error
    )


def _mean(xs: Sequence[float]) -> float:
    return statistics.fmean(xs) if xs else 0.0


def _acc(xs: Sequence[bool | None]) -> float | None:
    known = [x for x in xs if x is not None]
    return sum(known) / len(known) if known else None


def summarise(system: str, scores: Sequence[PageScore]) -> Summary:
    main = [s for s in scores if not s.cjk]
    cjk = [s for s in scores if s.cjk]
    total_s = sum(s.seconds for s in scores)
    return Summary(
        system=system,
        pages=len(main),
        precision=_mean([s.p for s in main]),
        recall=_mean([s.r for s in main]),
        f1=_mean([s.f1 for s in main]),
        cjk_pages=len(cjk),
        cjk_precision=_mean([s.p for s in cjk]),
        cjk_recall=_mean([s.r for s in cjk]),
        cjk_f1=_mean([s.f1 for s in cjk]),
        all_f1=_mean([s.f1 for s in scores]),
        title_acc=_acc([s.title_ok for s in scores]),
        authors_acc=_acc([s.authors_ok for s in scores]),
        date_acc=_acc([s.date_ok for s in scores]),
        pages_per_s=len(scores) / total_s if total_s else 0.0,
        errors=sum(1 for s in scores if s.error),
    )


def run_system(system: System, pages: Sequence[Page], htmls: Sequence[bytes]) -> list[PageScore]:
    out: list[PageScore] = []
    for page, raw in zip(pages, htmls, strict=True):
        t0 = time.perf_counter()
        try:
            res = system(raw, page.url)
        except Exception as exc:
            res = Result(None, None, error=f"{type(exc).__name__}: {exc}")
        res.seconds = res.seconds or (time.perf_counter() - t0)
        out.append(score_page(page, res))
    return out


# --------------------------------------------------------------------------- the two systems


def ours(raw: bytes, url: str | None) -> Result:
    t0 = time.perf_counter()
    try:
        ex = extract_page(raw, url)
    except ExtractionError as exc:
        return Result(None, Meta(), time.perf_counter() - t0, error=str(exc))
    seconds = time.perf_counter() - t0
    return Result(ex.text, Meta(ex.title, ex.authors, ex.published_at), seconds)


def plain_trafilatura(raw: bytes, url: str | None) -> Result:
    """``trafilatura.extract(html)`` timed; metadata from a separate, untimed bare_extraction."""
    t0 = time.perf_counter()
    text = trafilatura.extract(raw)
    seconds = time.perf_counter() - t0
    meta = Meta()
    doc = trafilatura.bare_extraction(raw, with_metadata=True)
    if doc is not None and not isinstance(doc, dict):
        authors = [a.strip() for a in (doc.author or "").split(";") if a.strip()]
        meta = Meta(doc.title, authors, doc.date)
    return Result(text, meta, seconds)


@dataclass
class Comparison:
    ours: Summary
    plain: Summary
    worse: list[str]
    worse_fraction: float
    speed_ratio: float
    pages: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(
    pages: Sequence[Page], worse_margin: float = 0.005, with_plain: bool = True
) -> Comparison:
    htmls = [p.html() for p in pages]
    our_scores = run_system(ours, pages, htmls)
    plain_scores = run_system(plain_trafilatura, pages, htmls) if with_plain else our_scores
    worse = [o.page for o, b in zip(our_scores, plain_scores, strict=True) if o.f1 < b.f1 - worse_margin]
    s_ours, s_plain = (
        summarise("newsflow extract_page", our_scores),
        summarise("trafilatura.extract", plain_scores),
    )
    per_page = [
        {
            "page": o.page,
            "cjk": o.cjk,
            "ours_f1": round(o.f1, 4),
            "plain_f1": round(b.f1, 4),
            "ours_p": round(o.p, 4),
            "ours_r": round(o.r, 4),
            "title_ok": o.title_ok,
            "authors_ok": o.authors_ok,
            "date_ok": o.date_ok,
            "error": o.error,
        }
        for o, b in zip(our_scores, plain_scores, strict=True)
    ]
    return Comparison(
        ours=s_ours,
        plain=s_plain,
        worse=worse,
        worse_fraction=len(worse) / len(pages) if pages else 0.0,
        speed_ratio=s_ours.pages_per_s / s_plain.pages_per_s if s_plain.pages_per_s else 0.0,
        pages=per_page,
    )
