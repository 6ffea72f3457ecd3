"""Request and response shapes of the meal calendar (``routes_calendar.py``, docs/KITCHEN.md "Meal calendar"), by
the rules of ``schemas_kitchen.py``: strict types, unknown fields refused, every limit in the schema."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from chefbot.kitchen.calendar import MAX_MEAL
from chefbot.kitchen.rows import VISIBLE, Servings, Title
from chefbot.serve.schemas import SEMANTIC, ErrorResponse, ValidationErrorResponse
from chefbot.serve.schemas_kitchen import DATE, KITCHEN_ERRORS, Id, KitchenRequest
from chefbot.serve.schemas_shopping import SavedShoppingList

ISO_WEEK = r"^[0-9]{4}-W[0-9]{2}$"
Meal = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_MEAL,
        pattern=VISIBLE,
        description="breakfast, lunch, dinner (any case) or a meal of your own",
    ),
]
Day = Annotated[str, Field(pattern=DATE, description="YYYY-MM-DD")]


class CalendarEntryCreate(KitchenRequest):
    date: Day
    meal: Meal
    recipe_id: Id
    servings: Servings | None = Field(None, description="default: the recipe's own")


class CalendarEntryMove(KitchenRequest):
    """What changes: another day, another meal, other servings (at least one: the schema says so too)."""

    model_config = {**KitchenRequest.model_config, "json_schema_extra": {"minProperties": 1}}

    date: Day = None  # not nullable in the schema: leave a field out to keep it
    meal: Meal = None
    servings: Servings = None

    @model_validator(mode="after")
    def _something(self) -> CalendarEntryMove:
        if self.date is None and self.meal is None and self.servings is None:
            raise ValueError("give date, meal or servings: what the entry moves to")
        return self


class CalendarWeekList(KitchenRequest):
    title: Title | None = Field(None, description='default: "Week" and the ISO week with its dates')


class CalendarEntry(BaseModel):
    id: int
    object: Literal["calendar_entry"]
    date: str
    meal: str
    recipe_id: int | None = Field(description="null when the recipe was deleted from the library")
    title: str = Field(description="the recipe's title (when deleted: the title it was put on the calendar with)")
    servings: int
    in_library: bool
    note: str | None = Field(description='"... is no longer in the library", or null')
    created_at: str
    updated_at: str


class CalendarMeal(BaseModel):
    meal: str
    entries: list[CalendarEntry]


class CalendarDay(BaseModel):
    date: str
    weekday: str
    meals: list[CalendarMeal] = Field(description="breakfast, lunch, dinner, then your own meals, those with entries")


class CalendarWeek(BaseModel):
    object: Literal["calendar_week"]
    week: str = Field(description="the ISO week, YYYY-Www")
    start: str = Field(description="its Monday")
    end: str = Field(description="its Sunday")
    previous: str | None = Field(description="the week before (null before year 1)")
    next: str | None = Field(description="the week after (null after year 9999)")
    days: list[CalendarDay] = Field(min_length=7, max_length=7)
    total: int
    left_library: int = Field(description="entries whose recipe was deleted from the library")


class CalendarEntryDeleted(BaseModel):
    id: int
    object: Literal["calendar_entry"]
    deleted: Literal[True]


class CalendarShoppingList(BaseModel):
    object: Literal["calendar_shopping_list"]
    week: str
    shopping_list: SavedShoppingList = Field(description="the saved list (/api/shopping-lists/{id})")
    left_out: list[CalendarEntry] = Field(description="entries whose recipe is no longer in the library")


class PlanFormRecipe(BaseModel):
    recipe_id: int
    servings: int


class PlanForm(BaseModel):
    title: str
    date: str
    recipes: list[PlanFormRecipe]


class CalendarPlanForm(BaseModel):
    object: Literal["calendar_plan_form"]
    form: PlanForm = Field(description="POST /api/plans's title, date and recipes; add serve_at and the cooks")
    left_out: list[CalendarEntry]
    planner: str = Field(description="the planner page with this form filled in")


CALENDAR_ERRORS = {
    **KITCHEN_ERRORS,
    400: SEMANTIC
    + "the kitchen refuses it (error.code bad_calendar: a week that does not exist such as 2025-W53, a week "
    "with no library recipe for its list, a meal name with a control character); or a body that cannot be read",
    404: "no such row (error.code: calendar_entry_not_found, recipe_not_found); param names the field",
}


def calendar_errors(*statuses: int) -> dict[int | str, dict]:
    """The OpenAPI ``responses`` entries of these refusals, worded for the calendar."""
    return {
        s: {"model": ValidationErrorResponse if s == 422 else ErrorResponse, "description": CALENDAR_ERRORS[s]}
        for s in statuses
    }
