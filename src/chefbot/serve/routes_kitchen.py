"""``/api/*``: the kitchen API (recipe library, scaling, shopping lists, meal plans, cook mode progress,
blind tastings, a person's ratings and notes), for the web pages and for scripts.  docs/KITCHEN.md is its manual.

The work lives in ``chefbot.kitchen`` (SQLite, one transaction per write) and
``chefbot.cooking`` (quantities, aisles); this is the HTTP side: validation by the schemas of
``schemas_kitchen.py``, answers built with its response models, the kitchen's refusals answered by
``api_errors.ERROR_STATUS`` (unknown id 404, a recipe or plan the kitchen refuses 400 with a code, a
vote on a revealed pair 409, a rating or note by nobody 403), the planner run
off the event loop with the server's time limits, and tasting answers generated through
the server's queue (or a configured endpoint) like every other answer.  A tasting's ``base`` side is this
server's base model without its adapter (``AnswersAsBase``: no second server), through the same queue, unless
``kitchen.tasting_models`` names a ``base`` of its own; ``GET /api/tastings/sides`` says which, and the page's
default pairing (served vs base, or served at two temperatures when there is no base to ask).

The database opens on the first ``/api`` request (``KitchenStore``, on ``app.state.kitchen``: the
``Kitchen`` dependency), so a server or a test that never uses the kitchen never creates a file;
``create_app`` closes it at shutdown.
Storage faults are the kitchen's ``StorageError``: 507 for a full disk, 503 for a DB that is
read-only, locked, failing or damaged, with SQLite's cause in the message; a stored row this version cannot read is left
out of a list (``unreadable``) and is a 500 ``unreadable_row`` naming its field when asked for alone.
"""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from chefbot.cooking.recipe_constraints import RecipeConstraints
from chefbot.errors import ChefbotError
from chefbot.generate.completion import AnswersAsBase, ChatPrompt, Completion
from chefbot.generate.openai_compat import OpenAIGenerator
from chefbot.kitchen import library, photos, plans, ratings, schema_org, shopping, tastings
from chefbot.kitchen.db import KitchenDB, NotFound, StorageError, resolve_db_path
from chefbot.kitchen.people import Principal
from chefbot.recipe_format import Recipe
from chefbot.serve.api_errors import ApiError, KitchenUnavailable, TastingModelFailed
from chefbot.serve.deps import Caller, Server, require_person
from chefbot.serve.recipes import check_constraints, recipe_messages
from chefbot.serve.routes_plan import plan_in_slot, planner_installed
from chefbot.serve.schemas import EXACT_INT, ErrorResponse, semantic_400
from chefbot.serve.schemas_kitchen import (
    STORAGE,
    Deleted,
    NoteCreate,
    NoteDeleted,
    PairCreate,
    PlanCreate,
    PlanList,
    PlanRecord,
    ProgressCreate,
    RatingSet,
    RecipeCreate,
    RecipeList,
    RecipeNote,
    RecipeNoteList,
    RecipeRating,
    RecipeUpdate,
    RecipeVersionList,
    SavedRecipe,
    ShoppingList,
    ShoppingRequest,
    Tasting,
    TastingCreate,
    TastingPair,
    TastingReveal,
    TastingSide,
    TastingSides,
    TastingSummary,
    kitchen_errors,
)
from chefbot.serve.state import ServerState

PLAN_TIME_LIMIT_S = 5.0  # the solver's time for a plan made by form (capped by serve.plan_time_limit_s)


class KitchenStore:
    """The kitchen DB of this server, opened once on first use (thread-safe), and the tasting models' clients."""

    def __init__(self, path: str | None) -> None:
        self.configured = path
        self._db: KitchenDB | None = None
        self._lock = threading.Lock()
        self.remote: dict[str, OpenAIGenerator] = {}  # kitchen.tasting_models by name, made on first use

    @property
    def db(self) -> KitchenDB:
        with self._lock:
            if self._db is None:
                try:
                    self._db = KitchenDB(resolve_db_path(self.configured))
                except StorageError:
                    raise  # 503/507 with the cause (api_errors.ERROR_STATUS)
                except ChefbotError as e:  # a newer schema, not a kitchen DB: unavailable here
                    raise KitchenUnavailable(str(e)) from None
            return self._db

    def existing(self) -> KitchenDB | None:
        """The DB when its file exists or it is open; None otherwise, creating nothing (no file: no accounts)."""
        if self._db is None and not resolve_db_path(self.configured).exists():
            return None
        return self.db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def get_kitchen(request: Request) -> KitchenStore:
    return request.app.state.kitchen


# The store, not its DB: the DB opens in the route, after the request was validated (a bad request is a 422
# even when the DB is unavailable).
Kitchen = Annotated[KitchenStore, Depends(get_kitchen)]
RowId = Annotated[int, Path(ge=1, le=EXACT_INT, description="the row's id")]

router = APIRouter(prefix="/api", tags=["kitchen"])


# -- recipes ---------------------------------------------------------------------------------
def recipe_source(req: RecipeCreate, state: ServerState, imported: dict | None = None) -> dict:
    """Where a posted recipe comes from (``imported``: what an import read); a generated one names what wrote
    it, unless the client said."""
    if req.source:
        source = req.source.model_dump(exclude_none=True)
    else:
        source = imported or {"kind": "pasted" if req.text else "manual"}
    if source.get("kind") == "generated":
        adapter = state.identity.get("adapter") or {}
        source.setdefault("model", state.name)
        source.setdefault("base_model", state.identity.get("base_model"))
        if adapter:
            source.setdefault("adapter", adapter.get("path"))
            source.setdefault("adapter_sha256", adapter.get("sha256"))
    return source


def _one(found: list, what: str) -> Any:
    if len(found) != 1:
        raise library.RecipeError(
            f"the {what} holds {len(found)} recipes; post one at a time (`chefbot library add FILE` or "
            "`chefbot library import FILE` saves many)"
        )
    return found[0]


def recipe_parts(req: RecipeCreate) -> tuple[Recipe, dict | None, tuple[list[str], str | None]]:
    """The recipe (exactly one) from the text, the fields, the JSON-LD or the page, and, for an import, the
    ``source`` it read (format, page, declared time); its tags and category: the request's, else what an import
    read (``library.imported_labels``: a keyword no tag can hold is left out)."""
    if req.jsonld is not None or req.html is not None:
        form = "jsonld" if req.jsonld is not None else "html"
        try:
            if req.jsonld is not None:
                found = schema_org.recipes_from_json(req.jsonld, "jsonld")
            else:
                found = schema_org.recipes_from_html(req.html, req.url, "html")
        except library.RecipeError as e:
            field = e.field if e.field.startswith(form) else f"{form}.{e.field}"
            raise library.RecipeError(str(e), field) from None
        imported = _one(found, form)
        tags, category, _ = library.imported_labels(imported.keywords, imported.categories)
        labels = (req.tags if req.tags is not None else tags, req.category if req.category is not None else category)
        return imported.recipe, imported.source(), labels
    labels = (req.tags, req.category)
    if req.text is None:
        return Recipe(title=req.title, ingredients=req.ingredients or [], directions=req.directions or []), None, labels
    return _one(library.read_recipes(req.text, req.format), "text"), None, labels


@router.post(
    "/recipes",
    status_code=201,
    response_model=SavedRecipe,
    responses={
        201: {"description": "the saved recipe"},
        **semantic_400("recipe_create"),
        **kitchen_errors(413, 422, *STORAGE),
    },
)
def create_recipe(req: RecipeCreate, state: Server, kitchen: Kitchen) -> SavedRecipe:
    """Save a recipe given as text (chefbot's format or a RecipeNLG row), as fields, as schema.org JSON-LD
    (or a Mealie / Tandoor recipe JSON) or as a saved web page."""
    recipe, imported, (tags, category) = recipe_parts(req)
    servings = req.servings or recipe.servings or 4
    return SavedRecipe.model_validate(
        library.save_recipe(
            kitchen.db,
            recipe.title,
            recipe.ingredients,
            recipe.directions,
            servings,
            recipe_source(req, state, imported),
            tags,
            category,
        )
    )


@router.get(
    "/library/jsonld",
    responses={
        200: {"description": "the library as schema.org JSON-LD (an @graph of Recipes)"},
        **kitchen_errors(*STORAGE),
    },
)
def library_jsonld(request: Request, kitchen: Kitchen) -> dict:
    """Every readable recipe of the library as schema.org Recipe JSON-LD, each with its page's address."""
    saved = photos.with_photo(kitchen.db, library.saved_recipes(kitchen.db))
    return schema_org.library_jsonld(saved, str(request.base_url))


# `unreadable` is in a list only when some rows could not be read: unset fields stay out of the answer.
@router.get(
    "/recipes",
    response_model=RecipeList,
    response_model_exclude_unset=True,
    responses={**semantic_400("recipe_filter"), **kitchen_errors(422, *STORAGE)},
)
def list_recipes(
    kitchen: Kitchen,
    caller: Caller,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="words to find in the title, ingredients, directions or tags (full-text: stemmed, each "
            "word a prefix; FTS syntax in it is only text)",
        ),
    ] = None,
    tag: Annotated[str | None, Query(max_length=80, description="only recipes with this tag")] = None,
    category: Annotated[str | None, Query(max_length=120, description="only recipes in this category")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=EXACT_INT)] = 0,
    sort: Annotated[
        Literal["rating"] | None,
        Query(description="rating: the household's best-rated first (mean stars, then count; unrated last)"),
    ] = None,
) -> RecipeList:
    """Search the library: every word of q (best match first; without q, newest first, or best-rated first), by tag
    and category; each recipe with the household's mean rating and count and the caller's own."""
    found = library.search_recipes(kitchen.db, q, limit, offset, tag, category, sort)
    stars = ratings.summaries(kitchen.db, [r["id"] for r in found["data"]], caller.person_id)
    found["data"] = photos.with_photo(kitchen.db, [{**r, **stars[r["id"]]} for r in found["data"]])
    return RecipeList.model_validate(found)


def rated(kitchen: KitchenStore, recipe: dict, caller: Principal) -> SavedRecipe:
    """The recipe as the API shows it: with its ratings (the household's mean and count, the caller's own) and its
    picture (kitchen.photos)."""
    shown = photos.with_photo(kitchen.db, [recipe])[0]
    return SavedRecipe.model_validate({**shown, **ratings.summary(kitchen.db, recipe["id"], caller.person_id)})


@router.get(
    "/recipes/{recipe_id:int}",
    response_model=SavedRecipe,
    responses={
        200: {"description": "the recipe, ingredient lines scaled to `servings`"},
        **kitchen_errors(404, 422, 500, *STORAGE),
    },
)
def get_recipe(
    recipe_id: RowId,
    kitchen: Kitchen,
    caller: Caller,
    servings: Annotated[int | None, Query(ge=1, le=100, description="scale the ingredients to this many")] = None,
) -> SavedRecipe:
    recipe = library.get_recipe(kitchen.db, recipe_id, servings)
    if recipe is None:
        raise NotFound("recipe", recipe_id, "recipe_id")
    return rated(kitchen, recipe, caller)


@router.put(
    "/recipes/{recipe_id:int}",
    response_model=SavedRecipe,
    responses={
        200: {"description": "the recipe at its new version (the one it replaced is kept in its versions)"},
        **semantic_400("recipe_update"),
        **kitchen_errors(404, 409, 413, 422, 500, *STORAGE),
    },
)
def update_recipe(req: RecipeUpdate, recipe_id: RowId, kitchen: Kitchen, caller: Caller) -> SavedRecipe:
    """Edit every field of a recipe; ``version`` is the one you read (edited since: 409 stale_version)."""
    return rated(
        kitchen,
        library.update_recipe(
            kitchen.db,
            recipe_id,
            req.version,
            req.title,
            req.ingredients,
            req.directions,
            req.servings,
            req.tags,
            req.category,
        ),
        caller,
    )


@router.get(
    "/recipes/{recipe_id:int}/versions",
    response_model=RecipeVersionList,
    response_model_exclude_unset=True,
    responses=kitchen_errors(404, 422, *STORAGE),
)
def recipe_versions(recipe_id: RowId, kitchen: Kitchen) -> RecipeVersionList:
    """The recipe's previous versions, newest first."""
    return RecipeVersionList.model_validate(library.recipe_versions(kitchen.db, recipe_id))


@router.post(
    "/recipes/{recipe_id:int}/versions/{version:int}/restore",
    response_model=SavedRecipe,
    responses={
        200: {"description": "the recipe with that version's fields, as its new version"},
        **kitchen_errors(404, 422, 500, *STORAGE),
    },
)
def restore_recipe_version(
    recipe_id: RowId,
    version: Annotated[int, Path(ge=1, le=EXACT_INT, description="a previous version's number")],
    kitchen: Kitchen,
    caller: Caller,
) -> SavedRecipe:
    """Make a previous version the recipe's newest (the version it replaces is kept too: nothing is lost)."""
    return rated(kitchen, library.restore_version(kitchen.db, recipe_id, version), caller)


# -- ratings and notes (kitchen.ratings): a person's own -----------------------------------------------------
RATINGS_ARE_PERSONAL = "ratings and notes belong to a person"
NoteId = Annotated[int, Path(ge=1, le=EXACT_INT, description="the note's id")]


@router.put(
    "/recipes/{recipe_id:int}/rating",
    response_model=RecipeRating,
    responses={
        200: {"description": "your rating is set (it replaces your earlier one); the recipe's ratings after it"},
        **semantic_400("rating"),
        **kitchen_errors(403, 404, 413, 422, *STORAGE),
    },
)
def set_rating(req: RatingSet, recipe_id: RowId, kitchen: Kitchen, caller: Caller) -> RecipeRating:
    """Rate a recipe 1-5 stars as yourself (one rating per person and recipe)."""
    person = require_person(caller, RATINGS_ARE_PERSONAL)
    return RecipeRating.model_validate(ratings.rate(kitchen.db, recipe_id, person.person_id, req.stars))


@router.delete(
    "/recipes/{recipe_id:int}/rating",
    response_model=RecipeRating,
    responses=kitchen_errors(403, 404, 422, *STORAGE),
)
def delete_rating(recipe_id: RowId, kitchen: Kitchen, caller: Caller) -> RecipeRating:
    """Take back your rating of a recipe."""
    person = require_person(caller, RATINGS_ARE_PERSONAL)
    return RecipeRating.model_validate(ratings.unrate(kitchen.db, recipe_id, person.person_id))


@router.get(
    "/recipes/{recipe_id:int}/notes", response_model=RecipeNoteList, responses=kitchen_errors(404, 422, *STORAGE)
)
def list_notes(recipe_id: RowId, kitchen: Kitchen, caller: Caller) -> RecipeNoteList:
    """The household's notes on a recipe, oldest first, each with its author (``mine``: yours)."""
    return RecipeNoteList.model_validate(ratings.recipe_notes(kitchen.db, recipe_id, caller.person_id))


@router.post(
    "/recipes/{recipe_id:int}/notes",
    status_code=201,
    response_model=RecipeNote,
    responses={
        201: {"description": "your note"},
        **semantic_400("note"),
        **kitchen_errors(403, 404, 413, 422, *STORAGE),
    },
)
def add_note(req: NoteCreate, recipe_id: RowId, kitchen: Kitchen, caller: Caller) -> RecipeNote:
    """Write a note of your own on a recipe."""
    person = require_person(caller, RATINGS_ARE_PERSONAL)
    return RecipeNote.model_validate(ratings.add_note(kitchen.db, recipe_id, person.person_id, req.text))


@router.put(
    "/notes/{note_id:int}",
    response_model=RecipeNote,
    responses={**semantic_400("note"), **kitchen_errors(403, 404, 413, 422, *STORAGE)},
)
def edit_note(req: NoteCreate, note_id: NoteId, kitchen: Kitchen, caller: Caller) -> RecipeNote:
    """Change the text of one of your notes (someone else's: 403 not_author)."""
    person = require_person(caller, RATINGS_ARE_PERSONAL)
    return RecipeNote.model_validate(ratings.edit_note(kitchen.db, note_id, person.person_id, req.text))


@router.delete("/notes/{note_id:int}", response_model=NoteDeleted, responses=kitchen_errors(403, 404, 422, *STORAGE))
def delete_note(note_id: NoteId, kitchen: Kitchen, caller: Caller) -> NoteDeleted:
    """Delete one of your notes (someone else's: 403 not_author)."""
    person = require_person(caller, RATINGS_ARE_PERSONAL)
    ratings.delete_note(kitchen.db, note_id, person.person_id)
    return NoteDeleted(id=note_id, object="recipe_note", deleted=True)


@router.delete("/recipes/{recipe_id:int}", response_model=Deleted, responses=kitchen_errors(404, 422, *STORAGE))
def delete_recipe(recipe_id: RowId, kitchen: Kitchen) -> Deleted:
    if not library.delete_recipe(kitchen.db, recipe_id):
        raise NotFound("recipe", recipe_id, "recipe_id")
    photos.gc(kitchen.db)  # its photo rows went with it (ON DELETE CASCADE); their files go when no row names them
    return Deleted(id=recipe_id, object="recipe", deleted=True)


@router.post(
    "/shopping-list",
    response_model=ShoppingList,
    responses={
        200: {"description": "merged by ingredient, grouped by aisle, pantry staples apart"},
        **semantic_400("shopping"),
        **kitchen_errors(404, 413, 422, 500, *STORAGE),
    },
)
def shopping_list(req: ShoppingRequest, kitchen: Kitchen) -> ShoppingList:
    return ShoppingList.model_validate(
        shopping.shopping_list(kitchen.db, [(i.recipe_id, i.servings) for i in req.items])
    )


# -- plans -----------------------------------------------------------------------------------
@router.post(
    "/plans",
    status_code=201,
    response_model=PlanRecord,
    responses={
        201: {"description": "the saved plan: Gantt page, each cook's list, live schedule"},
        **semantic_400("plan_create"),
        **kitchen_errors(404, 413, 422, 429, 500, 503, 504, 507),
    },
)
async def create_plan(req: PlanCreate, request: Request, state: Server, kitchen: Kitchen) -> PlanRecord:
    """Plan a meal from library recipes (the planner of POST /v1/plan) and save it."""
    form = req.model_dump(exclude_none=True)
    result = await plan_form(form, request, state, kitchen)
    return PlanRecord.model_validate(await asyncio.to_thread(plans.save_plan, kitchen.db, form, result))


async def plan_form(form: dict, request: Request, state: ServerState, kitchen: KitchenStore) -> dict:
    """The planner's answer for a plan form (``PlanCreate``'s fields), not saved: the meal spec from the library,
    the solver within the server's limits, admitted like generation and stopped when given up."""
    if not planner_installed():
        raise ApiError(
            503, "the meal planner is not installed (pip install ortools)", "server_error", code="planner_missing"
        )
    spec = await asyncio.to_thread(plans.meal_spec, kitchen.db, form)
    cap = state.cfg.serve.plan_time_limit_s
    spec["solver"] = {
        "time_limit_s": min(form.get("time_limit_s", PLAN_TIME_LIMIT_S), cap),
        "explain_time_limit_s": min(2.0, cap),
        "workers": state.cfg.serve.plan_workers,
    }
    return await plan_in_slot(state, spec, request)


@router.get(
    "/plans", response_model=PlanList, response_model_exclude_unset=True, responses=kitchen_errors(422, *STORAGE)
)
def list_plans(
    kitchen: Kitchen, limit: Annotated[int, Query(ge=1, le=500, description="the newest this many")] = 50
) -> PlanList:
    return PlanList.model_validate(plans.list_plans(kitchen.db, limit))


@router.get("/plans/{plan_id:int}", response_model=PlanRecord, responses=kitchen_errors(404, 422, 500, *STORAGE))
def get_plan(plan_id: RowId, kitchen: Kitchen) -> PlanRecord:
    plan = plans.get_plan(kitchen.db, plan_id)
    if plan is None:
        raise NotFound("plan", plan_id, "plan_id")
    return PlanRecord.model_validate(plan)


@router.post(
    "/plans/{plan_id:int}/progress",
    response_model=PlanRecord,
    responses={
        200: {"description": "the plan as it now stands (what is left re-planned)"},
        **semantic_400("progress"),
        **kitchen_errors(404, 413, 422, 500, *STORAGE),
        409: {"model": ErrorResponse, "description": "the step waits for a step that is not done (step_waits)"},
    },
)
def progress(req: ProgressCreate, plan_id: RowId, kitchen: Kitchen) -> PlanRecord:
    """Mark a task started or done; a late one pushes what waits for it (docs/KITCHEN.md)."""
    return PlanRecord.model_validate(
        plans.record_progress(kitchen.db, plan_id, req.cook, req.task_id, req.status, req.at)
    )


# -- tastings --------------------------------------------------------------------------------
BASE = "base"  # a tasting side answered by the served base model without its adapter


def base_here(state: ServerState) -> bool:
    """Whether this server's own model can answer as its base: it serves an adapter its engine can leave out."""
    return isinstance(state.generator, AnswersAsBase) and state.generator.serves_adapter()


def served_adapter(state: ServerState) -> str | None:
    """The folder of the adapter this server serves (``/health``'s), or None."""
    return (state.identity.get("adapter") or {}).get("path")


def no_base_reason(state: ServerState) -> str:
    """Why this server's own model cannot answer as its base."""
    if not served_adapter(state):
        return "this server serves no adapter"
    return f"this server's {state.backend} engine cannot switch its adapter off"


def tasting_sides(state: ServerState) -> dict:
    """The models a tasting side may name here, what "served" and "base" are, and the default pairing."""
    configured = state.cfg.kitchen.tasting_models
    ident = state.identity
    adapter = served_adapter(state)
    served = f"{ident.get('base_model')}" + (f" + adapter {adapter}" if adapter else " (no adapter)")
    if BASE in configured:
        base: str | None = f"kitchen.tasting_models.base: {configured[BASE].endpoint} (model {configured[BASE].model})"
    elif base_here(state):
        base = f"{ident.get('base_model')}: the served model with its adapter switched off, on this server"
    else:
        base = None
    models = ["served", *([BASE] if base else []), *(m for m in configured if m != BASE)]
    if base:
        default = {"a": {"model": "served"}, "b": {"model": BASE}}
        note = f"Base vs final model: served is {served}; base is {base}. Both with the server's generation settings."
    else:
        default = {"a": {"model": "served", "temperature": 0.0}, "b": {"model": "served", "temperature": 0.8}}
        note = (
            f"No base model to compare with: {no_base_reason(state)} (chefbot serve CONFIG --adapter DIR, or kitchen.tasting_models.base "
            f"for a second server). The default compares the served model ({served}) with itself at temperatures 0 "
            "and 0.8."
        )
    return {
        "object": "tasting_sides",
        "models": models,
        "served": served,
        "base": base,
        "default": default,
        "note": note,
    }


def check_side(side: TastingSide, where: str, state: ServerState) -> None:
    cfg = state.cfg
    if side.model == BASE and BASE not in cfg.kitchen.tasting_models and not base_here(state):
        raise ApiError(
            400,
            f"{where}.model: no base model here: {no_base_reason(state)} "
            "(chefbot serve CONFIG --adapter DIR answers as base with the adapter switched off; or name a second "
            "server as kitchen.tasting_models.base)",
            param=f"{where}.model",
            code="no_base_model",
        )
    if side.model not in ("served", BASE) and side.model not in cfg.kitchen.tasting_models:
        known = ", ".join(tasting_sides(state)["models"])
        raise ApiError(
            400,
            f"{where}.model: {side.model!r} is not a tasting model here (choose {known}; kitchen.tasting_models)",
            param=f"{where}.model",
            code="unknown_tasting_model",
        )


async def base_answer(state: ServerState, prompt: ChatPrompt, settings: dict) -> Completion:
    """The served base model's answer without its adapter: one call of its own through the server's queue (its
    slots, limits and timeout; stopped when the client leaves or the time is up).  ``without_adapter`` runs in
    the model thread: the llama.cpp engine loads the base there on first use."""
    generator = state.generator
    assert isinstance(generator, AnswersAsBase), "check_side lets base through only for an AnswersAsBase"
    stop = threading.Event()

    def answer() -> Completion:
        base = generator.without_adapter()
        return base.generate_from_ids([prompt.ids_for(base)], settings, cancel=stop)[0]

    return await state.run(answer, cancel=stop.set)


async def tasting_answer(
    state: ServerState, kitchen: KitchenStore, side: TastingSide, where: str, prompt: ChatPrompt
) -> str:
    """One side's answer: the served model through the queue, its base without the adapter (also through the
    queue), or a configured endpoint within ``serve.request_timeout_s`` (its failures name the side: 504, 502)."""
    settings = state.settings_for(side.max_tokens, side.temperature, seed=side.seed)
    if side.model == "served":
        return (await state.complete(prompt, settings)).text
    if side.model == BASE and BASE not in state.cfg.kitchen.tasting_models:
        return (await base_answer(state, prompt, settings)).text
    gen = kitchen.remote.get(side.model)
    if gen is None:
        spec = state.cfg.kitchen.tasting_models[side.model]
        gen = kitchen.remote[side.model] = OpenAIGenerator(
            base_url=spec.endpoint, model=spec.model, gen_cfg=state.gen_cfg, concurrency=1, cache_dir=None, retries=1
        )
    timeout = state.cfg.serve.request_timeout_s
    try:
        out = await asyncio.wait_for(asyncio.to_thread(gen.generate, [prompt.messages], settings), timeout)
    except TimeoutError:
        raise TimeoutError(f"{where}: no answer within {timeout:g} s") from None
    except ChefbotError as e:
        raise TastingModelFailed(f"{where}: {e}", field=f"{where}.model") from None
    return out[0].text


@router.get("/tastings/sides", response_model=TastingSides, response_model_exclude_unset=True)
def tasting_sides_route(state: Server) -> TastingSides:
    """What a tasting side may name here, and the default pairing: base vs final model where this server can
    answer as its base, else the served model at two temperatures (``note`` says why)."""
    return TastingSides.model_validate(tasting_sides(state))


@router.post(
    "/tastings/pair",
    status_code=201,
    response_model=TastingPair,
    responses={
        201: {"description": "two answers in random order, labelled A and B, sides hidden"},
        **semantic_400("tasting_pair"),
        **kitchen_errors(413, 422, 429, 500, 502, 504, *STORAGE),
    },
)
async def tasting_pair(req: PairCreate, state: Server, kitchen: Kitchen) -> TastingPair:
    """Generate two answers for the same ingredients for a blind tasting."""
    prompt = state.check_size(recipe_messages(req.ingredients, RecipeConstraints(), state.cfg.prompt))
    check_side(req.a, "a", state)
    check_side(req.b, "b", state)
    texts = await asyncio.gather(
        tasting_answer(state, kitchen, req.a, "a", prompt), tasting_answer(state, kitchen, req.b, "b", prompt)
    )
    sides: list[tuple[dict, str]] = [
        (req.a.model_dump(exclude_none=True), texts[0]),
        (req.b.model_dump(exclude_none=True), texts[1]),
    ]
    if random.SystemRandom().random() < 0.5:
        sides.reverse()
    pid = await asyncio.to_thread(
        tastings.save_pair, kitchen.db, req.ingredients, sides[0][0], sides[1][0], sides[0][1], sides[1][1]
    )
    return TastingPair(
        pair_id=pid,
        object="tasting_pair",
        ingredients=req.ingredients,
        answers=[
            {"label": label, "text": text, "recipe": check_constraints(text, RecipeConstraints())["recipe"]}
            for label, (_side, text) in zip("AB", sides)
        ],
    )


TASTING_VOTE = {
    "responses": {
        200: {"description": "your earlier vote on the pair, changed (the sides stay hidden until revealed)"},
        201: {"description": "the vote (the sides stay hidden until the pair is revealed)"},
        **semantic_400("tasting_vote"),
        **kitchen_errors(404, 409, 413, 422, *STORAGE),
    }
}


def cast_vote(req: TastingCreate, kitchen: KitchenStore, caller: Principal, response: Response) -> Tasting:
    """Vote, or change your vote, on a pair until it is revealed: a logged-in person votes as themselves
    (``rater`` is their name), others give a ``rater``.  201 for a new vote, 200 for a changed one."""
    if caller.is_person:
        rater, person_id = caller.name or "", caller.person_id
    else:
        rater, person_id = (req.rater or "").strip(), None
    out = tastings.vote(kitchen.db, req.pair_id, req.choice, rater, req.note, person_id)
    response.status_code = 200 if out["changed"] else 201
    return Tasting.model_validate(out)


@router.post("/tastings", status_code=201, response_model=Tasting, **TASTING_VOTE)
def tasting_vote(req: TastingCreate, kitchen: Kitchen, caller: Caller, response: Response) -> Tasting:
    """Vote on a pair (again: your vote changes, 200) until it is revealed (then 409 revealed)."""
    return cast_vote(req, kitchen, caller, response)


@router.put("/tastings", status_code=201, response_model=Tasting, **TASTING_VOTE)
def tasting_vote_change(req: TastingCreate, kitchen: Kitchen, caller: Caller, response: Response) -> Tasting:
    """The same as POST /api/tastings: set your vote on a pair, until it is revealed."""
    return cast_vote(req, kitchen, caller, response)


@router.post(
    "/tastings/{pair_id:int}/reveal",
    response_model=TastingReveal,
    responses={
        200: {"description": "which side wrote A and B, and the pair's votes, final from now on"},
        **kitchen_errors(404, 422, *STORAGE),
    },
)
def tasting_reveal(pair_id: RowId, kitchen: Kitchen) -> TastingReveal:
    """Reveal a pair's sides: from now on its votes cannot change (409 revealed).  Revealing again answers the same."""
    return TastingReveal.model_validate(tastings.reveal(kitchen.db, pair_id))


@router.get(
    "/tastings/summary",
    response_model=TastingSummary,
    response_model_exclude_unset=True,
    responses=kitchen_errors(*STORAGE),
)
def tasting_summary(kitchen: Kitchen) -> TastingSummary:
    """Wins per comparison, overall and per rater (intervals: `chefbot eval tastings`)."""
    unreadable: list[dict] = []
    out = tastings.tally(tastings.votes(kitchen.db, unreadable))
    if unreadable:
        out["unreadable"] = unreadable
    return TastingSummary.model_validate(out)
