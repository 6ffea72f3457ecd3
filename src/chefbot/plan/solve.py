"""Schedule the tasks of a meal with OR-Tools CP-SAT.

Time is in whole minutes on an axis that ends at the serving time (``horizon``).
The model:

* every task is a fixed-length interval; precedence inside each dish;
* each task goes to one cook able to do it (skill); a cook does one thing at a time:
  attended tasks occupy the cook throughout, unattended ones (bake, simmer, chill) only
  for a couple of minutes at the start and the end; time outside a cook's availability
  windows is blocked;
* burners, pans, pots, mixers, ... are cumulative resources; consecutive stovetop steps
  of a dish hold their burner and pot from the first to the last step;
* each oven holds one temperature at a time.  A baking task needs the oven at its
  temperature for the ``preheat`` minutes before it and while it bakes; two tasks at
  different temperatures on one oven keep these windows apart.  That is exactly a
  changeover cost: the oven is preheated when it is cold or changes temperature, and a
  task that follows another at the same temperature needs no new preheat (its window
  lies where the oven is already hot).  Tasks at one temperature share the oven up to
  ``oven_racks``;
* a hot dish sits idle at most ``hot_hold_max_min`` minutes between leaving the heat and
  serving (see ``hold_chains``); cold dishes may be ready any time before serving;
* everything ends by serving time.

Objective, lexicographic: (1) the shortest time from the first task to serving, then
(2) the least total time hot dishes wait between finishing and serving.  A time limit,
a fixed seed and a fixed worker count make the answer reproducible.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from chefbot.errors import ChefbotError
from chefbot.plan.schema import MealSpec, parse_window
from chefbot.plan.tasks import DishTasks, Task, rules

CUMULATIVE = ["burner", "pan", "pot", "mixer", "bowl", "blender", "microwave", "slow_cooker", "grill", "fridge", "freezer"]
KITCHEN_KEY = {
    "oven": "ovens", "burner": "burners", "pan": "pans", "pot": "pots", "mixer": "mixers", "bowl": "bowls",
    "blender": "blenders", "microwave": "microwaves", "slow_cooker": "slow_cookers", "grill": "grills",
    "fridge": "fridge", "freezer": "freezer",
}
HEAT = {"oven", "burner", "microwave", "slow_cooker", "grill"}
# Steps that cool food on purpose: what follows them is not "hot food waiting".
COOLING_VERBS = {"cool", "chill", "refrigerate", "freeze", "set"}
_ICE_RE = re.compile(r"\bice(?:d)?[- ]?(?:cold )?(?:water|bath)\b|\bcold water\b", re.I)


class PlanError(ChefbotError):
    """No plan exists; the message says which constraint blocks it."""


@dataclass
class Dish:
    key: str
    title: str
    kind: str  # "hot" or "cold"
    tasks: list[Task]
    hold_max: int | None = None  # hot dishes: the most minutes they may sit idle off the heat


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

    @property
    def tasks(self) -> list[Task]:
        return [t for d in self.dishes for t in d.tasks]

    def clock(self, minute: int) -> dt.datetime:
        return self.serve - dt.timedelta(minutes=self.horizon - minute)

    def minute(self, when: dt.datetime) -> int:
        return self.horizon - int((self.serve - when).total_seconds() // 60)


@dataclass
class ScheduledTask:
    task: Task
    start: int
    end: int
    cook: str
    oven: int | None = None
    hands: list[tuple[int, int]] = field(default_factory=list)  # when the cook's hands are busy


@dataclass
class Plan:
    problem: Problem
    status: str  # OPTIMAL or FEASIBLE
    tasks: list[ScheduledTask]
    makespan: int
    makespan_bound: int
    hot_wait: dict[str, int]  # dish key -> minutes the hot dish waits
    oven_segments: list[dict]  # {"oven", "temp_c", "start", "end", "preheat_end"}
    vessels: list[dict]  # {"vessel", "dish", "equipment", "start", "end"}
    wall_s: float
    holds: dict[str, int] = field(default_factory=dict)  # hot dish key -> minutes idle off the heat (see hold_chains)
    wait_status: str = "FEASIBLE"  # of the second objective (hot-food waiting), given the best makespan
    stage1_s: float = 0.0  # seconds until the makespan was settled

    @property
    def gap(self) -> float:
        return 0.0 if self.makespan == 0 else max(0.0, (self.makespan - self.makespan_bound) / self.makespan)


def is_heat(t: Task) -> bool:
    return bool(HEAT & set(t.equipment))


def is_cooling(t: Task) -> bool:
    return not is_heat(t) and (t.verb in COOLING_VERBS or bool(_ICE_RE.search(t.text)))


def hold_chains(tasks: list[Task]) -> dict[str, int]:
    """For each heating step of a dish: the most work after it on a path to the end of the dish.

    A hot dish's food leaves the heat at a heating step h; from there the work on the
    path to the plate (resting, slicing, mashing, "keep warm") is part of the dish, and
    everything else is idle: ``serving - end(h) - work``.  Limiting that for every h keeps
    the whole chain tight, not only the last step (roasting at six and slicing at seven
    would be ready "at serving" yet cold).  The path with the most work is the dish's
    main line; side branches that cool the food on purpose (chill, ice water) are left out,
    and so are heating steps from which every path cools the food.
    """
    succ: dict[str, list[Task]] = {t.id: [] for t in tasks}
    for t in tasks:
        for a in t.after:
            if a in succ:
                succ[a].append(t)
    work: dict[str, int | None] = {}
    for t in reversed(tasks):  # tasks are in an order that respects ``after``
        if not succ[t.id]:
            work[t.id] = 0
            continue
        options = [s.duration_min + work[s.id] for s in succ[t.id] if not is_cooling(s) and work[s.id] is not None]
        work[t.id] = max(options) if options else None
    return {t.id: w for t in tasks if is_heat(t) and (w := work[t.id]) is not None}


def _critical_path(tasks: list[Task], preheat: int) -> int:
    """Longest chain of steps of one dish, in minutes (an oven step needs its preheat first)."""
    finish: dict[str, int] = {}
    for t in tasks:  # tasks are in an order that respects ``after``
        start = max((finish[a] for a in t.after if a in finish), default=0)
        if "oven" in t.equipment:
            start = max(start, preheat)
        finish[t.id] = start + t.duration_min
    return max(finish.values(), default=0)


def build_problem(meal: MealSpec, dish_tasks: list[DishTasks], kinds: list[str], now: dt.datetime | None = None) -> Problem:
    """Turn clock times into the minute axis and run the checks that need no solver."""
    from chefbot.plan.schema import parse_clock, parse_serve_at

    r = rules()
    now = now or dt.datetime.now()
    serve_time, serve_date = parse_serve_at(meal.serve_at)
    serve = dt.datetime.combine(serve_date or now.date(), serve_time)
    if serve_date is not None and serve <= now:
        raise PlanError(f"serve_at: the serving time {serve:%Y-%m-%d %H:%M} is in the past (now is {now:%Y-%m-%d %H:%M}); give a later time")
    holds = [spec.hot_hold_max_min if spec.hot_hold_max_min is not None else meal.hot_hold_max_min for spec in meal.recipes]
    dishes = [Dish(d.key, d.title, k, d.tasks, h if k == "hot" else None) for d, k, h in zip(dish_tasks, kinds, holds)]
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
    if earliest_clock is not None:
        prob.earliest = max(0, prob.minute(earliest_clock))
    for c in meal.cooks:
        if not windows[c.name]:
            prob.cook_blocked[c.name] = []
            continue
        free = sorted((max(0, prob.minute(dt.datetime.combine(serve.date(), a))), min(horizon, prob.minute(dt.datetime.combine(serve.date(), b)))) for a, b in windows[c.name])
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
                    what = {"oven": "bakes", "burner": "cooks on the stove", "fridge": "needs the fridge"}.get(e, f"needs a {e.replace('_', ' ')}")
                    raise PlanError(f"no {e.replace('_', ' ')} in the kitchen (kitchen.{KITCHEN_KEY[e]}: 0) but '{d.title}' {what} "
                                    f"(step {t.step}: '{t.text}')")
            able = [c for c in meal.cooks if c.skill >= t.skill]
            if not able:
                best = max(meal.cooks, key=lambda c: c.skill)
                raise PlanError(f"no cook has skill {t.skill} needed for '{t.text}' in '{d.title}'; "
                                f"the most skilled cook, {best.name}, has skill {best.skill}")
            need = t.duration_min if t.attended else min(t.duration_min, prob.hands_start)
            if all(_longest_free(prob, c.name) < need for c in able):
                raise PlanError(f"no cook who can do '{t.text}' in '{d.title}' (skill {t.skill}) is available "
                                f"for {need} minutes in a row before serving")
        chain = _critical_path(d.tasks, prob.preheat)
        room = prob.horizon - prob.earliest
        if chain > room:
            raise PlanError(f"'{d.title}' needs at least {_hm(chain)} (its longest chain of steps) but there are only "
                            f"{_hm(room)} between {prob.clock(prob.earliest):%H:%M} and serving at {prob.serve:%H:%M}")


def _longest_free(prob: Problem, cook: str) -> int:
    cursor, best = prob.earliest, 0
    for a, b in sorted(prob.cook_blocked[cook]):
        best = max(best, a - cursor)
        cursor = max(cursor, b)
    return max(best, prob.horizon - cursor)


def _hm(minutes: int) -> str:
    h, m = divmod(int(minutes), 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


class _Model:
    """The CP-SAT model; ``relax`` drops named constraint families (used to explain infeasibility)."""

    def __init__(self, prob: Problem, relax: frozenset[str] = frozenset()):
        self.prob, self.relax = prob, relax
        m = self.m = cp_model.CpModel()
        H, P = prob.horizon, prob.preheat
        kitchen = prob.meal.kitchen
        earliest = 0 if "start" in relax else prob.earliest
        self.start, self.end, self.interval = {}, {}, {}
        self.task_by_id = {t.id: t for t in prob.tasks}
        for t in prob.tasks:
            lo = earliest + (P if "oven" in t.equipment else 0)
            s = m.NewIntVar(lo, H - t.duration_min, f"s_{t.id}")
            self.start[t.id], self.end[t.id] = s, s + t.duration_min
            self.interval[t.id] = m.NewFixedSizeIntervalVar(s, t.duration_min, f"i_{t.id}")
        for t in prob.tasks:
            for a in t.after:
                m.Add(self.end[a] <= self.start[t.id])

        # cooks: one attended thing at a time, only within availability
        self.assign: dict[tuple[str, str], cp_model.IntVar] = {}
        cook_intervals: dict[str, list] = {c.name: [] for c in prob.meal.cooks}
        for t in prob.tasks:
            lits = []
            for c in prob.meal.cooks:
                if c.skill < t.skill:
                    continue
                x = m.NewBoolVar(f"x_{t.id}_{c.name}")
                self.assign[t.id, c.name] = x
                lits.append(x)
                for a, length in self.hands(t):
                    cook_intervals[c.name].append(m.NewOptionalFixedSizeIntervalVar(self.start[t.id] + a, length, x, f"h_{t.id}_{c.name}_{a}"))
            m.AddExactlyOne(lits)
        for c in prob.meal.cooks:
            if "availability" not in relax:
                for a, b in prob.cook_blocked[c.name]:
                    if b > a:
                        cook_intervals[c.name].append(m.NewFixedSizeIntervalVar(a, b - a, f"off_{c.name}_{a}"))
            if "hands" not in relax:
                m.AddNoOverlap(cook_intervals[c.name])

        # stovetop vessels held across consecutive steps
        users: dict[str, list[tuple]] = {e: [] for e in CUMULATIVE}
        self.vessel_span = {}
        by_vessel: dict[str, list[Task]] = {}
        for t in prob.tasks:
            if t.vessel:
                by_vessel.setdefault(t.vessel, []).append(t)
            for e in t.equipment:
                if e in users and not (t.vessel and e in {"burner", "pot", "pan"}):
                    users[e].append(self.interval[t.id])
        for v, ts in by_vessel.items():
            first, last = ts[0], ts[-1]
            size = m.NewIntVar(0, H, f"vsize_{v}")
            span = m.NewIntervalVar(self.start[first.id], size, self.end[last.id], f"v_{v}")
            self.vessel_span[v] = (first.id, last.id, sorted({e for t in ts for e in t.equipment} & {"burner", "pot", "pan"}))
            for e in self.vessel_span[v][2]:
                users[e].append(span)
        for e, ivs in users.items():
            cap = kitchen.capacity(e)
            if e in relax or len(ivs) <= cap:
                continue
            if cap == 1:
                m.AddNoOverlap(ivs)
            else:
                m.AddCumulative(ivs, [1] * len(ivs), cap)

        # ovens: preheat + bake on one oven at one temperature at a time
        oven_tasks = [t for t in prob.tasks if "oven" in t.equipment]
        n_ovens = kitchen.ovens
        self.on_oven: dict[tuple[str, int], cp_model.IntVar] = {}
        for o in range(n_ovens if oven_tasks else 0):
            ext, bake = [], []
            for t in oven_tasks:
                if n_ovens == 1:
                    y = m.NewConstant(1)
                else:
                    y = m.NewBoolVar(f"y_{t.id}_{o}")
                self.on_oven[t.id, o] = y
                ext.append((t, m.NewOptionalFixedSizeIntervalVar(self.start[t.id] - P, t.duration_min + P, y, f"e_{t.id}_{o}")))
                bake.append(m.NewOptionalFixedSizeIntervalVar(self.start[t.id], t.duration_min, y, f"b_{t.id}_{o}"))
            if "oven_racks" not in relax and len(bake) > kitchen.oven_racks:
                m.AddCumulative(bake, [1] * len(bake), kitchen.oven_racks)
            if "oven_temperature" not in relax:
                for i, (t1, e1) in enumerate(ext):
                    for t2, e2 in ext[i + 1:]:
                        if t1.oven_temp_c != t2.oven_temp_c:
                            m.AddNoOverlap([e1, e2])
        if n_ovens > 1:
            for t in oven_tasks:
                m.AddExactlyOne([self.on_oven[t.id, o] for o in range(n_ovens)])

        # objective terms
        firsts = [self.start[t.id] - (P if "oven" in t.equipment else 0) for t in prob.tasks]
        self.first = m.NewIntVar(0, H, "first")
        m.AddMinEquality(self.first, firsts)
        self.makespan = H - self.first
        self.ready = {}
        for d in prob.dishes:
            r = m.NewIntVar(0, H, f"ready_{d.key}")
            m.AddMaxEquality(r, [self.end[t.id] for t in d.tasks])
            self.ready[d.key] = r
        # hot dishes: at most hold_max idle minutes from leaving the heat to serving
        self.hold_chains = {d.key: hold_chains(d.tasks) for d in prob.dishes if d.hold_max is not None}
        for d in prob.dishes:
            if d.hold_max is None or "hot_hold" in relax or f"hot_hold:{d.key}" in relax:
                continue
            m.Add(self.ready[d.key] >= H - d.hold_max)
            for tid, work in self.hold_chains[d.key].items():
                m.Add(self.end[tid] >= H - d.hold_max - work)
        # Hot food waits from the moment it leaves the heat: every gap after a heating step
        # of a hot dish counts (roast -> rest -> slice), and so does ready -> serving.
        waits = []
        for d in prob.dishes:
            if d.kind != "hot":
                continue
            waits.append(H - self.ready[d.key])
            downstream: set[str] = set()
            for t in d.tasks:  # in order, so predecessors are seen first
                if HEAT & set(t.equipment) or downstream & set(t.after):
                    downstream.add(t.id)
            for t in d.tasks:
                for a in t.after:
                    if a in downstream:
                        waits.append(self.start[t.id] - self.end[a])
        self.hot_wait = sum(waits)
        # Third: spread the hands-on work so one cook is not busy while the other waits.
        loads = []
        for c in prob.meal.cooks:
            load = sum(x * sum(n for _, n in self.hands(t)) for (tid, name), x in self.assign.items()
                       if name == c.name for t in [self.task_by_id[tid]])
            loads.append(load)
        self.max_load = m.NewIntVar(0, sum(t.duration_min for t in prob.tasks), "max_load")
        m.AddMaxEquality(self.max_load, loads)

    def hands(self, t: Task) -> list[tuple[int, int]]:
        """(offset from start, length) of the intervals a task needs its cook's hands."""
        if t.attended or t.duration_min <= self.prob.hands_start + self.prob.hands_end:
            return [(0, t.duration_min)]
        return [(0, self.prob.hands_start), (t.duration_min - self.prob.hands_end, self.prob.hands_end)]

    def solver(self, time_limit: float) -> cp_model.CpSolver:
        s = cp_model.CpSolver()
        settings = self.prob.meal.solver
        s.parameters.max_time_in_seconds = time_limit
        s.parameters.num_workers = settings.workers
        s.parameters.random_seed = settings.seed
        if settings.deterministic:
            # Interleaved search with a deterministic time budget repeats exactly, but is slower;
            # the default parallel portfolio repeats its objective values once they are proven optimal.
            s.parameters.interleave_search = True
            s.parameters.max_deterministic_time = time_limit
        return s


def _feasible(prob: Problem, relax: frozenset[str], time_limit: float):
    model = _Model(prob, relax)
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
            return "the cooks' available hours are too short: there is no way to fit the hands-on work into their windows before serving"
        if relax == "start":
            need = solver.Value(model.makespan)
            return (f"not enough time: the meal needs at least {_hm(need)} but cooking can start only at "
                    f"{prob.clock(prob.earliest):%H:%M} for serving at {prob.serve:%H:%M}")
        if relax == "hands":
            return f"not enough hands: {len(prob.meal.cooks)} cook(s) cannot do all the hands-on work in the time before serving"
        if relax == "oven_racks":
            return f"the oven has room for {prob.meal.kitchen.oven_racks} dishes at once (kitchen.oven_racks) and more must bake at the same time"
        return (f"not enough {relax.replace('_', ' ')}s (kitchen.{KITCHEN_KEY[relax]}: {prob.meal.kitchen.capacity(relax)}): "
                f"too many steps need one at the same time")
    return ("no plan satisfies all constraints together (several block it at once); "
            "try a later serving time, an earlier start, more cooks or more equipment")


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
    return (f"the hot dishes {names} cannot all be ready within {'/'.join(map(str, limits))} min of serving because "
            f"{_hold_because(prob, hot, frozenset(), limit)}; {advice}")


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
                        return (f"{who} needs {which} at {a.oven_temp_c} °C shortly before serving ('{a.text}') "
                                f"while '{title[b.dish]}' needs it at {b.oven_temp_c} °C ('{b.text}'), and there is no time "
                                f"to bake one after the other with a preheat in between")
            return "the oven is needed at other temperatures by other dishes shortly before serving"
        if family == {"oven_racks"}:
            return f"more dishes must be in the oven at once shortly before serving than it holds (kitchen.oven_racks: {kitchen.oven_racks})"
        if "oven_racks" in family:
            temps = sorted({t.oven_temp_c for t in prob.tasks if "oven" in t.equipment})
            return (f"they all need the oven shortly before serving, at {', '.join(f'{c} °C' for c in temps)} "
                    f"(kitchen.ovens: {kitchen.ovens}, oven_racks: {kitchen.oven_racks})")
        if family == {"hands"}:
            return f"the {len(prob.meal.cooks)} cook(s) have too much hands-on work shortly before serving"
        if family == {"availability"}:
            last = max((d.tasks[-1] for d in dishes), key=lambda t: t.skill)
            able = [c for c in prob.meal.cooks if c.skill >= last.skill]
            hours = ", ".join(f"{c.name} {' and '.join(c.available) or 'all day'}" for c in able)
            return (f"the cooks who can do '{last.text}' (skill {last.skill}) are not available shortly before serving "
                    f"({hours})")
        e = next(iter(family))
        return f"there are not enough {e.replace('_', ' ')}s (kitchen.{KITCHEN_KEY[e]}: {kitchen.capacity(e)}) shortly before serving"
    return "the last steps of the dishes cannot all fit shortly before serving (several constraints at once)"


def _oven_conflict(prob: Problem, model: _Model, solver: cp_model.CpSolver) -> str:
    n = prob.meal.kitchen.ovens
    oven_tasks = [t for t in prob.tasks if "oven" in t.equipment]
    title = {d.key: d.title for d in prob.dishes}
    for i, a in enumerate(oven_tasks):
        for b in oven_tasks[i + 1:]:
            if a.oven_temp_c == b.oven_temp_c or a.dish == b.dish:
                continue
            sa, sb = solver.Value(model.start[a.id]), solver.Value(model.start[b.id])
            if sa - prob.preheat < sb + b.duration_min and sb - prob.preheat < sa + a.duration_min:
                lo, hi = max(sa, sb) - prob.preheat, min(sa + a.duration_min, sb + b.duration_min)
                which = "the only oven" if n == 1 else f"the {n} ovens"
                return (f"two dishes need {which} at {a.oven_temp_c} °C and {b.oven_temp_c} °C during the same window: "
                        f"'{title[a.dish]}' ('{a.text}') and '{title[b.dish]}' ('{b.text}') around "
                        f"{prob.clock(lo):%H:%M}-{prob.clock(hi):%H:%M}; an oven holds one temperature at a time")
    temps = sorted({t.oven_temp_c for t in oven_tasks})
    return f"the oven cannot reach all of {', '.join(f'{c} °C' for c in temps)} in time; an oven holds one temperature at a time"


def solve(prob: Problem) -> Plan:
    """Two-stage lexicographic solve: shortest makespan, then least hot-food waiting."""
    import time

    t0 = time.perf_counter()
    settings = prob.meal.solver
    model = _Model(prob)
    m = model.m
    m.Minimize(model.makespan)
    solver = model.solver(settings.time_limit_s * 0.75)
    status = solver.Solve(m)
    stage1_s = time.perf_counter() - t0
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        if status == cp_model.UNKNOWN:
            raise PlanError(f"the solver found no plan within {settings.time_limit_s * 0.75:.1f} s; "
                            "raise solver.time_limit_s or simplify the meal")
        raise PlanError("no plan exists: " + explain_infeasible(prob))
    best = int(solver.ObjectiveValue())
    bound = int(math.ceil(solver.BestObjectiveBound() - 1e-6))
    stage1_optimal = status == cp_model.OPTIMAL

    # stage 2: keep the makespan, make hot dishes finish close to serving
    m.Add(model.makespan <= best)
    for v in list(model.start.values()):
        m.AddHint(v, solver.Value(v))
    for x in model.assign.values():
        m.AddHint(x, solver.Value(x))
    # lexicographic inside one objective: the load term can never outweigh a minute of waiting
    m.Minimize(model.hot_wait * (sum(t.duration_min for t in prob.tasks) + 1) + model.max_load)
    # the second objective gets what is left, at most a quarter of the budget
    left = settings.time_limit_s - (time.perf_counter() - t0)
    solver2 = model.solver(max(0.2, min(left, settings.time_limit_s * 0.25)))
    status2 = solver2.Solve(m)
    wait_status = "FEASIBLE"
    if status2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        solver, wait_status = solver2, solver2.StatusName(status2)
    plan = _extract(prob, model, solver, "OPTIMAL" if stage1_optimal else "FEASIBLE", bound, time.perf_counter() - t0)
    plan.wait_status = wait_status
    plan.stage1_s = stage1_s
    return plan


def _extract(prob: Problem, model: _Model, solver: cp_model.CpSolver, status: str, bound: int, wall: float) -> Plan:
    H, P = prob.horizon, prob.preheat
    scheduled = []
    for t in prob.tasks:
        s = solver.Value(model.start[t.id])
        cook = next(c.name for c in prob.meal.cooks if (t.id, c.name) in model.assign and solver.Value(model.assign[t.id, c.name]))
        oven = next((o for o in range(prob.meal.kitchen.ovens) if (t.id, o) in model.on_oven and solver.Value(model.on_oven[t.id, o])), None)
        scheduled.append(ScheduledTask(t, s, s + t.duration_min, cook, oven, [(s + a, s + a + n) for a, n in model.hands(t)]))
    # oven blocks: one preheat when the oven is cold or changes temperature; tasks at the same
    # temperature that follow within a preheat's time keep the oven hot instead of reheating it
    segments: list[dict] = []
    for o in range(prob.meal.kitchen.ovens):
        block = None
        for st in sorted((st for st in scheduled if st.oven == o), key=lambda st: (st.start, st.end)):
            if block and block["temp_c"] == st.task.oven_temp_c and st.start - P < block["end"]:
                block["end"] = max(block["end"], st.end)
                block["tasks"].append(st.task.id)
            else:
                block = {"oven": o, "temp_c": st.task.oven_temp_c, "start": st.start - P, "preheat_end": st.start,
                         "end": st.end, "tasks": [st.task.id]}
                segments.append(block)
    vessels = []
    for v, (first, last, eq) in model.vessel_span.items():
        vessels.append({"vessel": v, "dish": first.rsplit(".", 1)[0], "equipment": eq,
                        "start": solver.Value(model.start[first]), "end": solver.Value(model.end[last])})
    makespan = H - solver.Value(model.first)
    hot_wait = {d.key: H - solver.Value(model.ready[d.key]) for d in prob.dishes if d.kind == "hot"}
    ends = {st.task.id: st.end for st in scheduled}
    holds = {key: max([hot_wait[key]] + [H - ends[tid] - work for tid, work in chains.items()])
             for key, chains in model.hold_chains.items()}
    return Plan(prob, status, scheduled, makespan, min(bound, makespan), hot_wait, segments, vessels, wall, holds=holds)
