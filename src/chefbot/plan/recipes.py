"""Resolve the recipes of a meal spec (``schema.RecipeSpec``: where to find one) into ``Recipe``s.

A recipe is a chefbot recipe file (``# Title`` / ``## Ingredients`` / ``## Directions``,
read with ``chefbot.recipe_format.parse_recipe``) or a YAML/JSON one (``Recipe.validate``),
a row of a RecipeNLG CSV (``kitchen.library.from_recipenlg``, the kitchen's reader of such
rows), inline text, or an ingredient list that a model turns into a recipe
(``generate_recipe``).  A recipe's ``source`` says where it came from, for messages.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

from chefbot.chat import request_messages
from chefbot.config import PromptConfig
from chefbot.errors import DataError
from chefbot.kitchen.library import RecipeError, from_recipenlg
from chefbot.plan.complete import Complete
from chefbot.plan.schema import RecipeSpec
from chefbot.recipe_format import Recipe, parse_recipe

RECIPE_FILE_KEYS = ("title", "ingredients", "directions")


def _resolve_path(path: str, base_dir: Path | None, what: str) -> Path:
    if base_dir is None:
        raise DataError(
            f"{what}: file references are not allowed here; give the recipe inline (title, ingredients, directions)"
        )
    p = Path(path)
    return p if p.is_absolute() else base_dir / p


def _read_file(spec: RecipeSpec, base_dir: Path | None, where: str) -> Recipe:
    path = _resolve_path(spec.file, base_dir, f"{where}.file")
    if not path.exists():
        raise DataError(f"{where}.file: {path} not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in {".yaml", ".yml", ".json"}:
        import yaml

        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise DataError(f"{path}: expected a mapping with title, ingredients and directions")
        unknown = set(data) - set(RECIPE_FILE_KEYS)
        if unknown:
            raise DataError(
                f"{path}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(RECIPE_FILE_KEYS)}"
            )
        directions = data.get("directions") or []
        return Recipe.validate(
            {
                "title": str(data.get("title") or path.stem),
                "ingredients": data.get("ingredients") or [],
                "directions": [directions] if isinstance(directions, str) else directions,
                "source": str(path),
            },
            str(path),
        )
    parsed = parse_recipe(text)
    return Recipe(
        title=parsed.title or spec.title or path.stem,
        ingredients=parsed.ingredients,
        directions=parsed.directions,
        source=str(path),
    )


def _read_row(spec: RecipeSpec, base_dir: Path | None, where: str) -> Recipe:
    path = _resolve_path(spec.recipenlg.csv, base_dir, f"{where}.recipenlg.csv")
    if not path.exists():
        raise DataError(f"{where}.recipenlg.csv: {path} not found")
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="", encoding="utf-8") as f:
        for pos, row in enumerate(csv.DictReader(f)):
            idx = row.get("Unnamed: 0") or row.get("") or str(pos)
            if str(idx).strip() == str(spec.recipenlg.index):
                try:
                    recipe = from_recipenlg(row)
                except RecipeError as e:
                    raise DataError(f"{path} row {spec.recipenlg.index}: not a RecipeNLG row ({e})") from None
                recipe.title = (recipe.title or "").strip()
                recipe.source = f"{path} row {spec.recipenlg.index}"
                return recipe
    raise DataError(f"{where}.recipenlg: {path} has no row {spec.recipenlg.index}")


def generate_recipe(ingredients: list[str], title: str | None, complete: Complete, where: str) -> Recipe:
    """Have the model write a recipe for an ingredient list (the same prompt chefbot is trained on)."""
    answer = complete(request_messages(ingredients, PromptConfig(), title or ""))
    parsed = parse_recipe(answer)
    if not parsed.directions:
        raise DataError(
            f"{where}: the model's recipe for {', '.join(ingredients)} has no directions I can read; "
            "give the directions yourself"
        )
    return Recipe(
        title=title or parsed.title or "Generated dish",
        ingredients=parsed.ingredients or list(ingredients),
        directions=parsed.directions,
        source=f"{where} (written by the model)",
    )


def load_recipe(spec: RecipeSpec, base_dir: Path | None, where: str, complete: Complete | None = None) -> Recipe:
    if spec.file:
        r = _read_file(spec, base_dir, where)
    elif spec.recipenlg:
        r = _read_row(spec, base_dir, where)
    elif spec.directions:
        directions = spec.directions
        if isinstance(directions, str):
            directions = [s for s in re.split(r"\n+", directions) if s.strip()]
        r = Recipe(
            title=spec.title or where,
            ingredients=list(spec.ingredients or []),
            directions=list(directions),
            source=where,
        )
    else:
        if complete is None:
            raise DataError(
                f"{where}: '{spec.title or 'this recipe'}' is only an ingredient list and needs a model to write it; "
                "pass --endpoint URL --api-model NAME (an OpenAI-compatible server, e.g. `chefbot serve`) "
                "or give the recipe's directions"
            )
        r = generate_recipe(spec.ingredients or [], spec.title, complete, where)
    if spec.title:
        r.title = spec.title
    return r
