"""Issue 16.8: SQLite and PostgreSQL answer the same search the same way, on one shared corpus.

Each query's expected result set is written once and asserted on both backends: words late in
long texts (PostgreSQL indexes the whole text since migration 0005), phrases, prefixes, OR and
NOT, hyphenated words, several languages and scripts. What still differs by design is in
docs/storage.md (PostgreSQL stems by the article's language; SQLite folds diacritics).
"""

from __future__ import annotations

import pytest

from services.sink.store import Filters, Store
from tests.sink.test_store import make

pytest_plugins = ["tests.sink.test_store"]  # its per-backend `store` fixture

FILLER = "Officials met again on Tuesday to discuss the budget. " * 60  # ~3,200 characters
CORPUS = [
    make("en", "Negotiators were running late in Geneva. The ceasefire talks resumed.", language="en",
         title="Geneva talks", places=[], content_hash="c-en"),
    make("fr", "Les négociations continuent à Genève pour le cessez-le-feu.", language="fr",
         title="Négociations à Genève", places=[], content_hash="c-fr"),
    make("de", "Die Verhandlungen in Genf gehen weiter. Waffenstillstand in Sicht.", language="de",
         title="Verhandlungen", places=[], content_hash="c-de"),
    make("ru", "Переговоры в Женеве продолжаются. Харьков под обстрелом.", language="ru",
         title="Переговоры", places=[], content_hash="c-ru"),
    make("long", f"Lede about Kharkiv. {FILLER} Quxwellian ending with a ceasefire proposal.", language="en",
         title="Zorblat summit", places=[], content_hash="c-long"),
    make("xx", "Zzyzx quux frobnicate.", language="xx", title=None, places=[], content_hash="c-xx"),
]
QUERIES = {
    "zorblat": ["long"],                      # title
    "quxwellian": ["long"],                   # a word past character 3,000
    "proposal": ["long"],                     # the last word of a long text
    "Khark*": ["long"],                       # prefix
    "frobn*": ["xx"],
    '"ceasefire talks"': ["en"],              # phrase, in order
    '"talks ceasefire"': [],
    '"ceasefire proposal"': ["long"],         # phrase late in a long text
    "Kharkiv quxwellian": ["long"],           # words far apart, ANDed
    "Genf OR Kharkiv": ["de", "long"],
    "ceasefire NOT proposal": ["en"],
    "cessez-le-feu": ["fr"],                  # hyphenated: a phrase of its parts
    "Genève": ["fr"],
    "Waffenstillstand": ["de"],
    "Харьков": ["ru"],
    "Женеве": ["ru"],
    "zzyzx": ["xx"],
    "nowhere": [],
}


@pytest.mark.parametrize("query", QUERIES)
def test_both_backends_find_the_same_articles(store: Store, query: str) -> None:
    store.write_batch(CORPUS)
    assert sorted(h.article.id for h in store.search(Filters(query=query))) == QUERIES[query]
    assert sorted(a.id for a in store.iter_articles(Filters(query=query, limit=-1))) == QUERIES[query]
