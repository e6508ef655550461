"""The query limits and syntax checks every backend applies before running a search."""

from __future__ import annotations

import re

import pytest

from services.sink.store import BadQuery, Filters
from services.sink.textquery import (
    MAX_OPERATORS,
    MAX_PREFIX_TERMS,
    MAX_QUERY_CHARS,
    MAX_TERMS,
    MIN_PREFIX_CHARS,
    check_filters,
    check_query,
)


@pytest.mark.parametrize("query", [
    "Kharkiv", "Kharkiv council", '"exact phrase" Kharkiv', "Ukraine OR Russia", "Ukraine NOT Russia",
    "ukr* rus*", "(Ukraine OR Russia) AND Kharkiv", "rock or roll", "-Russia Ukraine", "Kharkiv)", "x:Kharkiv",
    "naïve café", "Київ", "東京", "a\tb\nc", "NEAR(Kharkiv Ukraine, 5)",
    " OR ".join(["word"] * (MAX_OPERATORS + 1)), " ".join(f"word{i}*" for i in range(MAX_PREFIX_TERMS)),
])
def test_ordinary_queries_pass_unchanged(query: str) -> None:
    assert check_query(query) == query


@pytest.mark.parametrize(("query", "message"), [
    (" ", "no word to search for"),
    ("", "no word to search for"),
    ("*", "no word to search for"),
    ("Kharkiv *", "'*' must end a word"),
    ("OR", "no word to search for"),
    ("AND NOT", "no word to search for"),
    ('""', "no word to search for"),
    ("()", "no word to search for"),
    ("\x00", "control character (U+0000)"),
    ("Kharkiv\x00", "control character (U+0000)"),
    ("Kharkiv\x1b[0m", "control character (U+001B)"),
    ("Kharkiv\ud800", "control character (U+D800)"),
    ('"unbalanced', "unbalanced double quote"),
    ('"one" "two', "unbalanced double quote"),
    ("Kharkiv OR", "'OR' needs a term on each side"),
    ("OR Kharkiv", "'OR' needs a term on each side"),
    ("NOT Kharkiv", "'NOT' needs a term on each side"),
    ("Kharkiv AND NOT Kyiv", "'NOT' needs a term on each side"),
    ("Kharkiv NEAR", "'NEAR' needs a term on each side"),
    ("a* OR b*", "prefix 'a*' is too short: at least 3 characters"),
    ("ab*", "prefix 'ab*' is too short"),
    (" ".join(f"word{i}*" for i in range(MAX_PREFIX_TERMS + 1)), f"prefix terms (word*); the limit is {MAX_PREFIX_TERMS}"),
    (" OR ".join(["word"] * (MAX_OPERATORS + 2)), f"operators (AND, OR, NOT, NEAR); the limit is {MAX_OPERATORS}"),
    (" ".join(["word"] * (MAX_TERMS + 1)), f"words; the limit is {MAX_TERMS}"),
    ('"' + " ".join(["word"] * (MAX_TERMS + 1)) + '"', f"words; the limit is {MAX_TERMS}"),
    ("x" * (MAX_QUERY_CHARS + 1), f"longer than {MAX_QUERY_CHARS} characters"),
])
def test_what_the_engines_reject_or_what_costs_too_much_is_a_bad_query(query: str, message: str) -> None:
    with pytest.raises(BadQuery, match=re.escape(message)):
        check_query(query)


def test_the_attack_query_names_its_limit() -> None:
    attack = " OR ".join(f"{c}*" for c in "abcdefghijklmnopqrstuvwxyz")
    with pytest.raises(BadQuery, match=r"operators|prefix"):
        check_query(attack)
    assert MIN_PREFIX_CHARS >= 2 and MAX_PREFIX_TERMS < 26


def test_filters_are_checked_too() -> None:
    assert check_filters(Filters(query="Kharkiv", place="Kharkiv")) == Filters(query="Kharkiv", place="Kharkiv")
    assert check_filters(Filters()) == Filters()
    with pytest.raises(BadQuery, match="source contains a control character"):
        check_filters(Filters(source="cbc.ca\x00"))
    with pytest.raises(BadQuery, match="q has no word"):
        check_filters(Filters(query=" ", place="Kharkiv"))
