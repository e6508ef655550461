"""What a search may ask: one check for both backends, before any SQL runs.

A full-text query goes to SQLite FTS5 or to PostgreSQL's ``websearch_to_tsquery``. Some text
either engine rejects or chokes on is refused here, with a message that says what to change,
so that it is the caller's error (:class:`~services.sink.store.BadQuery`, HTTP 400), the same on
both backends, and never reaches the database as a "storage" failure:

* control characters (NUL above all: PostgreSQL cannot bind it, FTS5 reads it as the end);
* no word to search for (``" "``, ``*``, ``OR``, ``""``);
* an unbalanced double quote, a ``*`` that does not end a word, an operator (``AND``, ``OR``,
  ``NOT``, ``NEAR``) without a term on each side.

And what makes a query expensive is bounded: prefix terms (``ab*`` reads the postings of
every word starting with ``ab``: ``a* OR b* … OR z*`` reads the whole index), operators and
terms. The limits are constants of this module; the read timeout of the store is the backstop
for what they let through.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import fields

from services.sink.store import BadQuery, Filters

__all__ = [
    "MAX_OPERATORS",
    "MAX_PREFIX_TERMS",
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "MIN_PREFIX_CHARS",
    "check_filters",
    "check_query",
    "tsquery_text",
]

MAX_QUERY_CHARS = 500
MAX_TERMS = 32
"""Words in a query (a quoted phrase counts each of its words)."""
MAX_OPERATORS = 10
"""``AND``, ``OR``, ``NOT``, ``NEAR`` (any case: PostgreSQL reads ``or`` too)."""
MAX_PREFIX_TERMS = 4
MIN_PREFIX_CHARS = 3
"""Characters before the ``*`` of a prefix term."""

OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})
_TOKEN = re.compile(r'"[^"]*"|[^\s"]+')
_WORD = re.compile(r"[^\W_]+")
_PREFIX = re.compile(r"([^\W_]*)\*")
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def check_query(query: str) -> str:
    """``query`` unchanged when both engines can run it within the limits; else :class:`BadQuery`."""
    if len(query) > MAX_QUERY_CHARS:
        raise BadQuery(f"q is longer than {MAX_QUERY_CHARS} characters")
    _no_control_characters("q", query)
    if query.count('"') % 2:
        raise BadQuery('q has an unbalanced double quote (")')
    tokens = _TOKEN.findall(query)
    words = [w for t in tokens if t.upper() not in OPERATORS for w in _WORD.findall(t)]
    if not words:
        raise BadQuery("q has no word to search for")
    if len(words) > MAX_TERMS:
        raise BadQuery(f"q has {len(words)} words; the limit is {MAX_TERMS}")
    _check_operators(tokens)
    _check_prefixes([t for t in tokens if not t.startswith('"')])
    return query


def check_filters(filters: Filters) -> Filters:
    """``filters`` unchanged when every text in them can be searched for; else :class:`BadQuery`."""
    for f in fields(filters):
        value = getattr(filters, f.name)
        if f.name != "query" and isinstance(value, str):
            _no_control_characters(f.name, value)
    if filters.query is not None:
        check_query(filters.query)
    return filters


def tsquery_text(query: str) -> str:
    """A checked query as PostgreSQL ``to_tsquery`` text with FTS5's meaning, so that both backends
    answer it alike: words ANDed, ``"a phrase"`` and ``a-b`` as phrases (``<->``), ``word*`` a prefix
    (``:*``), ``OR``, ``AND`` and ``NOT`` (binary: ``a NOT b``) in upper case, with FTS5's precedence
    (NOT, then AND, then OR: to_tsquery's own)."""
    out: list[str] = []
    for token in _TOKEN.findall(query):
        if token in OPERATORS:
            out.append({"OR": "|", "NOT": "& !"}.get(token, "&"))
            continue
        words = _WORD.findall(token)
        if not words:
            continue
        term = " <-> ".join(f"'{w}'" for w in words)
        if not token.startswith('"') and token.endswith("*"):
            term += ":*"
        if out and out[-1] not in ("|", "&", "& !"):
            out.append("&")
        out.append(f"({term})" if len(words) > 1 else term)
    return " ".join(out)


def _no_control_characters(name: str, value: str) -> None:
    for ch in value:
        if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) in ("Cc", "Cs"):
            raise BadQuery(f"{name} contains a control character (U+{ord(ch):04X})")


def _check_operators(tokens: list[str]) -> None:
    used = [i for i, t in enumerate(tokens) if t.upper() in OPERATORS]
    if len(used) > MAX_OPERATORS:
        raise BadQuery(f"q has {len(used)} operators (AND, OR, NOT, NEAR); the limit is {MAX_OPERATORS}")
    binary = [i for i in used if tokens[i] in OPERATORS]  # FTS5 reads upper case only
    for i in binary:
        if i == 0 or i == len(tokens) - 1 or i - 1 in binary:
            raise BadQuery(f"'{tokens[i]}' needs a term on each side")


def _check_prefixes(bare: list[str]) -> None:
    prefixes = [p for t in bare for p in _PREFIX.findall(t)]
    for p in prefixes:
        if not p:
            raise BadQuery("'*' must end a word (a prefix search is word*)")
        if len(p) < MIN_PREFIX_CHARS:
            raise BadQuery(f"prefix '{p}*' is too short: at least {MIN_PREFIX_CHARS} characters before '*'")
    if len(prefixes) > MAX_PREFIX_TERMS:
        raise BadQuery(f"q has {len(prefixes)} prefix terms (word*); the limit is {MAX_PREFIX_TERMS}")
