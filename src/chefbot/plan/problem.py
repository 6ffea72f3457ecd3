"""The scheduling problem of a meal: clock times on a minute axis, and the checks that need no solver.

``build_problem`` turns the meal's serving time, start time and the cooks' availability
windows into minutes on ``[0, horizon]`` (``horizon`` is the serving time) and refuses,
with a ``PlanError`` naming the reason, meals that cannot be planned whatever the
schedule: equipment the kitchen lacks, skill nobody has, a task longer than every free
window, a dish longer than the time available.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from chefbot.cooking.durations import rules
from chefbot.cooking.equipment import HEAT, KITCHEN_FIELD
from chefbot.cooking.tasks import DishTasks, Task
from chefbot.errors import ChefbotError
from chefbot.plan.schema import HOLD_DEFAULT_MIN, MealSpec, parse_clock, parse_serve_at, parse_window


class PlanError(ChefbotError):
    """No plan exists; the message says which constraint blocks it."""


@dataclass
class Dish:
    key: str
    title: str
    kind: str  # "hot" or "cold"
    tasks: list[Task]
    hold_max: int | None = None  # hot dishes: the most minutes they may sit idle off the heat
    ingredients: list[str] = field(default_factory=list)  # the recipe's lines as planned (scaled)


@dataclass
class Problem:
    """Everything the model needs, with clock times turned into minutes on [0, horizon]."""

    meal: MealSpec
    dishes: list[Dish]
    serve: dt.datetime
    horizon: int
    earliest: int  # no task starts before this minute (start_after / now)
    cook_blocked: dict[str, list[tuple[int, int]]]  # minutes each cook is NOT available
    preheat: int
    hands_start: int
    hands_end: int
    dated: bool = False  # a plan for a given day (checked against now), not a timeline for any day

    @property
    def tasks(self) -> list[Task]:
        return [t for d in self.dishes for t in d.tasks]

    def clock(self, minute: int) -> dt.datetime:
        return self.serve - dt.timedelta(minutes=self.horizon - minute)

    def minute(self, when: dt.datetime) -> int:
        return self.horizon - int((self.serve - when).total_seconds() // 60)


def _critical_path(tasks: list[Task], preheat: int) -> int:
    """Longest chain of steps of one dish, in minutes (an oven step needs its preheat first)."""
    finish: dict[str, int] = {}
    for t in tasks:  # tasks are in an order that respects ``after``
        start = max((finish[a] for a in t.after if a in finish), default=0)
        if "oven" in t.equipment:
            start = max(start, preheat)
        finish[t.id] = start + t.duration_min
    return max(finish.values(), default=0)


def hold_limit(dish_hold: int | None, meal_hold: int | None, tasks: list[Task]) -> int:
    """Minutes a hot dish may wait off the heat: the dish's own limit, else the meal's, else the default for
    where its last heat step is (``schema.HOLD_DEFAULT_MIN``: an oven-finished dish may wait longer)."""
    if dish_hold is not None:
        return dish_hold
    if meal_hold is not None:
        return meal_hold
    last_heat = next((t for t in reversed(tasks) if HEAT & set(t.equipment)), None)
    return HOLD_DEFAULT_MIN["oven" if last_heat is not None and "oven" in last_heat.equipment else "other"]


def build_problem(
    meal: MealSpec, dish_tasks: list[DishTasks], kinds: list[str], now: dt.datetime | None = None
) -> Problem:
    """Turn clock times into the minute axis and run the checks that need no solver."""
    r = rules()
    now = now or dt.datetime.now()
    serve_time, _ = parse_serve_at(meal.serve_at)
    serve_date = meal.day
    serve = dt.datetime.combine(serve_date or now.date(), serve_time)
    if serve_date is not None and serve <= now:
        raise PlanError(
            f"serve_at: {serve:%H:%M} on {serve:%Y-%m-%d} is in the past (now is {now:%Y-%m-%d %H:%M}); "
            "give a later serving time (serve_at) or a later date (date)"
        )
    holds = [
        hold_limit(spec.hot_hold_max_min, meal.hot_hold_max_min, d.tasks) for spec, d in zip(meal.recipes, dish_tasks)
    ]
    dishes = [
        Dish(d.key, d.title, k, d.tasks, h if k == "hot" else None, d.ingredients)
        for d, k, h in zip(dish_tasks, kinds, holds)
    ]
    all_tasks = [t for d in dishes for t in d.tasks]
    total = sum(t.duration_min for t in all_tasks) + r.preheat_minutes * sum("oven" in t.equipment for t in all_tasks)

    starts = []
    if meal.start_after:
        s = dt.datetime.combine(serve.date(), parse_clock(meal.start_after))
        if s >= serve:
            raise PlanError(f"start_after: {meal.start_after} is not before the serving time {serve:%H:%M}")
        starts.append(s)
    if serve_date is not None:
        starts.append(now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1))
    earliest_clock = max(starts) if starts else None

    windows = {c.name: [parse_window(w) for w in c.available] for c in meal.cooks}
    first_window = min((dt.datetime.combine(serve.date(), a) for ws in windows.values() for a, _ in ws), default=None)
    horizon = total + 1
    if first_window is not None:
        horizon = max(horizon, int((serve - first_window).total_seconds() // 60))
    if earliest_clock is not None:
        horizon = max(1, int((serve - earliest_clock).total_seconds() // 60))
    prob = Problem(meal, dishes, serve, horizon, 0, {}, r.preheat_minutes, r.hands_start_minutes, r.hands_end_minutes)
    prob.dated = serve_date is not None
    if earliest_clock is not None:
        prob.earliest = max(0, prob.minute(earliest_clock))
    for c in meal.cooks:
        if not windows[c.name]:
            prob.cook_blocked[c.name] = []
            continue
        free = sorted(
            (
                max(0, prob.minute(dt.datetime.combine(serve.date(), a))),
                min(horizon, prob.minute(dt.datetime.combine(serve.date(), b))),
            )
            for a, b in windows[c.name]
        )
        blocked, cursor = [], 0
        for a, b in free:
            if a > cursor:
                blocked.append((cursor, a))
            cursor = max(cursor, b)
        if cursor < horizon:
            blocked.append((cursor, horizon))
        prob.cook_blocked[c.name] = blocked
    _precheck(prob)
    return prob


def _precheck(prob: Problem) -> None:
    """Structural reasons no plan can exist, found without the solver."""
    meal = prob.meal
    for d in prob.dishes:
        for t in d.tasks:
            for e in t.equipment:
                if meal.kitchen.capacity(e) == 0:
                    what = {"oven": "bakes", "burner": "cooks on the stove", "fridge": "needs the fridge"}.get(
                        e, f"needs a {e.replace('_', ' ')}"
                    )
                    raise PlanError(
                        f"no {e.replace('_', ' ')} in the kitchen (kitchen.{KITCHEN_FIELD[e]}: 0) but '{d.title}' {what} "
                        f"(step {t.step}: '{t.text}')"
                    )
            able = [c for c in meal.cooks if c.skill >= t.skill]
            if not able:
                best = max(meal.cooks, key=lambda c: c.skill)
                raise PlanError(
                    f"no cook has skill {t.skill} needed for '{t.text}' in '{d.title}'; "
                    f"the most skilled cook, {best.name}, has skill {best.skill}; raise a cook's skill (cooks.skill) "
                    "or add a cook (cooks)"
                )
            need = t.duration_min if t.attended else min(t.duration_min, prob.hands_start)
            if all(_longest_free(prob, c.name) < need for c in able):
                raise PlanError(
                    f"no cook who can do '{t.text}' in '{d.title}' (skill {t.skill}) is available "
                    f"for {need} minutes in a row before serving; widen a cook's hours (cooks.available) or add a cook (cooks)"
                )
        chain = _critical_path(d.tasks, prob.preheat)
        room = prob.horizon - prob.earliest
        if chain > room:
            raise PlanError(
                f"'{d.title}' needs at least {hours_minutes(chain)} (its longest chain of steps) but there are only "
                f"{hours_minutes(room)} between {prob.clock(prob.earliest):%H:%M} and serving at {prob.serve:%H:%M}; "
                "serve later (serve_at) or start earlier (start_after)"
            )


def _longest_free(prob: Problem, cook: str) -> int:
    cursor, best = prob.earliest, 0
    for a, b in sorted(prob.cook_blocked[cook]):
        best = max(best, a - cursor)
        cursor = max(cursor, b)
    return max(best, prob.horizon - cursor)


def hours_minutes(minutes: int) -> str:
    """125 -> "2 h 05 min", 40 -> "40 min"."""
    h, m = divmod(int(minutes), 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"
