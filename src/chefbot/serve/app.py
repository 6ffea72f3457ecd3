"""The HTTP server: OpenAI-compatible chat, structured recipes, the meal planner, a web page, health.

``create_app(cfg, generator)`` takes any object with the generation interface of
``chefbot.generate`` (``generate`` and, for token streaming, ``stream``), so tests
inject a small model and ``chefbot serve`` a real one.  It only composes the parts:

* ``state.py``: ``ServerState``, the generator behind the ``Scheduler`` (bounded queue,
  concurrency limit, batching, timeouts) and the checks made before the queue;
* ``api_errors.py``: refusals in the OpenAI error envelope, and the body-size guard;
* ``auth.py``: bearer keys and CORS;
* one router per job: ``routes_web.py`` (/health, the page), ``routes_openai.py``
  (/v1/models, /v1/chat/completions), ``routes_recipes.py`` (/v1/recipes) and
  ``routes_plan.py`` (/v1/plan, when the planner is installed).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI

from chefbot import __version__
from chefbot.config import ExperimentConfig
from chefbot.serve.api_errors import BodyLimit, body_limit, install_error_handlers
from chefbot.serve.auth import install_auth, install_cors
from chefbot.serve.routes_openai import openai_router
from chefbot.serve.routes_plan import plan_router
from chefbot.serve.routes_recipes import recipes_router
from chefbot.serve.routes_web import web_router
from chefbot.serve.state import ServerState


def create_app(cfg: ExperimentConfig, generator: Any, *, model_name: str | None = None) -> FastAPI:
    state = ServerState(cfg, generator, model_name)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        state.scheduler.close()

    app = FastAPI(title="chefbot", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.server = state
    app.state.scheduler = state.scheduler
    app.state.cfg = cfg
    install_cors(app, cfg.serve.cors_origins)
    install_auth(app, cfg.serve.api_keys)
    app.add_middleware(BodyLimit, limit=body_limit(cfg))
    install_error_handlers(app)

    app.include_router(web_router(state))
    app.include_router(openai_router(state))
    app.include_router(recipes_router(state))
    plan = plan_router()
    if plan is not None:
        app.include_router(plan)
        state.has_plan = True
    return app
