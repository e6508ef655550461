"""Unit tests for services.extractor.extract / boilerplate (no shared data needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.common.messages import FeedEntry
from services.extractor.boilerplate import clean_text, matching_rule
from services.extractor.dates import parse_datetime
from services.extractor.extract import EXTRACTOR_VERSION, Extracted, ExtractionError, extract_page
from services.extractor.htmlprocessing import MAX_HTML_BYTES, MAX_RAW_DEPTH, bounded_text, flatten_deep_markup
from services.extractor.metadata import normalise_authors
from services.extractor.titles import strip_site_suffix

PARA = (
    "The city council voted on Tuesday to expand the harbour ferry service after a year "
    "of record ridership, officials said, adding that two new boats would arrive in spring."
)
PARA2 = (
    "Residents who spoke at the meeting welcomed the plan but asked for later evening "
    "sailings, and the transport committee promised to publish a revised timetable soon."
)


def page(body: str, head: str = "", lang: str = "en") -> str:
    return (
        f'<html lang="{lang}"><head><title>Ferry service grows | Harbour Times</title>{head}</head>'
        f"<body><article><h1>Ferry service grows</h1>{body}</article></body></html>"
    )


def article(*extra: str) -> str:
    paras = "".join(f"<p>{PARA} {i}</p><p>{PARA2} {i}</p>" for i in range(3))
    return page(paras + "".join(extra))


def ld_script(**fields: object) -> str:
    data = {"@context": "https://schema.org", "@type": "NewsArticle", **fields}
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def entry(**kw: object) -> FeedEntry:
    base: dict[str, object] = {
        "feed_url": "https://example.org/feed.xml",
        "entry_id": "e1",
        "link": "https://example.org/a/1",
    }
    base.update(kw)
    return FeedEntry.model_validate(base)


# --------------------------------------------------------------------------- basics


def test_basic_extraction() -> None:
    ex = extract_page(article(), "https://harbourtimes.example/news/ferry")
    assert isinstance(ex, Extracted)
    assert PARA[:40] in ex.text and "\n" in ex.text
    assert ex.title == "Ferry service grows"
    assert ex.language_hint == "en"
    assert ex.access == "open"
    assert ex.method == "trafilatura"
    assert EXTRACTOR_VERSION


def test_bytes_input_and_charset() -> None:
    html = article().replace("<head>", '<head><meta charset="iso-8859-1">')
    html = html.replace("officials said", "officials said café")
    ex = extract_page(html.encode("iso-8859-1"))
    assert "café" in ex.text


def test_empty_page_raises() -> None:
    with pytest.raises(ExtractionError):
        extract_page("<html><body><nav>Home</nav></body></html>")
    with pytest.raises(ExtractionError):
        extract_page(b"")


# --------------------------------------------------------------------------- boilerplate rules


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("Photo: Jane Doe/Reuters", "photo_credit"),
        ("STR/AFP via Getty Images", "agency_credit"),
        ("Leave a Reply", "comment_form"),
        ("Your email address will not be published. Required fields are marked *", "comment_form"),
        ("Sign up for our daily newsletter", "newsletter"),
        ("Share this article", "share"),
        ("Facebook Twitter WhatsApp Email", "share"),
        ("Advertisement", "advert"),
        ("Story continues below advertisement", "advert"),
        ("Read more: Council approves budget", "read_more"),
        ("Externer Inhalt nicht verfügbar", "embed_placeholder"),
        ("Lesedauer: 4 Minuten", "reading_time"),
        ("Stand: 22.04.2024, 06:00 Uhr", "dateline_only"),
        ("Copyright © 2023 The Example Times, LLC.", "copyright"),
        ("Fehler gefunden? Jetzt melden.", "error_report"),
        ("Got a story? Get in touch with our news team.", "promo"),
    ],
)
def test_line_rules(line: str, rule: str) -> None:
    assert matching_rule(line) == rule


@pytest.mark.parametrize(
    "line",
    [
        PARA,
        "Share prices fell sharply on Monday after the central bank raised rates.",
        "The photo agency said it had not been paid.",
        "Copyright law was reformed in 2019 after long debate in parliament, critics said.",
        "Comments from the minister were not immediately available.",
    ],
)
def test_article_lines_survive(line: str) -> None:
    assert matching_rule(line) is None
    assert clean_text(line) == line


def test_related_block_dropped_until_prose_resumes() -> None:
    text = f"{PARA}\nRelated:\nFerry fares to rise\nNew pier opens\n{PARA2}"
    assert clean_text(text) == f"{PARA}\n{PARA2}"


def test_sidebar_blocks_dropped() -> None:
    for heading in ("Top Stories", "Local Spotlight", "Most Read"):
        text = f"{PARA}\n{heading}\nStorm closes schools\nMayor resigns"
        assert clean_text(text) == PARA


def test_comment_form_removed_from_page() -> None:
    form = (
        '<div id="respond"><h3>Leave a Reply</h3><p>Your email address will not be published.'
        " Required fields are marked *</p></div>"
    )
    ex = extract_page(article(form))
    assert "Leave a Reply" not in ex.text
    assert "email address" not in ex.text


def test_photo_caption_and_link_list_removed_from_page() -> None:
    extra = (
        "<figure><img src='x.jpg'><figcaption>The new ferry. Photo: John Roe/AP</figcaption></figure>"
        "<ul><li><a href='/1'>Ferry fares to rise next year</a></li>"
        "<li><a href='/2'>New pier opens in the old harbour</a></li>"
        "<li><a href='/3'>Council debates parking rules again</a></li></ul>"
    )
    ex = extract_page(article(extra))
    assert "John Roe" not in ex.text
    assert "Ferry fares to rise" not in ex.text


def test_newsletter_and_share_lines_removed_from_page() -> None:
    extra = "<p>Sign up for our daily newsletter</p><p>Share this article</p>"
    ex = extract_page(article(extra))
    assert "newsletter" not in ex.text.lower()
    assert "Share this article" not in ex.text


# --------------------------------------------------------------------------- JSON-LD


def test_jsonld_metadata() -> None:
    ld = ld_script(
        headline="Ferry service to expand",
        author=[{"@type": "Person", "name": "By Jane Doe"}, {"@type": "Person", "name": "Li Wei"}],
        datePublished="2024-05-02T10:15:00+02:00",
        dateModified="2024-05-03T08:00:00Z",
        publisher={"@type": "Organization", "name": "Harbour Times"},
    )
    html = article().replace("</head>", ld + "</head>")
    ex = extract_page(html, "https://harbourtimes.example/a")
    assert ex.title == "Ferry service to expand"
    assert ex.authors == ["Jane Doe", "Li Wei"]
    assert ex.published_at == datetime(2024, 5, 2, 10, 15, tzinfo=timezone(timedelta(hours=2)))
    assert ex.updated_at is not None and ex.updated_at.tzinfo is not None


def test_jsonld_in_graph_and_body_used_when_page_has_none() -> None:
    body = " ".join([PARA, PARA2] * 4)
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "X"},
            {"@type": "NewsArticle", "headline": "Graph headline", "articleBody": body},
        ],
    }
    html = (
        "<html><head><script type='application/ld+json'>" + json.dumps(graph) + "</script></head>"
        "<body><div id='app'>Loading…</div></body></html>"
    )
    ex = extract_page(html)
    assert ex.method in {"jsonld", "trafilatura"}  # trafilatura itself may read articleBody
    assert "Loading" not in ex.text
    assert ex.title == "Graph headline"
    assert PARA[:40] in ex.text


def test_broken_jsonld_is_ignored() -> None:
    html = article().replace("</head>", "<script type='application/ld+json'>{oops</script></head>")
    assert extract_page(html).text


def test_jsonld_body_filters_stray_lines() -> None:
    body = "\n".join(f"{PARA} {i}\n{PARA2} {i}" for i in range(3))
    ld = ld_script(headline="Ferry", articleBody=body)
    stray = (
        "<p>Unrelated promotional paragraph about discount kitchen appliances this weekend only</p>"
    )
    html = article(stray).replace("</head>", ld + "</head>")
    ex = extract_page(html)
    assert "kitchen appliances" not in ex.text
    assert PARA[:40] in ex.text


# --------------------------------------------------------------------------- feed fallback


def test_feed_content_used_when_page_is_empty() -> None:
    content = "".join(f"<p>{PARA} {i}</p><p>{PARA2} {i}</p>" for i in range(3))
    e = entry(
        title="Feed title",
        authors=["By Sam Poe"],
        content=content,
        published_at=datetime(2024, 1, 2, 3, 4, tzinfo=UTC),
    )
    ex = extract_page("<html><body><div id='root'></div></body></html>", entry=e)
    assert ex.method == "feed_content"
    assert PARA[:40] in ex.text
    assert ex.title == "Feed title"
    assert ex.authors == ["Sam Poe"]
    assert ex.published_at == datetime(2024, 1, 2, 3, 4, tzinfo=UTC)


def test_feed_content_used_when_page_much_shorter() -> None:
    content = "".join(f"<p>{PARA} {i}</p><p>{PARA2} {i}</p>" for i in range(8))
    short = page(f"<p>{PARA}</p>")
    ex = extract_page(short, entry=entry(content=content))
    assert ex.method == "feed_content"


def test_feed_metadata_only_fills_gaps() -> None:
    ld = ld_script(headline="Page headline", datePublished="2024-05-02T10:15:00Z")
    html = article().replace("</head>", ld + "</head>")
    e = entry(title="Feed title", published_at=datetime(2020, 1, 1, tzinfo=UTC))
    ex = extract_page(html, entry=e)
    assert ex.title == "Page headline"
    assert ex.published_at is not None and ex.published_at.year == 2024


def test_feed_summary_last_resort() -> None:
    ex = extract_page(b"", entry=entry(summary="Short summary of the story from the feed."))
    assert ex.method == "feed_summary"
    assert "Short summary" in ex.text


# --------------------------------------------------------------------------- access


def test_paywall_from_jsonld() -> None:
    ld = ld_script(headline="X", isAccessibleForFree=False)
    html = page(f"<p>{PARA}</p>").replace("</head>", ld + "</head>")
    assert extract_page(html).access == "paywalled"


def test_paywall_from_markup() -> None:
    html = page(
        f"<p>{PARA}</p><div class='paywall'>Subscribe to continue reading. "
        "Already a subscriber? Log in.</div>"
    )
    assert extract_page(html).access == "paywalled"


def test_consent_wall() -> None:
    html = (
        "<html><body><div class='consent'><h2>Before you continue</h2>"
        "<p>We and our partners use cookies to store and access information on your device. "
        "Accept all cookies or manage your privacy settings to continue to the site.</p>"
        "<button>Accept all</button></div></body></html>"
    )
    assert extract_page(html, "https://consent.example.com/x").access == "consent"
    assert extract_page(html).access == "consent"


def test_open_article_not_flagged() -> None:
    ex = extract_page(article("<p>We use cookies sparingly, the editor noted in passing.</p>"))
    assert ex.access == "open"


# --------------------------------------------------------------------------- hostile input


def test_huge_page_bounded_time() -> None:
    para = "<p>" + "word " * 60 + "</p>"
    filler = "".join(para.replace("word", f"w{i}", 1) for i in range(20_000_000 // len(para)))
    html = f"<html><body><article>{filler}</article></body></html>"
    assert len(html) > 20_000_000
    # bounded by construction (no clock in a test): extraction sees at most MAX_HTML_BYTES of it
    assert len(bounded_text(html.encode()).encode()) <= MAX_HTML_BYTES
    ex = extract_page(html.encode())
    assert ex.text


def test_deep_nesting_bounded_time_and_text_after_it_kept() -> None:
    html = (
        "<html><body>"
        + "<div>" * 10_000
        + "<p>deep</p>"
        + "</div>" * 10_000
        + f"<article><p>{PARA}</p><p>{PARA2}</p><p>{PARA} again</p></article></body></html>"
    )
    # bounded by construction (no clock in a test): nesting past MAX_RAW_DEPTH is flattened first
    assert "<div>" * (MAX_RAW_DEPTH + 1) not in flatten_deep_markup(html)
    ex = extract_page(html)
    assert PARA[:40] in ex.text


@pytest.mark.parametrize("depth", [150, 230, 300])
def test_nesting_near_the_parser_limit_keeps_the_text_after_it(depth: int) -> None:
    """Below, at and above libxml2's ~256 limit: the flattening pass runs only when the tree
    gets deep (see parse_bounded), and the article after the deep block is never lost."""
    html = (
        "<html><body>" + "<div>" * depth + "<p>deep</p>" + "</div>" * depth
        + f"<article><p>{PARA}</p><p>{PARA2}</p><p>{PARA} again</p></article></body></html>"
    )
    ex = extract_page(html)
    assert PARA2[:40] in ex.text


def test_flatten_deep_markup_leaves_normal_pages_alone() -> None:
    html = article()
    assert flatten_deep_markup(html) == html
    deep = "<div>" * 500 + "x" + "</div>" * 500
    flat = flatten_deep_markup(deep, limit=10)
    assert flat.count("<div>") == 10 and "x" in flat


def test_garbage_input() -> None:
    with pytest.raises(ExtractionError):
        extract_page(b"\x00\xff\xfe garbage \x00")


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["By Jane Doe"], ["Jane Doe"]),
        (["Jane Doe · CBC News"], ["Jane Doe"]),
        (["Jane Doe; John Roe"], ["Jane Doe", "John Roe"]),
        (["Jane Doe and John Roe"], ["Jane Doe", "John Roe"]),
        (["Von Anna Schmidt und Lena Berg"], ["Anna Schmidt", "Lena Berg"]),
        (["Sophie Foster", "Sophie-Foster"], ["Sophie Foster"]),
        (["Elena Oberholzer (obe)"], ["Elena Oberholzer"]),
        (["Autor: Monika Bolliger"], ["Monika Bolliger"]),
        (["jane@example.org"], []),
        ([""], []),
    ],
)
def test_normalise_authors(raw: list[str], expected: list[str]) -> None:
    assert normalise_authors(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "2024-05-02T10:15:00+02:00",
            datetime(2024, 5, 2, 10, 15, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2024-05-02T08:15:00Z", datetime(2024, 5, 2, 8, 15, tzinfo=UTC)),
        ("2024-05-02", datetime(2024, 5, 2, tzinfo=UTC)),
        (
            "2024-05-02T10:15:00.123+0200",
            datetime(2024, 5, 2, 10, 15, 0, 123000, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("Thu, 02 May 2024 10:15:00 GMT", datetime(2024, 5, 2, 10, 15, tzinfo=UTC)),
        ("not a date", None),
        (None, None),
    ],
)
def test_parse_datetime(raw: str | None, expected: datetime | None) -> None:
    got = parse_datetime(raw)
    assert got == expected
    if got is not None:
        assert got.tzinfo is not None


def test_published_at_always_aware() -> None:
    html = article().replace(
        "</head>", '<meta property="article:published_time" content="2024-03-01T09:00:00"></head>'
    )
    ex = extract_page(html)
    assert ex.published_at is not None and ex.published_at.tzinfo is not None


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Ferry service grows | Harbour Times", "Ferry service grows"),
        ("Ferry service grows - harbourtimes.example", "Ferry service grows"),
        ("Ferry service grows - a second look", "Ferry service grows - a second look"),
    ],
)
def test_strip_site_suffix(title: str, expected: str) -> None:
    assert strip_site_suffix(title, {"Harbour Times", "harbourtimes"}) == expected


def test_site_suffix_matches_transliterated_site_names_and_trailing_dates() -> None:
    sites = {"boersen-zeitung.de", "dw.com", "dw"}
    assert strip_site_suffix("Steigende US-Zinsen setzen Dax zu | Börsen-Zeitung", sites) == (
        "Steigende US-Zinsen setzen Dax zu"
    )
    assert strip_site_suffix("Ziele, Chancen, Risiken | DW | 28.04.2023", sites) == "Ziele, Chancen, Risiken"
    assert strip_site_suffix("Ziele: Chancen", sites) == "Ziele: Chancen"


def test_section_suffix_dropped_when_another_source_has_the_bare_headline() -> None:
    ld = ld_script(headline="Ferry service grows | Local")
    html = page(f"<p>{PARA}</p><p>{PARA2}</p>").replace(
        "</head>", f'<meta property="og:title" content="Ferry service grows">{ld}</head>'
    )
    assert extract_page(html).title == "Ferry service grows"
