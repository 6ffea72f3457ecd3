"""Resolve the recipes of a meal spec into ``DishRecipe`` (title, ingredients, directions).

A recipe is a chefbot recipe file (``# Title`` / ``## Ingredients`` / ``## Directions``,
read with ``chefbot.recipe_format.parse_recipe``), a row of a RecipeNLG CSV, inline text,
or an ingredient list that a model turns into a recipe (``generate_recipe``).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from chefbot.chat import request_messages
from chefbot.config import PromptConfig
from chefbot.errors import DataError
from chefbot.plan.complete import Complete
from chefbot.plan.schema import RecipeSpec
from chefbot.recipe_format import parse_recipe


@dataclass
class DishRecipe:
    """The recipe of one dish of the meal, as the planner reads it."""

    title: str
    ingredients: list[str]
    directions: list[str]
    source: str  # where it came from, for messages


def _resolve_path(path: str, base_dir: Path | None, what: str) -> Path:
    if base_dir is None:
        raise DataError(f"{what}: file references are not allowed here; give the recipe inline (title, ingredients, directions)")
    p = Path(path)
    return p if p.is_absolute() else base_dir / p


def _read_file(spec: RecipeSpec, base_dir: Path | None, where: str) -> DishRecipe:
    path = _resolve_path(spec.file, base_dir, f"{where}.file")
    if not path.exists():
        raise DataError(f"{where}.file: {path} not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in {".yaml", ".yml", ".json"}:
        import yaml

        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise DataError(f"{path}: expected a mapping with title, ingredients and directions")
        unknown = set(data) - {"title", "ingredients", "directions"}
        if unknown:
            raise DataError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; allowed: title, ingredients, directions")
        directions = data.get("directions") or []
        return DishRecipe(str(data.get("title") or path.stem), list(data.get("ingredients") or []),
                          [directions] if isinstance(directions, str) else list(directions), str(path))
    parsed = parse_recipe(text)
    return DishRecipe(parsed.title or spec.title or path.stem, parsed.ingredients, parsed.directions, str(path))


def _read_row(spec: RecipeSpec, base_dir: Path | None, where: str) -> DishRecipe:
    path = _resolve_path(spec.recipenlg.csv, base_dir, f"{where}.recipenlg.csv")
    if not path.exists():
        raise DataError(f"{where}.recipenlg.csv: {path} not found")
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="", encoding="utf-8") as f:
        for pos, row in enumerate(csv.DictReader(f)):
            idx = row.get("Unnamed: 0") or row.get("") or str(pos)
            if str(idx).strip() == str(spec.recipenlg.index):
                try:
                    return DishRecipe(row["title"].strip(), json.loads(row["ingredients"]), json.loads(row["directions"]),
                                      f"{path} row {spec.recipenlg.index}")
                except (KeyError, json.JSONDecodeError) as e:
                    raise DataError(f"{path} row {spec.recipenlg.index}: not a RecipeNLG row ({e})") from None
    raise DataError(f"{where}.recipenlg: {path} has no row {spec.recipenlg.index}")


def generate_recipe(ingredients: list[str], title: str | None, complete: Complete, where: str) -> DishRecipe:
    """Have the model write a recipe for an ingredient list (the same prompt chefbot is trained on)."""
    answer = complete(request_messages(ingredients, PromptConfig(), title or ""))
    parsed = parse_recipe(answer)
    if not parsed.directions:
        raise DataError(f"{where}: the model's recipe for {', '.join(ingredients)} has no directions I can read; "
                        "give the directions yourself")
    return DishRecipe(title or parsed.title or "Generated dish", parsed.ingredients or list(ingredients), parsed.directions,
                      f"{where} (written by the model)")


def load_recipe(spec: RecipeSpec, base_dir: Path | None, where: str, complete: Complete | None = None) -> DishRecipe:
    if spec.file:
        r = _read_file(spec, base_dir, where)
    elif spec.recipenlg:
        r = _read_row(spec, base_dir, where)
    elif spec.directions:
        directions = spec.directions
        if isinstance(directions, str):
            directions = [s for s in re.split(r"\n+", directions) if s.strip()]
        r = DishRecipe(spec.title or where, list(spec.ingredients or []), list(directions), where)
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
