"""Issue 16.13: the CSV export carries the tags (places, people, organisations, topics) and the
story fields, lists joined in one cell with '; ' (docs/storage.md), through the real CLI."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner

from services.cli import main
from services.common.messages import Entity, Place
from services.sink.backends import open_store
from services.sink.cli import CSV_LIST_SEPARATOR
from tests.sink.test_store import make

pytest_plugins = ["tests.sink.test_store"]  # its per-backend `store_url` fixture


def test_csv_export_has_tags_and_story_fields(store_url: str, tmp_path: Path) -> None:
    store = open_store(store_url)
    store.write_batch([
        make("a1", "Kharkiv, Kyiv; NATO and the EU.", authors=["Ann Lee", "Bo Kim"],
             places=[Place(name="Kharkiv", place_id="geonames:706483", kind="city"),
                     Place(name="Kyiv", place_id="geonames:703448", kind="city")],
             people=[Entity(name="Joe Biden"), Entity(name="Olaf Scholz")],
             organisations=[Entity(name="NATO"), Entity(name="European Union")], topics=["conflict", "politics"],
             story_id="story-0001", duplicate_of="a0"),
        make("a2", "Nothing tagged here.", places=[], people=[], organisations=[], topics=[], story_id=None),
    ])
    store.close()
    env = {"NEWSFLOW_SINK_URL": store_url, "NEWSFLOW_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["articles", "export", "--format", "csv"], env=env)
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(result.output))}
    assert CSV_LIST_SEPARATOR == "; "
    tagged = rows["a1"]
    assert tagged["places"] == "Kharkiv; Kyiv" and tagged["people"] == "Joe Biden; Olaf Scholz"
    assert tagged["organisations"] == "NATO; European Union" and tagged["topics"] == "conflict; politics"
    assert tagged["authors"] == "Ann Lee; Bo Kim"
    assert (tagged["story_id"], tagged["duplicate_of"]) == ("story-0001", "a0")
    assert tagged["text"] == "Kharkiv, Kyiv; NATO and the EU."
    bare = rows["a2"]
    assert [bare[k] for k in ("places", "people", "organisations", "topics", "story_id", "duplicate_of")] == [""] * 6
