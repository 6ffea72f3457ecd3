"""``GET /health`` and the web pages (``/``, the kitchen pages ``/library``, ``/plan``, ``/cook``,
``/tasting``, and ``/static/...``: plain HTML/JS/CSS in ``web/``).

Neither needs an API key: a probe checks health, and the page asks for the key itself.
``/health`` names what is served (base model, adapter with a content fingerprint, engine, dtype,
quantization, tokenizer fingerprint, limits) beside the volatile state (status, queue, uptime_s).
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import FileResponse

from chefbot.serve.api_errors import ApiError
from chefbot.serve.schemas import Health
from chefbot.serve.state import ServerState

WEB_DIR = resources.files("chefbot.serve") / "web"
STATIC_FILES = ("app.js", "style.css", "kitchen.js", "gantt.js", "library.js", "plan.js", "cook.js", "tasting.js")
# The kitchen pages (docs/KITCHEN.md, "Pages"): path -> file; they call the /api/... routes.
PAGES = {"/library": "library.html", "/plan": "plan.html", "/cook": "cook.html", "/tasting": "tasting.html"}


def web_router(state: ServerState) -> APIRouter:
    router = APIRouter()

    @router.get("/health", response_model=None, responses={200: {"model": Health}})
    async def health() -> dict:
        return state.health()

    @router.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(WEB_DIR / "index.html"), headers={"Cache-Control": "no-cache"})

    def page(fname: str):
        async def serve_page() -> FileResponse:
            return FileResponse(str(WEB_DIR / fname), headers={"Cache-Control": "no-cache"})
        return serve_page

    for path, fname in PAGES.items():
        router.add_api_route(path, page(fname), methods=["GET"], include_in_schema=False)

    @router.get("/static/{fname}", include_in_schema=False)
    async def static(fname: str) -> FileResponse:
        if fname not in STATIC_FILES:
            raise ApiError(404, f"no file {fname!r}")
        return FileResponse(str(WEB_DIR / fname), headers={"Cache-Control": "no-cache"})

    return router
