"""The recipe library: save, search, get (scaled), delete; recipes from text, RecipeNLG rows and files.

A recipe (``recipe_format.Recipe``: title, servings, ingredient lines, direction steps) is stored
as given with a ``source`` row column (``rows.RecipeSource``, not ``Recipe.source``) that says where
it came from; for a ChefBot answer that is the model, the
adapter and the generation settings that wrote it.  Text is read by chefbot's own
parser (``chefbot.recipe_format.parse_recipe``, the one the evaluation and the server
use) or as a RecipeNLG row (a JSON object, or a line of the RecipeNLG CSV, whose list
columns are JSON-encoded).  Search is a case-insensitive match of every word of the
query in the title or an ingredient line (SQL ``LIKE`` on a lower-case column: a
household library is hundreds of recipes, not millions).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from fractions import Fraction
from pathlib import Path
from typing import Any

from chefbot.cooking.quantities import scale_line
from chefbot.errors import DataError
from chefbot.kitchen.db import KitchenDB, UnreadableRow, now_iso
from chefbot.kitchen.rows import (
    MAX_DIRECTIONS,
    MAX_INGREDIENTS,
    MAX_LINE,
    MAX_SERVINGS,
    MAX_STEP,
    MAX_TITLE,
    RecipeError,
    clean_text,
    has_control,
)
from chefbot.kitchen.schema_org import yield_line
from chefbot.recipe_format import Recipe, parse_recipe

__all__ = [
    "MAX_SERVINGS",
    "RecipeError",
    "check_recipe",
    "delete_recipe",
    "from_recipenlg",
    "get_recipe",
    "insert_recipe",
    "library_recipes",
    "read_recipes",
    "recipes_from_file",
    "save_recipe",
    "saved_recipes",
    "search_recipes",
]
RECIPENLG_COLUMNS = ("", "title", "ingredients", "directions", "link", "source", "NER")


def check_recipe(title: Any, ingredients: Any, directions: Any, servings: Any) -> Recipe:
    """The recipe from its parts normalized (``rows.clean_text``: the one normalization of the API, pasted text,
    recipe files and backups; lines that normalize to nothing are dropped), or RecipeError naming the part that
    is wrong."""
    title = clean_text(title if title is not None else "", "title", MAX_TITLE)
    for field, value in (("ingredients", ingredients), ("directions", directions)):
        if not isinstance(value, list):
            raise RecipeError(f"{field}: expected a list of lines, got {type(value).__name__}", field)
    ingredients = [x for x in (clean_text(v, f"ingredients.{i}", MAX_LINE) for i, v in enumerate(ingredients)) if x]
    directions = [x for x in (clean_text(v, f"directions.{i}", MAX_STEP) for i, v in enumerate(directions)) if x]
    if not title:
        raise RecipeError("the recipe has no title", "title")
    if not ingredients:
        raise RecipeError("the recipe has no ingredient lines", "ingredients")
    if not directions:
        raise RecipeError("the recipe has no directions", "directions")
    if len(ingredients) > MAX_INGREDIENTS:
        raise RecipeError(f"ingredients: {len(ingredients)} lines, at most {MAX_INGREDIENTS}", "ingredients")
    if len(directions) > MAX_DIRECTIONS:
        raise RecipeError(f"directions: {len(directions)} steps, at most {MAX_DIRECTIONS}", "directions")
    if not isinstance(servings, int) or isinstance(servings, bool) or not 1 <= servings <= MAX_SERVINGS:
        raise RecipeError(f"servings must be 1 to {MAX_SERVINGS}, not {servings!r}", "servings")
    return Recipe(title=title, servings=servings, ingredients=ingredients, directions=directions)


# -- reading recipes from text ------------------------------------------------------------------
def _json_list(value: Any, column: str) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise RecipeError(f"RecipeNLG row: {column} is not a JSON list", column) from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecipeError(f"RecipeNLG row: {column} must be a list of strings", column)
    return value


def from_recipenlg(row: dict) -> Recipe:
    """A RecipeNLG row (title, ingredients, directions, NER; list columns as lists or JSON text), as given:
    ``check_recipe`` normalizes it before it is saved.  (``data.readers`` has its own, faster reader of
    whole files, which counts bad rows by reason instead of raising.)"""
    missing = [c for c in ("title", "ingredients", "directions") if c not in row]
    if missing:
        raise RecipeError(f"RecipeNLG row: no {', '.join(missing)} column", missing[0])
    return Recipe(
        title=str(row["title"] or ""),
        ingredients=_json_list(row["ingredients"], "ingredients"),
        directions=_json_list(row["directions"], "directions"),
        ner=_json_list(row["NER"], "NER") if row.get("NER") else [],
    )


def _csv_rows(text: str) -> list[dict]:
    try:
        rows = [r for r in csv.reader(io.StringIO(text.strip())) if r]
    except csv.Error as e:
        raise RecipeError(f"RecipeNLG CSV: {e}") from None
    if rows and "title" in rows[0] and "ingredients" in rows[0]:
        header, rows = rows[0], rows[1:]
    else:
        header = list(RECIPENLG_COLUMNS if rows and len(rows[0]) == 7 else RECIPENLG_COLUMNS[1:])
    out = []
    for r in rows:
        if len(r) != len(header):
            raise RecipeError(f"RecipeNLG CSV: a row has {len(r)} columns, expected {len(header)} ({','.join(header)})")
        out.append(dict(zip(header, r)))
    return out


def read_recipes(text: str, fmt: str = "auto") -> list[Recipe]:
    """Every recipe in ``text``: chefbot's recipe format (one, with its servings when a line says "Serves N",
    "Makes N" or "Yield: N"), a RecipeNLG JSON object (one) or JSON list, or RecipeNLG CSV lines (one per
    line, a header line allowed)."""
    stripped = text.strip()
    if not stripped:
        raise RecipeError("the text is empty")
    if fmt in ("auto", "recipenlg") and stripped[0] in "{[":
        try:
            obj = json.loads(stripped)
        except (ValueError, RecursionError) as e:
            if fmt == "recipenlg":
                raise RecipeError(f"RecipeNLG row: not JSON: {e}") from None
        else:
            rows = obj if isinstance(obj, list) else [obj]
            if not all(isinstance(r, dict) for r in rows):
                raise RecipeError(
                    "RecipeNLG JSON: give an object (or a list of objects) with title, ingredients, directions"
                )
            return [from_recipenlg(r) for r in rows]
    if fmt == "chefbot" or (fmt == "auto" and not _looks_like_csv(stripped)):
        # A line that only states the yield ("Serves 4", "Makes 12 cookies", "Yield: 6") is the servings,
        # not an ingredient or a step; the first one counts.
        yields = [n for line in stripped.splitlines() if (n := yield_line(line)) is not None]
        parsed = parse_recipe("\n".join(x for x in stripped.splitlines() if yield_line(x) is None))
        return [
            Recipe(
                title=parsed.title or "",
                servings=yields[0] if yields else None,
                ingredients=parsed.ingredients,
                directions=parsed.directions,
            )
        ]
    return [from_recipenlg(r) for r in _csv_rows(stripped)]


def _looks_like_csv(text: str) -> bool:
    """A RecipeNLG CSV line has its list columns as quoted JSON: ``"[""1 cup ..."", ...]"``."""
    return '"[""' in text or text.startswith(",title,ingredients") or text.startswith("title,ingredients")


def recipes_from_file(path: str | Path) -> list[Recipe]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: cannot read it: {e}") from None
    fmt = "recipenlg" if p.suffix.lower() in (".json", ".csv", ".jsonl") else "auto"
    if p.suffix.lower() == ".jsonl":
        return [r for line in text.splitlines() if line.strip() for r in read_recipes(line, fmt)]
    return read_recipes(text, fmt)


# -- the table ----------------------------------------------------------------------------------
def _search_text(title: str, ingredients: list[str]) -> str:
    return "\n".join([title, *ingredients]).lower()


def _column(row: sqlite3.Row, column: str, kind: type) -> Any:
    """A JSON column of a stored recipe, or UnreadableRow naming it (a row written by another version or by hand)."""
    try:
        value = json.loads(row[column])
    except (TypeError, ValueError, RecursionError):
        raise UnreadableRow("recipe", row["id"], column, "not JSON") from None
    if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
        raise UnreadableRow(
            "recipe",
            row["id"],
            column,
            f"expected {'a list of strings' if kind is list else 'an object'}, got {type(value).__name__}",
        )
    return value


def recipe_dict(row: sqlite3.Row) -> dict:
    """A stored recipe as the API shows it; UnreadableRow when a column is not what this chefbot writes."""
    source = _column(row, "source", dict)
    if not isinstance(source.get("kind", ""), str):
        raise UnreadableRow("recipe", row["id"], "source.kind", "expected a string")
    if not isinstance(row["title"], str) or not isinstance(row["servings"], int):
        raise UnreadableRow(
            "recipe", row["id"], "title" if not isinstance(row["title"], str) else "servings", "wrong type"
        )
    return {
        "id": row["id"],
        "object": "recipe",
        "title": row["title"],
        "servings": row["servings"],
        "base_servings": row["servings"],
        "ingredients": _column(row, "ingredients", list),
        "directions": _column(row, "directions", list),
        "source": source,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def insert_recipe(
    conn: sqlite3.Connection, recipe: Recipe, source: dict, created_at: str | None = None, updated_at: str | None = None
) -> int:
    """One INSERT of a recipe ``check_recipe`` returned, inside the caller's transaction (save_recipe, a
    backup's import)."""
    when = created_at or now_iso()
    cur = conn.execute(
        "INSERT INTO recipes (title, servings, ingredients, directions, source, search, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            recipe.title,
            recipe.servings,
            json.dumps(recipe.ingredients, ensure_ascii=False),
            json.dumps(recipe.directions, ensure_ascii=False),
            json.dumps(source, ensure_ascii=False),
            _search_text(recipe.title or "", recipe.ingredients),
            when,
            updated_at or when,
        ),
    )
    return int(cur.lastrowid)


def save_recipe(
    db: KitchenDB,
    title: str | None,
    ingredients: list[str],
    directions: list[str],
    servings: int = 4,
    source: dict | None = None,
) -> dict:
    """Check and store one recipe (one transaction); the saved recipe with its ``id``."""
    recipe = check_recipe(title, ingredients, directions, servings)
    with db.write() as c:
        rid = insert_recipe(c, recipe, source or {"kind": "manual"})
        return recipe_dict(c.execute("SELECT * FROM recipes WHERE id = ?", (rid,)).fetchone())


def get_recipe(db: KitchenDB, recipe_id: int, servings: int | None = None) -> dict | None:
    """The recipe, with its ingredient lines scaled to ``servings`` when given; None when there is none."""
    with db.read() as c:
        row = c.execute("SELECT * FROM recipes WHERE id = ?", (recipe_id,)).fetchone()
    if row is None:
        return None
    out = recipe_dict(row)
    if servings is not None and servings != out["base_servings"]:
        out["ingredients"] = [
            scale_line(line, Fraction(out["base_servings"]), Fraction(servings)) for line in out["ingredients"]
        ]
        out["servings"] = servings
    return out


def _like(word: str) -> str:
    return "%" + word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_recipes(db: KitchenDB, q: str | None = None, limit: int = 50, offset: int = 0) -> dict:
    """Recipes whose title or ingredient lines contain every word of ``q`` (all without ``q``), newest first.
    A word with a control character matches nothing (no saved recipe holds one; SQLite's LIKE would read a
    NUL as the pattern's end and match everything).  A stored row this chefbot cannot read is left out of
    ``data`` and listed in ``unreadable`` (id, field, message), so one bad row never hides the others."""
    words = (q or "").split()
    if any(has_control(w) for w in words):
        return {"object": "list", "total": 0, "data": []}
    where = " AND ".join(["search LIKE ? ESCAPE '\\'"] * len(words)) or "1"
    args = [_like(w) for w in words]
    with db.read() as c:
        total = c.execute(f"SELECT count(*) FROM recipes WHERE {where}", args).fetchone()[0]
        rows = c.execute(
            f"SELECT * FROM recipes WHERE {where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
    data, unreadable = [], []
    for r in rows:
        try:
            recipe = recipe_dict(r)
        except UnreadableRow as e:
            unreadable.append(e.as_dict())
            continue
        data.append(
            {
                "id": recipe["id"],
                "title": recipe["title"],
                "servings": recipe["servings"],
                "ingredients_count": len(recipe["ingredients"]),
                "source_kind": recipe["source"].get("kind"),
                "created_at": recipe["created_at"],
            }
        )
    out = {"object": "list", "total": int(total), "data": data}
    if unreadable:
        out["unreadable"] = unreadable
    return out


def saved_recipes(db: KitchenDB, limit: int | None = None) -> list[dict]:
    """The newest ``limit`` (all: None) readable recipes of the library as the API shows them (``recipe_dict``);
    unreadable rows are left out."""
    with db.read() as c:
        rows = c.execute(
            "SELECT * FROM recipes ORDER BY created_at DESC, id DESC LIMIT ?", (-1 if limit is None else limit,)
        ).fetchall()
    out = []
    for r in rows:
        try:
            out.append(recipe_dict(r))
        except UnreadableRow:
            continue
    return out


def library_recipes(db: KitchenDB, limit: int = 5000) -> list[Recipe]:
    """The newest ``limit`` readable recipes of the library, as ``Recipe``s naming their library id
    (``id`` "library:<id>", ``source`` "library"): what grounding searches beside the corpus
    (``data.retrieval.memory_index``).  Unreadable rows are left out."""
    return [
        Recipe(
            title=d["title"],
            servings=d["servings"],
            ingredients=d["ingredients"],
            directions=d["directions"],
            id=f"library:{d['id']}",
            source="library",
        )
        for d in saved_recipes(db, limit)
    ]


def delete_recipe(db: KitchenDB, recipe_id: int) -> bool:
    """True when a recipe was deleted (plans keep their own copy of it)."""
    with db.write() as c:
        return c.execute("DELETE FROM recipes WHERE id = ?", (recipe_id,)).rowcount > 0
