"""Ordinary menus plan (issue 25): chili + cornbread + pancakes and thirteen more menus of real recipes
(``menu_recipes.py`` names each RecipeNLG row) in a realistic kitchen: one oven, four burners, two cooks.
All fourteen plan as read, with the default holds (``schema.HOLD_DEFAULT_MIN``: a hot dish that finishes in the
oven may wait longer, covered, than one from the stove).

Each plan is checked by the independent checker (``checker.check_plan``: feasible, served on time, every
task assigned to a cook who can do it and is there, no equipment over-booked, one temperature per oven,
a preheat task per oven block, hot dishes within their hold).
"""

from __future__ import annotations

import pytest

from chefbot.plan.api import plan_meal_dict
from chefbot.plan.problem import PlanError
from chefbot.plan.render import cook_lists_text
from chefbot.plan.schema import HOLD_DEFAULT_MIN

from .checker import check_plan
from .conftest import NOW
from .menu_recipes import MENUS, load

RECIPES = load()
KITCHEN = {"ovens": 1, "burners": 4}  # the rest at the schema's defaults (2 pans, 3 pots, 1 mixer, 6 bowls ...)
COOKS = [{"name": "Ann", "skill": 4}, {"name": "Ben", "skill": 3}]


def menu_meal(name: str) -> dict:
    recipes = [
        {"title": RECIPES[i]["title"], "ingredients": RECIPES[i]["ingredients"], "directions": RECIPES[i]["directions"]}
        for i in MENUS[name]
    ]
    return {
        "title": name,
        "date": NOW.date().isoformat(),
        "serve_at": "19:00",  # seven hours after NOW: an afternoon's cooking
        "recipes": recipes,
        "cooks": COOKS,
        "kitchen": KITCHEN,
        "solver": {"time_limit_s": 3, "workers": 4},
    }


# The pork roast marinates 3 hours and roasts 3 hours, then the potatoes bake 45 minutes at another oven
# temperature: about 7 h 10 min of cooking, which does not fit between the test's noon and 19:00.  That is
# the test's clock, not the planner: a cook who serves a marinated roast at seven starts in the morning.
EARLY_START = {"pork roast, patio potatoes, fruit salad": NOW.replace(hour=9)}


def menu_now(name: str):
    return EARLY_START.get(name, NOW)


@pytest.mark.parametrize("name", list(MENUS))
def test_an_ordinary_menu_plans(name):
    """Every menu plans as read, with the default holds (an oven-finished hot dish may wait longer)."""
    r = plan_meal_dict(menu_meal(name), now=menu_now(name), html=False)
    assert check_plan(r) == []
    steps = [t for t in r["tasks"] if t["kind"] == "step"]
    assert {t["dish"] for t in steps} == {d["key"] for d in r["dishes"]}  # every dish has its steps in the plan
    assert sum(len(ts) for ts in r["by_cook"].values()) == len(r["tasks"])  # every task is on one cook's list
    assert r["serve_at"] == "2030-06-01T19:00" and max(t["end_min"] for t in r["tasks"]) <= r["horizon_min"]
    baked = any("oven" in t["equipment"] for t in steps)
    assert baked == bool([t for t in r["tasks"] if t["kind"] == "preheat"])  # the oven is on only when used


# Two hot dishes for the one oven at two temperatures (pork roast 325 °F + potatoes 350 °F; pizza casserole
# 400 °F + squash casserole 350 °F; chicken pot pie 425 °F + broccoli casserole 350 °F): one bakes first and
# waits covered while the other bakes, within the oven-finished default hold (schema.HOLD_DEFAULT_MIN).
TWO_OVEN_MAINS = [
    "pork roast, patio potatoes, fruit salad",
    "pizza casserole, squash casserole, pound cake",
    "chicken pot pie, broccoli casserole, sweet potato pie",
]


@pytest.mark.parametrize("name", TWO_OVEN_MAINS)
def test_two_oven_mains_plan_with_one_waiting_covered_and_the_plan_says_so(name):
    r = plan_meal_dict(menu_meal(name), now=menu_now(name), html=False)
    assert check_plan(r) == []
    hot = [d for d in r["dishes"] if d["kind"] == "hot"]
    assert [d["hot_hold_max_min"] for d in hot] == [HOLD_DEFAULT_MIN["oven"]] * 2  # both finish in the oven
    assert max(d["hold_min"] for d in hot) > HOLD_DEFAULT_MIN["other"]  # the short default could not plan it
    waits = [t for t in r["tasks"] if t.get("waits")]
    assert waits and all(f"waits {r['horizon_min'] - t['end_min']} min" in t["waits"] for t in waits)
    assert any("keep covered" in line for line in cook_lists_text(r).splitlines())  # in the cook's list


@pytest.mark.parametrize("name", TWO_OVEN_MAINS)
def test_the_meals_own_hold_still_wins_and_the_error_names_the_fix(name):
    """A hold the cook sets (the meal's 15 minutes) overrides the default: refused, naming the form's fixes."""
    meal = menu_meal(name)
    meal["hot_hold_max_min"] = HOLD_DEFAULT_MIN["other"]
    with pytest.raises(PlanError) as e:
        plan_meal_dict(meal, now=menu_now(name), html=False)
    assert "kind: cold" in str(e.value) and "hot_hold_max_min" in str(e.value)


def _oven_steps(name: str) -> dict[str, list[dict]]:
    r = plan_meal_dict(menu_meal(name), now=NOW, html=False)
    return {
        d["title"]: [t for t in r["tasks"] if t["dish"] == d["key"] and "oven" in t["equipment"]] for d in r["dishes"]
    }


def test_the_cooks_menu_pancakes_and_chili_stay_on_the_stove():
    """The cook's report: pancakes "need the oven"."""
    oven = _oven_steps("chili, cornbread and pancakes")
    assert oven["Pancakes"] == [] and oven["Chili Con Carne"] == []


@pytest.mark.xfail(
    strict=True,
    reason="the step reader (cooking/tasks.py, branch i25-reader) reads 'Melt 1/4 cup bacon fat into pan you are "
    "using in the oven you are preheating' as an oven step at its default 175 °C, not at the recipe's 425 °F",
)
def test_the_cooks_menu_cornbread_uses_the_oven_at_its_one_temperature():
    """The cornbread's oven steps are at its 425 °F (220 °C), and its dry mix is not one of them."""
    cornbread = next(v for k, v in _oven_steps("chili, cornbread and pancakes").items() if k.startswith("Nana"))
    assert ("bake", 220) in [(t["verb"], t["oven_temp_c"]) for t in cornbread]
    assert all(t["oven_temp_c"] == 220 and t["verb"] not in {"mix", "stir", "sift"} for t in cornbread)
