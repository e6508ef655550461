"""cut_entries' quick count: a document with at most ``limit`` entries is returned whole, one with more is cut."""

from __future__ import annotations

import pytest

from services.fetcher.feedbounds import cut_entries

SHAPES = [
    "<item><title>t</title></item>",
    "<rss:item><rss:title>t</rss:title></rss:item>",
    "<a:b:item>t</a:b:item>",
    "<entry>t</entry>",
    "<atom:entry xmlns:atom='http://www.w3.org/2005/Atom'>t</atom:entry>",
    "<item\n>t</item>",
    '<item rdf:about="x">t</item>',
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
def test_cut_exactly_when_there_are_more_entries_than_the_limit(shape: str, n: int) -> None:
    noise = "<!-- <item>not an entry</item> --><items>x</items><entry-count>3</entry-count><itemize/>"
    body = f"<rss><channel>{noise}{shape * n}</channel></rss>".encode()
    for limit in (1, 2, 3):
        cut_body, cut = cut_entries(body, limit)
        if n <= limit:
            assert (cut_body, cut) == (body, 0)
        else:
            assert cut == n - limit or ("a:b:" in shape and cut >= 1)  # the count past the cut is an estimate
            assert cut_body.count(shape.encode()) == limit
