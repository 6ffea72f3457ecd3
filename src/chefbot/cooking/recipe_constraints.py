"""What a recipe request asks for (``RecipeConstraints``) and the one checker that says,
constraint by constraint, whether a recipe meets it (``check_recipe``).

One checker serves every stage: the data labels (``labels.label_recipe``) and this checker
read the same ingredient lexicon (``lexicon.py``, ``ingredients.yaml``) and the same task
model (``tasks.tasks_from_directions``), so a recipe always satisfies the constraints made
from its own labels, and ``/v1/recipes``, ``chefbot eval`` and the web page judge an answer
by the rules the training prompts were built with.

The diet checks read the ingredient lines only, never the directions: "cream the shortening
and sugar" or "until it resembles breadcrumbs" name no ingredient.  They flag what the
lexicon knows; they do not prove a recipe safe for an allergy.

``RecipeConstraints`` is also the request schema of ``/v1/recipes`` (strict JSON types, like
every request model of ``serve/schemas.py``); the booleans the server took before
(``vegetarian``, ``vegan``, ``gluten_free``) are still accepted and folded into ``diets``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from chefbot.cooking.durations import MAX_TASK_MINUTES
from chefbot.cooking.labels import DIFFICULTIES, RecipeLabels, cuisine_of, label_recipe
from chefbot.cooking.lexicon import DIETS, diet_offenders

__all__ = [
    "DIETS",
    "DIFFICULTIES",
    "ConstraintCheck",
    "RecipeConstraints",
    "check_recipe",
    "constraints_from_labels",
    "ingredient_conflicts",
]

Diet = Literal["vegetarian", "vegan", "pescatarian", "gluten-free", "dairy-free", "nut-free"]
Difficulty = Literal["easy", "medium", "hard"]
_LEGACY = {"vegetarian": "vegetarian", "vegan": "vegan", "gluten_free": "gluten-free"}


def _whole_number(value: Any) -> Any:
    """JSON Schema's integer includes 3.0 (JSON has one number type); strict pydantic does not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _Int(**bounds: int) -> Any:  # a type, hence the capital
    return Annotated[int, Field(**bounds), BeforeValidator(_whole_number)]


class RecipeConstraints(BaseModel):
    """What a request asks of a recipe: diets, time, difficulty, cuisine, servings."""

    # The same settings as every request model of serve/schemas.py: strict JSON types, and
    # unknown fields ignored (clients send extras), so the OpenAPI schema is exactly the validation.
    model_config = ConfigDict(extra="ignore", strict=True)

    diets: list[Diet] = Field(default_factory=list, description=f"any of {', '.join(DIETS)}")
    max_minutes: _Int(ge=1, le=MAX_TASK_MINUTES) | None = Field(
        None, description="ready in at most this many minutes (total, as the meal planner estimates it)"
    )
    difficulty: Difficulty | None = Field(None, description="easy, medium or hard")
    cuisine: str | None = Field(None, min_length=1, max_length=40, description="e.g. Thai, Italian, Mexican")
    servings: _Int(ge=1, le=100) | None = Field(None, description="how many servings the recipe makes")
    # the request fields of earlier versions: folded into diets, left out of model_dump()
    vegetarian: bool = Field(False, exclude=True, description="legacy: the same as diets: [vegetarian]")
    vegan: bool = Field(False, exclude=True, description="legacy: the same as diets: [vegan]")
    gluten_free: bool = Field(False, exclude=True, description="legacy: the same as diets: [gluten-free]")

    @model_validator(mode="after")
    def _fold_legacy(self) -> RecipeConstraints:
        wanted = set(self.diets) | {diet for field, diet in _LEGACY.items() if getattr(self, field)}
        self.diets = [d for d in DIETS if d in wanted]  # canonical order, no repeats
        for field, diet in _LEGACY.items():
            setattr(self, field, diet in wanted)
        if self.cuisine is not None:
            self.cuisine = self.cuisine.strip() or None
        return self

    def phrases(self) -> list[str]:
        """The request in words, e.g. ["vegan", "ready in 30 minutes", "easy", "Thai", "for 4 servings"]."""
        out = list(self.diets)
        if self.max_minutes:
            out.append(f"ready in {self.max_minutes} minutes")
        if self.difficulty:
            out.append(self.difficulty)
        if self.cuisine:
            out.append(self.cuisine)
        if self.servings:
            out.append(f"for {self.servings} serving{'s' if self.servings > 1 else ''}")
        return out

    def is_empty(self) -> bool:
        return not self.phrases()


@dataclass(frozen=True)
class ConstraintCheck:
    """One requested constraint judged against one recipe."""

    name: str  # a diet ("vegan"), "max_minutes", "difficulty", "cuisine" or "servings"
    requested: str  # what was asked, in words
    satisfied: bool | None  # None: the recipe does not tell (no ingredient list, no cuisine, ...)
    detail: str  # why, e.g. "mentions 'chicken broth' (poultry)" or "about 55 minutes (hands-on 20), over 30"
    offending: tuple[str, ...] = ()  # the ingredient lines that break it
    minutes: float | None = None  # the estimated total time, where it matters

    def to_dict(self) -> dict:
        d = asdict(self)
        d["offending"] = list(self.offending)
        return d


def _diet_checks(ingredients: list[str], diets: list[str], *, keep_satisfied: bool) -> list[ConstraintCheck]:
    out = []
    for diet in diets:
        bad = diet_offenders(ingredients, diet)
        if bad:
            detail = "; ".join(f"mentions {line!r} ({', '.join(sorted(classes))})" for line, classes in bad)
            out.append(ConstraintCheck(diet, diet, False, detail, tuple(line for line, _ in bad)))
        elif keep_satisfied:
            if ingredients:
                out.append(ConstraintCheck(diet, diet, True, f"no ingredient breaks {diet}"))
            else:
                out.append(ConstraintCheck(diet, diet, None, "no ingredient list to check"))
    return out


def _time_check(labels: RecipeLabels, limit: int) -> ConstraintCheck:
    total = labels.total_minutes
    requested = f"ready in {limit} minutes"
    if total is None:
        return ConstraintCheck("max_minutes", requested, None, "no directions to time")
    about = f"about {total:g} minutes (hands-on {labels.hands_on_minutes:g})"
    ok = total <= limit
    return ConstraintCheck(
        "max_minutes", requested, ok, f"{about}, {'within' if ok else 'over'} {limit}", minutes=total
    )


def _difficulty_check(labels: RecipeLabels, wanted: str) -> ConstraintCheck:
    if labels.difficulty is None:
        return ConstraintCheck("difficulty", wanted, None, "no directions to judge")
    return ConstraintCheck(
        "difficulty",
        wanted,
        labels.difficulty == wanted,
        f"reads as {labels.difficulty} ({labels.difficulty_reason})",
        minutes=labels.total_minutes,
    )


def _cuisine_check(title: str, wanted: str) -> ConstraintCheck:
    found = cuisine_of(title)
    if found is None:
        return ConstraintCheck("cuisine", wanted, None, "the title names no cuisine")
    same = found.casefold() == wanted.casefold()
    return ConstraintCheck("cuisine", wanted, same, f"the title reads as {found}")


_RANGE = r"(\d{1,3})(?:\s*(?:-|to|–)\s*(\d{1,3}))?"
_SERVES_RE = re.compile(
    rf"\bserves\s+(?:about\s+)?{_RANGE}\b|\b{_RANGE}\s+(?:servings?|portions|people|persons)\b", re.I
)


def servings_stated(title: str, directions: list[str]) -> tuple[int, int] | None:
    """The servings a recipe states ("Serves 4", "makes 6 to 8 servings"), as (low, high)."""
    for text in [title, *directions]:
        m = _SERVES_RE.search(text)
        if m:
            low, high = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            return int(low), int(high or low)
    return None


def _servings_check(title: str, directions: list[str], wanted: int, known: int | None) -> ConstraintCheck:
    requested = f"for {wanted} servings"
    span = (known, known) if known else servings_stated(title, directions)
    if span is None:
        return ConstraintCheck("servings", requested, None, "the recipe states no servings")
    low, high = span
    said = f"{low}" if low == high else f"{low} to {high}"
    return ConstraintCheck("servings", requested, low <= wanted <= high, f"states {said} servings")


def check_recipe(
    title: str, ingredients: list[str], directions: list[str], c: RecipeConstraints, *, servings: int | None = None
) -> list[ConstraintCheck]:
    """One ``ConstraintCheck`` per constraint ``c`` asks for, in the order of ``c.phrases()``.

    ``servings`` is the count the source gives, when it gives one (else the text is read)."""
    checks = _diet_checks(ingredients, c.diets, keep_satisfied=True)
    if c.max_minutes or c.difficulty:
        labels = label_recipe(title, ingredients, directions)
        if c.max_minutes:
            checks.append(_time_check(labels, c.max_minutes))
        if c.difficulty:
            checks.append(_difficulty_check(labels, c.difficulty))
    if c.cuisine:
        checks.append(_cuisine_check(title, c.cuisine))
    if c.servings:
        checks.append(_servings_check(title, directions, c.servings, servings))
    return checks


def ingredient_conflicts(ingredients: list[str], c: RecipeConstraints) -> list[ConstraintCheck]:
    """The person's own ingredients against the requested diets: the failing checks only
    (vegetarian + chicken -> one check naming 'chicken')."""
    return _diet_checks(ingredients, c.diets, keep_satisfied=False)


def constraints_from_labels(
    labels: RecipeLabels,
    *,
    diets: tuple[str, ...] | None = None,
    time: bool = True,
    difficulty: bool = True,
    cuisine: bool = True,
    servings: bool = True,
) -> RecipeConstraints:
    """Constraints a recipe with these labels meets (all of them, or the parts chosen).

    The time limit is the total rounded up (``round_up_minutes``), so it holds by construction."""
    minutes = labels.total_minutes
    return RecipeConstraints(
        diets=list(labels.diets if diets is None else diets),
        max_minutes=round_up_minutes(minutes) if time and minutes and minutes <= MAX_TASK_MINUTES else None,
        difficulty=labels.difficulty if difficulty else None,
        cuisine=labels.cuisine if cuisine else None,
        servings=labels.servings if servings else None,
    )


def round_up_minutes(minutes: float) -> int:
    """A limit a person would ask for, at or above ``minutes``: 5-minute steps to an hour,
    15 to three hours, then whole hours (47 -> 50, 70 -> 75, 200 -> 240)."""
    step = 5 if minutes <= 60 else 15 if minutes <= 180 else 60
    return min(MAX_TASK_MINUTES, max(step, int(-(-minutes // step) * step)))
