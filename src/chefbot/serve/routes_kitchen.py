"""``/api/*``: the kitchen API (recipe library, scaling, shopping lists, meal plans, cook mode progress,
blind tastings), for the web pages and for scripts.  docs/KITCHEN.md is its manual.

The work lives in ``chefbot.kitchen`` (SQLite, one transaction per write) and
``chefbot.cooking`` (quantities, aisles); this is the HTTP side: validation by the schemas of
``schemas_kitchen.py``, the kitchen's refusals mapped to the error envelope (unknown id 404,
a recipe or plan the kitchen refuses 400 with a code, a second vote 409), the planner run
off the event loop with the server's time limits, and tasting answers generated through
the server's queue (or a configured endpoint) like every other answer.

The database opens on the first ``/api`` request (``KitchenStore``), so a server or a test
that never uses the kitchen never creates a file; ``create_app`` closes it at shutdown.
Storage faults are the kitchen's ``StorageError``: 507 for a full disk, 503 for a DB that is
read-only, locked, failing or damaged, with SQLite's cause in the message (rendered by
``api_errors.install_storage_error_handler``); a stored row this version cannot read is left
out of a list (``unreadable``) and is a 500 ``unreadable_row`` naming its field when asked for alone.
"""

from __future__ import annotations

import asyncio
import random
import threading

from fastapi import APIRouter, Path, Query, Request

from chefbot.cooking.recipe_constraints import RecipeConstraints
from chefbot.errors import ChefbotError
from chefbot.generate.completion import ChatPrompt
from chefbot.generate.openai_compat import OpenAIGenerator
from chefbot.kitchen import library, plans, shopping, tastings
from chefbot.kitchen.db import (
    KitchenDB,
    KitchenError,
    NotFound,
    StorageError,
    UnreadableRow,
    resolve_db_path,
)
from chefbot.serve.api_errors import ApiError
from chefbot.serve.recipes import check_constraints, recipe_messages
from chefbot.serve.schemas import EXACT_INT, semantic_400
from chefbot.serve.schemas_kitchen import (
    STORAGE,
    Deleted,
    PairCreate,
    PlanCreate,
    PlanList,
    PlanRecord,
    ProgressCreate,
    Recipe,
    RecipeCreate,
    RecipeList,
    ShoppingList,
    ShoppingRequest,
    Tasting,
    TastingCreate,
    TastingPair,
    TastingSide,
    TastingSummary,
    kitchen_errors,
)
from chefbot.serve.state import ServerState

from chefbot.serve.routes_plan import plan_in_slot, planner_installed



def row_id() -> object:
    """A path id (a new object per route: FastAPI names the parameter on it)."""
    return Path(ge=1, le=EXACT_INT, description="the row's id")

PLAN_TIME_LIMIT_S = 5.0  # the solver's time for a plan made by form (capped by serve.plan_time_limit_s)


class KitchenStore:
    """The kitchen DB of this server, opened once on first use (thread-safe)."""

    def __init__(self, path: str | None) -> None:
        self.configured = path
        self._db: KitchenDB | None = None
        self._lock = threading.Lock()

    @property
    def db(self) -> KitchenDB:
        with self._lock:
            if self._db is None:
                try:
                    self._db = KitchenDB(resolve_db_path(self.configured))
                except StorageError:
                    raise  # 503/507 with the cause (api_errors.install_storage_error_handler)
                except ChefbotError as e:  # a newer schema, not a kitchen DB: unavailable here
                    raise ApiError(503, str(e), "server_error", code="kitchen_db") from None
            return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def refusal(e: KitchenError) -> ApiError:
    """A kitchen error in the envelope: not found 404, a second vote 409, storage 503/507, a stored row that cannot
    be read 500, anything else the kitchen refuses 400."""
    if isinstance(e, StorageError):
        return ApiError(e.status, str(e), "server_error", code=e.code)
    if isinstance(e, UnreadableRow):
        return ApiError(500, str(e), "server_error", param=e.field, code="unreadable_row")
    if isinstance(e, tastings.VoteError):
        return ApiError(400, str(e), param=e.field, code="bad_vote")
    if isinstance(e, NotFound):
        return ApiError(404, str(e), param=e.field, code=f"{e.what.replace(' ', '_')}_not_found")
    if isinstance(e, tastings.AlreadyVoted):
        return ApiError(409, str(e), param="rater", code="already_voted")
    if isinstance(e, plans.ProgressError):
        return ApiError(400, str(e), param=e.field, code=e.code)
    return ApiError(400, str(e), code="kitchen_error")


def kitchen_router(state: ServerState, store: KitchenStore) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["kitchen"])
    cfg = state.cfg
    remote: dict[str, OpenAIGenerator] = {}

    def not_found(what: str, ident: int, field: str) -> ApiError:
        return refusal(NotFound(what, ident, field))

    # -- recipes ---------------------------------------------------------------------------------
    @router.post("/recipes", status_code=201, response_model=None, responses={
        201: {"model": Recipe, "description": "the saved recipe"}, **semantic_400("recipe_create"),
        **kitchen_errors(413, 422, *STORAGE)})
    def create_recipe(req: RecipeCreate) -> dict:
        """Save a recipe given as text (chefbot's format or a RecipeNLG row) or as fields."""
        source = req.source.model_dump(exclude_none=True) if req.source else {"kind": "pasted" if req.text else "manual"}
        if source.get("kind") == "generated":  # what wrote it, unless the client said
            adapter = state.identity.get("adapter") or {}
            source.setdefault("model", state.name)
            source.setdefault("base_model", state.identity.get("base_model"))
            if adapter:
                source.setdefault("adapter", adapter.get("path"))
                source.setdefault("adapter_sha256", adapter.get("sha256"))
        try:
            if req.text is not None:
                found = library.recipes_from_text(req.text, req.format)
                if len(found) != 1:
                    raise library.RecipeError(f"the text holds {len(found)} recipes; post one at a time "
                                              "(`chefbot library add FILE` saves many)")
                title, ingredients, directions = found[0]["title"], found[0]["ingredients"], found[0]["directions"]
            else:
                title, ingredients, directions = req.title, req.ingredients or [], req.directions or []
            return library.save_recipe(store.db, title, ingredients, directions, req.servings or 4, source)
        except library.RecipeError as e:
            raise ApiError(400, str(e), param=e.field, code="bad_recipe") from None

    @router.get("/recipes", response_model=None, responses={200: {"model": RecipeList}, **kitchen_errors(422, *STORAGE)})
    def list_recipes(q: str | None = Query(None, max_length=200, description="words to find in the title or ingredients"),
                     limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=EXACT_INT)) -> dict:
        """Search the library (every word of q in the title or an ingredient line), newest first."""
        return library.search_recipes(store.db, q, limit, offset)

    @router.get("/recipes/{recipe_id}", response_model=None, responses={
        200: {"model": Recipe, "description": "the recipe, ingredient lines scaled to `servings`"},
        **kitchen_errors(404, 422, 500, *STORAGE)})
    def get_recipe(recipe_id: int = row_id(),
                   servings: int | None = Query(None, ge=1, le=100, description="scale the ingredients to this many")) -> dict:
        try:
            recipe = library.get_recipe(store.db, recipe_id, servings)
        except KitchenError as e:
            raise refusal(e) from None
        if recipe is None:
            raise not_found("recipe", recipe_id, "recipe_id")
        return recipe

    @router.delete("/recipes/{recipe_id}", response_model=None, responses={
        200: {"model": Deleted}, **kitchen_errors(404, 422, *STORAGE)})
    def delete_recipe(recipe_id: int = row_id()) -> dict:
        if not library.delete_recipe(store.db, recipe_id):
            raise not_found("recipe", recipe_id, "recipe_id")
        return {"id": recipe_id, "object": "recipe", "deleted": True}

    @router.post("/shopping-list", response_model=None, responses={
        200: {"model": ShoppingList, "description": "merged by ingredient, grouped by aisle, pantry staples apart"},
        **semantic_400("shopping"), **kitchen_errors(404, 413, 422, 500, *STORAGE)})
    def shopping_list(req: ShoppingRequest) -> dict:
        try:
            return shopping.shopping_list(store.db, [(i.recipe_id, i.servings) for i in req.items])
        except KitchenError as e:
            raise refusal(e) from None

    # -- plans -----------------------------------------------------------------------------------
    @router.post("/plans", status_code=201, response_model=None, responses={
        201: {"model": PlanRecord, "description": "the saved plan: Gantt page, each cook's list, live schedule"},
        **semantic_400("plan_create"), **kitchen_errors(404, 413, 422, 429, 500, 503, 504, 507)})
    async def create_plan(req: PlanCreate, request: Request) -> dict:
        """Plan a meal from library recipes (the planner of POST /v1/plan) and save it."""
        if not planner_installed():
            raise ApiError(503, "the meal planner is not installed (pip install ortools)", "server_error",
                           code="planner_missing")
        form = req.model_dump(exclude_none=True)
        try:
            spec = await asyncio.to_thread(plans.meal_spec, store.db, form)
        except KitchenError as e:
            raise refusal(e) from None
        cap = cfg.serve.plan_time_limit_s
        spec["solver"] = {"time_limit_s": min(PLAN_TIME_LIMIT_S, cap), "explain_time_limit_s": min(2.0, cap),
                          "workers": cfg.serve.plan_workers}
        result = await plan_in_slot(state, spec, request)  # admitted like generation; stopped when given up
        return await asyncio.to_thread(plans.save_plan, store.db, form, result)

    @router.get("/plans", response_model=None, responses={200: {"model": PlanList}, **kitchen_errors(422, *STORAGE)})
    def list_plans(limit: int = Query(50, ge=1, le=500, description="the newest this many")) -> dict:
        return plans.list_plans(store.db, limit)

    @router.get("/plans/{plan_id}", response_model=None, responses={
        200: {"model": PlanRecord}, **kitchen_errors(404, 422, 500, *STORAGE)})
    def get_plan(plan_id: int = row_id()) -> dict:
        try:
            plan = plans.get_plan(store.db, plan_id)
        except KitchenError as e:
            raise refusal(e) from None
        if plan is None:
            raise not_found("plan", plan_id, "plan_id")
        return plan

    @router.post("/plans/{plan_id}/progress", response_model=None, responses={
        200: {"model": PlanRecord, "description": "the plan as it now stands (what is left re-planned)"},
        **semantic_400("progress"), **kitchen_errors(404, 413, 422, 500, *STORAGE)})
    def progress(req: ProgressCreate, plan_id: int = row_id()) -> dict:
        """Mark a task started or done; a late one pushes what waits for it (docs/KITCHEN.md)."""
        try:
            return plans.record_progress(store.db, plan_id, req.cook, req.task_id, req.status, req.at)
        except KitchenError as e:
            raise refusal(e) from None

    # -- tastings --------------------------------------------------------------------------------
    def check_side(side: TastingSide, where: str) -> None:
        if side.model != "served" and side.model not in cfg.kitchen.tasting_models:
            known = ", ".join(["served", *cfg.kitchen.tasting_models])
            raise ApiError(400, f"{where}.model: {side.model!r} is not a tasting model here (choose {known}; "
                                "kitchen.tasting_models)", param=f"{where}.model", code="unknown_tasting_model")

    async def answer(side: TastingSide, where: str, prompt: ChatPrompt) -> str:
        settings = state.settings_for(side.max_tokens, side.temperature, seed=side.seed)
        if side.model == "served":
            return (await state.complete(prompt, settings)).text
        spec = cfg.kitchen.tasting_models[side.model]
        gen = remote.get(side.model)
        if gen is None:
            gen = remote[side.model] = OpenAIGenerator(base_url=spec.endpoint, model=spec.model, gen_cfg=state.gen_cfg,
                                                       concurrency=1, cache_dir=None, retries=1)
        try:
            out = await asyncio.wait_for(asyncio.to_thread(gen.generate, [prompt.messages], settings),
                                         cfg.serve.request_timeout_s)
        except TimeoutError:
            raise ApiError(504, f"{where}: no answer within {cfg.serve.request_timeout_s:g} s", "timeout",
                           code="timeout") from None
        except ChefbotError as e:
            raise ApiError(502, f"{where}: {e}", "server_error", param=f"{where}.model", code="tasting_model_failed") from None
        return out[0].text

    @router.post("/tastings/pair", status_code=201, response_model=None, responses={
        201: {"model": TastingPair, "description": "two answers in random order, labelled A and B, sides hidden"},
        **semantic_400("tasting_pair"), **kitchen_errors(413, 422, 429, 500, 502, 504, *STORAGE)})
    async def tasting_pair(req: PairCreate) -> dict:
        """Generate two answers for the same ingredients for a blind tasting."""
        messages = recipe_messages(req.ingredients, RecipeConstraints(), cfg.prompt)
        prompt = state.check_size(messages)
        check_side(req.a, "a")
        check_side(req.b, "b")
        texts = await asyncio.gather(answer(req.a, "a", prompt), answer(req.b, "b", prompt))
        sides: list[tuple[dict, str]] = [(req.a.model_dump(exclude_none=True), texts[0]),
                                         (req.b.model_dump(exclude_none=True), texts[1])]
        if random.SystemRandom().random() < 0.5:
            sides.reverse()
        pid = await asyncio.to_thread(tastings.save_pair, store.db, req.ingredients, sides[0][0], sides[1][0],
                                      sides[0][1], sides[1][1])
        return {"pair_id": pid, "object": "tasting_pair", "ingredients": req.ingredients,
                "answers": [{"label": label, "text": text, "recipe": check_constraints(text, RecipeConstraints())["recipe"]}
                            for label, (_side, text) in zip("AB", sides)]}

    @router.post("/tastings", status_code=201, response_model=None, responses={
        201: {"model": Tasting, "description": "the vote, with the sides revealed"}, **semantic_400("tasting_vote"),
        **kitchen_errors(404, 409, 413, 422, *STORAGE)})
    def tasting_vote(req: TastingCreate) -> dict:
        try:
            return tastings.vote(store.db, req.pair_id, req.choice, req.rater.strip(), req.note)
        except KitchenError as e:
            raise refusal(e) from None

    @router.get("/tastings/summary", response_model=None, responses={200: {"model": TastingSummary},
                                                                     **kitchen_errors(*STORAGE)})
    def tasting_summary() -> dict:
        """Wins per comparison, overall and per rater (intervals: `chefbot eval tastings`)."""
        unreadable: list[dict] = []
        out = tastings.tally(tastings.votes(store.db, unreadable))
        if unreadable:
            out["unreadable"] = unreadable
        return out

    return router

