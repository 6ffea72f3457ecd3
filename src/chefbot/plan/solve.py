"""Solve a meal's scheduling problem with OR-Tools CP-SAT and read the plan out of the solution.

The model is ``constraints.PlanModel``.  Objective, lexicographic, in two solves: (1) the
shortest time from the first task to serving and, among plans that short, the fewest
hand-overs of a vessel between cooks (the chili pot stays with one cook unless the shortest
plan needs a change), then (2) the least total time hot dishes wait between finishing and
serving, then the most even share of hands-on work.  A time limit, a fixed seed and a fixed worker count
make the answer reproducible.  When no plan exists, ``explain`` says why.  A plan run under a
``plan.stop.PlanStop`` (the server's) stops as soon as it is set.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from chefbot.cooking.tasks import Task
from chefbot.plan.constraints import PREHEAT_HANDS_MIN, PlanModel
from chefbot.plan.explain import explain_infeasible
from chefbot.plan.problem import PlanError, Problem
from chefbot.plan.stop import stopped


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
    # {"id", "oven", "temp_c", "start", "end", "cook", "tasks"}: who turns each oven on, when (one per oven block)
    preheats: list[dict] = field(default_factory=list)
    handovers: list[dict] = field(default_factory=list)  # {"vessel", "from_task", "to_task", "from_cook", "to_cook"}
    wait_status: str = "FEASIBLE"  # of the second objective (hot-food waiting), given the best makespan
    stage1_s: float = 0.0  # seconds until the makespan was settled

    @property
    def gap(self) -> float:
        return 0.0 if self.makespan == 0 else max(0.0, (self.makespan - self.makespan_bound) / self.makespan)


def solve(prob: Problem) -> Plan:
    """Two-stage lexicographic solve: shortest makespan and fewest hand-overs, then least hot-food waiting."""
    t0 = time.perf_counter()
    settings = prob.meal.solver
    model = PlanModel(prob)
    m = model.m
    # stage 1: the shortest makespan, and among the plans that short the fewest vessel hand-overs
    # (weight: one minute of makespan outweighs every hand-over there can be)
    per_minute = len(model.handover) + 1
    m.Minimize(model.makespan * per_minute + model.handovers)
    solver = model.solver(settings.time_limit_s * 0.75)
    status = solver.Solve(m)
    stage1_s = time.perf_counter() - t0
    if stopped():  # the request was given up (plan/stop.py): no second stage, no explanation
        raise PlanError("planning stopped: the request timed out or its client left")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        if status == cp_model.UNKNOWN:
            raise PlanError(
                f"the solver found no plan within {settings.time_limit_s * 0.75:.1f} s; "
                "raise solver.time_limit_s or simplify the meal"
            )
        raise PlanError("no plan exists: " + explain_infeasible(prob))
    best = solver.Value(model.makespan)
    bound = int(math.ceil(solver.BestObjectiveBound() - 1e-6)) // per_minute
    stage1_optimal = status == cp_model.OPTIMAL

    # stage 2: keep the makespan and the hand-overs, make hot dishes finish close to serving
    m.Add(model.makespan <= best)
    m.Add(model.handovers <= solver.Value(model.handovers))
    for v in list(model.start.values()):
        m.AddHint(v, solver.Value(v))
    for x in [*model.assign.values(), *model.preheat_by.values(), *model.needs_preheat.values()]:
        m.AddHint(x, solver.Value(x))
    # lexicographic inside one objective: the load term can never outweigh a minute of waiting
    m.Minimize(model.hot_wait * (model.load_bound + 1) + model.max_load)
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


def _extract(prob: Problem, model: PlanModel, solver: cp_model.CpSolver, status: str, bound: int, wall: float) -> Plan:
    H, P = prob.horizon, prob.preheat
    scheduled = []
    for t in prob.tasks:
        s = solver.Value(model.start[t.id])
        cook = next(
            c.name
            for c in prob.meal.cooks
            if (t.id, c.name) in model.assign and solver.Value(model.assign[t.id, c.name])
        )
        oven = next(
            (
                o
                for o in range(prob.meal.kitchen.ovens)
                if (t.id, o) in model.on_oven and solver.Value(model.on_oven[t.id, o])
            ),
            None,
        )
        scheduled.append(
            ScheduledTask(t, s, s + t.duration_min, cook, oven, [(s + a, s + a + n) for a, n in model.hands(t)])
        )
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
                block = {
                    "oven": o,
                    "temp_c": st.task.oven_temp_c,
                    "start": st.start - P,
                    "preheat_end": st.start,
                    "end": st.end,
                    "tasks": [st.task.id],
                }
                segments.append(block)
    preheats = _preheats(prob, model, solver, segments)
    cook_of = {st.task.id: st.cook for st in scheduled}
    handovers = [
        {"vessel": prob_task.vessel, "from_task": a, "to_task": b, "from_cook": cook_of[a], "to_cook": cook_of[b]}
        for (a, b), h in model.handover.items()
        if cook_of[a] != cook_of[b]
        for prob_task in [model.task_by_id[a]]
    ]
    vessels = []
    for v, (first, last, eq) in model.vessel_span.items():
        vessels.append(
            {
                "vessel": v,
                "dish": first.rsplit(".", 1)[0],
                "equipment": eq,
                "start": solver.Value(model.start[first]),
                "end": solver.Value(model.end[last]),
            }
        )
    makespan = H - solver.Value(model.first)
    hot_wait = {d.key: H - solver.Value(model.ready[d.key]) for d in prob.dishes if d.kind == "hot"}
    ends = {st.task.id: st.end for st in scheduled}
    holds = {
        key: max([hot_wait[key]] + [H - ends[tid] - work for tid, work in chains.items()])
        for key, chains in model.hold_chains.items()
    }
    return Plan(
        prob,
        status,
        scheduled,
        makespan,
        min(bound, makespan),
        hot_wait,
        segments,
        vessels,
        wall,
        holds=holds,
        preheats=preheats,
        handovers=handovers,
    )


def _preheats(prob: Problem, model: PlanModel, solver: cp_model.CpSolver, segments: list[dict]) -> list[dict]:
    """One preheat per oven block, owned by the cook the model gave it.  The block's first task always has
    a preheat in the model (no task at its temperature on its oven was still baking), so its cook is read
    from there; each segment gets the preheat's id (``preheat_task``)."""
    out = []
    for n, seg in enumerate(segments, 1):
        first = [tid for tid in seg["tasks"] if solver.Value(model.start[tid]) == seg["preheat_end"]]
        owner = next(tid for tid in first if solver.Value(model.needs_preheat[tid]))
        cook = next(c.name for c in prob.meal.cooks if solver.Value(model.preheat_by[owner, c.name]))
        pid = f"oven{seg['oven'] + 1}_preheat{n}"  # "_" never appears in a dish key (api._slug): ids cannot clash
        seg["preheat_task"] = pid
        out.append(
            {
                "id": pid,
                "oven": seg["oven"],
                "temp_c": seg["temp_c"],
                "start": seg["start"],
                "end": seg["start"] + PREHEAT_HANDS_MIN,
                "ready": seg["preheat_end"],
                "cook": cook,
                "tasks": list(seg["tasks"]),
            }
        )
    return out
