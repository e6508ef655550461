"""The generated multi-outlet site of :mod:`tests.scale.site`: what the scale-out tests rely on."""

from __future__ import annotations

import itertools
import random
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.common.messages import FeedEntry, PageMessage
from services.extractor.pipeline import analyse, build_article
from services.stories.index import StoryIndex
from services.stories.placing import place_article
from tests.scale.site import EVENT_ARTICLE_HOURS, ScaleSite, Site, generate, page_html


@pytest.fixture(scope="module")
def site() -> Site:
    return generate(14)


def _shingles(text: str, n: int = 5) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def test_counts(site: Site) -> None:
    assert len(site.outlets) >= 5
    assert len(site.events) == 20
    assert len(site.pages) >= 200
    assert len(site.story_groups()) == 20
    assert all(len(g) >= 10 for g in site.story_groups())
    for event in site.events:  # every event is reported by most outlets
        assert len({p.outlet.slug for p in site.pages.values() if p.event is event}) >= 5
    for outlet in site.outlets:
        assert len(site.pages_of(outlet)) >= 20


def test_deterministic_from_the_seed(site: Site) -> None:
    again = generate(14)
    assert [(p.path, p.title, p.paragraphs, p.published) for p in again.pages.values()] == \
           [(p.path, p.title, p.paragraphs, p.published) for p in site.pages.values()]
    other = generate(15)
    assert [p.paragraphs for p in other.pages.values()] != [p.paragraphs for p in site.pages.values()]


def test_events_have_their_own_people_places_organisations_and_terms(site: Site) -> None:
    for a, b in itertools.combinations(site.events, 2):
        assert not a.vocabulary() & b.vocabulary(), (a.topic.kind, b.topic.kind)
        for name in (a.official, a.expert, a.witness):
            assert name.split()[-1] not in {n.split()[-1] for n in (b.official, b.expert, b.witness)}
    for page in site.pages.values():  # and each report names them
        text = " ".join(page.paragraphs)
        assert page.event.city in text
        assert sum(term in text for term in page.event.topic.terms) >= 3


def test_dates_within_days_per_event_and_weeks_overall(site: Site) -> None:
    for group in site.story_groups():
        dates = [site.pages[path].published for path in group]
        assert max(dates) - min(dates) <= timedelta(hours=EVENT_ARTICLE_HOURS + 8)
    dates = [p.published for p in site.pages.values()]
    assert timedelta(days=14) <= max(dates) - min(dates) <= timedelta(days=24)


def test_syndicated_copies_are_the_same_wire_text_in_another_outlet(site: Site) -> None:
    copies = site.copies()
    assert 0.08 * len(site.pages) <= len(copies) <= 0.12 * len(site.pages)
    for copy in copies:
        assert copy.copy_of is not None
        original = site.pages[copy.copy_of]
        assert original.copy_of is None and original.event is copy.event
        assert copy.outlet is not original.outlet
        assert (copy.paragraphs, copy.title, copy.author) == (original.paragraphs, original.title, original.author)
        assert copy.published > original.published
    assert sum(len(g) > 1 for g in site.duplicate_groups()) == len({c.copy_of for c in copies})


def test_reports_of_one_event_are_written_differently(site: Site) -> None:
    originals = [p for p in site.pages.values() if p.copy_of is None]
    assert len({p.paragraphs for p in originals}) == len(originals)
    for a, b in itertools.combinations(originals, 2):
        if a.event is not b.event:
            continue
        sa, sb = _shingles(" ".join(a.paragraphs)), _shingles(" ".join(b.paragraphs))
        assert len(sa & sb) / min(len(sa), len(sb)) < 0.6, (a.path, b.path)


def test_pages_carry_their_outlets_chrome(site: Site) -> None:
    layouts = set()
    for outlet in site.outlets:
        page = site.pages_of(outlet)[0]
        body = page_html(site, page, "http://127.0.0.1:1").decode()
        assert outlet.name in body and "All rights reserved" in body and page.title in body
        assert sum(f'href="{p.path}"' in body for p in site.pages_of(outlet)) >= 3  # related links
        layouts.add(re.sub(r">[^<]*<", "><", body.split("</head>")[1])[:120])
    assert len(layouts) == len(site.outlets)


def test_served_feeds_and_pages(site: Site) -> None:
    with ScaleSite(site) as served:
        with httpx.Client(timeout=10) as client:
            linked = []
            for feed in served.feed_urls():
                reply = client.get(feed)
                assert reply.status_code == 200
                linked += re.findall(r"<item><title>[^<]*</title><link>([^<]+)</link>", reply.text)
                assert client.get(feed, headers={"If-None-Match": reply.headers["ETag"]}).status_code == 304
            assert sorted(linked) == sorted(served.article_urls())
            page = client.get(served.article_urls()[0])
            assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
            assert client.get(served.base_url + "/nowhere").status_code == 404


@pytest.mark.slow
def test_the_story_index_separates_the_events_in_any_order(site: Site) -> None:
    """The premise of the scale-out test: extracted and placed one by one (fetched at one time, as
    in a test run), in any order, the pages form exactly the site's events and syndication groups."""
    base = "http://127.0.0.1:1"
    analysed = []
    for path, page in site.pages.items():
        url = base + path
        entry = FeedEntry(feed_url=f"{base}/{page.outlet.slug}/rss.xml", entry_id=url, link=url,
                          title=page.title, published_at=page.published)
        message = PageMessage(id=path, url=url, final_url=url, status=200, fetched_at=datetime.now(UTC),
                              html=page_html(site, page, base).decode(), entry=entry)
        result = analyse(message)
        article = build_article(message, result.extracted, result.tags)
        assert article.title == page.title and article.published_at == page.published
        assert "All rights reserved" not in article.text and page.paragraphs[-1] in article.text
        analysed.append(article)
    for order in range(3):
        random.Random(order).shuffle(analysed)
        index = StoryIndex(window_days=30)
        stories: dict[str, set[str]] = {}
        copies: dict[str, set[str]] = {}
        for article in analysed:
            placed, _ = place_article(index, article)
            stories.setdefault(str(placed.story_id), set()).add(article.id)
            root = placed.duplicate_of or article.id
            copies.setdefault(root, {root}).add(article.id)
        assert {frozenset(g) for g in stories.values()} == site.story_groups()
        assert {frozenset(g) for g in copies.values()} == site.duplicate_groups()


def test_staged_site_lists_articles_as_they_are_released(site: Site) -> None:
    def listed(served: ScaleSite, client: httpx.Client) -> list[str]:
        return [url for feed in served.feed_urls()
                for url in re.findall(r"<item><title>[^<]*</title><link>([^<]+)</link>", client.get(feed).text)]

    with ScaleSite(site, staged=True) as served, httpx.Client(timeout=10) as client:
        assert listed(served, client) == []
        first = served.release(50)
        assert sorted(listed(served, client)) == sorted(first) and len(first) == 50
        rest = served.release()
        assert len(first) + len(rest) == len(site.pages)
        assert sorted(listed(served, client)) == sorted(served.article_urls())
        assert served.release() == []
