"""The CP-SAT model of a meal (``PlanModel``): its variables, constraints and objective terms.

Time is in whole minutes on an axis that ends at the serving time (``horizon``).

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
* a preheat is a cook's work: whoever turns the oven on spends ``PREHEAT_HANDS_MIN`` of their
  hands at the start of the preheat window, then the oven heats unattended.  Every baking task
  either has such a preheat or follows a task at its temperature on its oven that is still baking
  less than ``preheat`` minutes before it starts (the oven is hot); ``_preheats`` builds it;
* consecutive steps of one vessel (``Task.vessel``: the chili pot) go to one cook unless a
  hand-over is needed: ``handovers`` counts the changes of cook along each vessel, and the
  first solve minimises it right after the makespan (``solve``);
* a hot dish sits idle at most ``hot_hold_max_min`` minutes between leaving the heat and
  serving (see ``hold_chains``); cold dishes may be ready any time before serving;
* everything ends by serving time.

``relax`` drops named constraint families, which is how ``explain`` finds the one that
blocks a plan.
"""

from __future__ import annotations

import re

from ortools.sat.python import cp_model

from chefbot.cooking.equipment import CUMULATIVE, HEAT, STOVE
from chefbot.cooking.tasks import Task
from chefbot.plan.problem import Problem
from chefbot.plan.stop import watch

# Steps that cool food on purpose: what follows them is not "hot food waiting".
COOLING_VERBS = {"cool", "chill", "refrigerate", "freeze", "set"}
_ICE_RE = re.compile(r"\bice(?:d)?[- ]?(?:cold )?(?:water|bath)\b|\bcold water\b", re.I)
# Minutes of a cook's hands to start a preheat: set the dial or keypad and switch the oven on.
# Not a cooking fact but the planner's time grain (one minute, the shortest task it schedules);
# the heating itself is ``durations.yaml``'s ``preheat_minutes``, unattended.
PREHEAT_HANDS_MIN = 1


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


class PlanModel:
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
                    cook_intervals[c.name].append(
                        m.NewOptionalFixedSizeIntervalVar(self.start[t.id] + a, length, x, f"h_{t.id}_{c.name}_{a}")
                    )
            m.AddExactlyOne(lits)
        oven_tasks = [t for t in prob.tasks if "oven" in t.equipment]
        n_ovens = kitchen.ovens
        self.on_oven: dict[tuple[str, int], cp_model.IntVar] = {}
        for o in range(n_ovens if oven_tasks else 0):
            for t in oven_tasks:
                self.on_oven[t.id, o] = m.NewConstant(1) if n_ovens == 1 else m.NewBoolVar(f"y_{t.id}_{o}")
        if n_ovens > 1:
            for t in oven_tasks:
                m.AddExactlyOne([self.on_oven[t.id, o] for o in range(n_ovens)])
        self.preheat_by: dict[tuple[str, str], cp_model.IntVar] = {}
        self.needs_preheat: dict[str, cp_model.IntVar] = {}
        if n_ovens:
            self._preheats(oven_tasks, cook_intervals)

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
                if e in users and not (t.vessel and e in STOVE):
                    users[e].append(self.interval[t.id])
        for v, ts in by_vessel.items():
            first, last = ts[0], ts[-1]
            size = m.NewIntVar(0, H, f"vsize_{v}")
            span = m.NewIntervalVar(self.start[first.id], size, self.end[last.id], f"v_{v}")
            self.vessel_span[v] = (first.id, last.id, sorted({e for t in ts for e in t.equipment} & STOVE))
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
        for o in range(n_ovens if oven_tasks else 0):
            ext, bake = [], []
            for t in oven_tasks:
                y = self.on_oven[t.id, o]
                ext.append(
                    (t, m.NewOptionalFixedSizeIntervalVar(self.start[t.id] - P, t.duration_min + P, y, f"e_{t.id}_{o}"))
                )
                bake.append(m.NewOptionalFixedSizeIntervalVar(self.start[t.id], t.duration_min, y, f"b_{t.id}_{o}"))
            if "oven_racks" not in relax and len(bake) > kitchen.oven_racks:
                m.AddCumulative(bake, [1] * len(bake), kitchen.oven_racks)
            if "oven_temperature" not in relax:
                for i, (t1, e1) in enumerate(ext):
                    for t2, e2 in ext[i + 1 :]:
                        if t1.oven_temp_c != t2.oven_temp_c:
                            m.AddNoOverlap([e1, e2])
        # one vessel, one cook: a change of cook between consecutive steps of a vessel is a hand-over
        self.handover: dict[tuple[str, str], cp_model.IntVar] = {}
        for ts in by_vessel.values():
            for a, b in zip(ts, ts[1:]):
                h = m.NewBoolVar(f"handover_{a.id}_{b.id}")
                self.handover[a.id, b.id] = h
                for c in prob.meal.cooks:
                    xa, xb = self.assign.get((a.id, c.name)), self.assign.get((b.id, c.name))
                    if xa is not None and xb is not None:
                        m.Add(xa == xb).OnlyEnforceIf(h.Not())
                    elif xa is not None or xb is not None:
                        m.AddImplication(xa if xa is not None else xb, h)
        self.handovers = sum(self.handover.values())

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
            load = sum(
                x * sum(n for _, n in self.hands(t))
                for (tid, name), x in self.assign.items()
                if name == c.name
                for t in [self.task_by_id[tid]]
            )
            load += sum(z * PREHEAT_HANDS_MIN for (_, name), z in self.preheat_by.items() if name == c.name)
            loads.append(load)
        self.load_bound = sum(t.duration_min for t in prob.tasks) + PREHEAT_HANDS_MIN * len(oven_tasks)
        self.max_load = m.NewIntVar(0, self.load_bound, "max_load")
        m.AddMaxEquality(self.max_load, loads)

    def _preheats(self, oven_tasks: list[Task], cook_intervals: dict[str, list]) -> None:
        """Each baking task finds its oven hot (a task at its temperature on its oven started before it and
        bakes until less than ``preheat`` minutes before it starts) or has a preheat: one cook's hands for
        ``PREHEAT_HANDS_MIN`` at the start of its preheat window.  Ties (two tasks starting together) go to
        the task listed first, so one of them always owns the preheat."""
        m, P = self.m, self.prob.preheat
        index = {t.id: i for i, t in enumerate(oven_tasks)}
        for t in oven_tasks:
            p = m.NewBoolVar(f"preheat_{t.id}")
            self.needs_preheat[t.id] = p
            warm = []
            for u in oven_tasks:
                if u.id == t.id or u.oven_temp_c != t.oven_temp_c:
                    continue
                k = m.NewBoolVar(f"warm_{t.id}_{u.id}")
                m.Add(self.start[u.id] + (0 if index[u.id] < index[t.id] else 1) <= self.start[t.id]).OnlyEnforceIf(k)
                m.Add(self.end[u.id] > self.start[t.id] - P).OnlyEnforceIf(k)
                for o in range(self.prob.meal.kitchen.ovens if self.prob.meal.kitchen.ovens > 1 else 0):
                    m.Add(self.on_oven[t.id, o] == self.on_oven[u.id, o]).OnlyEnforceIf(k)
                warm.append(k)
            m.AddBoolOr([p, *warm])
            lits = []
            for c in self.prob.meal.cooks:  # anyone can turn an oven on (skill 1)
                z = m.NewBoolVar(f"z_{t.id}_{c.name}")
                self.preheat_by[t.id, c.name] = z
                lits.append(z)
                cook_intervals[c.name].append(
                    m.NewOptionalFixedSizeIntervalVar(self.start[t.id] - P, PREHEAT_HANDS_MIN, z, f"ph_{t.id}_{c.name}")
                )
            m.Add(sum(lits) == p)

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
        return watch(s)  # a plan's PlanStop (plan/stop.py) can stop every solve made here
