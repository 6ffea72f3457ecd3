"""The planner as functions: meal spec in, plan out.

``plan_meal_dict`` is the pure entry point for other front ends (``POST /v1/plan``): it
takes the meal spec as a dict (the YAML's structure), and returns a JSON-serialisable
dict with the timeline, per-cook lists and a self-contained HTML page.  It never reads
files unless ``base_dir`` is given, so a server can expose it safely.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from chefbot.config import validate
from chefbot.cooking.step_amounts import step_amounts
from chefbot.cooking.tasks import DishTasks, tasks_from_directions
from chefbot.errors import DataError
from chefbot.plan.complete import Complete
from chefbot.plan.model_assist import tasks_with_model
from chefbot.plan.problem import Problem, build_problem
from chefbot.plan.recipes import load_recipe
from chefbot.plan.render import html_page
from chefbot.plan.schema import MealSpec
from chefbot.plan.solve import Plan, solve


@dataclass
class Analysis:
    dishes: list[DishTasks]
    kinds: list[str]
    warnings: list[str] = field(default_factory=list)


def _slug(title: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:24] or "dish"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


def analyse_meal(meal: MealSpec, base_dir: Path | None = None, complete: Complete | None = None) -> Analysis:
    """Load every recipe and turn its directions into tasks (rules, or the model with rules as fallback)."""
    if meal.tasks_from == "model" and complete is None:
        raise DataError(
            "tasks_from: model needs a model; pass --endpoint URL --api-model NAME, or set tasks_from: rules"
        )
    out = Analysis([], [])
    taken: set[str] = set()
    for i, spec in enumerate(meal.recipes):
        where = f"recipes.{i}"
        recipe = load_recipe(spec, base_dir, where, complete)
        key = _slug(recipe.title, taken)
        if meal.tasks_from == "model":
            dish, fallback = tasks_with_model(key, recipe, complete)
            if fallback:
                out.warnings.append(fallback)
        else:
            dish = tasks_from_directions(key, recipe.title, recipe.directions, recipe.ingredients)
        if not dish.tasks:
            shown = " ".join(recipe.directions)[:80] or "(no directions)"
            raise DataError(
                f"{where} '{recipe.title}' ({recipe.source}): no steps I can schedule in its directions: {shown!r}"
            )
        out.dishes.append(dish)
        out.kinds.append(dish.kind_guess if spec.kind == "auto" else spec.kind)
    return out


def plan_meal(
    meal: MealSpec, base_dir: Path | None = None, now: dt.datetime | None = None, complete: Complete | None = None
) -> tuple[Plan, list[str]]:
    analysis = analyse_meal(meal, base_dir, complete)
    problem = build_problem(meal, analysis.dishes, analysis.kinds, now=now)
    return solve(problem), analysis.warnings


def _note_waits(prob: Problem, tasks: list[dict]) -> None:
    """The last step of each hot dish that then waits for serving says so (``waits``): "keep covered, waits 40
    min", with the limit and the field that changes it, so the cook sees the wait in their list."""
    for d in prob.dishes:
        if d.hold_max is None:
            continue
        last = max((t for t in tasks if t["dish"] == d.key), key=lambda t: t["end_min"])
        wait = prob.horizon - last["end_min"]
        if wait > 0:
            last["waits"] = (
                f"keep covered, waits {wait} min until serving (at most {d.hold_max} off the heat: hot_hold_max_min)"
            )


def plan_to_dict(plan: Plan, warnings: list[str] | None = None) -> dict:
    """The plan as plain JSON types; clock times as ``HH:MM`` and ISO datetimes."""
    prob = plan.problem
    titles = {d.key: d.title for d in prob.dishes}
    lines = {d.key: d.ingredients for d in prob.dishes}

    def clock(m: int) -> str:
        return prob.clock(m).strftime("%H:%M")

    tasks = []
    for st in sorted(plan.tasks, key=lambda s: (s.start, s.task.id)):
        t = st.task
        tasks.append(
            {
                "id": t.id,
                "dish": t.dish,
                "dish_title": titles[t.dish],
                "step": t.step,
                "text": t.text,
                "verb": t.verb,
                "cook": st.cook,
                "start_min": st.start,
                "end_min": st.end,
                "start": clock(st.start),
                "end": clock(st.end),
                "start_iso": prob.clock(st.start).isoformat(timespec="minutes"),
                "duration_min": t.duration_min,
                "duration_from": t.duration_from,
                "attended": t.attended,
                "skill": t.skill,
                "equipment": list(t.equipment),
                "oven": st.oven,
                "oven_temp_c": t.oven_temp_c,
                "after": list(t.after),
                "vessel": t.vessel,
                "hands": [list(h) for h in st.hands],
                "kind": "step",
                "amounts": step_amounts(t.text, lines[t.dish]),  # the lines it uses, at the plan's servings
            }
        )
    _note_waits(prob, tasks)
    tasks += [_preheat_task(prob, p, plan.oven_segments) for p in plan.preheats]
    tasks.sort(key=lambda x: (x["start_min"], x["kind"] != "preheat", x["id"]))
    cooks = {c.name: [x for x in tasks if x["cook"] == c.name] for c in prob.meal.cooks}
    return {
        "title": prob.meal.title,
        "serve_at": prob.serve.isoformat(timespec="minutes"),
        "start": clock(prob.horizon - plan.makespan),
        "start_iso": prob.clock(prob.horizon - plan.makespan).isoformat(timespec="minutes"),
        "horizon_min": prob.horizon,
        "makespan_min": plan.makespan,
        "makespan_bound_min": plan.makespan_bound,
        "gap": round(plan.gap, 4),
        "status": plan.status,  # of the makespan (first objective)
        "wait_status": plan.wait_status,  # of the hot-food waiting, given that makespan
        "hot_wait_total_min": sum(plan.hot_wait.values()),
        "solve_s": round(plan.wall_s, 3),
        "makespan_solve_s": round(plan.stage1_s, 3),
        "dishes": [
            {
                "key": d.key,
                "title": d.title,
                "kind": d.kind,
                "ready": clock(max(st.end for st in plan.tasks if st.task.dish == d.key)),
                "hot_wait_min": plan.hot_wait.get(d.key),
                "hold_min": plan.holds.get(d.key),
                "hot_hold_max_min": d.hold_max,
            }
            for d in prob.dishes
        ],
        "cooks": [{"name": c.name, "skill": c.skill, "available": list(c.available)} for c in prob.meal.cooks],
        "kitchen": prob.meal.kitchen.model_dump(),
        "preheat_min": prob.preheat,
        "hot_hold_max_min": prob.meal.hot_hold_max_min,
        "oven_segments": [
            dict(s, start_clock=clock(s["start"]), end_clock=clock(s["end"])) for s in plan.oven_segments
        ],
        "vessels": plan.vessels,
        "handovers": plan.handovers,
        "date": prob.serve.date().isoformat() if prob.dated else None,
        "tasks": tasks,
        "by_cook": cooks,
        "warnings": list(warnings or []),
    }


def _preheat_task(prob: Problem, p: dict, segments: list[dict]) -> dict:
    """A preheat as a task of its cook's list: one minute of hands, then the oven heats by itself.  It follows
    the tasks of the oven's previous block (the oven is free of them then), so a late kitchen shifts it too
    (``kitchen.plans.live``); ``oven`` stays None: it is not a baking task."""
    which = "the oven" if prob.meal.kitchen.ovens == 1 else f"oven {p['oven'] + 1}"
    before = [s for s in segments if s["oven"] == p["oven"] and s["end"] <= p["start"]]
    after = max(before, key=lambda s: s["end"])["tasks"] if before else []
    return {
        "id": p["id"],
        "kind": "preheat",
        "dish": "",
        "dish_title": "Oven" if prob.meal.kitchen.ovens == 1 else f"Oven {p['oven'] + 1}",
        "step": 0,
        "text": f"Preheat {which} to {p['temp_c']} °C (ready at {prob.clock(p['ready']):%H:%M})",
        "verb": "preheat",
        "cook": p["cook"],
        "start_min": p["start"],
        "end_min": p["end"],
        "start": prob.clock(p["start"]).strftime("%H:%M"),
        "end": prob.clock(p["end"]).strftime("%H:%M"),
        "start_iso": prob.clock(p["start"]).isoformat(timespec="minutes"),
        "duration_min": p["end"] - p["start"],
        "duration_from": "planner",
        "attended": True,
        "skill": 1,
        "equipment": [],
        "oven": None,
        "oven_temp_c": None,
        "preheat_oven": p["oven"],
        "preheat_temp_c": p["temp_c"],
        "ready_min": p["ready"],
        "after": list(after),
        "vessel": None,
        "hands": [[p["start"], p["end"]]],
        "amounts": [],
    }


def plan_meal_dict(
    data: dict,
    now: dt.datetime | None = None,
    complete: Complete | None = None,
    base_dir: Path | None = None,
    html: bool = True,
) -> dict:
    """Plan a meal given as a dict; raises ``ChefbotError`` (ConfigError/DataError/PlanError) with one clear line."""
    meal = validate(MealSpec, data, "meal")
    plan, warnings = plan_meal(meal, base_dir=base_dir, now=now, complete=complete)
    result = plan_to_dict(plan, warnings)
    if html:
        result["html"] = html_page(result)
    return result
