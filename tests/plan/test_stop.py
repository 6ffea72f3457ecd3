"""A plan's CP-SAT solves stop when its ``PlanStop`` is set (how the server stops a plan nobody waits for)."""

from __future__ import annotations

import threading
import time

import pytest

from chefbot.plan.api import plan_meal_dict
from chefbot.plan.problem import PlanError
from chefbot.plan.stop import PlanStop

STEPS = [
    "Chop the onions.",
    "Peel and dice the potatoes.",
    "Boil the potatoes for 20 minutes.",
    "Fry the onions in a pan for 10 minutes.",
    "Bake in the oven at 200C for 30 minutes.",
    "Simmer the sauce for 15 minutes.",
    "Whisk the eggs.",
    "Slice the bread.",
    "Knead the dough for 8 minutes.",
    "Stir in the cream and season.",
]


def long_meal(limit_s: float = 30) -> dict:
    """Too big for CP-SAT to prove optimal: the solve runs to its time limit unless stopped."""
    recipes = [
        {
            "title": f"Dish {i}",
            "ingredients": ["onion"],
            "kind": "cold",
            "directions": [STEPS[(i + j) % len(STEPS)] for j in range(8)],
        }
        for i in range(12)
    ]
    return {
        "serve_at": "19:00",
        "cooks": [{"name": "Ann", "skill": 5}, {"name": "Bo", "skill": 5}],
        "recipes": recipes,
        "solver": {"time_limit_s": limit_s, "workers": 2},
    }


def test_a_running_solve_stops_within_a_second():
    stop = PlanStop()
    out: list = []

    def work():
        try:
            out.append(stop.run(plan_meal_dict, long_meal(), html=False))
        except PlanError as e:
            out.append(e)

    t = threading.Thread(target=work)
    t.start()
    time.sleep(1.0)
    stopped_at = time.perf_counter()
    stop.set()
    t.join(10)
    assert not t.is_alive() and time.perf_counter() - stopped_at < 1.0
    assert isinstance(out[0], PlanError) and "stopped" in str(out[0])


def test_a_stop_set_before_the_solve_gives_it_no_time():
    stop = PlanStop()
    stop.set()
    t0 = time.perf_counter()
    with pytest.raises(PlanError, match="stopped"):
        stop.run(plan_meal_dict, long_meal(), html=False)
    assert time.perf_counter() - t0 < 3  # building the model, no solving


def test_without_a_stop_nothing_changes():
    meal = {
        "serve_at": "19:00",
        "cooks": [{"name": "Ann"}],
        "recipes": [
            {
                "title": "Pasta",
                "ingredients": ["spaghetti"],
                "directions": ["Boil water in a pot.", "Cook the spaghetti for 10 minutes."],
            }
        ],
        "solver": {"time_limit_s": 2, "workers": 1},
    }
    assert PlanStop().run(plan_meal_dict, meal, html=False)["status"] == "OPTIMAL"
    assert plan_meal_dict(meal, html=False)["status"] == "OPTIMAL"
