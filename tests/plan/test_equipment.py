"""The equipment vocabulary (``chefbot.cooking.equipment``) is the one the schema, the rules and the solver use."""

from __future__ import annotations

import typing

import pytest

from chefbot.cooking import equipment as eq
from chefbot.cooking.durations import rules
from chefbot.cooking.tasks import DishTasks, Task
from chefbot.plan.model_assist import TASK_SYSTEM, TaskDraft
from chefbot.plan.problem import PlanError, build_problem
from chefbot.plan.schema import Kitchen, MealSpec
from chefbot.plan.solve import solve

from . import checker
from .conftest import NOW


def _literal_names(model, field: str) -> tuple[str, ...]:
    (literal,) = typing.get_args(model.model_fields[field].annotation)  # list[Literal[...]]
    return typing.get_args(literal)


def test_views_are_drawn_from_the_one_table():
    assert len(set(eq.NAMES)) == len(eq.NAMES)
    assert eq.HEAT | eq.STOVE | set(eq.CUMULATIVE) <= set(eq.NAMES)
    assert eq.VESSELS == {"pot", "pan"} and eq.STOVE == {"burner", "pot", "pan"}
    assert eq.CUMULATIVE == tuple(n for n in eq.NAMES if n != "oven")  # explain_infeasible tries them in this order


def test_kitchen_schema_has_one_field_per_kind():
    assert set(Kitchen.model_fields) == set(eq.KITCHEN_FIELD.values()) | {"oven_racks"}
    kitchen = Kitchen()
    for name, fld in eq.KITCHEN_FIELD.items():
        assert kitchen.capacity(name) == getattr(kitchen, fld)


def test_task_schemas_and_the_model_prompt_use_the_vocabulary():
    assert _literal_names(Task, "equipment") == eq.NAMES
    assert _literal_names(TaskDraft, "equipment") == eq.NAMES
    assert "equipment (a list from: " + ", ".join(eq.NAMES) + ")" in TASK_SYSTEM


def test_every_equipment_name_in_durations_yaml_is_known():
    used = {e for spec in rules().verbs.values() for e in spec["equipment"]}
    assert used <= set(eq.NAMES), f"unknown equipment in durations.yaml: {sorted(used - set(eq.NAMES))}"
    assert {"oven", "burner", "pot", "pan", "fridge"} <= used


def test_the_independent_checker_agrees():
    # tests/plan/checker.py keeps its own copy on purpose (it shares no code with the solver)
    assert checker.CAPACITY_KEY == {n: f for n, f in eq.KITCHEN_FIELD.items() if n != "oven"}
    assert checker.HEAT == eq.HEAT


def _task(dish: str, name: str) -> Task:
    return Task(
        id=f"{dish}.1",
        dish=dish,
        step=1,
        text=f"Use the {name}",
        verb="use",
        duration_min=30,
        attended=False,
        skill=1,
        equipment=[name],
        oven_temp_c=180 if name == "oven" else None,
    )


def _meal(n_dishes: int, kitchen: dict, **extra) -> MealSpec:
    return MealSpec.model_validate(
        {
            "serve_at": "19:00",
            "kitchen": kitchen,
            "solver": {"time_limit_s": 2, "workers": 2},
            "recipes": [{"title": f"D{i}", "directions": ["x"]} for i in range(n_dishes)],
            "cooks": [{"name": "Ann"}, {"name": "Ben"}],
            **extra,
        }
    )


@pytest.mark.parametrize("name", eq.NAMES)
def test_precheck_names_the_kitchen_field_of_every_kind(name):
    meal = _meal(1, {eq.KITCHEN_FIELD[name]: 0})
    with pytest.raises(PlanError, match=rf"kitchen\.{eq.KITCHEN_FIELD[name]}: 0"):
        build_problem(meal, [DishTasks("d0", "D0", [_task("d0", name)])], ["cold"], now=NOW)


@pytest.mark.parametrize("name", eq.CUMULATIVE)
def test_solver_counts_every_cumulative_kind(name):
    # two 30-minute tasks in a 30-minute window, one of the thing: only dropping its capacity frees the meal
    fld = eq.KITCHEN_FIELD[name]
    meal = _meal(2, {fld: 1}, start_after="18:30")
    dishes = [DishTasks(f"d{i}", f"D{i}", [_task(f"d{i}", name)]) for i in range(2)]
    with pytest.raises(PlanError, match=rf"not enough {name.replace('_', ' ')}s \(kitchen\.{fld}: 1\)"):
        solve(build_problem(meal, dishes, ["cold", "cold"], now=NOW))
    meal = _meal(2, {fld: 2}, start_after="18:30")
    assert solve(build_problem(meal, dishes, ["cold", "cold"], now=NOW)).makespan == 30
