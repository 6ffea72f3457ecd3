"""Kitchen sense: is a recipe safe to follow and plausible as food?  One checker, beside
``recipe_constraints.check_recipe`` (which judges what was *asked for*); this one judges what
any cook would ask of any recipe.

Contract (what the server, the page, ``chefbot check`` and the evaluation rely on):

* ``check_kitchen_sense(recipe) -> SenseReport``: every check, in ``CHECKS`` order;
* a ``SenseCheck`` is ``passed`` True/False, or None when it does not apply (no oven, no
  eggs); ``reason`` is the sentence shown to the cook when it fails; ``source`` cites where
  the rule's cooking fact comes from;
* ``SenseReport.is_recipe`` is False when the text is not a recipe at all (no directions, or
  no ingredient names): such a text is never offered for saving;
* ``SenseReport.safe`` is False when a ``safety`` check failed (``enforce`` retries on it and
  ``chefbot check`` exits 1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from chefbot.recipe_format import Recipe

Kind = Literal["safety", "plausibility"]


@dataclass(frozen=True)
class SenseCheck:
    name: str
    kind: Kind
    passed: bool | None  # None: the check does not apply to this recipe
    reason: str = ""  # why it failed, in a cook's words ("" when it passed or does not apply)
    source: str = ""  # where the cooking fact behind the rule comes from

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "reason": self.reason,
            "source": self.source,
        }


@dataclass(frozen=True)
class SenseReport:
    checks: tuple[SenseCheck, ...]
    is_recipe: bool

    @property
    def failures(self) -> list[SenseCheck]:
        return [c for c in self.checks if c.passed is False]

    @property
    def safe(self) -> bool:
        return not any(c.kind == "safety" for c in self.failures)

    def to_dict(self) -> dict:
        return {
            "is_recipe": self.is_recipe,
            "safe": self.safe,
            "checks": [c.to_dict() for c in self.checks],
        }


# (name, kind) of every check, in report order; evaluation tables have one row per name.
CHECKS: tuple[tuple[str, Kind], ...] = (("is_recipe", "plausibility"),)

_NAME_WORD = re.compile(r"[a-z]{3,}", re.I)
_UNITS = frozenset("cup cups tsp tbsp teaspoon teaspoons tablespoon tablespoons ounce ounces lbs pound pounds".split())


def _names_an_ingredient(line: str) -> bool:
    return any(w.lower() not in _UNITS for w in _NAME_WORD.findall(line))


def check_kitchen_sense(recipe: Recipe) -> SenseReport:
    """Every kitchen-sense check of ``recipe`` (first version: is it a recipe at all)."""
    named = [line for line in recipe.ingredients if _names_an_ingredient(line)]
    is_recipe = bool(recipe.directions) and bool(named)
    reason = (
        "" if is_recipe else "not a recipe: " + ("no directions" if not recipe.directions else "no ingredient names")
    )
    return SenseReport(checks=(SenseCheck("is_recipe", "plausibility", is_recipe, reason),), is_recipe=is_recipe)
