"""Every field of a ConstraintCheck the server and `chefbot eval` show (name, what was asked, the verdict,
why), for each kind of constraint and for recipes that cannot tell; the servings range is inclusive at
both ends; constraints_from_labels's choices and round_up_minutes's steps (found by `make mutation`)."""

from __future__ import annotations

import pytest

from chefbot.cooking.durations import MAX_TASK_MINUTES
from chefbot.cooking.labels import label_recipe
from chefbot.cooking.recipe_constraints import (
    ConstraintCheck,
    RecipeConstraints,
    check_recipe,
    constraints_from_labels,
    ingredient_conflicts,
    round_up_minutes,
    servings_stated,
)

CURRY = ("Thai Curry", ["1 c. coconut milk", "2 c. rice"], ["Simmer for 20 minutes."])


def test_a_recipe_that_cannot_tell_says_why_for_each_constraint():
    c = RecipeConstraints(diets=["vegan"], max_minutes=30, difficulty="easy", cuisine="Thai", servings=4)
    assert check_recipe("Soup", [], [], c) == [
        ConstraintCheck("vegan", "vegan", None, "no ingredient list to check"),
        ConstraintCheck("max_minutes", "ready in 30 minutes", None, "no directions to time"),
        ConstraintCheck("difficulty", "easy", None, "no directions to judge"),
        ConstraintCheck("cuisine", "Thai", None, "the title names no cuisine"),
        ConstraintCheck("servings", "for 4 servings", None, "the recipe states no servings"),
    ]


def test_each_check_names_the_request_and_the_reason():
    c = RecipeConstraints(diets=["vegan", "nut-free"], max_minutes=20, difficulty="easy", cuisine="thai", servings=4)
    checks = check_recipe(*CURRY, c, servings=4)
    labels = label_recipe(*CURRY)
    assert checks == [
        ConstraintCheck("vegan", "vegan", True, "no ingredient breaks vegan"),
        ConstraintCheck("nut-free", "nut-free", True, "no ingredient breaks nut-free"),
        ConstraintCheck(
            "max_minutes", "ready in 20 minutes", True, "about 20 minutes (hands-on 3), within 20", minutes=20.0
        ),
        ConstraintCheck("difficulty", "easy", True, f"reads as easy ({labels.difficulty_reason})", minutes=20.0),
        ConstraintCheck("cuisine", "thai", True, "the title reads as Thai"),
        ConstraintCheck("servings", "for 4 servings", True, "states 4 servings"),
    ]
    hard = check_recipe(*CURRY, RecipeConstraints(difficulty="hard", cuisine="Italian"))
    assert [(k.name, k.satisfied, k.detail) for k in hard] == [
        ("difficulty", False, f"reads as easy ({labels.difficulty_reason})"),
        ("cuisine", False, "the title reads as Thai"),
    ]


def test_diet_details_name_every_line_and_class():
    vegan = RecipeConstraints(diets=["vegan"])
    checks = check_recipe("Stew", ["1 lb. beef", "1 c. milk"], ["Simmer for 1 hour."], vegan)
    assert checks[0].detail == "mentions '1 lb. beef' (meat); mentions '1 c. milk' (dairy)"
    both = check_recipe("Soup", ["1 c. cream of chicken soup"], [], RecipeConstraints(diets=["vegan"]))[0]
    assert both.detail == "mentions '1 c. cream of chicken soup' (dairy, poultry)"  # every class, sorted
    assert ingredient_conflicts(["chicken", "rice"], RecipeConstraints(diets=["vegetarian", "vegan"])) == [
        ConstraintCheck("vegetarian", "vegetarian", False, "mentions 'chicken' (poultry)", ("chicken",)),
        ConstraintCheck("vegan", "vegan", False, "mentions 'chicken' (poultry)", ("chicken",)),
    ]
    assert ingredient_conflicts(["rice"], RecipeConstraints(diets=["vegan"])) == []


@pytest.mark.parametrize("wanted,ok", [(3, False), (4, True), (5, True), (6, True), (7, False)])
def test_a_stated_range_of_servings_is_inclusive(wanted: int, ok: bool):
    title, ingredients, directions = "Curry", ["rice"], ["Simmer for 20 minutes.", "Serves 4 to 6."]
    assert servings_stated(title, directions) == (4, 6)
    check = check_recipe(title, ingredients, directions, RecipeConstraints(servings=wanted))[0]
    assert (check.satisfied, check.detail, check.requested) == (ok, "states 4 to 6 servings", f"for {wanted} servings")
    # the source's own count wins over the text
    given = check_recipe(title, ingredients, directions, RecipeConstraints(servings=wanted), servings=5)[0]
    assert (given.satisfied, given.detail) == (wanted == 5, "states 5 servings")


def test_phrases_say_serving_for_one():
    assert RecipeConstraints(servings=1).phrases() == ["for 1 serving"]
    assert RecipeConstraints(servings=2).phrases() == ["for 2 servings"]


def test_whole_number_floats_are_integers_and_others_are_refused():
    assert RecipeConstraints.model_validate({"max_minutes": 45.0, "servings": 2.0}).servings == 2
    with pytest.raises(ValueError, match="max_minutes"):
        RecipeConstraints.model_validate({"max_minutes": 45.5})


def test_constraints_from_labels_takes_the_parts_asked_for():
    labels = label_recipe(*CURRY, servings=4)
    full = constraints_from_labels(labels)
    assert (full.max_minutes, full.difficulty, full.cuisine, full.servings) == (20, "easy", "Thai", 4)
    assert full.diets == list(labels.diets)
    none = constraints_from_labels(
        labels, diets=("vegan",), time=False, difficulty=False, cuisine=False, servings=False
    )
    assert none.diets == ["vegan"] and (none.max_minutes, none.difficulty, none.cuisine, none.servings) == (None,) * 4
    for part in ("difficulty", "cuisine", "servings"):
        chosen = {p: p == part for p in ("time", "difficulty", "cuisine", "servings")}
        only = constraints_from_labels(labels, diets=(), **chosen)
        assert only.phrases() == [{"difficulty": "easy", "cuisine": "Thai", "servings": "for 4 servings"}[part]]
    assert constraints_from_labels(labels, time=True, difficulty=False, cuisine=False, servings=False).max_minutes == 20


def test_no_time_limit_beyond_what_a_request_may_ask():
    at_limit = label_recipe("Slow Roast", ["beef"], [f"Roast for {MAX_TASK_MINUTES} minutes."])
    if at_limit.total_minutes and at_limit.total_minutes <= MAX_TASK_MINUTES:
        assert constraints_from_labels(at_limit).max_minutes == round_up_minutes(at_limit.total_minutes)
    untimed = label_recipe("Salad", ["lettuce"], [])
    assert constraints_from_labels(untimed).max_minutes is None


@pytest.mark.parametrize(
    "minutes,limit",
    [
        (1, 5),
        (5, 5),
        (5.5, 10),
        (47, 50),
        (59, 60),
        (60, 60),
        (60.5, 75),
        (61, 75),
        (75, 75),
        (76, 90),
        (179, 180),
        (180, 180),
        (180.5, 240),
        (181, 240),
        (200, 240),
        (241, 300),
    ],
)
def test_round_up_minutes_steps(minutes: float, limit: int):
    assert round_up_minutes(minutes) == limit
    assert round_up_minutes(10**6) == MAX_TASK_MINUTES
