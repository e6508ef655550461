"""The visible lead trafilatura misses (services/extractor/lead.py): description + visible block agree."""

from __future__ import annotations

import lxml.html

from services.extractor.extract import ExtractOptions, extract_page
from services.extractor.lead import lead_block, with_lead

LEAD = "The harbour ferry will run every twenty minutes from May, the council decided after a long debate."
PROSE = (
    "The council voted on Tuesday to expand the harbour ferry service after a year of record "
    "ridership, officials said, adding that two new boats would arrive in spring. "
)


def _page(lead_html: str, description: str = LEAD) -> str:
    body = "".join(f"<p>{PROSE}{i}</p>" for i in range(8))
    return (
        f'<html><head><title>Ferry</title><meta name="description" content="{description}"></head>'
        f"<body><header><h1>Ferry service grows</h1>{lead_html}</header>"
        f'<nav><a href="/a">Home</a> <a href="/b">News</a></nav>'
        f'<article><div class="content">{body}</div></article>'
        f"<footer>© Example</footer></body></html>"
    )


def _tree(lead_html: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(_page(lead_html))


def test_visible_lead_is_prepended_when_missing() -> None:
    tree = _tree(f'<div class="teaser"><strong>Harbour.</strong> {LEAD}</div>')
    assert with_lead(PROSE, tree, LEAD) == f"Harbour. {LEAD}\n{PROSE}"


def test_description_already_in_the_text_adds_nothing() -> None:
    tree = _tree(f"<p>{LEAD}</p>")
    text = f"{LEAD}\n{PROSE}"
    assert with_lead(text, tree, LEAD) == text


def test_description_the_page_does_not_show_adds_nothing() -> None:
    assert with_lead(PROSE, _tree(""), LEAD) == PROSE
    assert lead_block(_tree(f'<p style="display: none">{LEAD}</p>'), LEAD) is None
    assert lead_block(_tree(f"<template><p>{LEAD}</p></template>"), LEAD) is None


def test_short_descriptions_and_big_containers_are_not_leads() -> None:
    assert with_lead(PROSE, _tree("<p>Ferry news today</p>"), "Ferry news today") == PROSE
    assert lead_block(_tree(f"<div>{LEAD} {PROSE * 3}</div>"), LEAD) is None  # a container, not a lead


def test_extract_page_adds_the_lead_trafilatura_left_out() -> None:
    html = _page(f'<p class="standfirst">{LEAD}</p>')
    with_it = extract_page(html, "https://news.example.org/ferry").text
    without = extract_page(html, "https://news.example.org/ferry", options=ExtractOptions(add_lead=False)).text
    assert LEAD not in without  # the premise: the lead sits outside the article container
    assert with_it == f"{LEAD}\n{without}"
