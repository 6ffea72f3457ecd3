"""The contract of cooking/recipe_constraints.py: the request model (new and legacy JSON),
the one checker, the user's own conflicting ingredients, and the constraints line of chat.py."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chefbot.chat import constraints_line, request_messages
from chefbot.config import PromptConfig
from chefbot.cooking.recipe_constraints import (
    ConstraintCheck,
    RecipeConstraints,
    check_recipe,
    ingredient_conflicts,
    servings_stated,
)

STEW = (
    "Beef Stew",
    ["1 lb. beef chuck", "2 c. chicken broth", "3 carrots"],
    ["Brown the beef for 10 minutes.", "Add broth and carrots and simmer for 45 minutes."],
)


def test_request_model_new_and_legacy_json():
    c = RecipeConstraints.model_validate(
        {
            "diets": ["vegan", "gluten-free", "vegan"],
            "max_minutes": 30.0,
            "difficulty": "easy",
            "cuisine": " Thai ",
            "servings": 4,
        }
    )
    assert c.diets == ["vegan", "gluten-free"] and c.max_minutes == 30 and c.cuisine == "Thai"
    assert c.phrases() == ["vegan", "gluten-free", "ready in 30 minutes", "easy", "Thai", "for 4 servings"]
    old = RecipeConstraints.model_validate({"vegetarian": True, "gluten_free": True, "max_minutes": 20})
    assert old.diets == ["vegetarian", "gluten-free"] and old.vegetarian and not old.vegan
    assert old.model_dump() == {
        "diets": ["vegetarian", "gluten-free"],
        "max_minutes": 20,
        "difficulty": None,
        "cuisine": None,
        "servings": None,
    }
    assert RecipeConstraints().is_empty() and not old.is_empty()
    for bad in (
        {"diets": ["keto"]},
        {"max_minutes": 0},
        {"max_minutes": "30"},
        {"vegan": 1},
        {"servings": 101},
        {"difficulty": "expert"},
    ):
        with pytest.raises(ValidationError):
            RecipeConstraints.model_validate(bad)


def test_check_recipe_one_result_per_constraint_with_offenders_and_minutes():
    c = RecipeConstraints(diets=["vegetarian", "dairy-free"], max_minutes=30, difficulty="easy", cuisine="Irish")
    checks = check_recipe(*STEW, c)
    by = {k.name: k for k in checks}
    assert [k.name for k in checks] == ["vegetarian", "dairy-free", "max_minutes", "difficulty", "cuisine"]
    assert by["vegetarian"].satisfied is False
    assert by["vegetarian"].offending == ("1 lb. beef chuck", "2 c. chicken broth")
    assert "mentions '2 c. chicken broth' (poultry)" in by["vegetarian"].detail
    assert by["dairy-free"].satisfied is True
    assert by["max_minutes"].satisfied is False and by["max_minutes"].minutes == 55
    assert by["max_minutes"].detail.startswith("about 55 minutes (hands-on") and by["max_minutes"].detail.endswith(
        "over 30"
    )
    assert by["cuisine"].satisfied is None  # "Beef Stew" names no cuisine: cannot tell
    d = by["vegetarian"].to_dict()
    assert d["offending"] == ["1 lb. beef chuck", "2 c. chicken broth"] and set(d) == {
        "name",
        "requested",
        "satisfied",
        "detail",
        "offending",
        "minutes",
    }
    assert check_recipe(*STEW, RecipeConstraints()) == []
    assert check_recipe("Soup", [], ["Heat."], RecipeConstraints(diets=["vegan"]))[0].satisfied is None


def test_cuisine_and_servings_checks():
    c = RecipeConstraints(cuisine="italian", servings=4)
    ok = check_recipe("Easy Lasagna", ["noodles"], ["Bake 1 hour. Serves 4 to 6."], c)
    assert [k.satisfied for k in ok] == [True, True]
    wrong = check_recipe("Chicken Enchiladas", ["tortillas"], ["Bake. Makes 8 servings."], c)
    assert [k.satisfied for k in wrong] == [False, False] and wrong[0].detail == "the title reads as Mexican"
    assert servings_stated("", ["Bake 20 minutes.", "Serves 6."]) == (6, 6)
    assert servings_stated("", ["Cut into 12 pieces."]) is None


def test_ingredient_conflicts_are_the_failing_diets_only():
    c = RecipeConstraints(diets=["vegetarian", "gluten-free"])
    out = ingredient_conflicts(["chicken", "rice"], c)
    assert out == [ConstraintCheck("vegetarian", "vegetarian", False, "mentions 'chicken' (poultry)", ("chicken",))]
    assert ingredient_conflicts(["tofu", "rice"], c) == []


def test_constraints_line_and_the_user_turn():
    template = "The recipe must be: {constraints}."
    c = RecipeConstraints(diets=["vegetarian"], max_minutes=30)
    assert constraints_line(c, template) == "The recipe must be: vegetarian, ready in 30 minutes."
    assert constraints_line(c, None) == "" and constraints_line(RecipeConstraints(), template) == ""
    assert constraints_line(c, template, ingredients=["chicken", "rice"]).endswith(
        "Replace the chicken with a vegetarian alternative."
    )
    on = PromptConfig(system=None, constraints=template)
    assert request_messages(["chicken", "rice"], on, constraints=c) == [
        {
            "role": "user",
            "content": "Include ingredients: chicken, rice\nThe recipe must be: vegetarian, ready in 30 minutes. "
            "Replace the chicken with a vegetarian alternative.",
        }
    ]
    assert request_messages("chicken, rice", on, constraints=c)[-1]["content"].endswith(
        "Replace the chicken with a vegetarian alternative."
    )  # a pasted string is split on commas
    # off (the reference preset): the prompt stays value for value
    off = PromptConfig(system=None)
    assert request_messages(["chicken", "rice"], off, constraints=c) == request_messages(["chicken", "rice"], off)
    with pytest.raises(ValidationError, match="must contain the placeholder"):
        PromptConfig(constraints="Make it nice.")


_FRAGMENTS = [
    "Bake",
    "Simmer",
    "Rest",
    "Chill",
    "Preheat the oven to",
    "Stir in the flour",
    "overnight",
    "for",
    "about",
    "to",
    "and",
    "or",
    "minutes",
    "hours",
    "hour",
    "days",
    "weeks",
    "°C",
    "°F",
    "degrees",
    "at",
    "1/2",
    "1 1/2",
    "a quarter",
    "½",
    "-",
    ".",
    "the pan",
    "broil",
    "microwave",
    "slow cooker",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.integers(0, 10**7).map(str)), max_size=12).map(" ".join),
        min_size=1,
        max_size=6,
    )
)
def test_any_directions_a_model_writes_are_checked_never_refused(directions):
    """Generated text is arbitrary: whatever figures it states, the checker answers (the task
    model's bounds, oven 30-320 °C and one step at most a week, are never violated by reading)."""
    from chefbot.recipe_format import render_recipe
    from chefbot.serve.recipes import check_constraints

    c = RecipeConstraints(diets=["vegan"], max_minutes=60, difficulty="easy", servings=4)
    checks = check_recipe("Stew", ["2 carrots", "1 onion"], directions, c)
    assert [k.name for k in checks][:1] == ["vegan"] and len(checks) == 4
    out = check_constraints(render_recipe("Stew", ["2 carrots"], directions), c)
    assert out["minutes_stated"] >= 0
