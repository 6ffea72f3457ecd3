"""``POST /v1/plan``: the meal planner (``chefbot.plan.api.plan_meal_dict``) over HTTP.

Mounted only when the planner can be imported (its solver, OR-Tools, is an optional
install); ``create_app`` then leaves ``router`` out and ``/health`` reports ``features.plan: false``.
A meal spec as JSON in (the body is required; its schema is ``MealSpec``'s), the timeline
and an HTML page out.  The spec is validated strictly (no ``"3"`` for 3, no ``0`` for
false), and anything wrong with it, by the schema or by the planner (a recipe with no
step to schedule, no feasible plan), is 400 naming the key.  The work is bounded and
admitted like generation: the meal's solver time limits are capped at
``serve.plan_time_limit_s`` and its ``solver.workers`` (CP-SAT threads) lowered to
``serve.plan_workers``; the solve runs in one of the scheduler's slots (``ServerState.run``:
429 with ``Retry-After`` when the queue is full), and a plan not ready within
``serve.request_timeout_s`` is 504 — its solver is stopped then (``plan.stop.PlanStop``), as it
is when the client leaves, so the slot is free again within moments.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from chefbot.errors import ChefbotError
from chefbot.serve.api_errors import ApiError, MealRefused
from chefbot.serve.deps import Server
from chefbot.serve.schemas import PlanResponse, error_responses, json_schema, semantic_400, whole_number
from chefbot.serve.state import ServerState

try:
    from chefbot.plan.api import plan_meal_dict
    from chefbot.plan.schema import MealSpec
    from chefbot.plan.stop import PlanStop
except ImportError:  # the planner is not installed
    plan_meal_dict = MealSpec = PlanStop = None

EXAMPLE = {
    "title": "Quick pasta",
    "serve_at": "19:00",
    "cooks": [{"name": "Alex", "skill": 3}],
    "recipes": [
        {
            "title": "Pasta",
            "ingredients": ["spaghetti", "salt"],
            "directions": ["Boil water in a pot.", "Cook the spaghetti for 10 minutes."],
        }
    ],
}
CLOCK_FIELDS = ("serve_at", "start_after")  # strings in the schema (the YAML reader also takes base-60 integers)

router = APIRouter()  # mounted by create_app only when planner_installed()


def _invalid(e: ValidationError) -> str:
    parts = []
    for err in e.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "(top level)"
        parts.append(f"{where}: {err['msg']}")
    return "meal spec: " + "; ".join(parts)


def _whole_numbers(value: object) -> object:
    """Every 3.0 in the spec as 3 (JSON Schema's integers include them; strict validation's do not)."""
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return whole_number(value)


def planner_installed() -> bool:
    return plan_meal_dict is not None


def _body_schema() -> dict:
    schema = json_schema(MealSpec) if planner_installed() else {"type": "object"}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "example": EXAMPLE}},
            "description": "the meal spec (docs/PLANNER.md): the YAML's structure as JSON",
        }
    }


async def meal_body(request: Request) -> dict:
    """The body as a JSON object, every 3.0 as 3.  Read by hand (FastAPI would validate leniently, and answer 422
    where the planner answers 400); what is not a JSON object is refused as FastAPI would, 422 through the same
    handler."""
    raw = await request.body()
    if not raw.strip():
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "give the meal spec as a JSON object"}]
        )
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error", "ctx": {"error": str(e)}}]
        ) from None
    if not isinstance(data, dict):
        raise RequestValidationError(
            [{"type": "dict_type", "loc": ("body",), "msg": "give the meal spec as a JSON object"}]
        )
    return _whole_numbers(data)


def strict_meal(data: dict) -> MealSpec:
    """The spec validated strictly (no "3" for 3, no 1 for true): what it refuses is 400 ``bad_meal_spec``."""
    for key in CLOCK_FIELDS:
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ApiError(
                400, f'meal spec: {key}: give a clock time as a string, e.g. "19:30"', param=key, code="bad_meal_spec"
            )
    try:
        return MealSpec.model_validate(data, strict=True)
    except ValidationError as e:
        raise ApiError(400, _invalid(e), code="bad_meal_spec") from None


# A plan's fields are the planner's (extra="allow"): returned as planned, the model checks them.
@router.post(
    "/v1/plan",
    response_model=PlanResponse,
    openapi_extra=_body_schema(),
    responses={
        200: {"description": "the plan: timeline, per-cook lists and an HTML page"},
        **semantic_400("plan"),
        **error_responses(413, 422, 429, 504),
    },
)
async def plan(request: Request, state: Server) -> PlanResponse:
    data = await meal_body(request)
    meal = strict_meal(data)
    serve = state.cfg.serve
    cap = serve.plan_time_limit_s
    solver = {
        **data.get("solver", {}),
        "time_limit_s": min(meal.solver.time_limit_s, cap),
        "explain_time_limit_s": min(meal.solver.explain_time_limit_s, cap),
        "workers": min(meal.solver.workers, serve.plan_workers),
    }
    return PlanResponse.model_validate(await plan_in_slot(state, {**data, "solver": solver}, request))


async def plan_in_slot(state: ServerState, spec: dict, request: Request) -> dict:
    """``plan_meal_dict(spec)`` as the server runs every plan (``/v1/plan``, ``POST /api/plans``): CP-SAT is CPU
    work, so in one of the scheduler's slots (a model thread, never the event loop; 429 when the queue is full,
    504 when late), and a 504 or a client that leaves stops the solver (``PlanStop.set``) and frees the slot.
    What the planner refuses is 400 ``bad_meal_spec`` (``MealRefused``: the planner's errors are plain
    ``ChefbotError``s, which only here mean the meal)."""
    stop = PlanStop()
    try:
        return await state.run(lambda: stop.run(plan_meal_dict, spec), cancel=stop.set, request=request)
    except ChefbotError as e:
        raise MealRefused(str(e)) from None
