"""A shopping list for several recipes at chosen servings: merged, unit-aware, by aisle.

Every ingredient line is scaled to its recipe's servings (``cooking.quantities``), named
without sizes and preparation and keyed by stems (``cooking.aisles``: "2 large eggs" and
"1 egg, beaten" are one item).  The exact amounts of one item add up per *lane*: volumes in ml,
masses in g (converted from cups, tbsp, oz, lb ...), counts per count unit and container size.
Each lane is one amount of the item, written on its own: "200 g tomatoes" and "2 tomatoes" are two
amounts of one item (volume and mass never mix: that needs a density per ingredient, and none is
kept with a source; "200 g + 6 egg" never happens).

* **Whole things are bought whole**: a count total is rounded *up*, the exact need shown
  (2 1/2 + 4 eggs -> "7 eggs (need 6 1/2)"; 2 1/2 cans -> "3 (14 oz) cans diced tomatoes (need 2 1/2)").
* **Containers keep their size and product**: "(14 oz) cans diced tomatoes" is not "tomatoes";
  cans of another size are another amount of the same item; what comes in a can or jar is an item
  of the canned aisle, apart from the fresh one.
* **Measures are never snapped silently**: a total is written as ``quantities.measure`` writes it,
  a sum down the ladder when that is exact ("3 cups + 2 tbsp milk") or "≈ 3 cups milk" with the
  exact need in ``need``.
* For a range ("2-3 eggs") the upper end is bought.  Lines without a number ("a pinch of salt",
  "salt and pepper to taste") keep their words; "salt and pepper" is two pantry items, so salt
  appears once.  Salt varieties ("kosher salt") stay items of their own: a teaspoon of each holds another
  amount of salt (1 tsp table = 1 1/2 tsp Morton kosher = 2 tsp Diamond Crystal kosher; Cook's Illustrated,
  https://www.cooksillustrated.com/how_tos/5799-salt-types-and-measurements).  Items go to their aisle
  (``aisles.yaml``), pantry staples to a list apart.

``list_for_recipes`` makes the list from ``Recipe``s (the meal calendar's week, a plan);
``shopping_list`` from library ids.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from chefbot.cooking.aisles import (
    aisle_of,
    amount_words,
    ingredient_key,
    ingredient_name,
    is_staple,
    table,
)
from chefbot.cooking.quantities import (
    APPROX,
    UNITS,
    agree,
    factor,
    format_amount,
    format_line,
    measure,
    parse_line,
    scale,
    unit_name,
)
from chefbot.kitchen.db import KitchenDB, NotFound
from chefbot.kitchen.library import get_recipe
from chefbot.recipe_format import Recipe

CANNED_UNITS = ("can", "jar")
CANNED_AISLE = "Canned & jars"  # an aisle of cooking/aisles.yaml
PANTRY = "Pantry staples"  # where a saved list keeps the staples (the answer's ``pantry``)
LIBRARY_ID = re.compile(r"^library:(\d+)$")  # a library recipe's Recipe.id (library.library_recipes)

Lane = tuple[str, str | None, str]  # ("volume" | "mass" | "count", count unit, container size)


def size_key(size: str) -> str:
    """A container size compared loosely: "(14 oz)", "(14 ounce)" and "( 14 oz )" are one size."""
    inner = parse_line(size.strip("() "))
    if inner.scalable and inner.unit in UNITS and not inner.rest:
        return f"({format_amount(inner.low, inner.unit)} {inner.unit})"
    return " ".join(size.lower().split())


def product_name(rest: str) -> str:
    """What a container holds, as bought: "diced tomatoes, drained" -> "diced tomatoes" (the preparation
    after the comma is done at home and stays in the item's lines)."""
    text = re.sub(r"\([^)]*\)", " ", rest).split(",")[0].split(";")[0]
    text = re.sub(r"^\s*of\s+", "", text.strip(), flags=re.I)
    return " ".join(text.split()).strip(" .-*").lower()


@dataclass
class Item:
    name: str
    totals: dict[Lane, Fraction | float] = field(default_factory=dict)  # exact: ml, g or a count
    units: dict[Lane, str] = field(default_factory=dict)  # a measure's unit of its first line
    sizes: dict[Lane, str] = field(default_factory=dict)  # a count's container size as first written
    notes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    recipes: list[int] = field(default_factory=list)
    canned: bool = False  # bought in a can or jar ("1 (14 oz) can tomatoes"): the canned aisle, not produce

    def amount(self, lane: Lane) -> dict:
        """One lane as the cook reads it: ``quantity``, ``text``, and ``need`` (the exact amount) when the
        quantity is not exactly it (whole things rounded up, a measure written "≈")."""
        total = self.totals[lane]
        dim, unit, _size = lane
        if dim == "count":
            exact = Fraction(total)
            buy = math.ceil(exact)
            words = [str(buy), self.sizes[lane], unit_name(unit, Fraction(buy))]
            quantity = " ".join(w for w in words if w)
            name = agree(self.name, buy > 1) if unit is None else self.name
            need = format_amount(exact) if buy != exact else None
            if need is not None and unit is not None:
                need += " " + unit_name(unit, exact)
        else:
            parts, approx = measure(float(total), self.units[lane])
            quantity = " + ".join(f"{format_amount(v, u)} {unit_name(u, v)}" for v, u in parts)
            if approx:
                quantity = f"{APPROX} {quantity}"
            name = self.name
            exact_in = float(total) / factor(self.units[lane])
            need = f"{exact_in:.2f}".rstrip("0").rstrip(".") + " " + self.units[lane] if approx else None
        text = f"{quantity} {name}"
        if need is not None:
            text += f" (need {need})"
        return {"quantity": quantity, "text": text, "need": need}

    def to_dict(self) -> dict:
        amounts = [self.amount(lane) for lane in self.totals]
        notes = "; ".join(dict.fromkeys(self.notes))
        if amounts:
            text = "; ".join(a["text"] for a in amounts) + (f" ({notes})" if notes else "")
        else:
            text = f"{self.name} ({notes})" if notes else self.name
        lanes = list(self.totals)
        plain = len(lanes) == 1 and lanes[0][:2] == ("count", None)  # "7 eggs": the name agrees with the count
        return {
            "name": agree(self.name, math.ceil(self.totals[lanes[0]]) > 1) if plain else self.name,
            "quantity": "; ".join(a["quantity"] for a in amounts),
            "text": text,
            "amounts": amounts,
            "recipes": sorted(set(self.recipes)),
            "lines": self.lines,
        }


def _item(items: dict[str, Item], name: str, canned: bool) -> Item:
    key = ("canned " if canned else "") + (ingredient_key(name) or name)
    return items.setdefault(key, Item(name, canned=canned))


def add_line(items: dict[str, Item], text: str, by: Fraction, recipe_id: int | None) -> None:
    """One recipe line, scaled ``by``, into the item(s) it names (exact amounts; the rounding is the total's)."""
    line = parse_line(text)
    scaled = scale(line, by)
    if not line.scalable:
        words = amount_words(line.text)
        name = ingredient_name(line)
        parts = re.split(r"\s*(?:,|&|\band\b)\s*", name)
        # "salt and pepper to taste" is salt and pepper, each once on the list; "mac and cheese" stays whole.
        names = parts if len(parts) > 1 and all(p and is_staple(p) for p in parts) else [name]
        for n in names:
            item = _item(items, n, False)
            item.lines.append(line.text)
            item.recipes.extend([recipe_id] if recipe_id is not None else [])
            if words:
                item.notes.append(words)
        return
    canned = line.unit in CANNED_UNITS  # a can of tomatoes is not fresh tomatoes: two items
    name = (product_name(line.rest) if canned else "") or ingredient_name(line)
    item = _item(items, name, canned)
    item.lines.append(format_line(scaled))
    item.recipes.extend([recipe_id] if recipe_id is not None else [])
    top = line.high if line.high is not None else line.low
    if line.unit in UNITS:
        dim = UNITS[line.unit][0]
        lane: Lane = (dim, None, "")
        item.units.setdefault(lane, line.unit)
        base = float(top * by) * factor(line.unit) + sum(float(n * by) * factor(u) for n, u in line.extra)
        item.totals[lane] = float(item.totals.get(lane, 0.0)) + base
    else:
        lane = ("count", line.unit, size_key(line.size) if line.size else "")
        item.sizes.setdefault(lane, line.size)
        item.totals[lane] = Fraction(item.totals.get(lane, Fraction(0))) + top * by


def library_id(recipe: Recipe) -> int | None:
    """The library id of a ``Recipe`` read from the library ("library:7" -> 7), else None."""
    m = LIBRARY_ID.match(recipe.id or "")
    return int(m.group(1)) if m else None


def list_for_recipes(recipes_with_servings: Iterable[tuple[Recipe, int | None]]) -> dict:
    """The shopping list for these recipes, each at its servings (None: the recipe's own; a recipe without
    servings is taken as written): what the meal calendar calls for a week's list.  Items name the library
    ids of the recipes they come from (``Recipe.id`` "library:N"; other recipes are in ``recipes`` only)."""
    items: dict[str, Item] = {}
    recipes = []
    for recipe, servings in recipes_with_servings:
        own = recipe.servings or servings or 1
        n = servings or own
        rid = library_id(recipe)
        recipes.append({"id": rid, "title": recipe.title or "", "servings": n})
        for text in recipe.ingredients:
            add_line(items, text, Fraction(n, own), rid)
    order = [*dict.fromkeys(table().aisles.values()), table().other]
    aisles: dict[str, list[dict]] = {a: [] for a in order}
    pantry = []
    for item in sorted(items.values(), key=lambda it: it.name):
        if is_staple(item.name):
            pantry.append(item.to_dict())
        else:
            aisles[CANNED_AISLE if item.canned else aisle_of(item.name)].append(item.to_dict())
    return {
        "object": "shopping_list",
        "aisles": [{"aisle": a, "items": v} for a, v in aisles.items() if v],
        "pantry": pantry,
        "recipes": recipes,
    }


def library_wanted(db: KitchenDB, wanted: list[tuple[int, int | None]], field: str = "items") -> list:
    """Library recipes as (``Recipe``, servings); NotFound names ``{field}.N.recipe_id``."""
    out = []
    for i, (rid, servings) in enumerate(wanted):
        recipe = get_recipe(db, rid)
        if recipe is None:
            raise NotFound("recipe", rid, f"{field}.{i}.recipe_id")
        as_recipe = Recipe(
            title=recipe["title"],
            servings=recipe["base_servings"],
            ingredients=recipe["ingredients"],
            id=f"library:{rid}",
            source="library",
        )
        out.append((as_recipe, servings))
    return out


def shopping_list(db: KitchenDB, wanted: list[tuple[int, int | None]]) -> dict:
    """``wanted``: (recipe id, servings or None for the recipe's own); NotFound names ``items.N.recipe_id``."""
    return list_for_recipes(library_wanted(db, wanted))
