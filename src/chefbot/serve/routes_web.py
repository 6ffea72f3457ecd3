"""``GET /health`` and the web pages (``/`` to write a recipe, the kitchen pages ``/library``, ``/plan``,
``/cook``, ``/tasting``, and ``/static/...``: plain HTML/JS/CSS in ``web/``).

Neither needs an API key: a probe checks health, and the pages ask for the key themselves (one field at
the foot of every page, kept in the browser by ``web/kitchen.js``).
``/health`` names what is served (base model, adapter with a content fingerprint, engine, dtype,
quantization, tokenizer fingerprint, limits) beside the volatile state (status, queue, uptime_s).

Every page is one body (``web/<page>.html``) rendered into one shell (``web/shell.html``: the ``<head>``,
the header with the navigation, the API-key footer and the scripts) with ``string.Template``. The server
renders the shell rather than a script injecting it, so the navigation is in the HTML as it arrives: no
flash of a page without it, links that work with scripts off, no build step and no new dependency.
State comes from ``request.app.state`` (``server``: the ``ServerState``), so the router is module-level.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from html import escape
from importlib import resources
from string import Template

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from chefbot.serve.api_errors import ApiError
from chefbot.serve.deps import Server
from chefbot.serve.schemas import Health

WEB_DIR = resources.files("chefbot.serve") / "web"
# Only these names are served under /static/: a fixed list, so no path (``..``, a page body, the shell) gets out.
STATIC_FILES = ("app.js", "style.css", "kitchen.js", "gantt.js", "library.js", "plan.js", "cook.js", "tasting.js")
NO_CACHE = {"Cache-Control": "no-cache"}


@dataclass(frozen=True)
class Page:
    """One page: its body in ``web/``, its title, the navigation's name for it and the scripts it runs
    after ``kitchen.js`` (which every page loads first: the API key, the fetch helper)."""

    body: str
    title: str
    nav: str
    scripts: tuple[str, ...]
    body_class: str = ""


# The pages in navigation order (docs/KITCHEN.md, "Pages"); they call the /v1/... and /api/... routes.
PAGES = {
    "/": Page("index.html", "ChefBot", "Write", ("app.js",)),
    "/library": Page("library.html", "ChefBot · Library", "Library", ("library.js",)),
    "/plan": Page("plan.html", "ChefBot · Plan a meal", "Plan", ("gantt.js", "plan.js")),
    "/cook": Page("cook.html", "ChefBot · Cook mode", "Cook", ("gantt.js", "cook.js"), "cook-mode"),
    "/tasting": Page("tasting.html", "ChefBot · Blind tasting", "Tasting", ("tasting.js",)),
}


def navigation(current: str) -> str:
    """The links to every page, the current one marked for screen readers (and the style sheet)."""
    mark = ' aria-current="page"'
    return " ".join(
        f'<a href="{path}"{mark if path == current else ""}>{escape(p.nav)}</a>' for path, p in PAGES.items()
    )


@cache
def render_page(path: str) -> str:
    """The page at ``path`` as served: its body in the shell (the files ship with the package, so once)."""
    page = PAGES[path]
    shell = Template((WEB_DIR / "shell.html").read_text(encoding="utf-8"))
    scripts = "\n  ".join(f'<script src="/static/{name}"></script>' for name in ("kitchen.js", *page.scripts))
    return shell.substitute(
        title=escape(page.title),
        body_class=page.body_class,
        nav=navigation(path),
        body=(WEB_DIR / page.body).read_text(encoding="utf-8"),
        scripts=scripts,
    )


router = APIRouter()


@router.get("/health", response_model=Health)
async def health(state: Server) -> Health:
    return Health.model_validate(state.health())


def _page_route(path: str):
    async def serve_page() -> HTMLResponse:
        return HTMLResponse(render_page(path), headers=NO_CACHE)

    return serve_page


for _path in PAGES:
    router.add_api_route(_path, _page_route(_path), methods=["GET"], include_in_schema=False)


@router.get("/static/{fname}", include_in_schema=False)
async def static(fname: str) -> FileResponse:
    if fname not in STATIC_FILES:
        raise ApiError(404, f"no file {fname!r}")
    return FileResponse(str(WEB_DIR / fname), headers=NO_CACHE)
