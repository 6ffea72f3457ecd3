"""``POST /v1/plan``: the meal planner (``chefbot.plan.api.plan_meal_dict``) over HTTP.

Mounted only when the planner can be imported (its solver, OR-Tools, is an optional
install); ``plan_router()`` is then None and ``/health`` reports ``features.plan: false``.
A meal spec as JSON in, the timeline and an HTML page out; a bad spec is 400.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from chefbot.errors import ChefbotError
from chefbot.serve.api_errors import ApiError

try:
    from chefbot.plan.api import plan_meal_dict
except ImportError:  # the planner is not installed
    plan_meal_dict = None


def plan_router() -> APIRouter | None:
    if plan_meal_dict is None:
        return None
    router = APIRouter()

    @router.post("/v1/plan")
    async def plan(request: Request):
        try:
            data = await request.json()
        except ValueError:
            raise ApiError(422, "body is not valid JSON", param="body", code="json_invalid") from None
        if not isinstance(data, dict):
            raise ApiError(422, "body: expected a JSON object (the meal spec)", param="body")
        try:
            # CP-SAT is CPU work: keep it off the event loop so streams keep flowing.
            return await run_in_threadpool(plan_meal_dict, data)
        except ChefbotError as e:
            raise ApiError(400, str(e), code="bad_meal_spec") from None

    return router
