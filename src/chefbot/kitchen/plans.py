"""Saved meal plans and their progress: the planner's input from the form, the live schedule.

``meal_spec`` turns the plan form (library recipes with servings, cooks with an
available-from/to, the kitchen) into the planner's meal spec (docs/PLANNER.md) with the
recipes copied in, so a saved plan never depends on the library afterwards.  The server
runs the planner (``chefbot.plan``, a layer above) and ``save_plan`` stores its answer.

Progress rows (a task started or done, by whom, when) are kept apart from the plan, and
``live`` derives the schedule as it stands from the plan and the rows.  Re-planning is an
order-preserving right shift, the usual repair of a schedule when work runs late: each
task keeps its place in the order of its dish, its cook's hands-on work, its oven (with a
new preheat when the temperature changes) and its pot, and starts as soon as those
predecessors now allow, never earlier than planned.  The
solver is not run again: the plan stays the one people have read, only later; and a
shift that keeps every order keeps every resource limit the solver enforced (one cook's
hands, one oven's temperature, a vessel) except the counts of shared equipment between
tasks that did not touch in the plan, which a late kitchen sorts out itself.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from fractions import Fraction

from pydantic import ValidationError

from chefbot.cooking.quantities import scale_line
from chefbot.kitchen.db import KitchenDB, KitchenError, NotFound, UnreadableRow, now_iso
from chefbot.kitchen.library import get_recipe
from chefbot.kitchen.rows import PlanData, ProgressRow, first_problem


class ProgressError(KitchenError):
    """Progress that cannot be recorded; ``field`` names the part of the request at fault."""

    def __init__(self, message: str, field: str, code: str) -> None:
        super().__init__(message)
        self.field, self.code = field, code


class StepWaits(ProgressError):
    """A step started or done before every step it waits for (its ``after``) is done: 409 ``step_waits``."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "task_id", "step_waits")


def waiting_for(plan: dict, progress: list[dict], task_id: str) -> list[dict]:
    """The tasks ``task_id`` waits for (the planner's ``after``: its dish's earlier steps, an oven's previous
    block) that are not done yet; [] when it may start.  Cook mode locks the step on the page by the same rule."""
    done = {p["task_id"] for p in progress if p["status"] == "done"}
    by_id = {t["id"]: t for t in plan["tasks"]}
    return [by_id[a] for a in by_id[task_id].get("after", []) if a in by_id and a not in done]


def meal_spec(db: KitchenDB, form: dict) -> dict:
    """The planner's meal spec for a plan form (see docs/KITCHEN.md); NotFound names ``recipes.N.recipe_id``."""
    recipes = []
    for i, entry in enumerate(form["recipes"]):
        recipe = get_recipe(db, entry["recipe_id"])
        if recipe is None:
            raise NotFound("recipe", entry["recipe_id"], f"recipes.{i}.recipe_id")
        servings = entry.get("servings") or recipe["base_servings"]
        lines = [scale_line(x, Fraction(recipe["base_servings"]), Fraction(servings)) for x in recipe["ingredients"]]
        recipes.append(
            {
                "title": recipe["title"],
                "ingredients": lines,
                "directions": recipe["directions"],
                "kind": entry.get("kind") or "auto",
            }
        )
        if entry.get("hot_hold_max_min") is not None:
            recipes[-1]["hot_hold_max_min"] = entry["hot_hold_max_min"]
    cooks = []
    for c in form["cooks"]:
        cook = {"name": c["name"], "skill": c.get("skill", 3)}
        start, end = c.get("available_from"), c.get("available_to")
        if start or end:
            cook["available"] = [f"{start or '00:00'}-{end or '23:59'}"]
        cooks.append(cook)
    spec = {
        "title": form.get("title") or "Meal",
        "serve_at": form["serve_at"],
        "recipes": recipes,
        "cooks": cooks,
        "kitchen": dict(form.get("kitchen") or {}),
    }
    for key in ("date", "start_after", "hot_hold_max_min"):
        if form.get(key) is not None:
            spec[key] = form[key]
    return spec


def save_plan(db: KitchenDB, form: dict, plan: dict) -> dict:
    with db.write() as c:
        cur = c.execute(
            "INSERT INTO plans (title, serve_at, request, plan, created_at) VALUES (?, ?, ?, ?, ?)",
            (
                plan["title"],
                plan["serve_at"],
                json.dumps(form, ensure_ascii=False),
                json.dumps(plan, ensure_ascii=False),
                now_iso(),
            ),
        )
        pid = int(cur.lastrowid)
    return get_plan(db, pid)  # type: ignore[return-value]


def _load(db: KitchenDB, plan_id: int) -> tuple[dict, list[dict]] | None:
    """The plan's row and progress rows; UnreadableRow when they are not what the live schedule reads
    (``rows.PlanData``, ``rows.ProgressRow``: a row written by another version or by hand)."""
    with db.read() as c:
        row = c.execute("SELECT * FROM plans WHERE id = ?", (plan_id,)).fetchone()
        if row is None:
            return None
        progress = [
            dict(r)
            for r in c.execute(
                "SELECT cook, task_id, status, at FROM plan_progress WHERE plan_id = ? ORDER BY id", (plan_id,)
            )
        ]
    loaded = {}
    for column in ("request", "plan"):
        try:
            loaded[column] = json.loads(row[column])
        except (TypeError, ValueError, RecursionError):
            raise UnreadableRow("plan", plan_id, column, "not JSON") from None
    if not isinstance(loaded["request"], dict):
        raise UnreadableRow("plan", plan_id, "request", "expected an object")
    try:
        PlanData.model_validate(loaded["plan"])
        for i, x in enumerate(progress):
            try:
                ProgressRow.model_validate(x)
            except ValidationError as e:
                field, msg = first_problem(e)
                raise UnreadableRow("plan", plan_id, f"progress.{i}.{field}", msg) from None
    except ValidationError as e:
        field, msg = first_problem(e)
        raise UnreadableRow("plan", plan_id, f"plan.{field}" if field else "plan", msg) from None
    record = {
        "id": row["id"],
        "object": "plan",
        "title": row["title"],
        "created_at": row["created_at"],
        "serve_at": row["serve_at"],
        "request": loaded["request"],
        "plan": loaded["plan"],
    }
    return record, progress


def get_plan(db: KitchenDB, plan_id: int) -> dict | None:
    """The saved plan with its live schedule (``live``), or None; UnreadableRow when it cannot be read."""
    loaded = _load(db, plan_id)
    if loaded is None:
        return None
    record, progress = loaded
    try:
        state = live(record["plan"], progress)
    except (KeyError, TypeError, ValueError, ArithmeticError, StopIteration, OverflowError) as e:
        raise UnreadableRow(
            "plan", plan_id, "plan", f"the schedule cannot be rebuilt ({type(e).__name__}: {e})"
        ) from None
    return {**record, **state, "progress": progress}


def list_plans(db: KitchenDB, limit: int = 50) -> dict:
    """The newest ``limit`` plans, each with its progress counts and delay; a plan that cannot be read is
    listed in ``unreadable`` (id, field, message) instead of failing the list."""
    with db.read() as c:
        ids = [r[0] for r in c.execute("SELECT id FROM plans ORDER BY created_at DESC, id DESC LIMIT ?", (limit,))]
    data, unreadable = [], []
    for pid in ids:
        try:
            p = get_plan(db, pid)
        except UnreadableRow as e:
            unreadable.append(e.as_dict())
            continue
        if p is not None:
            data.append(
                {
                    "id": p["id"],
                    "title": p["title"],
                    "serve_at": p["serve_at"],
                    "created_at": p["created_at"],
                    "cooks": list(p["cooks"]),
                    "done": sum(t["status"] == "done" for t in p["tasks"]),
                    "total": len(p["tasks"]),
                    "delay_min": p["delay_min"],
                }
            )
    out = {"object": "list", "data": data}
    if unreadable:
        out["unreadable"] = unreadable
    return out


def parse_at(at: str | None, serve: dt.datetime) -> dt.datetime:
    """``at`` (ISO; local time unless it has an offset) as a local naive datetime; None: now."""
    if at is None:
        return dt.datetime.now().replace(microsecond=0)
    try:
        when = dt.datetime.fromisoformat(at)
        if when.tzinfo is not None:
            when = when.astimezone().replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise ProgressError(
            f"at: {at!r} is not an ISO date and time, e.g. 2026-11-25T17:12:00", "at", "bad_progress"
        ) from None
    if abs((when - serve).total_seconds()) > 86400:
        raise ProgressError(
            f"at: {at} is more than a day from the plan's serving time {serve.isoformat()}", "at", "bad_progress"
        )
    return when


def record_progress(db: KitchenDB, plan_id: int, cook: str, task_id: str, status: str, at: str | None) -> dict:
    """Store that ``task_id`` was started or done (a repeat is ignored: the first time counts); the new state.
    ``StepWaits`` while a step it waits for is not done (``waiting_for``)."""
    loaded = _load(db, plan_id)
    if loaded is None:
        raise NotFound("plan", plan_id, "plan_id")
    record, progress = loaded
    plan = record["plan"]
    if task_id not in {t["id"] for t in plan["tasks"]}:
        raise NotFound("task", task_id, "task_id")
    cooks = [c["name"] for c in plan["cooks"]]
    if cook not in cooks:
        raise ProgressError(f"cook: {cook!r} is not a cook of this plan ({', '.join(cooks)})", "cook", "unknown_cook")
    repeat = any(p["task_id"] == task_id and p["status"] == status for p in progress)  # harmless, as before
    waits = [] if repeat else waiting_for(plan, progress, task_id)
    if waits:
        names = "; ".join(f"{t.get('dish_title')} step {t.get('step')} ({t['cook']}): {t.get('text')}" for t in waits)
        raise StepWaits(f"task_id: {task_id} waits for {names}; mark that done first")
    when = parse_at(at, dt.datetime.fromisoformat(plan["serve_at"]))
    with db.write() as c:
        c.execute(
            "INSERT OR IGNORE INTO plan_progress (plan_id, task_id, cook, status, at) VALUES (?, ?, ?, ?, ?)",
            (plan_id, task_id, cook, status, when.isoformat()),
        )
    return get_plan(db, plan_id)  # type: ignore[return-value]


# -- the live schedule --------------------------------------------------------------------------
def live(plan: dict, progress: list[dict]) -> dict:
    """Tasks as they now stand (planned and current times, status), each cook's current and next task,
    oven preheat reminders, and how late the meal will be (``delay_min``)."""
    serve = dt.datetime.fromisoformat(plan["serve_at"])
    horizon = plan["horizon_min"]
    preheat = plan.get("preheat_min", 15)

    def minute(when: str) -> int:  # a datetime on the plan's axis (serving = horizon), late seconds round up
        return horizon - math.floor((serve - dt.datetime.fromisoformat(when)).total_seconds() / 60)

    def clock(m: float) -> dt.datetime:
        return serve - dt.timedelta(minutes=horizon - m)

    started = {p["task_id"]: p for p in progress if p["status"] == "started"}
    done = {p["task_id"]: p for p in progress if p["status"] == "done"}
    tasks = sorted(plan["tasks"], key=lambda t: (t["start_min"], t["id"]))
    shift: dict[str, int] = {}  # task id -> minutes later than planned (start)
    ends: dict[str, tuple[int, int]] = {}  # task id -> (end, end of hands-on work) as they now stand
    out = []
    for b in tasks:
        hands = b.get("hands") or [[b["start_min"], b["end_min"]]]
        delta = 0
        for a in tasks[: len(out)]:  # those planned to start earlier (the plan's order is kept)
            a_end, a_hands_end = ends[a["id"]]
            before = a["end_min"] <= b["start_min"]  # planned times: a finished before b started
            if a["id"] in b["after"] or (before and a["vessel"] and a["vessel"] == b["vessel"]):
                delta = max(delta, a_end - b["start_min"])
            if before and a["oven"] is not None and a["oven"] == b["oven"]:  # another temperature: preheat again
                changeover = preheat if a.get("oven_temp_c") != b.get("oven_temp_c") else 0
                delta = max(delta, a_end + changeover - b["start_min"])
            a_hands = a.get("hands") or [[a["start_min"], a["end_min"]]]
            if a["cook"] == b["cook"] and a_hands[-1][1] <= hands[0][0]:
                delta = max(delta, a_hands_end - hands[0][0])
        start = b["start_min"] + delta
        if b["id"] in started:
            start = minute(started[b["id"]]["at"])
        end = start + (b["end_min"] - b["start_min"])
        hands_end = hands[-1][1] + (start - b["start_min"])
        if b["id"] in done:
            end = hands_end = minute(done[b["id"]]["at"])
            start = min(start, end)
        shift[b["id"]] = start - b["start_min"]
        ends[b["id"]] = (end, hands_end)
        status = "done" if b["id"] in done else "started" if b["id"] in started else "todo"
        out.append(
            {
                **b,
                "status": status,
                "start_min": start,
                "end_min": end,
                "start": clock(start).strftime("%H:%M"),
                "end": clock(end).strftime("%H:%M"),
                "start_iso": clock(start).isoformat(timespec="minutes"),
                "end_iso": clock(end).isoformat(timespec="minutes"),
                "planned_start": b["start"],
                "planned_end": b["end"],
                "planned_start_min": b["start_min"],
                "delay_min": max(0, start - b["start_min"]),
                "started_at": started.get(b["id"], {}).get("at"),
                "done_at": done.get(b["id"], {}).get("at"),
            }
        )
    cooks = {}
    for c in plan["cooks"]:
        todo = [t for t in out if t["cook"] == c["name"] and t["status"] != "done"]
        mine = [t for t in out if t["cook"] == c["name"]]
        cooks[c["name"]] = {
            "current": todo[0] if todo else None,
            "next": todo[1] if len(todo) > 1 else None,
            "done": len(mine) - len(todo),
            "total": len(mine),
        }
    preheat = []
    for seg in plan.get("oven_segments", []):
        first = min(seg["tasks"], key=lambda tid: next(t["planned_start_min"] for t in out if t["id"] == tid))
        moved = max(0, shift.get(first, 0))
        preheat.append(
            {
                "oven": seg["oven"],
                "temp_c": seg["temp_c"],
                "tasks": list(seg["tasks"]),
                "at": clock(seg["start"] + moved).strftime("%H:%M"),
                "at_iso": clock(seg["start"] + moved).isoformat(timespec="minutes"),
                "ready_iso": clock(seg["preheat_end"] + moved).isoformat(timespec="minutes"),
            }
        )
    last = max((t["end_min"] for t in out), default=horizon)
    return {
        "tasks": out,
        "cooks": cooks,
        "preheat": preheat,
        "delay_min": max(0, last - horizon),
        "finished": bool(out) and all(t["status"] == "done" for t in out),
    }
