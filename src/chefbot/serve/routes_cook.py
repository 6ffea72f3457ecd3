"""``POST /api/recipes/{id}/cook``: cook one library recipe in cook mode ("Cook this" on the library page).

One path with a meal: the recipe becomes a plan form of one recipe and one cook, planned by the planner of
``POST /api/plans`` (``routes_kitchen.plan_form``) and saved as a plan, so cook mode, its progress, its
re-planning, its amounts per step and its locks work the same for one recipe as for a dinner.

Without ``serve_at`` the cook starts now: the form is planned once undated to learn the shortest time the
recipe takes (the makespan), then for today, ready that many minutes (and one more, the minute that may turn
while it is planned) from now, so the first step starts within a minute or two. The cook's skill defaults to
5: whoever cooks alone does every step (the planner refuses a step above every cook's skill).
"""

from __future__ import annotations

import asyncio
import datetime as dt

from fastapi import APIRouter, Request
from pydantic import Field

from chefbot.kitchen import library, plans
from chefbot.kitchen.db import NotFound
from chefbot.serve.deps import Server
from chefbot.serve.routes_kitchen import Kitchen, RowId, plan_form
from chefbot.serve.schemas import Int, semantic_400
from chefbot.serve.schemas_kitchen import SERVE_AT, STORAGE, KitchenRequest, Name, PlanRecord, Servings, kitchen_errors

router = APIRouter(prefix="/api", tags=["kitchen"])
SLACK_MIN = 1  # the clock may turn a minute between the two solves; the planner refuses a plan with no room


class CookCreate(KitchenRequest):
    servings: Servings | None = Field(None, description="default: the recipe's own; the amounts shown are scaled")
    cook: Name = Field("Cook", description="who cooks: cook mode's name for them")
    skill: Int(ge=1, le=5) = Field(5, description="the cook's skill (1..5); alone, a cook does every step")
    serve_at: str | None = Field(
        None, pattern=SERVE_AT, description="HH:MM or YYYY-MM-DD HH:MM; default: start now, ready when it can be"
    )


@router.post(
    "/recipes/{recipe_id:int}/cook",
    status_code=201,
    response_model=PlanRecord,
    responses={
        201: {"description": "the saved one-recipe plan (open /cook?plan=ID&cook=NAME)"},
        **semantic_400("plan_create"),
        **kitchen_errors(404, 413, 422, 429, 500, 504, *STORAGE),
    },
)
async def cook_recipe(
    recipe_id: RowId, req: CookCreate, request: Request, state: Server, kitchen: Kitchen
) -> PlanRecord:
    """Plan one library recipe for one cook and save it as a plan for cook mode."""
    recipe = await asyncio.to_thread(library.get_recipe, kitchen.db, recipe_id)
    if recipe is None:
        raise NotFound("recipe", recipe_id, "recipe_id")
    form: dict = {
        "title": recipe["title"],
        "recipes": [{"recipe_id": recipe_id, "servings": req.servings or recipe["base_servings"]}],
        "cooks": [{"name": req.cook, "skill": req.skill}],
    }
    if req.serve_at:
        form["serve_at"] = req.serve_at
    else:
        timeline = await plan_form({**form, "serve_at": "12:00"}, request, state, kitchen)  # undated: any day
        ready = dt.datetime.now().replace(second=0, microsecond=0) + dt.timedelta(
            minutes=1 + timeline["makespan_min"] + SLACK_MIN
        )
        form |= {"serve_at": ready.strftime("%H:%M"), "date": ready.date().isoformat()}
    result = await plan_form(form, request, state, kitchen)
    return PlanRecord.model_validate(await asyncio.to_thread(plans.save_plan, kitchen.db, form, result))
