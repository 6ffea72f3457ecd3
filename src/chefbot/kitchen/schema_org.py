"""schema.org ``Recipe`` in and out: the one mapping between the library's recipes and the formats other
recipe apps and web pages use (docs/KITCHEN.md, "schema.org recipes in and out").

**In** (``import_bytes``, ``recipes_from_json``, ``recipes_from_html``): a JSON-LD document (one Recipe, a
list, an ``@graph``, a page node whose ``mainEntity`` is the Recipe), a saved web page (read by
recipe-scrapers' ``scrape_html``: the field's kept library, which knows hundreds of sites' markup and
falls back to the page's schema.org data), a Mealie recipe export (a zip of ``recipes/<slug>/<slug>.json``
or one recipe's ``<slug>.json``, snake_case or the API's camelCase) and a Tandoor export (``export.zip``
holding one zip per recipe, each with a ``recipe.json``).  Each becomes an ``ImportedRecipe``: a
``recipe_format.Recipe`` (title, servings when the source gives a number, ingredient lines, steps, its
page as ``link``) with the total time the source declared and its ``keywords`` and ``recipeCategory`` (a
text of commas or a list; recipe-scrapers' ``keywords()`` / ``category()`` for a page).  The caller checks it
with ``library.check_recipe`` (the one normalization) and its labels with ``library.imported_labels``
before saving.

**Every input is hostile**: sizes are capped before anything is parsed (``MAX_FILE_BYTES``,
``MAX_HTML_CHARS``); a zip is read in memory, never extracted: member names are only matched, never
used as paths (a name with ``..`` or an absolute path refuses the file), each member is read with a
cap (``MAX_MEMBER_BYTES``, so a header that lies about its size does not help a zip bomb), the whole
archive has a budget (``MAX_ZIP_TOTAL``) and a member count (``MAX_ZIP_MEMBERS``), and a nested zip
(Tandoor's) is opened one level deep only.  A malformed document is a ``RecipeError`` naming where and
which field (``page.json: @graph.2.recipeIngredient.3: expected text, got an object``).

**Out** (``to_jsonld``, ``library_jsonld``, ``script_json``): a saved recipe as schema.org ``Recipe``
JSON-LD: ``name``, ``recipeYield``, ``recipeIngredient``, ``recipeInstructions`` as ``HowToStep``s,
``totalTime`` as an ISO 8601 duration (the time the imported source declared, else the planner's
reading of the directions: ``cooking.labels.label_recipe``), ``suitableForDiet`` as schema.org
``RestrictedDiet`` URLs for the diets no ingredient breaks (``cooking.lexicon.diets_of``, the checker's
own rule), the tags as ``keywords`` (one text, comma-separated: schema.org's "Keywords or tags used to describe
some item. Multiple textual entries in a keywords list are typically delimited by commas"; a tag holds no comma,
``library.LABEL_RE``) and the category as ``recipeCategory`` (schema.org: "The category of the recipe—for
example, appetizer, entree, etc.", Text; https://schema.org/keywords, https://schema.org/recipeCategory) and, for a
ChefBot answer, the model and adapter that wrote it (``creator``, a ``SoftwareApplication``).  ``script_json`` escapes it for an HTML ``<script>`` element.
"""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urljoin

import isodate

from chefbot.cooking.labels import label_recipe
from chefbot.kitchen.rows import MAX_SERVINGS, RecipeError
from chefbot.recipe_format import Recipe

# -- limits (every input is hostile) ---------------------------------------------------------------
MAX_FILE_BYTES = 64 * 1024 * 1024  # a file given to `chefbot library import`
MAX_HTML_CHARS = 8 * 1024 * 1024  # a saved page (real recipe pages are 0.1 to 2 MB)
MAX_ZIP_MEMBERS = 5000  # entries of one archive (a Mealie export: a folder of 3-4 files per recipe)
MAX_MEMBER_BYTES = 8 * 1024 * 1024  # one recipe.json / <slug>.json / nested recipe zip, as read
MAX_ZIP_TOTAL = 128 * 1024 * 1024  # everything read out of one archive, nested zips included
MAX_RECIPES = 5000  # recipes in one import
MAX_DEPTH = 8  # JSON-LD nesting walked (graph, mainEntity, sections of sections)
ZIP_MAGIC = b"PK\x03\x04"

SCHEMA = "https://schema.org"
# The library's diets as schema.org RestrictedDiet members. Sources: https://schema.org/VegetarianDiet
# ("A diet exclusive of animal meat"), https://schema.org/VeganDiet ("exclusive of all animal products"),
# https://schema.org/GlutenFreeDiet ("exclusive of gluten"); the enumeration (https://schema.org/RestrictedDiet)
# has no member for pescatarian, dairy-free or nut-free, so those are not published.
DIET_URLS = {
    "vegetarian": f"{SCHEMA}/VegetarianDiet",
    "vegan": f"{SCHEMA}/VeganDiet",
    "gluten-free": f"{SCHEMA}/GlutenFreeDiet",
}

# "Serves 4", "Makes 12 cookies", "Yield: 2 loaves", "Servings: 6", "Serves 4-6": a whole line that states a yield.
YIELD_LINE_RE = re.compile(
    r"^\W*(?:serves|serving[s]?|makes|yields?|portions?)\b\s*:?\s*(?:about\s+|approx\.?\s+)?(\d{1,4})\b"
    r"(?:\s*(?:-|–|to)\s*\d{1,4})?[^\n\d]{0,40}$",
    re.IGNORECASE,
)
_NUMBER_RE = re.compile(r"\d{1,6}")
_TAG_RE = re.compile(r"<[^>]{0,2000}>")
_HOURS_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:h|hrs?|hours?)\b", re.IGNORECASE)
_MINUTES_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:m|mins?|minutes?)\b", re.IGNORECASE)


@dataclass
class ImportedRecipe:
    """One recipe read from another format, before ``library.check_recipe``: ``recipe.servings`` is None
    when the source gave no number of servings; ``total_minutes`` is the total time it declared."""

    recipe: Recipe
    where: str  # the file (and zip member, JSON path) it was read from, for messages
    format: str  # jsonld, html, mealie, tandoor
    total_minutes: int | None = None
    keywords: list[str] = dataclass_field(
        default_factory=list
    )  # as the source gave them, before library.imported_labels
    categories: list[str] = dataclass_field(default_factory=list)  # recipeCategory: the first is the library's category

    def source(self) -> dict:
        """The library's ``source`` for it (``rows.RecipeSource``)."""
        out: dict[str, Any] = {"kind": "import", "format": self.format}
        if self.recipe.link:
            out["url"] = self.recipe.link
        if self.total_minutes is not None:
            out["total_minutes"] = self.total_minutes
        return out


# -- small readers ----------------------------------------------------------------------------------
def servings_from_yield(value: Any) -> int | None:
    """A number of servings from a yield as sources write it (4, "4", "4 servings", "Serves 4-6", "Makes 12
    cookies", ["4", "4 servings"]): its first whole number, when it is 1 to ``MAX_SERVINGS``; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        n = int(value)
        return n if value == n and 1 <= n <= MAX_SERVINGS else None
    if isinstance(value, list):
        for v in value[:10]:
            n = servings_from_yield(v)
            if n is not None:
                return n
        return None
    if isinstance(value, str):
        m = _NUMBER_RE.search(value[:200])
        if m and 1 <= int(m.group()) <= MAX_SERVINGS:
            return int(m.group())
    return None


def yield_line(line: str) -> int | None:
    """The servings of a line that is wholly a yield statement ("Serves 4", "Makes 12 cookies", "Yield: 6"),
    else None: what a pasted recipe's text says about its yield (``library.read_recipes``)."""
    m = YIELD_LINE_RE.match(line.strip()) if len(line) <= 80 else None
    return servings_from_yield(m.group(1)) if m else None


def minutes_from(value: Any) -> int | None:
    """Whole minutes of a duration as sources write it: ISO 8601 ("PT1H30M", schema.org's form), a number of
    minutes, or words ("1 hour 30 minutes", Mealie's free text); None when it says no time."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value) if 0 < value < 100_000 else None
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        return None
    text = value.strip()
    if text[:1] in "Pp":
        try:
            d = isodate.parse_duration(text.upper())
        except (isodate.ISO8601Error, ValueError, OverflowError):
            return None
        if isinstance(d, isodate.Duration):  # years or months: not a cooking time
            return None
        minutes = round(d.total_seconds() / 60)
        return minutes if 0 < minutes < 100_000 else None
    hours = sum(float(h) for h in _HOURS_RE.findall(text))
    minutes = sum(float(m) for m in _MINUTES_RE.findall(text))
    if not hours and not minutes and text.isdigit():
        minutes = float(text)
    total = round(hours * 60 + minutes)
    return total if 0 < total < 100_000 else None


def iso_duration(minutes: float) -> str:
    """``PT1H30M`` for 90 minutes (isodate's ISO 8601 writer)."""
    return isodate.duration_isoformat(timedelta(minutes=round(minutes)))


def plain_text(value: str) -> str:
    """Text of a JSON-LD string: HTML entities decoded, tags dropped, whitespace runs made one space
    (sites put markup and ``&amp;`` inside their JSON-LD)."""
    text = html.unescape(value)
    if "<" in text:
        text = html.unescape(_TAG_RE.sub(" ", text))
    return " ".join(text.split())


def _type_names(node: dict) -> list[str]:
    t = node.get("@type")
    names = t if isinstance(t, list) else [t]
    return [n.rsplit("/", 1)[-1].rsplit(":", 1)[-1] for n in names if isinstance(n, str)]


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number"
    )


# -- JSON-LD -> recipes -------------------------------------------------------------------------------
def _text(value: Any, where: str, field: str, required: bool = False) -> str | None:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise RecipeError(f"{where}: {field}: expected text, got {_kind(value)}", field)
    return plain_text(value)


def _ingredients(value: Any, where: str, field: str) -> list[str]:
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list):
        raise RecipeError(f"{where}: {field}: expected a list of ingredient lines, got {_kind(value)}", field)
    out = []
    for i, v in enumerate(value):
        if isinstance(v, dict) and isinstance(v.get("name"), str):  # a PropertyValue / HowToSupply
            v = v["name"]
        if not isinstance(v, str):
            raise RecipeError(f"{where}: {field}.{i}: expected text, got {_kind(v)}", f"{field}.{i}")
        out.append(plain_text(v))
    return out


def _steps(value: Any, where: str, field: str, depth: int = 0) -> list[str]:
    """recipeInstructions as steps: text (one step a line), a list of texts, HowToStep / HowToDirection
    (their ``text``, else ``name``), HowToSection / ItemList (their ``itemListElement``, in order)."""
    if depth > MAX_DEPTH:
        raise RecipeError(f"{where}: {field}: nested more than {MAX_DEPTH} sections deep", field)
    if isinstance(value, str):
        return [s for s in (plain_text(line) for line in html.unescape(value).splitlines()) if s]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _steps(v, where, f"{field}.{i}", depth + 1)]
    if isinstance(value, dict):
        if "itemListElement" in value:
            return _steps(value["itemListElement"], where, f"{field}.itemListElement", depth + 1)
        for key in ("text", "name"):
            if key in value:
                text = _text(value[key], where, f"{field}.{key}")
                return [text] if text else []
        raise RecipeError(f"{where}: {field}: a step with no text (no text, name or itemListElement)", field)
    raise RecipeError(f"{where}: {field}: expected text, a list or a HowToStep, got {_kind(value)}", field)


def labels_from(value: Any, where: str, field: str) -> list[str]:
    """``keywords`` / ``recipeCategory`` as a list of texts: a text of commas, a list of them, or DefinedTerms
    (their ``name``); empty entries dropped."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for i, v in enumerate(items):
        if isinstance(v, dict) and isinstance(v.get("name"), str):  # a DefinedTerm
            v = v["name"]
        if not isinstance(v, str):
            raise RecipeError(f"{where}: {field}.{i}: expected text, got {_kind(v)}", f"{field}.{i}")
        out += [t for t in (plain_text(part) for part in v.split(",")) if t]
    return out


def recipe_from_node(node: dict, where: str, path: str = "") -> ImportedRecipe:
    """One schema.org Recipe node; RecipeError naming the field that is missing or malformed."""
    p = f"{path}." if path else ""
    name = _text(node.get("name"), where, f"{p}name", required=True)
    if "recipeIngredient" in node:
        ingredients = _ingredients(node["recipeIngredient"], where, f"{p}recipeIngredient")
    elif "ingredients" in node:  # the older schema.org name
        ingredients = _ingredients(node["ingredients"], where, f"{p}ingredients")
    else:
        raise RecipeError(f"{where}: {p}recipeIngredient: missing", f"{p}recipeIngredient")
    if "recipeInstructions" not in node:
        raise RecipeError(f"{where}: {p}recipeInstructions: missing", f"{p}recipeInstructions")
    steps = _steps(node["recipeInstructions"], where, f"{p}recipeInstructions")
    total = minutes_from(node.get("totalTime"))
    if total is None:
        parts = [minutes_from(node.get(k)) for k in ("prepTime", "cookTime")]
        total = sum(m for m in parts if m) or None
    url = node.get("url") if isinstance(node.get("url"), str) else None
    recipe = Recipe(
        title=name or "",
        servings=servings_from_yield(node.get("recipeYield")),
        ingredients=ingredients,
        directions=steps,
        link=url,
    )
    return ImportedRecipe(
        recipe,
        f"{where}{':' + path if path else ''}",
        "jsonld",
        total,
        labels_from(node.get("keywords"), where, f"{p}keywords"),
        labels_from(node.get("recipeCategory"), where, f"{p}recipeCategory"),
    )


def _recipe_nodes(value: Any, path: str, depth: int = 0) -> list[tuple[str, dict]]:
    """(JSON path, node) of every schema.org Recipe in a JSON-LD document."""
    if depth > MAX_DEPTH:
        return []
    if isinstance(value, list):
        return [n for i, v in enumerate(value) for n in _recipe_nodes(v, f"{path}{'.' if path else ''}{i}", depth + 1)]
    if not isinstance(value, dict):
        return []
    if "Recipe" in _type_names(value):
        return [(path, value)]
    found = []
    for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement", "item"):
        if key in value:
            found += _recipe_nodes(value[key], f"{path}{'.' if path else ''}{key}", depth + 1)
    return found


def recipes_from_jsonld(data: Any, where: str) -> list[ImportedRecipe]:
    """Every Recipe of a JSON-LD document (one Recipe, a list, an ``@graph``); RecipeError when none."""
    nodes = _recipe_nodes(data, "")
    if not nodes:
        raise RecipeError(f'{where}: no schema.org Recipe in it (no node with "@type": "Recipe")', "@type")
    return [recipe_from_node(node, where, path) for path, node in nodes[:MAX_RECIPES]]


# -- Mealie and Tandoor -------------------------------------------------------------------------------
def _pick(obj: dict, *keys: str) -> Any:
    return next((obj[k] for k in keys if k in obj and obj[k] is not None), None)


def _amount(value: Any) -> str:
    """1.5 -> "1.5", "2.000" -> "2", 0 / None -> ""."""
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    if not d.is_finite() or d <= 0:
        return ""
    return format(d.normalize(), "f")


def _named(value: Any) -> str:
    name = value.get("name") if isinstance(value, dict) else value
    return name.strip() if isinstance(name, str) else ""


def from_mealie(obj: dict, where: str) -> ImportedRecipe:
    """A Mealie recipe (its export's ``<slug>.json``, snake_case; or the API's camelCase)."""
    name = _text(obj.get("name"), where, "name", required=True)
    raw_ingredients = _pick(obj, "recipe_ingredient", "recipeIngredient") or []
    if not isinstance(raw_ingredients, list):
        raise RecipeError(f"{where}: recipe_ingredient: expected a list, got {_kind(raw_ingredients)}")
    ingredients = []
    for i, ing in enumerate(raw_ingredients):
        if isinstance(ing, str):
            ingredients.append(plain_text(ing))
            continue
        if not isinstance(ing, dict):
            raise RecipeError(f"{where}: recipe_ingredient.{i}: expected an object, got {_kind(ing)}")
        line = _pick(ing, "display", "original_text", "originalText")
        if not isinstance(line, str) or not line.strip():
            parts = [_amount(ing.get("quantity")), _named(ing.get("unit")), _named(ing.get("food"))]
            line = " ".join(p for p in parts if p)
            note = ing.get("note") if isinstance(ing.get("note"), str) else ""
            line = f"{line}, {note}" if line and note.strip() else (line or note)
        ingredients.append(plain_text(line))
    raw_steps = _pick(obj, "recipe_instructions", "recipeInstructions") or []
    if not isinstance(raw_steps, list):
        raise RecipeError(f"{where}: recipe_instructions: expected a list, got {_kind(raw_steps)}")
    steps = []
    for i, s in enumerate(raw_steps):
        text = s.get("text") if isinstance(s, dict) else s
        if not isinstance(text, str):
            raise RecipeError(f"{where}: recipe_instructions.{i}.text: expected text, got {_kind(text)}")
        steps += _steps(text, where, f"recipe_instructions.{i}")
    servings = servings_from_yield(_pick(obj, "recipe_servings", "recipeServings"))
    if servings is None:
        servings = servings_from_yield(_pick(obj, "recipe_yield", "recipeYield"))
    total = minutes_from(_pick(obj, "total_time", "totalTime"))
    url = _pick(obj, "org_url", "orgURL", "orgUrl")
    recipe = Recipe(
        title=name or "",
        servings=servings,
        ingredients=[x for x in ingredients if x],
        directions=steps,
        link=url if isinstance(url, str) and url else None,
    )
    return ImportedRecipe(recipe, where, "mealie", total)


def from_tandoor(obj: dict, where: str) -> ImportedRecipe:
    """A Tandoor ``recipe.json`` (its export serializer: name, servings, working/waiting time in minutes,
    steps with their ingredients as food, unit, amount and note)."""
    name = _text(obj.get("name"), where, "name", required=True)
    raw_steps = obj.get("steps")
    if not isinstance(raw_steps, list):
        raise RecipeError(f"{where}: steps: expected a list, got {_kind(raw_steps)}", "steps")
    ordered = sorted(enumerate(raw_steps), key=lambda x: (x[1].get("order", 0) if isinstance(x[1], dict) else 0, x[0]))
    ingredients, steps = [], []
    for i, step in ordered:
        if not isinstance(step, dict):
            raise RecipeError(f"{where}: steps.{i}: expected an object, got {_kind(step)}", f"steps.{i}")
        raw_ings = step.get("ingredients") or []
        if not isinstance(raw_ings, list):
            raise RecipeError(f"{where}: steps.{i}.ingredients: expected a list", f"steps.{i}.ingredients")
        for j, ing in enumerate(raw_ings):
            if not isinstance(ing, dict):
                raise RecipeError(f"{where}: steps.{i}.ingredients.{j}: expected an object, got {_kind(ing)}")
            if ing.get("is_header"):
                continue
            amount = "" if ing.get("no_amount") else _amount(ing.get("amount"))
            line = " ".join(p for p in (amount, _named(ing.get("unit")), _named(ing.get("food"))) if p)
            note = ing.get("note") if isinstance(ing.get("note"), str) else ""
            line = f"{line}, {note.strip()}" if line and note.strip() else (line or note)
            if line.strip():
                ingredients.append(plain_text(line))
        instruction = step.get("instruction")
        if instruction is not None and not isinstance(instruction, str):
            raise RecipeError(f"{where}: steps.{i}.instruction: expected text, got {_kind(instruction)}")
        text = plain_text(instruction or "")
        if text:
            steps.append(text)
    times = [minutes_from(obj.get(k)) for k in ("working_time", "waiting_time")]
    url = obj.get("source_url")
    recipe = Recipe(
        title=name or "",
        servings=servings_from_yield(obj.get("servings")),
        ingredients=ingredients,
        directions=steps,
        link=url if isinstance(url, str) and url else None,
    )
    return ImportedRecipe(recipe, where, "tandoor", sum(t for t in times if t) or None)


def recipes_from_json(data: Any, where: str) -> list[ImportedRecipe]:
    """A parsed JSON document of any of the formats: JSON-LD, a Mealie recipe, a Tandoor recipe.json."""
    rows = data if isinstance(data, list) else [data]
    if rows and all(isinstance(r, dict) for r in rows):
        first = rows[0]
        if "slug" in first and ("recipe_ingredient" in first or "recipeIngredient" in first) and "@type" not in first:
            return [from_mealie(r, f"{where}.{i}" if len(rows) > 1 else where) for i, r in enumerate(rows)]
        if "steps" in first and "name" in first and ("working_time" in first or "waiting_time" in first):
            return [from_tandoor(r, f"{where}.{i}" if len(rows) > 1 else where) for i, r in enumerate(rows)]
        if "recipes" in first and "recipe_instructions" in first:
            raise RecipeError(
                f"{where}: a Mealie backup (database.json), not a recipe export: export the recipes themselves "
                "(Mealie's recipe export zip, or one recipe's JSON)"
            )
    return recipes_from_jsonld(data, where)


# -- web pages ----------------------------------------------------------------------------------------
def recipes_from_html(page: str, url: str | None, where: str) -> list[ImportedRecipe]:
    """One recipe from a saved web page, read by recipe-scrapers (``scrape_html``, ``supported_only=False``:
    a site it knows by ``url``'s host by that site's rules, any other by the page's schema.org data)."""
    if len(page) > MAX_HTML_CHARS:
        raise RecipeError(f"{where}: the page is {len(page)} characters, at most {MAX_HTML_CHARS}", "html")
    from recipe_scrapers import scrape_html  # lazy: bs4, lxml and extruct load in ~0.3 s, only for an import

    try:
        scraper = scrape_html(page, org_url=url or "https://localhost/", supported_only=False)
    except Exception as e:  # the library raises its own errors and lxml's on markup it cannot read
        raise RecipeError(f"{where}: no recipe found in the page ({type(e).__name__}: {e})", "html") from None

    def field(method: str, label: str, required: bool) -> Any:
        try:
            return getattr(scraper, method)()
        except Exception as e:  # each site's reader raises what it meets (ElementNotFound, KeyError, ...)
            if required:
                raise RecipeError(f"{where}: the page has no {label} ({type(e).__name__}: {e})", label) from None
            return None

    title = field("title", "title", True)
    ingredients = field("ingredients", "ingredients", True)
    steps = field("instructions_list", "directions", True)
    if not isinstance(title, str) or not isinstance(ingredients, list) or not isinstance(steps, list):
        raise RecipeError(f"{where}: the page's recipe has no title, ingredient list or steps", "html")
    recipe = Recipe(
        title=title,
        servings=servings_from_yield(field("yields", "yield", False)),
        ingredients=[x for x in ingredients if isinstance(x, str)],
        directions=[x for x in steps if isinstance(x, str)],
        link=url,
    )
    keywords, category = field("keywords", "keywords", False), field("category", "category", False)
    return [
        ImportedRecipe(
            recipe,
            where,
            "html",
            minutes_from(field("total_time", "total time", False)),
            labels_from(
                [k for k in keywords if isinstance(k, str)] if isinstance(keywords, list) else keywords,
                where,
                "keywords",
            ),
            labels_from(category, where, "category"),
        )
    ]


# -- files and archives -------------------------------------------------------------------------------
def _loads(data: bytes, where: str) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except RecursionError:
        raise RecipeError(f"{where}: JSON nested too deeply", "json") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise RecipeError(f"{where}: not JSON: {e}", "json") from None


def _safe_name(name: str) -> bool:
    p = PurePosixPath(name.replace("\\", "/"))
    return not p.is_absolute() and ".." not in p.parts and ":" not in name and "\x00" not in name


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_ZIP_TOTAL

    def take(self, n: int, where: str) -> None:
        self.left -= n
        if self.left < 0:
            raise RecipeError(f"{where}: the archive unpacks to over {MAX_ZIP_TOTAL} bytes; refused", "zip")


def _zip_members(data: bytes, where: str, budget: _Budget, depth: int = 0) -> list[tuple[str, bytes]]:
    """(name, bytes) of the .json members of a zip, and of the zips inside it one level deep, read in memory
    with the caps above; RecipeError for a damaged archive, an unsafe name, a member or total over its cap."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as e:
        raise RecipeError(f"{where}: not a readable zip archive: {e}", "zip") from None
    if len(infos) > MAX_ZIP_MEMBERS:
        raise RecipeError(f"{where}: {len(infos)} entries in the archive, at most {MAX_ZIP_MEMBERS}", "zip")
    out = []
    for info in infos:
        name = info.filename
        if not _safe_name(name):
            raise RecipeError(f"{where}: unsafe entry name {name[:200]!r} (an absolute path or '..'); refused", "zip")
        lower = name.lower()
        wanted = lower.endswith(".json") or (lower.endswith(".zip") and depth == 0)
        if info.is_dir() or not wanted:
            continue  # images and other assets are never read
        member = f"{where}:{name}"
        if info.file_size > MAX_MEMBER_BYTES:
            raise RecipeError(f"{member}: {info.file_size} bytes unpacked, at most {MAX_MEMBER_BYTES}", "zip")
        try:
            with archive.open(info) as f:
                content = f.read(MAX_MEMBER_BYTES + 1)  # the header's size may lie: read at most the cap
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError, OSError, EOFError) as e:
            raise RecipeError(f"{member}: cannot read it: {e}", "zip") from None
        if len(content) > MAX_MEMBER_BYTES:
            raise RecipeError(f"{member}: unpacks to over {MAX_MEMBER_BYTES} bytes; refused", "zip")
        budget.take(len(content), where)
        if lower.endswith(".zip"):
            out += _zip_members(content, member, budget, depth + 1)
        else:
            out.append((member, content))
    return out


def recipes_from_zip(data: bytes, where: str) -> list[ImportedRecipe]:
    """Every recipe of a Mealie or Tandoor export archive (or any zip of recipe JSON files)."""
    members = _zip_members(data, where, _Budget())
    if not members:
        raise RecipeError(
            f"{where}: no recipe JSON in the archive (Mealie: recipes/<slug>/<slug>.json, Tandoor: recipe.json)"
        )
    out = [r for name, content in members for r in recipes_from_json(_loads(content, name), name)]
    if len(out) > MAX_RECIPES:
        raise RecipeError(f"{where}: {len(out)} recipes, at most {MAX_RECIPES} in one import")
    return out


def import_bytes(data: bytes, where: str, url: str | None = None) -> list[ImportedRecipe]:
    """The recipes of one file's bytes: a zip (Mealie, Tandoor), a web page, or JSON (JSON-LD, Mealie,
    Tandoor); ``url`` is the page's address when it is a saved page (it picks the site's reader)."""
    if len(data) > MAX_FILE_BYTES:
        raise RecipeError(f"{where}: {len(data)} bytes, at most {MAX_FILE_BYTES}", "file")
    if data.startswith(ZIP_MAGIC):
        return recipes_from_zip(data, where)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RecipeError(f"{where}: not UTF-8 text or a zip archive: {e}", "file") from None
    head = text.lstrip()[:1]
    if head in "{[" and head:
        return recipes_from_json(_loads(data, where), where)
    if head == "<":
        return recipes_from_html(text, url, where)
    raise RecipeError(f"{where}: not JSON, a web page or a zip archive (recipe text: `chefbot library add`)", "file")


# -- recipes -> JSON-LD -----------------------------------------------------------------------------
def to_jsonld(saved: dict, page_url: str | None = None) -> dict:
    """A saved recipe (``library.recipe_dict``) as a schema.org Recipe JSON-LD object."""
    source = saved.get("source") or {}
    labels = label_recipe(saved["title"], saved["ingredients"], saved["directions"])
    total = source.get("total_minutes") if isinstance(source.get("total_minutes"), int) else labels.total_minutes
    out: dict[str, Any] = {
        "@context": SCHEMA,
        "@type": "Recipe",
        "name": saved["title"],
        "recipeYield": f"{saved['servings']} servings",
        "recipeIngredient": list(saved["ingredients"]),
        "recipeInstructions": [
            {"@type": "HowToStep", "position": i, "text": step} for i, step in enumerate(saved["directions"], 1)
        ],
    }
    if total:
        out["totalTime"] = iso_duration(total)
    diets = [DIET_URLS[d] for d in labels.diets if d in DIET_URLS]
    if diets:
        out["suitableForDiet"] = diets
    if saved.get("tags"):
        out["keywords"] = ", ".join(saved["tags"])
    if saved.get("category"):
        out["recipeCategory"] = saved["category"]
    if page_url:
        out["url"] = page_url
    photo = saved.get("photo")  # kitchen.photos.with_photo: the recipe's picture
    if isinstance(photo, dict) and isinstance(photo.get("url"), str):
        out["image"] = urljoin(page_url, photo["url"]) if page_url else photo["url"]
    for key, field in (("dateCreated", "created_at"), ("dateModified", "updated_at")):
        if saved.get(field):
            out[key] = saved[field]
    if source.get("kind") == "generated":
        creator: dict[str, Any] = {"@type": "SoftwareApplication", "name": source.get("model") or "ChefBot"}
        if source.get("base_model"):
            creator["isBasedOn"] = source["base_model"]
        if source.get("adapter"):
            creator["identifier"] = source["adapter"]
        if source.get("adapter_sha256"):
            creator["softwareVersion"] = f"sha256:{source['adapter_sha256']}"
        out["creator"] = creator
    elif isinstance(source.get("url"), str):
        out["isBasedOn"] = source["url"]
    return out


def library_jsonld(saved: list[dict], base_url: str | None = None) -> dict:
    """Many saved recipes as one JSON-LD document (an ``@graph`` of Recipes)."""
    base = base_url.rstrip("/") if base_url else None
    graph = []
    for r in saved:
        node = to_jsonld(r, f"{base}/library/{r['id']}" if base else None)
        node.pop("@context")
        graph.append(node)
    return {"@context": SCHEMA, "@graph": graph}


def script_json(obj: Any) -> str:
    """JSON for inside an HTML ``<script>`` element: ``<``, ``>`` and ``&`` as JSON escapes, so no text in a
    recipe can close the element (``</script>``) or open a comment; U+2028/2029 escaped for old parsers."""
    text = json.dumps(obj, ensure_ascii=False, indent=1)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text
