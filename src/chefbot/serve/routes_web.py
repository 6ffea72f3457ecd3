"""``GET /health`` and the web pages (``/`` to write a recipe, the kitchen pages ``/library``, ``/calendar``, ``/plan``,
``/cook``, ``/tasting``, and ``/static/...``: plain HTML/JS/CSS in ``web/``), and each saved recipe's own
page ``/library/{id}`` (server-rendered, with its schema.org Recipe JSON-LD: ``kitchen/schema_org.py``).

Neither health nor the pages need an API key: a probe checks health, and the pages ask for the key
themselves (one field at the foot of every page, kept in the browser by ``web/kitchen.js``).  A recipe's
page holds the recipe, so with keys it needs the key like ``/api/*`` (``auth.protected``).
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
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse

from chefbot.cooking.nutrition import NutritionTableMissing, recipe_nutrition
from chefbot.kitchen import library, photos, schema_org
from chefbot.kitchen.db import NotFound
from chefbot.serve.api_errors import ApiError
from chefbot.serve.deps import Server
from chefbot.serve.routes_kitchen import Kitchen
from chefbot.serve.schemas import EXACT_INT, Health

WEB_DIR = resources.files("chefbot.serve") / "web"
# Only these names are served under /static/: a fixed list, so no path (``..``, a page body, the shell) gets out.
STATIC_FILES = (
    "app.js",
    "style.css",
    "kitchen.js",
    "gantt.js",
    "library.js",
    "plan.js",
    "cook.js",
    "tasting.js",
    "calendar.js",
    "ratings.js",
)
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
    "/library": Page("library.html", "ChefBot · Library", "Library", ("ratings.js", "library.js")),
    "/calendar": Page("calendar.html", "ChefBot · Meal calendar", "Calendar", ("calendar.js",)),
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


def render_shell(current: str, title: str, body: str, scripts: tuple[str, ...] = (), body_class: str = "") -> str:
    """A page's ``body`` in the one shell: the head, the navigation (``current`` marked), the key field and
    ``kitchen.js`` then ``scripts``."""
    shell = Template((WEB_DIR / "shell.html").read_text(encoding="utf-8"))
    tags = "\n  ".join(f'<script src="/static/{name}"></script>' for name in ("kitchen.js", *scripts))
    return shell.substitute(
        title=escape(title), body_class=body_class, nav=navigation(current), body=body, scripts=tags
    )


@cache
def render_page(path: str) -> str:
    """The page at ``path`` as served: its body in the shell (the files ship with the package, so once)."""
    page = PAGES[path]
    body = (WEB_DIR / page.body).read_text(encoding="utf-8")
    return render_shell(path, page.title, body, page.scripts, page.body_class)


# The figures shown on a recipe's page, as the API names them (routes_nutrition.Figures; web/library.js: NUTRITION).
NUTRITION_ROWS = (
    ("energy_kcal", "Energy", "kcal"),
    ("protein_g", "Protein", "g"),
    ("fat_g", "Fat", "g"),
    ("carbohydrate_g", "Carbohydrate", "g"),
    ("fibre_g", "Fibre", "g"),
    ("salt_g", "Salt", "g"),
)


def nutrition_html(ingredients: list[str], servings: int) -> str:
    """The recipe's nutrition per serving (``cooking.nutrition.recipe_nutrition``: USDA SR28 only) as a table,
    the lines not counted and the table named; without the table installed, a sentence saying so and no number."""
    try:
        n = recipe_nutrition(ingredients, servings)
    except NutritionTableMissing as e:
        return (
            '<section id="nutrition" aria-labelledby="nutrition-h"><h3 id="nutrition-h">Nutrition</h3>'
            f'<p class="muted">No nutrition figures: the food table is not installed ({escape(str(e))}).</p></section>'
        )
    # no line matched: no figures at all (a table of zeros would read as "this soup has 0 kcal")
    rows = "".join(
        f'<tr><th scope="row">{name}</th><td data-figure="{key}">{n.per_serving[key]:.{0 if unit == "kcal" else 1}f} {unit}</td></tr>'
        for key, name, unit in (NUTRITION_ROWS if n.matched else ())
    )
    notes = [] if n.matched else ['<p id="nutrition-none">No figures: none of the lines matched the food table.</p>']
    if n.unmatched:
        lines = "; ".join(escape(r.line) + (f" ({escape(r.hint)})" if r.hint else "") for r in n.unmatched)
        notes.append(f'<p class="muted" id="nutrition-unmatched">Not counted: {lines}.</p>')
    for figure, lacking in n.missing.items():
        name = next(label for key, label, _ in NUTRITION_ROWS if key == figure)
        notes.append(f'<p class="muted">{name}: no value in the table for {escape("; ".join(lacking))}.</p>')
    table = n.table
    return f"""<section id="nutrition" aria-labelledby="nutrition-h">
      <h3 id="nutrition-h">Nutrition per serving <span class="muted">({n.servings} servings)</span></h3>
      <table class="nutrition"><tbody>{rows}</tbody></table>
      {"".join(notes)}
      <p class="muted" id="nutrition-source">From the {escape(table["name"])} ({escape(table["release"])}, \
{escape(table["license"])}; package {escape(table["package"])}), counting only the lines it matched.</p>
    </section>"""


def recipe_page(recipe: dict, page_url: str) -> str:
    """A saved recipe's own page: the recipe as HTML (every value escaped) with its schema.org Recipe JSON-LD
    (``kitchen.schema_org.to_jsonld``, escaped for ``<script>`` by ``script_json``), so recipe apps and
    recipe-scrapers read it like any recipe site."""
    data = schema_org.to_jsonld(recipe, page_url)
    facts = [f"Serves {recipe['servings']}"]
    if data.get("totalTime"):
        facts.append(f"ready in about {schema_org.minutes_from(data['totalTime'])} min")
    facts += [url.rsplit("/", 1)[-1].removesuffix("Diet").lower() for url in data.get("suitableForDiet", [])]
    source = recipe.get("source") or {}
    made_by = ""
    if source.get("kind") == "generated":
        adapter = f" with the adapter {escape(str(source['adapter']))}" if source.get("adapter") else ""
        made_by = f"Written by {escape(str(source.get('model') or 'ChefBot'))}{adapter}."
    elif isinstance(source.get("url"), str):
        made_by = f"Imported from {escape(source['url'])}."
    photo = recipe.get("photo")  # kitchen.photos.with_photo
    picture = (
        f'<figure><img class="recipe-photo" src="{escape(photo["url"])}" alt="Photo of {escape(recipe["title"])}" '
        f'width="{int(photo["width"])}" height="{int(photo["height"])}"></figure>'
        if photo
        else ""
    )
    items = "".join(f"<li>{escape(x)}</li>" for x in recipe["ingredients"])
    steps = "".join(f"<li>{escape(x)}</li>" for x in recipe["directions"])
    body = f"""  <main>
    <article class="panel" aria-labelledby="recipe-h">
      <h2 id="recipe-h">{escape(recipe["title"])}</h2>
      <p class="muted">{escape(" · ".join(facts))}</p>
      {picture}
      <h3>Ingredients</h3>
      <ul>{items}</ul>
      <h3>Directions</h3>
      <ol>{steps}</ol>
      {nutrition_html(recipe["ingredients"], recipe["servings"])}
      <p class="muted">{made_by}</p>
      <section class="ratings" data-ratings-recipe="{int(recipe["id"])}" aria-label="Rating and notes"></section>
      <p><a href="/library">All recipes</a> · <a href="/api/library/jsonld">The library as JSON-LD</a></p>
    </article>
  </main>
  <script type="application/ld+json">{schema_org.script_json(data)}</script>"""
    return render_shell("/library", f"{recipe['title']} · ChefBot", body, ("ratings.js",))


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


@router.get("/library/{recipe_id:int}", include_in_schema=False)
def library_recipe_page(
    recipe_id: Annotated[int, PathParam(ge=1, le=EXACT_INT)], request: Request, kitchen: Kitchen
) -> HTMLResponse:
    """A saved recipe's page with its schema.org JSON-LD (404 when there is none)."""
    recipe = library.get_recipe(kitchen.db, recipe_id)
    if recipe is None:
        raise NotFound("recipe", recipe_id, "recipe_id")
    photos.with_photo(kitchen.db, [recipe])
    return HTMLResponse(recipe_page(recipe, str(request.url_for("library_recipe_page", recipe_id=recipe_id))))


@router.get("/static/{fname}", include_in_schema=False)
async def static(fname: str) -> FileResponse:
    if fname not in STATIC_FILES:
        raise ApiError(404, f"no file {fname!r}")
    return FileResponse(str(WEB_DIR / fname), headers=NO_CACHE)
