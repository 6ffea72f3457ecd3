"""Why no plan exists: drop one constraint family at a time and name the first that frees the meal.

``solve`` calls ``explain_infeasible`` when CP-SAT proves a meal infeasible.  The hot-hold
limit is tried first (which hot dish cannot be ready in time, and what is in its way),
then oven temperatures, availability, the start time, hands, oven racks and each
equipment kind.  Structural reasons found without a solver are ``problem.build_problem``'s.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from chefbot.cooking.equipment import CUMULATIVE, KITCHEN_FIELD
from chefbot.plan.constraints import PlanModel
from chefbot.plan.problem import Dish, Problem, hours_minutes

# Every fix a planner error suggests (here, problem.py, solve.py), by the words of the message, and the field of
# the meal spec that makes it.  The plan page has an input for each (data-field in web/plan.html, plan.js), so a
# cook can make every suggested fix in the form; tests/plan/test_form_fixes.py checks both.
SUGGESTED_FIXES = {
    "serve_at": "serve_at",
    "(date)": "date",
    "start_after": "start_after",
    "hot_hold_max_min (for the meal": "hot_hold_max_min",
    "or on the recipe)": "recipes.hot_hold_max_min",
    "kind: cold": "recipes.kind",
    "(cooks)": "cooks",
    "cooks.skill": "cooks.skill",
    "cooks.available": "cooks.available",
    "(kitchen)": "kitchen",
    **{f"kitchen.{f}": f"kitchen.{f}" for f in [*KITCHEN_FIELD.values(), "oven_racks"]},
    "solver.time_limit_s": "solver.time_limit_s",
}


def _feasible(prob: Problem, relax: frozenset[str], time_limit: float):
    model = PlanModel(prob, relax)
    solver = model.solver(time_limit)
    status = solver.Solve(model.m)
    return (model, solver) if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None


def explain_infeasible(prob: Problem) -> str:
    """Find which constraint family blocks the plan by dropping one at a time."""
    limit = prob.meal.solver.explain_time_limit_s
    hold = _explain_hold(prob, limit)
    if hold:
        return hold
    used = {e for t in prob.tasks for e in t.equipment}
    for relax in ["oven_temperature", "availability", "start", "hands", "oven_racks", *CUMULATIVE]:
        if relax in CUMULATIVE and relax not in used:
            continue
        if relax == "availability" and not any(prob.cook_blocked.values()):
            continue
        found = _feasible(prob, frozenset({relax}), limit)
        if not found:
            continue
        model, solver = found
        if relax == "oven_temperature":
            return _oven_conflict(prob, model, solver)
        if relax == "availability":
            return (
                "the cooks' available hours are too short: there is no way to fit the hands-on work into their windows "
                "before serving; widen a cook's hours (cooks.available) or add a cook (cooks)"
            )
        if relax == "start":
            need = solver.Value(model.makespan)
            return (
                f"not enough time: the meal needs at least {hours_minutes(need)} but cooking can start only at "
                f"{prob.clock(prob.earliest):%H:%M} for serving at {prob.serve:%H:%M}; serve later (serve_at) or start "
                "earlier (start_after)"
            )
        if relax == "hands":
            return (
                f"not enough hands: {len(prob.meal.cooks)} cook(s) cannot do all the hands-on work in the time before "
                "serving; add a cook (cooks) or serve later (serve_at)"
            )
        if relax == "oven_racks":
            return f"the oven has room for {prob.meal.kitchen.oven_racks} dishes at once (kitchen.oven_racks) and more must bake at the same time"
        return (
            f"not enough {relax.replace('_', ' ')}s (kitchen.{KITCHEN_FIELD[relax]}: {prob.meal.kitchen.capacity(relax)}): "
            f"too many steps need one at the same time"
        )
    return (
        "no plan satisfies all constraints together (several block it at once); "
        "try a later serving time (serve_at), an earlier start (start_after), more cooks (cooks) or more equipment (kitchen)"
    )


def _explain_hold(prob: Problem, limit: float) -> str | None:
    """When the hot-hold limit is what blocks the plan: which dish, and what is in its way."""
    hot = [d for d in prob.dishes if d.hold_max is not None]
    if not hot or not _feasible(prob, frozenset({"hot_hold"}), limit):
        return None
    advice = "allow a longer wait with hot_hold_max_min (for the meal, or on the recipe), or serve a dish as kind: cold"
    for d in hot:
        others = frozenset(f"hot_hold:{o.key}" for o in hot if o is not d)
        if _feasible(prob, others, limit):
            continue
        return f"'{d.title}' cannot be ready within {d.hold_max} min of serving because {_hold_because(prob, [d], others, limit)}; {advice}"
    names = ", ".join(f"'{d.title}'" for d in hot)
    limits = sorted({d.hold_max for d in hot})
    return (
        f"the hot dishes {names} cannot all be ready within {'/'.join(map(str, limits))} min of serving because "
        f"{_hold_because(prob, hot, frozenset(), limit)}; {advice}"
    )


def _hold_because(prob: Problem, dishes: list[Dish], relax: frozenset[str], limit: float) -> str:
    """Drop one more constraint family while keeping these dishes' holds; the first that frees them is the reason."""
    used = {e for t in prob.tasks for e in t.equipment}
    kitchen = prob.meal.kitchen
    keys = {d.key for d in dishes}
    title = {d.key: d.title for d in prob.dishes}
    families = [{"oven_temperature"}, {"oven_racks"}, {"oven_temperature", "oven_racks"}, {"availability"}, {"hands"}]
    families += [{e} for e in CUMULATIVE if e in used]
    for family in families:
        if family & {"oven_temperature", "oven_racks"} and "oven" not in used:
            continue
        if family == {"availability"} and not any(prob.cook_blocked.values()):
            continue
        found = _feasible(prob, relax | family, limit)
        if not found:
            continue
        model, solver = found
        if family == {"oven_temperature"}:
            which = "the only oven" if kitchen.ovens == 1 else f"one of the {kitchen.ovens} ovens"
            ovened = [t for t in prob.tasks if "oven" in t.equipment]
            for a in (t for t in ovened if t.dish in keys):
                for b in ovened:
                    if b.dish == a.dish or a.oven_temp_c == b.oven_temp_c:
                        continue
                    sa, sb = solver.Value(model.start[a.id]), solver.Value(model.start[b.id])
                    if sa - prob.preheat < sb + b.duration_min and sb - prob.preheat < sa + a.duration_min:
                        who = "it" if len(dishes) == 1 else f"'{title[a.dish]}'"
                        return (
                            f"{who} needs {which} at {a.oven_temp_c} °C shortly before serving ('{a.text}') "
                            f"while '{title[b.dish]}' needs it at {b.oven_temp_c} °C ('{b.text}'), and there is no time "
                            f"to bake one after the other with a preheat in between"
                        )
            return "the oven is needed at other temperatures by other dishes shortly before serving"
        if family == {"oven_racks"}:
            return f"more dishes must be in the oven at once shortly before serving than it holds (kitchen.oven_racks: {kitchen.oven_racks})"
        if "oven_racks" in family:
            temps = sorted({t.oven_temp_c for t in prob.tasks if "oven" in t.equipment})
            return (
                f"they all need the oven shortly before serving, at {', '.join(f'{c} °C' for c in temps)} "
                f"(kitchen.ovens: {kitchen.ovens}, oven_racks: {kitchen.oven_racks})"
            )
        if family == {"hands"}:
            return f"the {len(prob.meal.cooks)} cook(s) have too much hands-on work shortly before serving"
        if family == {"availability"}:
            last = max((d.tasks[-1] for d in dishes), key=lambda t: t.skill)
            able = [c for c in prob.meal.cooks if c.skill >= last.skill]
            hours = ", ".join(f"{c.name} {' and '.join(c.available) or 'all day'}" for c in able)
            return (
                f"the cooks who can do '{last.text}' (skill {last.skill}) are not available shortly before serving "
                f"({hours})"
            )
        e = next(iter(family))
        return f"there are not enough {e.replace('_', ' ')}s (kitchen.{KITCHEN_FIELD[e]}: {kitchen.capacity(e)}) shortly before serving"
    return "the last steps of the dishes cannot all fit shortly before serving (several constraints at once)"


def _oven_conflict(prob: Problem, model: PlanModel, solver: cp_model.CpSolver) -> str:
    n = prob.meal.kitchen.ovens
    oven_tasks = [t for t in prob.tasks if "oven" in t.equipment]
    title = {d.key: d.title for d in prob.dishes}
    for i, a in enumerate(oven_tasks):
        for b in oven_tasks[i + 1 :]:
            if a.oven_temp_c == b.oven_temp_c or a.dish == b.dish:
                continue
            sa, sb = solver.Value(model.start[a.id]), solver.Value(model.start[b.id])
            if sa - prob.preheat < sb + b.duration_min and sb - prob.preheat < sa + a.duration_min:
                lo, hi = max(sa, sb) - prob.preheat, min(sa + a.duration_min, sb + b.duration_min)
                which = "the only oven" if n == 1 else f"the {n} ovens"
                return (
                    f"two dishes need {which} at {a.oven_temp_c} °C and {b.oven_temp_c} °C during the same window: "
                    f"'{title[a.dish]}' ('{a.text}') and '{title[b.dish]}' ('{b.text}') around "
                    f"{prob.clock(lo):%H:%M}-{prob.clock(hi):%H:%M}; an oven holds one temperature at a time: add an oven "
                    "(kitchen.ovens) or serve later (serve_at)"
                )
    temps = sorted({t.oven_temp_c for t in oven_tasks})
    return (
        f"the oven cannot reach all of {', '.join(f'{c} °C' for c in temps)} in time; an oven holds one temperature at "
        "a time: add an oven (kitchen.ovens) or serve later (serve_at)"
    )
