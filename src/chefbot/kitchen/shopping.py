"""A shopping list for several recipes at chosen servings: merged, unit-aware, by aisle.

Every ingredient line is scaled to its recipe's servings (``cooking.quantities``), named
without sizes and preparation and keyed by stems (``cooking.aisles``: "2 large eggs" and
"1 egg, beaten" are one item).  Amounts of one item add up per dimension: volumes in ml,
masses in g (converted from cups, tbsp, oz, lb ...), counts per count unit; the total is
written in the unit of the first line with a clean number (4 tbsp + 1/4 cup -> 1/2 cup).
Volume and mass never mix (that needs a density per ingredient): "1 cup + 200 g" says so.
For a range ("2-3 eggs") the upper end is bought.  Lines without a number ("a pinch of
salt", "pepper to taste") keep their words.  Items go to their aisle (``aisles.yaml``),
pantry staples to a list apart.
"""

from __future__ import annotations

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
    UNITS,
    agree,
    best_unit,
    factor,
    format_amount,
    format_line,
    parse_line,
    round_count,
    scale,
    unit_name,
)
from chefbot.kitchen.db import KitchenDB, NotFound
from chefbot.kitchen.library import get_recipe

CANNED_UNITS = ("can", "jar")
CANNED_AISLE = "Canned & jars"  # an aisle of cooking/aisles.yaml


@dataclass
class Item:
    name: str
    volume_ml: float = 0.0
    mass_g: float = 0.0
    units: dict[str, str] = field(default_factory=dict)  # dimension -> unit of its first line
    counts: dict[str | None, Fraction] = field(default_factory=dict)  # count unit (None: plain) -> total
    notes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    recipes: list[int] = field(default_factory=list)
    canned: bool = False  # bought in a can or jar ("1 (14 oz) can tomatoes"): the canned aisle, not produce

    def quantity(self) -> str:
        parts = []
        for dim, base in (("volume", self.volume_ml), ("mass", self.mass_g)):
            if base > 0:
                value, unit = best_unit(base, self.units[dim])
                parts.append(f"{format_amount(value, unit)} {unit_name(unit, value)}")
        for unit, total in self.counts.items():
            value = round_count(total)
            parts.append(" ".join(p for p in (format_amount(value), unit_name(unit, value)) if p))
        return " + ".join(parts)

    def to_dict(self) -> dict:
        quantity = self.quantity()
        plain = set(self.counts) == {None} and not (self.volume_ml or self.mass_g)
        name = agree(self.name, round_count(self.counts[None]) > 1) if plain else self.name
        text = f"{quantity} {name}" if quantity else name
        if self.notes:
            text += f" ({'; '.join(dict.fromkeys(self.notes))})"
        return {
            "name": name,
            "quantity": quantity,
            "text": text,
            "recipes": sorted(set(self.recipes)),
            "lines": self.lines,
        }


def add_line(items: dict[str, Item], text: str, by: Fraction, recipe_id: int) -> None:
    """One recipe line, scaled ``by``, into the item it names."""
    line = parse_line(text)
    scaled = scale(line, by)
    name = ingredient_name(line)
    canned = scaled.unit in CANNED_UNITS  # a can of tomatoes is not fresh tomatoes: two items
    item = items.setdefault(("canned " if canned else "") + (ingredient_key(name) or name), Item(name, canned=canned))
    item.lines.append(format_line(scaled))
    item.recipes.append(recipe_id)
    if not scaled.scalable:
        words = amount_words(line.text)
        if words:
            item.notes.append(words)
        return
    amount = scaled.high if scaled.high is not None else scaled.low
    if scaled.unit in UNITS:
        dim = UNITS[scaled.unit][0]
        item.units.setdefault(dim, scaled.unit)
        base = float(amount) * factor(scaled.unit)
        if dim == "volume":
            item.volume_ml += base
        else:
            item.mass_g += base
    else:
        item.counts[scaled.unit] = item.counts.get(scaled.unit, Fraction(0)) + amount


def shopping_list(db: KitchenDB, wanted: list[tuple[int, int | None]]) -> dict:
    """``wanted``: (recipe id, servings or None for the recipe's own); NotFound names ``items.N.recipe_id``."""
    items: dict[str, Item] = {}
    recipes = []
    for i, (rid, servings) in enumerate(wanted):
        recipe = get_recipe(db, rid)
        if recipe is None:
            raise NotFound("recipe", rid, f"items.{i}.recipe_id")
        n = servings or recipe["base_servings"]
        recipes.append({"id": rid, "title": recipe["title"], "servings": n})
        for text in recipe["ingredients"]:
            add_line(items, text, Fraction(n, recipe["base_servings"]), rid)
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
