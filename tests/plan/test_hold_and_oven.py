"""Hot dishes finish close to serving (a hard hold limit); ovens preheat only when cold or changing temperature."""

from __future__ import annotations

import json

import pytest

from chefbot.cooking.tasks import tasks_from_directions
from chefbot.plan.api import plan_meal_dict
from chefbot.plan.constraints import hold_chains
from chefbot.plan.problem import PlanError
from chefbot.plan.schema import HOLD_DEFAULT_MIN

from .checker import check_plan
from .conftest import NOW, inline


def _plan(meal: dict) -> dict:
    return plan_meal_dict(meal, now=NOW, html=False)


def _dish(r: dict, title: str) -> dict:
    return next(d for d in r["dishes"] if d["title"] == title)


def test_default_hold_by_how_a_dish_ends(meal):
    """Unset, the hold is schema.HOLD_DEFAULT_MIN by the last heat step: the roast chicken (oven) may wait longer
    than the rice pilaf (stove); a cold dish has none."""
    r = _plan(meal)
    assert check_plan(r) == []
    assert _dish(r, "Roast chicken")["hot_hold_max_min"] == HOLD_DEFAULT_MIN["oven"]
    assert _dish(r, "Rice pilaf")["hot_hold_max_min"] == HOLD_DEFAULT_MIN["other"]
    assert _dish(r, "Brownies")["hot_hold_max_min"] is None
    assert r["hot_hold_max_min"] is None  # the meal set none


def test_hot_main_is_ready_close_to_serving_cold_dishes_may_wait(meal):
    meal["hot_hold_max_min"] = 15  # the cook's own hold for the meal wins over the oven default
    r = _plan(meal)
    assert check_plan(r) == []
    chicken, brownies = _dish(r, "Roast chicken"), _dish(r, "Brownies")
    assert chicken["kind"] == "hot" and chicken["hot_hold_max_min"] == 15 and chicken["hold_min"] <= 15
    assert chicken["ready"] >= "18:45"  # serving at 19:00
    roast = next(t for t in r["tasks"] if t["verb"] == "roast")
    assert roast["end"] >= "18:30"  # 15 min rest and carving after it, at most 15 idle
    assert brownies["kind"] == "cold" and brownies["hold_min"] is None and brownies["hot_hold_max_min"] is None


def test_hold_limit_costs_time_only_when_needed(meal):
    meal["hot_hold_max_min"] = 15
    held = _plan(meal)
    meal["hot_hold_max_min"] = 600
    loose = _plan(meal)
    assert check_plan(loose) == []
    assert loose["makespan_min"] <= held["makespan_min"]


def test_per_recipe_hold_override(meal):
    meal["recipes"][0]["hot_hold_max_min"] = 0  # the chicken is carved straight onto the table
    r = _plan(meal)
    assert check_plan(r) == []
    assert _dish(r, "Roast chicken")["hold_min"] == 0 and _dish(r, "Roast chicken")["hot_hold_max_min"] == 0
    assert _dish(r, "Rice pilaf")["hot_hold_max_min"] == 15


def test_hold_counts_idle_time_after_the_heat_not_only_the_last_step():
    """Roast early and carve at serving time would be 'ready at serving' yet cold: not allowed."""
    dish = tasks_from_directions(
        "r", "Roast", ["Roast at 400° for 30 minutes.", "Let rest 10 minutes.", "Carve the roast."]
    )
    chains = hold_chains(dish.tasks)
    roast, rest, carve = dish.tasks
    assert chains == {roast.id: rest.duration_min + carve.duration_min}
    # steps that cool the food on purpose end the chain: blanched beans can wait in ice water
    beans = tasks_from_directions(
        "b",
        "Beans",
        [
            "Boil the beans 4 minutes.",
            "Drain and plunge into ice water.",
            "Melt butter in a skillet over medium heat.",
            "Add the beans and cook 3 minutes.",
        ],
    )
    boil, plunge, melt, cook = beans.tasks
    assert (
        set(hold_chains(beans.tasks)) == {melt.id, cook.id} and hold_chains(beans.tasks)[melt.id] == cook.duration_min
    )


def test_checker_catches_a_hot_dish_held_too_long(meal):
    r = _plan(meal)
    broken = json.loads(json.dumps(r))
    chicken = next(d for d in broken["dishes"] if d["title"] == "Roast chicken")
    chicken["hot_hold_max_min"] = chicken["hold_min"] - 1
    assert any("hot hold" in p and "Roast chicken" in p for p in check_plan(broken))
    chicken["hot_hold_max_min"], chicken["hold_min"] = 15, chicken["hold_min"] + 1
    assert any("reported" in p for p in check_plan(broken))


def test_hold_that_blocks_the_plan_is_named_with_its_reason():
    """The hot roast can only bake last, but then the cake's long prep leaves no time: the oven is the reason."""
    meal = {
        "serve_at": "19:00",
        "start_after": "17:30",
        "recipes": [
            inline("Roast", "Roast at 425° for 20 minutes."),
            inline("Cake", "Peel and slice the apples for 25 minutes.", "Bake at 350° for 40 minutes.", kind="cold"),
        ],
        "cooks": [{"name": "Ann"}, {"name": "Ben"}],
        "kitchen": {"ovens": 1},
        "hot_hold_max_min": 15,  # set by the cook: wins over the oven-finished default
    }
    with pytest.raises(PlanError) as e:
        _plan(meal)
    msg = str(e.value)
    assert "'Roast' cannot be ready within 15 min of serving because" in msg
    assert (
        "because it needs the only oven at 220 °C" in msg
        and "'Cake' needs it at 175 °C" in msg
        and "hot_hold_max_min" in msg
    )
    meal["hot_hold_max_min"] = 60  # a longer hold lets the roast go in first
    assert check_plan(_plan(meal), start_after="17:30") == []


def test_hold_blocked_by_a_cook_leaving_early():
    meal = {
        "serve_at": "19:00",
        "recipes": [inline("Roast", "Roast at 400° for 30 minutes.", "Carve the roast.")],
        "cooks": [{"name": "Ann", "skill": 4, "available": ["16:00-18:00"]}, {"name": "Kid", "skill": 1}],
        "hot_hold_max_min": 15,
    }
    msg = str(pytest.raises(PlanError, _plan, meal).value)
    assert "'Roast' cannot be ready within 15 min of serving because the cooks who can do 'Carve the roast'" in msg
    assert "not available shortly before serving (Ann 16:00-18:00)" in msg


@pytest.mark.parametrize("temps, makespan, blocks", [((350, 350), 15 + 30 + 30, 1), ((350, 425), 15 + 30 + 15 + 30, 2)])
def test_preheat_only_when_the_oven_is_cold_or_changes_temperature(temps, makespan, blocks):
    """One rack, two 30-minute bakes: the same temperature needs one preheat, a change needs a second."""
    meal = {
        "serve_at": "19:00",
        "recipes": [
            inline("A", f"Bake at {temps[0]}° for 30 minutes.", kind="cold"),
            inline("B", f"Bake at {temps[1]}° for 30 minutes.", kind="cold"),
        ],
        "cooks": [{"name": "Ann"}],
        "kitchen": {"ovens": 1, "oven_racks": 1},
    }
    r = _plan(meal)
    assert check_plan(r) == []
    assert r["makespan_min"] == makespan and r["status"] == "OPTIMAL"
    assert len(r["oven_segments"]) == blocks
    from chefbot.plan.render import timeline_text

    assert timeline_text(r).count("Preheat the oven to") == blocks
    preheats = [t for t in r["tasks"] if t["kind"] == "preheat"]
    assert len(preheats) == blocks and {t["cook"] for t in preheats} == {"Ann"}
    assert [t["start_min"] for t in preheats] == [s["start"] for s in r["oven_segments"]]
    assert r["by_cook"]["Ann"][0]["kind"] == "preheat"  # the first thing Ann does is turn the oven on


def test_checker_catches_a_needless_preheat():
    meal = {
        "serve_at": "19:00",
        "recipes": [
            inline("A", "Bake at 350° for 30 minutes.", kind="cold"),
            inline("B", "Bake at 350° for 30 minutes.", kind="cold"),
        ],
        "cooks": [{"name": "Ann"}],
        "kitchen": {"ovens": 1, "oven_racks": 1},
    }
    r = json.loads(json.dumps(_plan(meal)))
    (block,) = r["oven_segments"]
    first, second = sorted((t for t in r["tasks"] if t["oven_temp_c"]), key=lambda t: t["start_min"])
    r["oven_segments"] = [
        dict(block, end=first["end_min"], tasks=[first["id"]]),
        dict(
            block, start=second["start_min"] - r["preheat_min"], preheat_end=second["start_min"], tasks=[second["id"]]
        ),
    ]
    problems = check_plan(r)
    assert any("needless preheat" in p for p in problems) or any("overlap" in p for p in problems)
