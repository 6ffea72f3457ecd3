"""``/api/calendar``: the meal calendar (docs/KITCHEN.md, "Meal calendar").

The work is ``chefbot.kitchen.calendar`` (entries on days and meals, ISO weeks, the week's saved shopping list
through ``saved_lists.create_list``, a day's dinner as the planner's form); this is the HTTP side, with the
kitchen's DB from ``routes_kitchen.Kitchen`` and its refusals answered by ``api_errors.ERROR_STATUS`` (a week
that does not exist 400 ``bad_calendar``; an unknown entry or recipe 404).  The planner form is only read here:
the planner page posts it to ``POST /api/plans``, the one path of a plan.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from chefbot.kitchen import calendar
from chefbot.kitchen.db import NotFound
from chefbot.serve.routes_kitchen import Kitchen, RowId
from chefbot.serve.schemas_calendar import (
    ISO_WEEK,
    CalendarEntry,
    CalendarEntryCreate,
    CalendarEntryDeleted,
    CalendarEntryMove,
    CalendarPlanForm,
    CalendarShoppingList,
    CalendarWeek,
    CalendarWeekList,
    Day,
    Meal,
    calendar_errors,
)
from chefbot.serve.schemas_kitchen import STORAGE

router = APIRouter(prefix="/api/calendar", tags=["kitchen"])
Week = Annotated[str | None, Query(pattern=ISO_WEEK, description="an ISO week, YYYY-Www; default: this week")]


def _week(week: str | None) -> str:
    return week or calendar.week_of(dt.date.today())


@router.get("", response_model=CalendarWeek, responses=calendar_errors(400, 422, 500, *STORAGE))
def get_week(kitchen: Kitchen, week: Week = None) -> CalendarWeek:
    """The week by day and meal (Monday first; breakfast, lunch, dinner, then your own meals)."""
    return CalendarWeek.model_validate(calendar.get_week(kitchen.db, _week(week)))


@router.post(
    "",
    status_code=201,
    response_model=CalendarEntry,
    responses={201: {"description": "the entry"}, **calendar_errors(400, 404, 413, 422, 500, *STORAGE)},
)
def add_entry(req: CalendarEntryCreate, kitchen: Kitchen) -> CalendarEntry:
    """Put a library recipe on a day's meal."""
    return CalendarEntry.model_validate(calendar.add_entry(kitchen.db, req.date, req.meal, req.recipe_id, req.servings))


@router.patch(
    "/{entry_id:int}", response_model=CalendarEntry, responses=calendar_errors(400, 404, 413, 422, 500, *STORAGE)
)
def move_entry(req: CalendarEntryMove, entry_id: RowId, kitchen: Kitchen) -> CalendarEntry:
    """Move an entry to another day or meal, or change its servings."""
    return CalendarEntry.model_validate(calendar.move_entry(kitchen.db, entry_id, req.date, req.meal, req.servings))


@router.delete("/{entry_id:int}", response_model=CalendarEntryDeleted, responses=calendar_errors(404, 422, *STORAGE))
def remove_entry(entry_id: RowId, kitchen: Kitchen) -> CalendarEntryDeleted:
    if not calendar.remove_entry(kitchen.db, entry_id):
        raise NotFound("calendar entry", entry_id, "entry_id")
    return CalendarEntryDeleted(id=entry_id, object="calendar_entry", deleted=True)


@router.post(
    "/shopping-list",
    status_code=201,
    response_model=CalendarShoppingList,
    responses={
        201: {"description": "the week's saved shopping list, and the entries it left out"},
        **calendar_errors(400, 413, 422, 500, *STORAGE),
    },
)
def week_list(kitchen: Kitchen, week: Week = None, req: CalendarWeekList | None = None) -> CalendarShoppingList:
    """Save the week's shopping list: every library recipe of the week at its servings, merged."""
    title = req.title if req else None
    return CalendarShoppingList.model_validate(calendar.week_list(kitchen.db, _week(week), title))


@router.get("/plan-form", response_model=CalendarPlanForm, responses=calendar_errors(400, 404, 422, 500, *STORAGE))
def plan_form(
    kitchen: Kitchen,
    date: Annotated[Day, Query(description="the day, YYYY-MM-DD")],
    meal: Annotated[Meal, Query(description="default: dinner")] = "dinner",
) -> CalendarPlanForm:
    """A day's meal as the multi-cook planner's form (POST /api/plans): the planner page opens it."""
    return CalendarPlanForm.model_validate(calendar.plan_form(kitchen.db, date, meal))
