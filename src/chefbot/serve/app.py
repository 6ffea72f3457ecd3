"""The HTTP server: OpenAI-compatible chat, structured recipes, the meal planner, a web page, health.

``create_app(cfg, generator)`` takes any ``chefbot.generate.Generator`` (the contract in
``generate/completion.py``; a ``TokenEngine`` also answers /v1/completions), so tests
inject a small model and ``chefbot serve`` a real one.  It only composes the parts:

* ``state.py``: ``ServerState``, the generator behind the ``Scheduler`` (bounded queue,
  concurrency limit, batching, timeouts) and the checks made before the queue;
* ``api_errors.py``: refusals in the OpenAI error envelope (the domain's exceptions by one status table,
  ``ERROR_STATUS``), and the body-size guard;
* ``auth.py``: bearer keys, the Host check (421, against DNS rebinding), JSON-only bodies (415, against
  CSRF) and CORS;
* ``slow_clients.py``: ``serve.read_timeout_s`` for a request's headers and body (408);
* one module-level router per job, its routes reading the state through ``deps.py`` (``Server``):
  ``routes_web.py`` (/health, the page), ``routes_openai.py``
  (/v1/models, /v1/chat/completions, and /v1/completions when the generator can do plain
  completions: ``completions.py``), ``routes_recipes.py`` (/v1/recipes) and
  ``routes_plan.py`` (/v1/plan, when the planner is installed), ``routes_kitchen.py`` (/api/*:
  recipe library with ratings and notes, shopping lists, saved plans and cook mode, blind tastings; docs/KITCHEN.md),
  ``routes_nutrition.py`` (/api/recipes/{id}/nutrition: figures from USDA SR28 only),
  ``routes_shopping.py`` (/api/shopping-lists: saved lists, ticked from several devices),
  ``routes_cook.py`` (/api/recipes/{id}/cook: one recipe as a plan for cook mode), ``routes_calendar.py``
  (/api/calendar: the meal calendar, the week's shopping list, a day's dinner for the planner), ``routes_webapp.py``
  (the installable app: /manifest.webmanifest, /sw.js, /icons/*).

Its OpenAPI schema (``/openapi.json``, ``contract_schema``) is the API's contract: every
status a route can answer, both media types of a streamed answer, the limits; with
``serve.api_keys`` set it also declares the bearer scheme and the 401 on ``/v1/*`` and ``/api/*`` (from the
same normalized key list as the check itself: ``auth.KeyCheck``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.models import OpenAPI
from fastapi.openapi.utils import get_openapi

from chefbot import __version__
from chefbot.config import ExperimentConfig
from chefbot.errors import ChefbotError
from chefbot.kitchen.people import LoginLimiter, has_people
from chefbot.serve import (
    routes_calendar,
    routes_cook,
    routes_kitchen,
    routes_nutrition,
    routes_openai,
    routes_people,
    routes_photos,
    routes_plan,
    routes_recipes,
    routes_shopping,
    routes_web,
    routes_webapp,
)
from chefbot.serve.api_errors import MULTIPART_FRAMING, BodyLimit, body_limit, install_error_handlers
from chefbot.serve.auth import (
    ANONYMOUS_PATHS,
    SESSION_COOKIE,
    STATE_CHANGING,
    JsonOnly,
    install_auth,
    install_cors,
    install_host_check,
    protected,
)
from chefbot.serve.grounding import ServingGrounding
from chefbot.serve.schemas import ERROR_DESCRIPTIONS, json_schema
from chefbot.serve.slow_clients import ReadTimeout
from chefbot.serve.state import ServerState

CSRF_403 = "a change made with the session cookie but without the session's X-CSRF-Token header (csrf_failed)"
DESCRIPTION = """A cooking assistant: OpenAI-compatible chat, structured recipes and a meal planner.

Limits (config keys in docs/SERVING.md): request bodies of at most `serve.max_body_bytes`
(413), prompts of at most `serve.max_prompt_chars` characters and `serve.max_prompt_tokens`
tokens (413), at most `serve.max_messages` messages (400), answers cut at `serve.max_tokens_cap`
tokens, `serve.max_concurrency` + `serve.max_queue` requests in the server (429), and
`serve.request_timeout_s` seconds per request (504, or an error event in a stream).

On every route: a `Host` header that is not a name of this server gets 421 (`misdirected_request`;
`serve.allowed_hosts`), and a body not received within `serve.read_timeout_s` gets 408.  A body sent to
`/v1/*` or `/api/*` without `Content-Type: application/json` gets 415."""


def create_app(
    cfg: ExperimentConfig, generator: Any, *, model_name: str | None = None, adapter: str | None = None
) -> FastAPI:
    """``adapter``: the LoRA folder the generator serves (default ``cfg.adapter``), named in ``/health``."""
    state = ServerState(cfg, generator, model_name, adapter)
    kitchen = routes_kitchen.KitchenStore(cfg.kitchen.db_path)  # the SQLite file opens on the first /api request
    grounding = ServingGrounding(cfg)  # grounding.enabled: the corpus index opens on the first /v1/recipes

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        state.scheduler.close()
        kitchen.close()
        grounding.close()

    app = FastAPI(
        title="chefbot",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    # What the routes read per request (deps.get_state, routes_kitchen.get_kitchen).
    app.state.server = state
    app.state.scheduler = state.scheduler
    app.state.cfg = cfg
    app.state.kitchen = kitchen
    app.state.grounding = grounding
    app.state.login_limiter = LoginLimiter()  # failed logins per account and per address (routes_people)
    # Middleware runs outermost first, i.e. in the reverse order of these lines: Host, JSON only, read timeout,
    # body size, the gate (config keys, sessions, personal tokens: who the request is), CORS.
    install_cors(app, cfg.serve.cors_origins)
    keys = install_auth(app, cfg.serve.api_keys, kitchen)  # config keys, sessions, personal tokens
    app.add_middleware(
        BodyLimit,
        limit=body_limit(cfg),
        import_limit=cfg.serve.max_import_bytes,
        photo_limit=cfg.kitchen.photo_max_bytes + MULTIPART_FRAMING,
    )
    app.add_middleware(ReadTimeout, seconds=cfg.serve.read_timeout_s)
    app.add_middleware(JsonOnly)
    install_host_check(app, cfg.serve)
    install_error_handlers(app)

    app.include_router(routes_web.router)
    app.include_router(routes_webapp.router)
    app.include_router(routes_openai.router)
    if state.has_completions:
        app.include_router(routes_openai.completions_router)
    app.include_router(routes_recipes.router)
    app.include_router(routes_kitchen.router)
    app.include_router(routes_nutrition.router)
    app.include_router(routes_people.router)
    app.include_router(routes_shopping.router)
    app.include_router(routes_cook.router)
    app.include_router(routes_calendar.router)
    app.include_router(routes_photos.router)
    if routes_plan.planner_installed():
        app.include_router(routes_plan.router)
        state.has_plan = True

    built_for: list[bool] = []  # whether the cached schema was built for a kitchen with accounts

    def openapi() -> dict:
        accounts = accounts_exist(kitchen)  # made by the CLI at any time: the schema follows
        if app.openapi_schema is None or built_for != [accounts]:
            app.openapi_schema = contract_schema(app, keys.enabled, routes_openai.request_models(state), accounts)
            built_for[:] = [accounts]
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def accounts_exist(kitchen: routes_kitchen.KitchenStore) -> bool:
    """Whether the kitchen has accounts (then ``/v1/*`` and ``/api/*`` need credentials); False when its DB
    cannot be read here (the gate then refuses with 503, which every kitchen route documents)."""
    try:
        db = kitchen.existing()
        return db is not None and has_people(db)
    except ChefbotError:
        return False


def contract_schema(
    app: FastAPI, keyed: bool, request_models: dict[str, type] | None = None, accounts: bool = False
) -> dict:
    """FastAPI's OpenAPI document, with this server's ``request_models`` (bodies whose limits are the
    server's, read by ``deps.json_body``) as components, the ``$defs`` of the hand-written parts (those,
    streams, the meal spec) moved to ``components/schemas``, and, on a keyed server, the bearer scheme and 401s."""
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, model in (request_models or {}).items():
        schema = json_schema(model)
        _hoist_defs(schema, components)
        components[name] = schema
    _hoist_defs(doc, components)
    if keyed or accounts:
        schemes: dict[str, dict] = {"bearer": {"type": "http", "scheme": "bearer"}}
        if accounts:
            schemes["session"] = {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE}
        doc["components"]["securitySchemes"] = schemes
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
        for path, item in doc.get("paths", {}).items():
            if not protected(path) or path in ANONYMOUS_PATHS:
                continue
            for method, operation in item.items():
                operation["security"] = [{name: []} for name in schemes]
                responses = operation.setdefault("responses", {})
                responses["401"] = {"description": ERROR_DESCRIPTIONS[401], "content": error}
                if accounts and method.upper() in STATE_CHANGING:
                    responses.setdefault("403", {"description": CSRF_403, "content": error})
    # Through FastAPI's own OpenAPI model, as get_openapi's part was (numbers as JSON Schema floats, no null
    # defaults), so the components added here read like those FastAPI wrote.
    return jsonable_encoder(OpenAPI(**doc), by_alias=True, exclude_none=True)


def _hoist_defs(node: object, components: dict) -> None:
    """Move every nested ``$defs`` into ``components`` and point its ``#/$defs/X`` references there."""
    if isinstance(node, dict):
        defs = node.pop("$defs", None)
        for name, schema in (defs or {}).items():
            _hoist_defs(schema, components)  # its own references first, so that equal schemas compare equal
            if name in components and components[name] != schema:
                raise ValueError(f"OpenAPI component {name!r} defined twice, differently")
            components[name] = schema
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            node["$ref"] = "#/components/schemas/" + ref[len("#/$defs/") :]
        for value in node.values():
            _hoist_defs(value, components)
    elif isinstance(node, list):
        for value in node:
            _hoist_defs(value, components)
