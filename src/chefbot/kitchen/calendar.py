"""The meal calendar: library recipes on days and meals, a week at a time (docs/KITCHEN.md, "Meal calendar").

An entry is (day, meal, library recipe, servings), a row of ``calendar_entries`` (``db.py``).  A meal is
breakfast, lunch or dinner (any case: stored lower-case) or the cook's own name ("Sunday brunch", "picnic").
Entries are added, moved (another day, meal or servings) and removed; nothing else is kept on them.

* **Weeks are ISO weeks** (``YYYY-Www``, Monday to Sunday): ``datetime.date.fromisocalendar`` does the
  arithmetic, so 2026-W53 is 28 Dec 2026 - 3 Jan 2027 and a week 53 a year does not have (2025-W53) is refused
  naming ``week``, not moved to the next year.
* **A recipe deleted from the library** leaves its entries where they were, with the title they were put
  there with and ``in_library`` false (the row's ``recipe_id`` is set NULL by SQLite): the week still shows
  them, and the week's list and the planner's form leave them out and say which they left out.
* **The week's shopping list** is ``saved_lists.create_list`` of the week's library recipes at their
  servings (the one list path: ``shopping.list_for_recipes`` merges a recipe that is on two days).
* **A day's dinner in the planner**: ``plan_form`` is the form of ``POST /api/plans`` (``PlanCreate``'s
  title, date and recipes; the cooks and the time are the planner page's), so the multi-cook planner plans
  it by its one path.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from urllib.parse import urlencode

from chefbot.kitchen.db import KitchenDB, KitchenError, NotFound, now_iso
from chefbot.kitchen.library import get_recipe
from chefbot.kitchen.rows import MAX_SERVINGS, RecipeError, clean_text
from chefbot.kitchen.saved_lists import create_list

MEALS = ("breakfast", "lunch", "dinner")  # in the day's order; the cook's own meals come after, by name
MAX_MEAL = 60
WEEK = re.compile(r"^([0-9]{4})-W([0-9]{2})$")
MAX_PLAN_RECIPES = 12  # PlanCreate.recipes' limit: a day's dinner beyond it is refused naming the day


class CalendarError(KitchenError):
    """A calendar request the kitchen refuses (a week that does not exist, a meal with no name): 400,
    ``field`` names it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def week_start(week: str) -> dt.date:
    """The Monday of an ISO week ``YYYY-Www``; CalendarError naming ``week`` for one that does not exist."""
    m = WEEK.match(week)
    if not m:
        raise CalendarError(f"week: {week!r} is not an ISO week like 2026-W05", "week")
    try:
        monday = dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        monday + dt.timedelta(days=6)  # 9999-W52 ends in year 10000, past the calendar
    except (ValueError, OverflowError) as e:
        raise CalendarError(f"week: {week} does not exist ({e})", "week") from None
    return monday


def week_of(day: dt.date) -> str:
    """The ISO week a day is in: 2027-01-01 -> 2026-W53."""
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def _week_after(monday: dt.date, days: int) -> str | None:
    """The week ``days`` from this Monday's; None past the calendar's ends (year 1, year 9999)."""
    try:
        return week_of(monday + dt.timedelta(days=days))
    except OverflowError:
        return None


def parse_day(day: str, field: str = "date") -> dt.date:
    try:
        return dt.date.fromisoformat(day)
    except (TypeError, ValueError):
        raise CalendarError(f"{field}: {day!r} is not a date YYYY-MM-DD", field) from None


def meal_name(meal: str, field: str = "meal") -> str:
    """A meal as stored: breakfast, lunch, dinner in lower case; a custom name as written (trimmed)."""
    try:
        clean = clean_text(meal, field, MAX_MEAL)
    except RecipeError as e:
        raise CalendarError(str(e), field) from None
    if not clean:
        raise CalendarError(f"{field}: no visible character", field)
    return clean.casefold() if clean.casefold() in MEALS else clean


def _meal_order(meal: str) -> tuple[int, str]:
    return (MEALS.index(meal), "") if meal in MEALS else (len(MEALS), meal.casefold())


def _entry(r: sqlite3.Row) -> dict:
    """An entry as the API shows it: the library's current title when the recipe is there, else the stored one."""
    in_library = r["recipe_id"] is not None and r["library_title"] is not None
    return {
        "id": r["id"],
        "object": "calendar_entry",
        "date": r["day"],
        "meal": r["meal"],
        "recipe_id": r["recipe_id"] if in_library else None,
        "title": r["library_title"] if in_library else r["title"],
        "servings": r["servings"],
        "in_library": in_library,
        "note": None if in_library else f"{r['title']} is no longer in the library",
        "created_at": r["created_at"],
        "updated_at": r["updated_at"],
    }


SELECT = "SELECT e.*, r.title AS library_title FROM calendar_entries e LEFT JOIN recipes r ON r.id = e.recipe_id "


def get_entry(db: KitchenDB, entry_id: int) -> dict | None:
    with db.read() as c:
        row = c.execute(SELECT + "WHERE e.id = ?", (entry_id,)).fetchone()
    return None if row is None else _entry(row)


def _must_get(db: KitchenDB, entry_id: int) -> dict:
    out = get_entry(db, entry_id)
    if out is None:
        raise NotFound("calendar entry", entry_id, "entry_id")
    return out


def add_entry(db: KitchenDB, day: str, meal: str, recipe_id: int, servings: int | None = None) -> dict:
    """Put a library recipe on a day's meal at ``servings`` (default: the recipe's own); NotFound names
    ``recipe_id``."""
    when = parse_day(day).isoformat()
    meal = meal_name(meal)
    recipe = get_recipe(db, recipe_id)
    if recipe is None:
        raise NotFound("recipe", recipe_id, "recipe_id")
    now = now_iso()
    with db.write() as c:
        eid = c.execute(
            "INSERT INTO calendar_entries (day, meal, recipe_id, title, servings, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (when, meal, recipe_id, recipe["title"], servings or recipe["base_servings"], now, now),
        ).lastrowid
    return _must_get(db, int(eid))


def move_entry(
    db: KitchenDB, entry_id: int, day: str | None = None, meal: str | None = None, servings: int | None = None
) -> dict:
    """Move an entry to another day or meal, or change its servings (what is given); NotFound names ``entry_id``."""
    sets = {}
    if day is not None:
        sets["day"] = parse_day(day).isoformat()
    if meal is not None:
        sets["meal"] = meal_name(meal)
    if servings is not None:
        sets["servings"] = servings
    with db.write() as c:
        cols = "".join(f"{k} = ?, " for k in sets)
        cur = c.execute(
            f"UPDATE calendar_entries SET {cols}updated_at = ? WHERE id = ?", (*sets.values(), now_iso(), entry_id)
        )
        if cur.rowcount == 0:
            raise NotFound("calendar entry", entry_id, "entry_id")
    return _must_get(db, entry_id)


def remove_entry(db: KitchenDB, entry_id: int) -> bool:
    with db.write() as c:
        return c.execute("DELETE FROM calendar_entries WHERE id = ?", (entry_id,)).rowcount > 0


def entries_between(db: KitchenDB, first: dt.date, last: dt.date) -> list[dict]:
    """Every entry from ``first`` to ``last`` (inclusive), by day, meal (breakfast, lunch, dinner, own) and id."""
    with db.read() as c:
        rows = c.execute(
            SELECT + "WHERE e.day BETWEEN ? AND ? ORDER BY e.day, e.id", (first.isoformat(), last.isoformat())
        ).fetchall()
    out = [_entry(r) for r in rows]
    return sorted(out, key=lambda e: (e["date"], _meal_order(e["meal"]), e["id"]))


def get_week(db: KitchenDB, week: str) -> dict:
    """The ISO week by day (Monday first), each day's meals in order (breakfast, lunch, dinner, then the cook's
    own) with their entries; ``left_library`` counts the entries whose recipe was deleted."""
    start = week_start(week)
    days = [start + dt.timedelta(days=i) for i in range(7)]
    entries = entries_between(db, days[0], days[-1])
    out_days = []
    for d in days:
        meals: dict[str, list[dict]] = {}
        for e in entries:
            if e["date"] == d.isoformat():
                meals.setdefault(e["meal"], []).append(e)
        out_days.append(
            {
                "date": d.isoformat(),
                "weekday": d.strftime("%A"),
                "meals": [{"meal": m, "entries": v} for m, v in meals.items()],
            }
        )
    return {
        "object": "calendar_week",
        "week": week_of(start),
        "start": days[0].isoformat(),
        "end": days[-1].isoformat(),
        "previous": _week_after(start, -7),
        "next": _week_after(start, 7),
        "days": out_days,
        "total": len(entries),
        "left_library": sum(1 for e in entries if not e["in_library"]),
    }


def week_recipes(db: KitchenDB, week: str) -> tuple[list[tuple[int, int]], list[dict]]:
    """The week's library recipes as (recipe id, servings), one per entry in the week's order, and the entries
    left out (their recipe is no longer in the library)."""
    start = week_start(week)
    entries = entries_between(db, start, start + dt.timedelta(days=6))
    wanted = [(e["recipe_id"], e["servings"]) for e in entries if e["in_library"]]
    return wanted, [e for e in entries if not e["in_library"]]


def week_list(db: KitchenDB, week: str, title: str | None = None) -> dict:
    """Save the week's shopping list (``saved_lists.create_list`` of the week's recipes at their servings) and
    say which entries it left out; CalendarError naming ``week`` when the week has no library recipe."""
    wanted, left_out = week_recipes(db, week)
    if not wanted:
        raise CalendarError(f"week: {week_of(week_start(week))} has no library recipe on the calendar", "week")
    start = week_start(week)
    name = title or f"Week {week_of(start)} ({start:%d %b} - {start + dt.timedelta(days=6):%d %b})"
    saved = create_list(db, name, wanted)
    return {"object": "calendar_shopping_list", "week": week_of(start), "shopping_list": saved, "left_out": left_out}


def plan_form(db: KitchenDB, day: str, meal: str = "dinner") -> dict:
    """The planner's form (``POST /api/plans``'s title, date and recipes) for a day's meal: the same recipe twice
    is one dish at the servings added up; the entries whose recipe left the library are in ``left_out``.
    NotFound (``date``) when the meal has no library recipe that day."""
    when = parse_day(day)
    meal = meal_name(meal)
    entries = [e for e in entries_between(db, when, when) if e["meal"] == meal]
    dishes: dict[int, int] = {}
    for e in entries:
        if e["in_library"]:
            dishes[e["recipe_id"]] = min(dishes.get(e["recipe_id"], 0) + e["servings"], MAX_SERVINGS)
    if not dishes:
        err = NotFound("calendar entry", f"{meal} on {when.isoformat()}", "date")
        err.args = (f"no library recipe for {meal} on {when.isoformat()} in the calendar",)
        raise err
    if len(dishes) > MAX_PLAN_RECIPES:
        raise CalendarError(
            f"date: {meal} on {when.isoformat()} has {len(dishes)} recipes; the planner takes {MAX_PLAN_RECIPES}",
            "date",
        )
    form = {
        "title": f"{meal[:1].upper()}{meal[1:]}, {when:%A %d %B}",
        "date": when.isoformat(),
        "recipes": [{"recipe_id": rid, "servings": n} for rid, n in dishes.items()],
    }
    return {
        "object": "calendar_plan_form",
        "form": form,
        "left_out": [e for e in entries if not e["in_library"]],
        "planner": "/plan?" + urlencode({"day": when.isoformat(), "meal": meal}),
    }
