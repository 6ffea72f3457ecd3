"""Search finds a recipe spelled another way ("chilli" -> "Chili", "yoghurt" -> "yogurt") through the index's own
terms (``library.spelling_variants``), keeps prefixes, and a word no recipe has still finds nothing.  The trigram
comparison is the measurement behind that choice (the comment above ``VARIANT_RATIO`` in kitchen/library.py)."""

from __future__ import annotations

import sqlite3

import pytest

from chefbot.kitchen.db import KitchenDB
from chefbot.kitchen.library import save_recipe, search_recipes

RECIPES = [
    ("Chili", ["500 g beef", "1 tsp chili powder"], ["Simmer for an hour."]),
    ("Yogurt dip", ["250 g plain yogurt", "1 cucumber"], ["Stir together."]),
    ("Graham crackers", ["200 g wholemeal flour"], ["Bake until crisp."]),
    ("Tomato soup", ["6 tomatoes"], ["Simmer, then blend."]),
    ("Custard", ["500 ml milk", "4 egg yolks"], ["Stir over a low heat."]),
    ("Pasta", ["400 g pasta"], ["Boil."]),
]


@pytest.fixture
def kdb(tmp_path):
    db = KitchenDB(tmp_path / "kitchen.sqlite")
    ids = {title: save_recipe(db, title, ings, steps)["id"] for title, ings, steps in RECIPES}
    yield db, ids
    db.close()


def titles(db, q):
    out = search_recipes(db, q)
    return {r["title"] for r in out["data"]}, out.get("spellings", {})


def test_spelling_variants_prefixes_and_no_false_matches(kdb):
    db, _ = kdb
    assert titles(db, "chilli") == ({"Chili"}, {"chilli": ["chili"]})
    assert titles(db, "yoghurt") == ({"Yogurt dip"}, {"yoghurt": ["yogurt"]})
    assert titles(db, "Yoghurt dip")[0] == {"Yogurt dip"}  # the other words still required
    assert titles(db, "yoghurt soup")[0] == set()
    assert titles(db, "tom") == ({"Tomato soup"}, {})  # a prefix, no variant needed
    assert titles(db, "chili") == ({"Chili"}, {})  # found as typed: never expanded
    # nonsense and near-misses that are other foods find nothing
    for q in ("xqzvwk", "blorptang", "mustard", "pastry", "ham", "chilliest"):
        assert titles(db, q) == (set(), {}), q


def test_a_word_in_the_index_is_taken_as_meant(kdb):
    db, _ = kdb
    save_recipe(db, "Chilli jam", ["6 red chillies"], ["Boil until thick."])
    assert titles(db, "chilli") == ({"Chilli jam"}, {})  # "chilli" is indexed now: no expansion
    assert titles(db, "chil")[0] == {"Chili", "Chilli jam"}  # the prefix finds both spellings


def test_the_index_follows_edits_and_deletes(kdb):
    db, ids = kdb
    from chefbot.kitchen.library import delete_recipe

    delete_recipe(db, ids["Chili"])
    assert titles(db, "chilli") == (set(), {})  # the vocabulary no longer has "chili"


def test_trigram_index_would_not_do(tmp_path):
    """The measurement: FTS5's trigram tokenizer matches substrings, not spellings (same recipes' titles)."""
    c = sqlite3.connect(":memory:")
    c.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
    c.executemany("INSERT INTO t VALUES (?)", [(title,) for title, *_ in RECIPES])

    def tri(q):
        return {x for (x,) in c.execute("SELECT x FROM t WHERE t MATCH ?", (f'"{q}"',))}

    assert tri("chilli") == set() and tri("yoghurt") == set()  # the variants are missed
    assert tri("ham") == {"Graham crackers"}  # and a substring is a false match
    c.close()
