"""The gaps a cook hit (issue 25): who turns the oven on, the meal's date, and who keeps the chili pot.

Tasks are written by hand here (``Task``), so these tests hold whatever the step reader reads.
"""

from __future__ import annotations

import datetime as dt

import pytest

from chefbot.cooking.tasks import DishTasks, Task
from chefbot.errors import ChefbotError
from chefbot.plan.api import plan_meal_dict, plan_to_dict
from chefbot.plan.problem import PlanError, build_problem
from chefbot.plan.schema import MealSpec
from chefbot.plan.solve import solve

from .checker import check_plan
from .conftest import NOW, inline


def _task(dish: str, n: int, verb: str, minutes: int, **kw) -> Task:
    after = kw.pop("after", [f"{dish}.{n - 1}"] if n > 1 else [])
    return Task(
        id=f"{dish}.{n}", dish=dish, step=n, text=f"{verb} ({minutes} min)", verb=verb, duration_min=minutes,
        attended=kw.pop("attended", True), skill=kw.pop("skill", 1), after=after, **kw,
    )  # fmt: skip


def _plan(meal: dict, dishes: list[DishTasks], kinds: list[str], now: dt.datetime = NOW) -> dict:
    spec = MealSpec.model_validate({"recipes": [inline(d.title, "x") for d in dishes], **meal})
    return plan_to_dict(solve(build_problem(spec, dishes, kinds, now=now)))


# ---------------------------------------------------------------- the preheat is a cook's task


def test_each_preheat_is_a_task_of_a_cook_who_is_there():
    """Ben is there from 18:00 only, Ann until 17:50: an hour's bake starts by 18:00, so its preheat starts by
    17:45, when only Ann is there."""
    bake = DishTasks(
        "cake", "Cake", [_task("cake", 1, "bake", 60, attended=False, equipment=["oven"], oven_temp_c=180)]
    )
    meal = {
        "serve_at": "2030-06-01 19:00",
        "cooks": [{"name": "Ann", "available": ["12:00-17:50"]}, {"name": "Ben", "available": ["18:00-19:00"]}],
        "kitchen": {"ovens": 1},
    }
    r = _plan(meal, [bake], ["cold"])
    assert check_plan(r) == []
    (pre,) = [t for t in r["tasks"] if t["kind"] == "preheat"]
    assert pre["cook"] == "Ann" and pre["start"] <= "17:49"
    assert pre["text"].startswith("Preheat the oven to 180 °C") and pre["duration_min"] == 1 and pre["attended"]
    assert pre in r["by_cook"]["Ann"]
    bake_task = next(t for t in r["tasks"] if t["id"] == "cake.1")
    assert bake_task["start_min"] - pre["start_min"] == r["preheat_min"]  # the oven is hot when the cake goes in


def test_a_preheat_nobody_can_do_is_refused():
    """The oven must be switched on 15 minutes before the bake: with the only cook away then, no plan exists."""
    bake = DishTasks(
        "cake", "Cake", [_task("cake", 1, "bake", 30, attended=False, equipment=["oven"], oven_temp_c=180)]
    )
    meal = {"serve_at": "2030-06-01 19:00", "cooks": [{"name": "Ann", "available": ["18:25-19:00"]}]}
    with pytest.raises(PlanError, match="available"):
        _plan(meal, [bake], ["cold"])


def test_two_ovens_two_temperatures_two_preheats_each_owned():
    dishes = [
        DishTasks("a", "A", [_task("a", 1, "bake", 30, attended=False, equipment=["oven"], oven_temp_c=180)]),
        DishTasks("b", "B", [_task("b", 1, "roast", 30, attended=False, equipment=["oven"], oven_temp_c=220)]),
    ]
    r = _plan(
        {"serve_at": "2030-06-01 19:00", "cooks": [{"name": "Ann"}, {"name": "Ben"}], "kitchen": {"ovens": 2}},
        dishes,
        ["cold", "cold"],
    )
    assert check_plan(r) == []
    pre = [(t["preheat_oven"], t["preheat_temp_c"]) for t in r["tasks"] if t["kind"] == "preheat"]
    assert sorted(temp for _, temp in pre) == [180, 220] and {o for o, _ in pre} == {0, 1}


# ---------------------------------------------------------------- the date


def test_a_clock_time_with_a_date_in_the_past_is_refused_naming_the_field_and_now():
    """The cook's report: "serve at 19:30" entered at 22:35 planned a dinner in the past without a word."""
    late = dt.datetime(2030, 6, 1, 22, 35)
    meal = {
        "serve_at": "19:30",
        "date": "2030-06-01",
        "recipes": [inline("Salad", "Toss the greens.")],
        "cooks": [{"name": "Ann"}],
    }
    with pytest.raises(PlanError) as e:
        plan_meal_dict(meal, now=late, html=False)
    assert str(e.value) == (
        "serve_at: 19:30 on 2030-06-01 is in the past (now is 2030-06-01 22:35); "
        "give a later serving time (serve_at) or a later date (date)"
    )
    r = plan_meal_dict({**meal, "date": "2030-06-02"}, now=late, html=False)
    assert r["serve_at"] == "2030-06-02T19:30" and r["date"] == "2030-06-02"
    assert r["start_iso"] >= "2030-06-01T22:36"  # a dated plan starts no earlier than now


def test_a_plan_without_a_date_is_a_timeline_for_any_day():
    """Kept for templates and the API: no date, no check against now (the form and the CLI always send one)."""
    meal = {"serve_at": "19:30", "recipes": [inline("Salad", "Toss the greens.")], "cooks": [{"name": "Ann"}]}
    r = plan_meal_dict(meal, now=dt.datetime(2030, 6, 1, 22, 35), html=False)
    assert r["date"] is None and check_plan(r) == []


@pytest.mark.parametrize(
    "extra, expected",
    [
        ({"date": "1.6.2030"}, "is not a date; write YYYY-MM-DD"),
        ({"serve_at": "2030-06-01 19:30", "date": "2030-06-02"}, "serve_at says 2030-06-01 but date says 2030-06-02"),
    ],
)
def test_a_bad_date_names_the_field(extra, expected):
    meal = {"serve_at": "19:30", "recipes": [inline("Salad", "Toss the greens.")], "cooks": [{"name": "Ann"}], **extra}
    with pytest.raises(ChefbotError, match=expected):
        plan_meal_dict(meal, now=NOW, html=False)


# ---------------------------------------------------------------- one vessel, one cook


def _chili_and_sides(simmer: int = 60) -> list[DishTasks]:
    """A chili pot of five steps and two sides of hands-on stovetop and knife work: balancing the two
    cooks' hands would pass the pot around if nothing kept it with one cook."""
    pot = {"equipment": ["burner", "pot"], "vessel": "chili.v1"}
    chili = [
        _task("chili", 1, "brown", 10, **pot),
        _task("chili", 2, "saute", 5, **pot),
        _task("chili", 3, "stir", 2, **pot),
        _task("chili", 4, "simmer", simmer, attended=False, **pot),
        _task("chili", 5, "stir", 3, **pot),
    ]
    pan = {"equipment": ["burner", "pan"], "vessel": "hash.v1"}
    hash_ = [_task("hash", 1, "chop", 15), _task("hash", 2, "fry", 12, **pan), _task("hash", 3, "fry", 8, **pan)]
    salsa = [_task("salsa", 1, "chop", 20), _task("salsa", 2, "mix", 5)]
    return [DishTasks("chili", "Chili", chili), DishTasks("hash", "Hash", hash_), DishTasks("salsa", "Salsa", salsa)]


def test_the_chili_pot_stays_with_one_cook():
    meal = {"serve_at": "2030-06-01 19:00", "cooks": [{"name": "Ann"}, {"name": "Ben"}], "kitchen": {"burners": 4}}
    r = _plan(meal, _chili_and_sides(), ["hot", "hot", "cold"])
    assert check_plan(r) == []
    for vessel in ("chili.v1", "hash.v1"):
        assert len({t["cook"] for t in r["tasks"] if t["vessel"] == vessel}) == 1, vessel
    assert r["handovers"] == []
    assert {t["cook"] for t in r["tasks"] if t["kind"] == "step"} == {"Ann", "Ben"}  # both still cook


def test_a_hand_over_when_the_schedule_needs_it():
    """Ann leaves at 18:20 and Ben comes at 18:10; the chili's 40-minute simmer must end near serving, so
    Ben puts it on and finishes it (a task's cook starts and ends it) after Ann's first three steps: one
    hand-over, reported."""
    meal = {
        "serve_at": "2030-06-01 19:00",
        "cooks": [{"name": "Ann", "available": ["17:00-18:20"]}, {"name": "Ben", "available": ["18:10-19:00"]}],
        "kitchen": {"burners": 4},
    }
    r = _plan(meal, _chili_and_sides(simmer=40)[:1], ["hot"])
    assert check_plan(r) == []
    assert len(r["handovers"]) == 1 and r["handovers"][0]["vessel"] == "chili.v1"
    assert (r["handovers"][0]["from_cook"], r["handovers"][0]["to_cook"]) == ("Ann", "Ben")
