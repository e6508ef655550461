"""`newsflow extract` and `newsflow up` argument handling: the offline commands a user runs first."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from services.demo.server import SITE_DIR

CTV = next((SITE_DIR / "ctvnews").rglob("*.html"))
CBC = next((SITE_DIR / "cbc").rglob("*.html"))


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", *args], capture_output=True, text=True,
                          input=stdin, timeout=120)


def test_extract_files_gives_one_clean_json_line_each(tmp_path: Path) -> None:
    result = run("extract", str(CTV), str(CBC))  # each file its own URL, so its own article id
    assert result.returncode == 0, result.stderr
    ctv, cbc = (json.loads(line) for line in result.stdout.splitlines())
    assert "Kharkiv sits just 20 kilometres" in ctv["text"]
    assert "Local Spotlight" not in ctv["text"] and "TFSA" not in ctv["text"]
    assert "Leave a Reply" not in cbc["text"]
    assert cbc["authors"] == ["Briar Stewart"]
    assert {p["name"] for p in ctv["places"]} >= {"Ukraine", "Russia", "Kharkiv"}
    assert ctv["id"] != cbc["id"]
    assert ctv["story_id"] == cbc["story_id"], "the two seed stories are the same event"
    assert ctv["duplicate_of"] is None and cbc["duplicate_of"] is None
    assert "story_features" not in ctv


def test_extract_bad_file_is_reported_and_the_rest_goes_on(tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body></body></html>")
    result = run("extract", str(empty), str(CTV))
    assert result.returncode == 1
    assert "empty.html" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_extract_missing_file_is_reported_without_a_traceback() -> None:
    result = run("extract", "/nonexistent/page.html", str(CBC))
    assert result.returncode == 1
    assert "/nonexistent/page.html" in result.stderr and "No such file" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stdout.splitlines()) == 1


def test_up_needs_feeds_or_demo() -> None:
    result = run("up")
    assert result.returncode == 2 and "--feeds" in result.stderr


def test_up_missing_feed_list() -> None:
    result = run("up", "--feeds", "/nonexistent/feeds.txt")
    assert result.returncode == 2 and "not found" in result.stderr


def test_invalid_setting_stops_start_up_naming_the_variable() -> None:
    import os

    env = {**os.environ, "NEWSFLOW_BATCH_MAX_RECORDS": "zero"}
    result = subprocess.run([sys.executable, "-m", "services.cli", "sink"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode != 0 and "NEWSFLOW_BATCH_MAX_RECORDS" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_extract_decompresses_by_content_not_by_name(tmp_path: Path, compress: Callable[[bytes], bytes]) -> None:
    page = CBC.read_bytes()
    plain, packed = tmp_path / "page.html", tmp_path / "page.bin"  # no .gz in the name
    plain.write_bytes(page)
    packed.write_bytes(compress(page))
    results = [run("extract", str(f), "--url", "https://www.cbc.ca/news/x") for f in (plain, packed)]
    assert [r.returncode for r in results] == [0, 0], results[1].stderr
    first, second = (json.loads(r.stdout) for r in results)
    assert second["title"] == first["title"] and second["language"] == "en" and second["text"] == first["text"]


@pytest.mark.parametrize(("data", "what"), [
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "PNG image"),
    (b"%PDF-1.7\n" + bytes(200), "PDF"),
    (bytes(range(256)) * 40, "binary data"),
    (gzip.compress(b"\x89PNG\r\n\x1a\n" + bytes(500)), "PNG image"),
])
def test_extract_refuses_binary_input_with_a_clear_error(tmp_path: Path, data: bytes, what: str) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(data)
    result = run("extract", str(path))
    assert result.returncode == 1 and what in result.stderr and "NotHTML" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
