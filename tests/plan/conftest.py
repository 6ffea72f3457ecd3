"""Fixtures for the meal planner tests: small meals written for the tests."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

NOW = dt.datetime(2030, 6, 1, 12, 0)  # a fixed "now" so date checks do not depend on the clock


def inline(title: str, *directions: str, kind: str = "auto", ingredients: list[str] | None = None) -> dict:
    d = {"title": title, "directions": list(directions), "kind": kind}
    if ingredients:
        d["ingredients"] = ingredients
    return d


BASE_MEAL = {
    "title": "Test supper",
    "serve_at": "19:00",
    "recipes": [
        inline(
            "Roast chicken",
            "Preheat oven to 425°F.",
            "Rub the chicken with butter and season.",
            "Roast at 425°F for 1 hour.",
            "Let rest 10 minutes.",
            "Carve the chicken.",
        ),
        inline(
            "Rice pilaf",
            "Chop 1 onion.",
            "Melt butter in a saucepan over medium heat and saute the onion 5 minutes.",
            "Add rice and broth and bring to a boil.",
            "Cover and simmer 18 minutes.",
            "Fluff with a fork.",
        ),
        inline(
            "Brownies",
            "Preheat oven to 350°.",
            "Melt butter and chocolate in a saucepan over low heat.",
            "Beat in sugar and eggs with an electric mixer.",
            "Stir in flour.",
            "Spread in a greased pan.",
            "Bake at 350° for 25 to 30 minutes.",
            "Let cool completely, about 1 hour.",
            "Cut into squares.",
            kind="cold",
        ),
        inline(
            "Green salad",
            "Wash and dry the lettuce.",
            "Slice 2 cucumbers.",
            "Whisk oil and vinegar.",
            "Toss the salad with the dressing.",
            kind="cold",
        ),
    ],
    "cooks": [{"name": "Ann", "skill": 4}, {"name": "Ben", "skill": 2, "available": ["17:00-19:00"]}],
    "kitchen": {"ovens": 1, "burners": 2, "pans": 1, "pots": 1},
    "solver": {"time_limit_s": 3},
}


@pytest.fixture
def meal() -> dict:
    return copy.deepcopy(BASE_MEAL)
