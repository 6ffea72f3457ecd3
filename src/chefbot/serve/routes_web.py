"""``GET /health`` and the web page (``/`` and ``/static/...``, plain HTML/JS/CSS in ``web/``).

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
STATIC_FILES = ("app.js", "style.css")


def web_router(state: ServerState) -> APIRouter:
    router = APIRouter()

    @router.get("/health", response_model=None, responses={200: {"model": Health}})
    async def health() -> dict:
        return state.health()

    @router.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(WEB_DIR / "index.html"), headers={"Cache-Control": "no-cache"})

    @router.get("/static/{fname}", include_in_schema=False)
    async def static(fname: str) -> FileResponse:
        if fname not in STATIC_FILES:
            raise ApiError(404, f"no file {fname!r}")
        return FileResponse(str(WEB_DIR / fname), headers={"Cache-Control": "no-cache"})

    return router
