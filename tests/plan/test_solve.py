"""Plans respect every constraint (checked independently); infeasible meals are explained."""

from __future__ import annotations

import csv
import json

import pytest

from chefbot.errors import ChefbotError
from chefbot.plan.api import plan_meal_dict
from chefbot.plan.problem import PlanError

from .checker import check_plan
from .conftest import NOW, inline


def _plan(meal: dict) -> dict:
    return plan_meal_dict(meal, now=NOW, html=False)


def test_test_meal_plan_is_valid_and_optimal(meal):
    r = _plan(meal)
    assert check_plan(r) == []
    assert r["status"] == "OPTIMAL" and r["gap"] == 0
    ready = {d["title"]: d for d in r["dishes"]}
    assert ready["Roast chicken"]["kind"] == "hot" and ready["Brownies"]["kind"] == "cold"
    # both temperatures are used on the single oven, one after the other
    temps = {s["temp_c"] for s in r["oven_segments"]}
    assert temps == {220, 175}
    # Ben (skill 2) never carves or chops
    assert all(t["skill"] <= 2 for t in r["by_cook"]["Ben"])
    assert all(t["end_min"] <= r["horizon_min"] for t in r["tasks"])


def test_checker_catches_a_broken_plan(meal):
    r = _plan(meal)
    broken = json.loads(json.dumps(r))
    bake = next(t for t in broken["tasks"] if t["verb"] == "roast")
    other = next(t for t in broken["tasks"] if t["verb"] == "bake")
    other["start_min"], other["end_min"] = bake["start_min"], bake["start_min"] + other["duration_min"]
    problems = check_plan(broken)
    assert any("overlap" in p for p in problems) and any("precedence" in p for p in problems)


def test_one_burner_serialises_stovetop_work(meal):
    meal["kitchen"].update(burners=1, pans=1, pots=1)
    r = _plan(meal)
    assert check_plan(r) == []


def test_start_after_is_respected(meal):
    meal["start_after"] = "16:30"
    r = _plan(meal)
    assert check_plan(r, start_after="16:30") == []
    assert r["start"] >= "16:30"


def test_two_ovens_let_temperatures_overlap(meal):
    one = _plan(meal)
    meal["kitchen"]["ovens"] = 2
    two = _plan(meal)
    assert check_plan(two) == []
    assert two["makespan_min"] <= one["makespan_min"]


def test_same_plan_twice(meal):
    meal["solver"]["deterministic"] = True
    a, b = _plan(meal), _plan(meal)
    assert a["makespan_min"] == b["makespan_min"]
    assert [(t["id"], t["start_min"], t["cook"]) for t in a["tasks"]] == [
        (t["id"], t["start_min"], t["cook"]) for t in b["tasks"]
    ]


def _error(meal: dict) -> str:
    with pytest.raises(ChefbotError) as e:
        _plan(meal)
    return str(e.value)


def test_oven_temperature_conflict_is_explained():
    meal = {
        "serve_at": "19:00",
        "start_after": "17:30",
        "recipes": [inline("Lasagna", "Bake at 350° for 60 minutes."), inline("Pizza", "Bake at 450° for 60 minutes.")],
        "cooks": [{"name": "Ann"}],
        "kitchen": {"ovens": 1},
    }
    msg = _error(meal)
    assert "the only oven at 175 °C and 230 °C during the same window" in msg and "Lasagna" in msg and "Pizza" in msg
    meal["kitchen"]["ovens"] = 2  # a second oven solves it
    assert check_plan(_plan(meal), start_after="17:30") == []


def test_no_oven_for_a_baked_dish():
    msg = _error(
        {
            "serve_at": "19:00",
            "recipes": [inline("Lasagna", "Layer noodles and sauce.", "Bake at 375° for 45 minutes.")],
            "cooks": [{"name": "Ann"}],
            "kitchen": {"ovens": 0},
        }
    )
    assert "no oven in the kitchen" in msg and "'Lasagna' bakes" in msg and "kitchen.ovens" in msg


def test_skill_nobody_has():
    msg = _error(
        {
            "serve_at": "19:00",
            "recipes": [inline("Bread", "Knead the dough 10 minutes.")],
            "cooks": [{"name": "Kid", "skill": 1}, {"name": "Teen", "skill": 2}],
        }
    )
    assert "no cook has skill" in msg and "Knead the dough" in msg and "Teen" in msg


def test_not_enough_time_before_serving():
    msg = _error(
        {
            "serve_at": "19:00",
            "start_after": "18:30",
            "recipes": [inline("Roast", "Roast at 400° for 90 minutes.")],
            "cooks": [{"name": "Ann"}],
        }
    )
    assert "'Roast' needs at least 1 h 45 min" in msg and "18:30" in msg


def test_not_enough_hands():
    meal = {
        "serve_at": "19:00",
        "start_after": "18:00",
        "recipes": [
            inline("Dumplings", "Shape the dumplings for 40 minutes."),
            inline("Pasta", "Roll the pasta for 40 minutes."),
        ],
        "cooks": [{"name": "Ann", "skill": 5}],
    }
    assert "not enough hands" in _error(meal)
    meal["cooks"].append({"name": "Ben", "skill": 5})
    assert check_plan(_plan(meal), start_after="18:00") == []


def test_availability_windows_too_short():
    meal = {
        "serve_at": "19:00",
        "recipes": [inline("Stew", "Chop 4 carrots.", "Brown the beef 10 minutes.", "Simmer 1 hour.")],
        "cooks": [{"name": "Ann", "available": ["18:50-19:00"]}],
    }
    msg = _error(meal)
    assert "available" in msg or "needs at least" in msg


def test_serving_time_in_the_past():
    msg = _error(
        {"serve_at": "2001-01-01 19:00", "recipes": [inline("Salad", "Toss the greens.")], "cooks": [{"name": "Ann"}]}
    )
    assert "in the past" in msg and "serve_at" in msg


def test_serving_date_in_the_future_blocks_earlier_starts():
    meal = {
        "serve_at": "2030-06-01 13:00",
        "recipes": [inline("Roast", "Roast at 400° for 30 minutes.")],
        "cooks": [{"name": "Ann"}],
    }
    r = _plan(meal)
    assert r["start_iso"] >= "2030-06-01T12:01"
    meal["serve_at"] = "2030-06-01 12:20"
    assert "needs at least" in _error(meal)


def test_recipe_without_steps():
    msg = _error(
        {"serve_at": "19:00", "recipes": [inline("Mystery", "Serves 6.", "Enjoy!")], "cooks": [{"name": "Ann"}]}
    )
    assert "Mystery" in msg and "no steps" in msg


def test_unknown_key_and_empty_cooks():
    msg = _error(
        {"serve_at": "19:00", "recipes": [inline("S", "Toss.")], "cooks": [{"name": "A"}], "kitchen": {"burner": 4}}
    )
    assert "kitchen.burner: unknown key" in msg
    msg = _error({"serve_at": "19:00", "recipes": [inline("S", "Toss.")], "cooks": []})
    assert "cooks" in msg and "at least one cook" in msg


def test_file_references_refused_without_base_dir():
    msg = _error({"serve_at": "19:00", "recipes": [{"file": "/etc/passwd"}], "cooks": [{"name": "A"}]})
    assert "not allowed" in msg


@pytest.mark.shared
def test_real_recipenlg_meals_are_valid(shared_dir):
    """Meals of sample RecipeNLG rows with an oven, burners and two cooks; every plan passes the checker."""
    path = shared_dir / "data" / "recipenlg" / "first_1000.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    # rows 1, 3, 47 and 88 are four hot casseroles (135 °C and 175 °C) for one two-rack oven:
    # they cannot all come out within 15 minutes of serving, so that meal allows an hour
    # row 25 ("Smothered Round Steak") is a quotation about smothering with no instruction in it:
    # the step reader finds no task there, so the third meal takes row 26 instead
    meals = [([1, 3, 47, 88], 60), ([10, 100, 200, 300], 15), ([5, 15, 26, 35, 45], 15)]
    for ids, hold in meals:
        recipes = [{"recipenlg": {"csv": str(path), "index": i}} for i in ids]
        meal = {
            "serve_at": "2030-06-02 19:30",
            "recipes": recipes,
            "hot_hold_max_min": hold,
            "cooks": [{"name": "Ann", "skill": 5}, {"name": "Ben", "skill": 2, "available": ["12:00-19:30"]}],
            "kitchen": {"ovens": 1, "burners": 4},
            "solver": {"time_limit_s": 3},
        }
        r = plan_meal_dict(meal, now=NOW, base_dir=shared_dir, html=False)
        assert check_plan(r) == [], (ids, check_plan(r))
        assert r["status"] in {"OPTIMAL", "FEASIBLE"}
        assert {d["title"] for d in r["dishes"]} == {rows[i]["title"].strip() for i in ids}
        assert all(d["hold_min"] <= hold for d in r["dishes"] if d["kind"] == "hot")
    meal["recipes"] = [{"recipenlg": {"csv": str(path), "index": i}} for i in meals[0][0]]
    meal["hot_hold_max_min"] = 15
    with pytest.raises(PlanError, match=r"cannot all be ready within 15 min of serving because they all need the oven"):
        plan_meal_dict(meal, now=NOW, base_dir=shared_dir, html=False)


@pytest.mark.shared
def test_recipenlg_row_without_steps_is_named(shared_dir):
    path = shared_dir / "data" / "recipenlg" / "first_1000.csv"
    with pytest.raises(ChefbotError, match=r"row 31.*no steps"):
        plan_meal_dict(
            {
                "serve_at": "19:00",
                "recipes": [{"recipenlg": {"csv": str(path), "index": 31}}],
                "cooks": [{"name": "A"}],
            },
            now=NOW,
            base_dir=shared_dir,
        )


def test_plan_error_is_a_user_error():
    assert issubclass(PlanError, ChefbotError)
