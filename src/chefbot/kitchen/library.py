"""The recipe library: save, search, get (scaled), delete; recipes from text, RecipeNLG rows and files.

A recipe (``recipe_format.Recipe``: title, servings, ingredient lines, direction steps) is stored
as given with a ``source`` row column (``rows.RecipeSource``, not ``Recipe.source``) that says where
it came from; for a ChefBot answer that is the model, the
adapter and the generation settings that wrote it.  Text is read by chefbot's own
parser (``chefbot.recipe_format.parse_recipe``, the one the evaluation and the server
use) or as a RecipeNLG row (a JSON object, or a line of the RecipeNLG CSV, whose list
columns are JSON-encoded).

* **Editing** (``update_recipe``): every recipe carries a ``version`` (1 when saved, +1 on every edit).  An edit
  names the version it read; when the recipe has moved on since, it is refused with ``StaleVersion`` (409
  ``stale_version``, the current version named) so two cooks' edits never silently overwrite each other.  The
  row an edit replaces is kept in ``recipe_versions`` (``recipe_versions`` lists them, ``restore_version``
  makes one the newest version again, keeping the one it replaces too).
* **Tags and a category** (``check_tags``, ``check_category``): normalized like every other text
  (``rows.clean_text``), inner whitespace collapsed, tags lower-cased and de-duplicated; letters, digits,
  spaces and ``- ' & +`` only, so a tag is safe in a URL, a page and an FTS query; anything else is refused
  naming ``tags.N`` / ``category``.
* **Search** (``search_recipes``): SQLite FTS5 over title, ingredient lines, directions and tags (the
  ``recipes_fts`` table of db.py, kept in sync by triggers in the same transaction as the row), with the
  porter stemmer over ``unicode61`` tokens (diacritics folded): "tomato" finds "tomatoes", "bake" finds
  "baking", "creme" finds "crème".  Every word of the query is a prefix (``fts_query``): "chil" finds "chili",
  "chilli" and "chillies".  Porter does not conflate spellings (stems "chilli" and "chili"), so a query word
  that matches nothing in the index is also searched as the index's close spellings (``spelling_variants``:
  "chilli" finds "Chili", "yoghurt" finds "yogurt"; the response names them in ``spellings``).  The query is never FTS syntax:
  its words are taken out (``\w+``) and each is quoted, so a quote, ``NEAR``, ``OR``, ``*`` or a column
  filter in it is only text.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
import sqlite3
from fractions import Fraction
from pathlib import Path
from typing import Any

from chefbot.cooking.quantities import scale_line
from chefbot.errors import DataError
from chefbot.kitchen import ratings
from chefbot.kitchen.db import KitchenDB, KitchenError, NotFound, UnreadableRow, now_iso
from chefbot.kitchen.rows import (
    MAX_CATEGORY,
    MAX_DIRECTIONS,
    MAX_INGREDIENTS,
    MAX_LINE,
    MAX_SERVINGS,
    MAX_STEP,
    MAX_TAG,
    MAX_TAGS,
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
    "StaleVersion",
    "check_category",
    "check_recipe",
    "check_tags",
    "delete_recipe",
    "from_recipenlg",
    "get_recipe",
    "insert_recipe",
    "library_recipes",
    "read_recipes",
    "recipe_versions",
    "recipes_from_file",
    "restore_version",
    "save_recipe",
    "saved_recipes",
    "search_recipes",
    "update_recipe",
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


# A tag or category: letters, digits, spaces and - ' & + (no markup, quotes, commas or FTS syntax).
LABEL_RE = re.compile(r"^[^\W_](?:[\w '&+-]*[^\W_])?$")


def _label(value: Any, field: str, max_length: int) -> str:
    """One tag or category normalized: ``clean_text``, inner whitespace collapsed; '' when nothing is left."""
    text = " ".join(clean_text(value, field, max_length * 2).split())
    if not text:
        return ""
    if len(text) > max_length:
        raise RecipeError(f"{field}: {len(text)} characters, at most {max_length}", field)
    if not LABEL_RE.match(text) or "_" in text:
        raise RecipeError(
            f"{field}: {text[:40]!r} may hold only letters, digits, spaces and - ' & + (and start and end with a "
            "letter or digit)",
            field,
        )
    return text


def check_tags(tags: Any) -> list[str]:
    """Tags normalized (``_label``, lower-cased), empty ones dropped, duplicates once, in the order given;
    RecipeError naming ``tags`` or ``tags.N``."""
    if tags is None:
        return []
    if not isinstance(tags, list):
        raise RecipeError(f"tags: expected a list of tags, got {type(tags).__name__}", "tags")
    out: list[str] = []
    for i, tag in enumerate(tags):
        t = _label(tag, f"tags.{i}", MAX_TAG).casefold()
        if t and t not in out:
            out.append(t)
    if len(out) > MAX_TAGS:
        raise RecipeError(f"tags: {len(out)} tags, at most {MAX_TAGS}", "tags")
    return out


def check_category(category: Any) -> str | None:
    """The category normalized (``_label``, case kept; compared case-insensitively), None for none."""
    if category is None:
        return None
    return _label(category, "category", MAX_CATEGORY) or None


def imported_labels(keywords: list[str], categories: list[str]) -> tuple[list[str], str | None, list[str]]:
    """An import's tags and category (``schema_org.ImportedRecipe``): the first category that is a valid label
    is the category, the other categories and the keywords are tags (``check_tags``, up to ``MAX_TAGS``).  A site's
    keyword a tag cannot hold ("ready in 30 min!", over ``MAX_TAG``) is not a reason to refuse the recipe: it is
    left out and returned as the third item, for the caller to say."""
    tags: list[str] = []
    category, dropped = None, []
    for c in categories:
        try:
            label = check_category(c)
        except RecipeError:
            dropped.append(c)
            continue
        if category is None:
            category = label
        elif label:
            keywords = [*keywords, label]
    for k in keywords:
        try:
            new = [t for t in check_tags([k]) if t not in tags]
        except RecipeError:
            dropped.append(k)
            continue
        if len(tags) + len(new) > MAX_TAGS:
            dropped.append(k)
        else:
            tags += new
    return tags, category, dropped


class StaleVersion(KitchenError):
    """An edit names a version of the recipe that is no longer current: 409 ``stale_version``; ``current`` is the
    recipe as it now is."""

    def __init__(self, recipe_id: int, given: int, current: dict) -> None:
        super().__init__(
            f"recipe {recipe_id} is at version {current['version']}, not {given}: someone edited it since you read "
            f"it; read it again (GET /api/recipes/{recipe_id}) and redo your change"
        )
        self.field, self.current = "version", current


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
def _column(row: sqlite3.Row, column: str, kind: type, what: str = "recipe") -> Any:
    """A JSON column of a stored recipe, or UnreadableRow naming it (a row written by another version or by hand)."""
    try:
        value = json.loads(row[column])
    except (TypeError, ValueError, RecursionError):
        raise UnreadableRow(what, row["id"], column, "not JSON") from None
    if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
        raise UnreadableRow(
            what,
            row["id"],
            column,
            f"expected {'a list of strings' if kind is list else 'an object'}, got {type(value).__name__}",
        )
    return value


def _content(row: sqlite3.Row, what: str = "recipe") -> dict:
    """The editable fields of a stored recipe or version row (title, servings, lines, tags, category)."""
    if not isinstance(row["title"], str) or not isinstance(row["servings"], int):
        raise UnreadableRow(what, row["id"], "title" if not isinstance(row["title"], str) else "servings", "wrong type")
    if row["category"] is not None and not isinstance(row["category"], str):
        raise UnreadableRow(what, row["id"], "category", "expected text")
    return {
        "title": row["title"],
        "servings": row["servings"],
        "ingredients": _column(row, "ingredients", list, what),
        "directions": _column(row, "directions", list, what),
        "tags": _column(row, "tags", list, what),
        "category": row["category"],
    }


def recipe_dict(row: sqlite3.Row) -> dict:
    """A stored recipe as the API shows it; UnreadableRow when a column is not what this chefbot writes."""
    source = _column(row, "source", dict)
    if not isinstance(source.get("kind", ""), str):
        raise UnreadableRow("recipe", row["id"], "source.kind", "expected a string")
    content = _content(row)
    return {
        "id": row["id"],
        "object": "recipe",
        "version": row["version"],
        **content,
        "base_servings": row["servings"],
        "source": source,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def insert_recipe(
    conn: sqlite3.Connection,
    recipe: Recipe,
    source: dict,
    created_at: str | None = None,
    updated_at: str | None = None,
    *,
    tags: list[str] | None = None,
    category: str | None = None,
    version: int = 1,
) -> int:
    """One INSERT of a recipe ``check_recipe`` returned (tags and category through ``check_tags`` and
    ``check_category``), inside the caller's transaction (save_recipe, a backup's import)."""
    when = created_at or now_iso()
    cur = conn.execute(
        "INSERT INTO recipes (title, servings, ingredients, directions, source, tags, category, version, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            recipe.title,
            recipe.servings,
            _dumps(recipe.ingredients),
            _dumps(recipe.directions),
            _dumps(source),
            _dumps(tags or []),
            category,
            version,
            when,
            updated_at or when,
        ),
    )
    return int(cur.lastrowid)


def _columns(content: dict) -> tuple:
    """The editable fields (``_content``) as stored: title, servings, ingredients, directions, tags, category."""
    return (
        content["title"],
        content["servings"],
        _dumps(content["ingredients"]),
        _dumps(content["directions"]),
        _dumps(content["tags"]),
        content["category"],
    )


def insert_version(conn: sqlite3.Connection, recipe_id: int, version: int, content: dict, saved_at: str) -> None:
    """Keep a previous version of a recipe (in the caller's transaction): an edit's, a restore's or a backup's."""
    conn.execute(
        "INSERT INTO recipe_versions (recipe_id, version, title, servings, ingredients, directions, tags, category, "
        "saved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (recipe_id, version, *_columns(content), saved_at),
    )


def save_recipe(
    db: KitchenDB,
    title: str | None,
    ingredients: list[str],
    directions: list[str],
    servings: int = 4,
    source: dict | None = None,
    tags: list[str] | None = None,
    category: str | None = None,
) -> dict:
    """Check and store one recipe (one transaction); the saved recipe with its ``id`` and ``version`` 1."""
    recipe = check_recipe(title, ingredients, directions, servings)
    tags, category = check_tags(tags), check_category(category)
    with db.write() as c:
        rid = insert_recipe(c, recipe, source or {"kind": "manual"}, tags=tags, category=category)
        return recipe_dict(c.execute("SELECT * FROM recipes WHERE id = ?", (rid,)).fetchone())


def _replace(c: sqlite3.Connection, row: sqlite3.Row, content: dict) -> dict:
    """Keep ``row`` as a previous version and store ``content`` as the recipe's next version (caller's transaction)."""
    insert_version(c, row["id"], row["version"], _content(row), row["updated_at"])
    c.execute(
        "UPDATE recipes SET title = ?, servings = ?, ingredients = ?, directions = ?, tags = ?, category = ?, "
        "version = version + 1, updated_at = ? WHERE id = ?",
        (
            *_columns(content),
            now_iso(),
            row["id"],
        ),
    )
    return recipe_dict(c.execute("SELECT * FROM recipes WHERE id = ?", (row["id"],)).fetchone())


def update_recipe(
    db: KitchenDB,
    recipe_id: int,
    version: int,
    title: str,
    ingredients: list[str],
    directions: list[str],
    servings: int,
    tags: list[str] | None = None,
    category: str | None = None,
) -> dict:
    """Replace the recipe's fields when ``version`` is still its version (one transaction); the recipe at its new
    version.  NotFound, StaleVersion (someone edited it since), RecipeError (a field named)."""
    recipe = check_recipe(title, ingredients, directions, servings)
    content = {
        "title": recipe.title,
        "servings": recipe.servings,
        "ingredients": recipe.ingredients,
        "directions": recipe.directions,
        "tags": check_tags(tags),
        "category": check_category(category),
    }
    with db.write() as c:
        row = c.execute("SELECT * FROM recipes WHERE id = ?", (recipe_id,)).fetchone()
        if row is None:
            raise NotFound("recipe", recipe_id, "recipe_id")
        if row["version"] != version:
            raise StaleVersion(recipe_id, version, recipe_dict(row))
        return _replace(c, row, content)


def _version_dict(row: sqlite3.Row) -> dict:
    return {
        "object": "recipe_version",
        "version": row["version"],
        **_content(row, "recipe version"),
        "saved_at": row["saved_at"],
    }


def recipe_versions(db: KitchenDB, recipe_id: int) -> dict:
    """The recipe's previous versions, newest first (NotFound when there is no such recipe); a stored version this
    chefbot cannot read is listed in ``unreadable``."""
    with db.read() as c:
        current = c.execute("SELECT version FROM recipes WHERE id = ?", (recipe_id,)).fetchone()
        if current is None:
            raise NotFound("recipe", recipe_id, "recipe_id")
        rows = c.execute(
            "SELECT * FROM recipe_versions WHERE recipe_id = ? ORDER BY version DESC", (recipe_id,)
        ).fetchall()
    data, unreadable = [], []
    for r in rows:
        try:
            data.append(_version_dict(r))
        except UnreadableRow as e:
            unreadable.append(e.as_dict())
    out = {"object": "list", "recipe_id": recipe_id, "version": current["version"], "data": data}
    if unreadable:
        out["unreadable"] = unreadable
    return out


def restore_version(db: KitchenDB, recipe_id: int, version: int) -> dict:
    """Make previous version ``version`` the recipe's newest version (the one it replaces is kept too)."""
    with db.write() as c:
        row = c.execute("SELECT * FROM recipes WHERE id = ?", (recipe_id,)).fetchone()
        if row is None:
            raise NotFound("recipe", recipe_id, "recipe_id")
        old = c.execute(
            "SELECT * FROM recipe_versions WHERE recipe_id = ? AND version = ?", (recipe_id, version)
        ).fetchone()
        if old is None:
            raise NotFound("recipe version", version, "version")
        return _replace(c, row, _content(old, "recipe version"))


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


WORD_RE = re.compile(r"\w+")


def query_words(q: str) -> list[str]:
    """The words of a user's query (``\\w+``, not only underscores)."""
    return [w for w in WORD_RE.findall(q) if w.strip("_")]


def fts_query(q: str, spellings: dict[str, list[str]] | None = None) -> str | None:
    """The FTS5 query for a user's words: each word quoted (so nothing in it is FTS syntax) as a prefix, all of
    them required, a word in ``spellings`` or any of its variants (index terms: ``spelling_variants``); None
    when ``q`` holds no word."""
    spellings = spellings or {}
    parts = []
    for w in query_words(q):
        alts = " OR ".join(f'"{a}"*' for a in [w, *spellings.get(w, [])])
        parts.append(f"({alts})" if w in spellings else alts)
    return (" AND " if spellings else " ").join(parts) or None  # FTS5 needs AND beside a bracket


# Spelling variants.  Measured on tests/kitchen/test_search_spelling.py (the same four recipes, both ways):
# an FTS5 ``trigram`` index matches substrings, so "chilli" (trigram "lli") does not find "chili" nor "yoghurt"
# "yogurt", and "ham" finds "Graham crackers"; a close match of a word that matches nothing, against the
# index's own terms (fts5vocab) by difflib's ratio, finds both and keeps words that are in the index exact.
# The bar, ratio >= 0.85: an added or dropped letter in a word of 5+ letters (8/9 = 0.89 and up), or one changed
# letter in a word of 7+ (12/14 = 0.857; 6 letters: 10/12 = 0.83, not a variant), same first letter, the word as
# typed against the index's terms: "pastry" never finds "pasta", "mustard" never "custard"; a word found in the
# index is never expanded (it is taken as meant).
VARIANT_RATIO = 0.85
VARIANT_MIN_LETTERS = 5
VOCAB_TABLE = "temp.recipes_fts_terms"  # fts5vocab over recipes_fts, per connection (no migration)


def spelling_variants(c: sqlite3.Connection, words: list[str]) -> dict[str, list[str]]:
    """For each of ``words`` that matches no indexed term (as a prefix), the index's terms that are close
    spellings of it (``VARIANT_RATIO``, same first letter, 5+ letters); words with none are left out."""
    missing = [  # the length first: a short word is never widened, so it needs no query
        w
        for w in words
        if len(w) >= VARIANT_MIN_LETTERS
        and not c.execute("SELECT 1 FROM recipes_fts WHERE recipes_fts MATCH ? LIMIT 1", (f'"{w}"*',)).fetchone()
    ]
    if not missing:
        return {}
    c.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {VOCAB_TABLE} USING fts5vocab(main, 'recipes_fts', 'row')")
    out = {}
    for w in missing:
        word = w.lower()  # as typed: its stem may be shorter ("paste" -> "past"), one letter from other foods
        terms = [t for (t,) in c.execute(f"SELECT term FROM {VOCAB_TABLE} WHERE substr(term, 1, 1) = ?", (word[0],))]
        close = difflib.get_close_matches(word, terms, n=3, cutoff=VARIANT_RATIO)
        if close:
            out[w] = close
    return out


def search_recipes(
    db: KitchenDB,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
    tag: str | None = None,
    category: str | None = None,
    sort: str | None = None,
) -> dict:
    """Recipes matching every word of ``q`` (full-text, stemmed, as prefixes: ``fts_query``), best match first,
    having the tag ``tag`` and in the category ``category`` (case-insensitively); without ``q``, newest first.
    ``sort="rating"``: the household's best-rated first (mean stars, then how many rated it; unrated last).
    A query with no word, or with a control character, finds nothing.  A bad tag or category is RecipeError naming ``tag`` / ``category``.
    A stored row this chefbot cannot read is left out of ``data`` and listed in ``unreadable`` (id, field,
    message), so one bad row never hides the others."""
    joins, where, args, spellings = "", [], [], {}
    order = "recipes.created_at DESC, recipes.id DESC"
    if q is not None and q.strip():
        match = fts_query(q)
        if match is None or has_control(q):  # no saved recipe holds a control character
            return {"object": "list", "total": 0, "data": []}
        with db.read() as c:
            spellings = spelling_variants(c, query_words(q))
        if spellings:
            match = fts_query(q, spellings)
        joins = "JOIN recipes_fts ON recipes_fts.rowid = recipes.id"
        where.append("recipes_fts MATCH ?")
        args.append(match)
        order = f"recipes_fts.rank, {order}"
    if sort == "rating":
        order = f"{ratings.MEAN_SQL} IS NULL, {ratings.MEAN_SQL} DESC, {ratings.COUNT_SQL} DESC, {order}"
    elif sort is not None:
        raise RecipeError(f"sort: {sort!r}; sort by rating, or leave it out", "sort")
    if tag is not None:
        try:
            [wanted] = check_tags([tag]) or [""]
        except RecipeError as e:
            raise RecipeError(str(e).replace("tags.0", "tag"), "tag") from None
        where.append("EXISTS (SELECT 1 FROM json_each(recipes.tags) WHERE json_each.value = ?)")
        args.append(wanted)
    if category is not None:
        where.append("recipes.category = ? COLLATE NOCASE")
        args.append(check_category(category) or "")
    sql = f"FROM recipes {joins} WHERE {' AND '.join(where) or '1'}"
    with db.read() as c:
        total = c.execute(f"SELECT count(*) {sql}", args).fetchone()[0]
        rows = c.execute(f"SELECT recipes.* {sql} ORDER BY {order} LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()
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
                "version": recipe["version"],
                "tags": recipe["tags"],
                "category": recipe["category"],
                "ingredients_count": len(recipe["ingredients"]),
                "source_kind": recipe["source"].get("kind"),
                "created_at": recipe["created_at"],
            }
        )
    out = {"object": "list", "total": int(total), "data": data}
    if spellings:
        out["spellings"] = spellings
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
