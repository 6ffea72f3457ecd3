"""The meal spec: which recipes, who cooks, what the kitchen holds, when to serve.

A YAML file (``chefbot plan meal.yaml``) or a JSON body (``plan_meal_dict``) maps onto
``MealSpec``.  Unknown keys are refused (``Section`` has ``extra="forbid"``) so a typo
such as ``burner: 4`` fails with one line naming the key instead of being ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from chefbot.config import Section
from chefbot.cooking.equipment import KITCHEN_FIELD

_CLOCK_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_WINDOW_RE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*(?:-|–|to)\s*(\d{1,2}:\d{2})\s*$")


def parse_clock(text: str) -> dt.time:
    """``"19:30"`` -> ``time(19, 30)``; ValueError with the allowed form otherwise."""
    m = _CLOCK_RE.match(str(text))
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(f"{text!r} is not a clock time; write HH:MM, e.g. 19:30")
    return dt.time(int(m.group(1)), int(m.group(2)))


def parse_serve_at(text: str) -> tuple[dt.time, dt.date | None]:
    """``"19:30"`` (a plan for any day) or ``"2025-06-01 19:30"`` (a real date, checked against now)."""
    s = str(text).strip()
    if _CLOCK_RE.match(s):
        return parse_clock(s), None
    try:
        when = dt.datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a serving time; write HH:MM (19:30) or a date and time (2025-06-01 19:30)"
        ) from None
    return when.time().replace(second=0, microsecond=0), when.date()


def parse_window(text: str) -> tuple[dt.time, dt.time]:
    m = _WINDOW_RE.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a time window; write HH:MM-HH:MM, e.g. 17:00-19:30")
    a, b = parse_clock(m.group(1)), parse_clock(m.group(2))
    if b <= a:
        raise ValueError(f"window {text!r} ends before it starts (windows past midnight are not supported)")
    return a, b


class RowRef(Section):
    """A row of a RecipeNLG CSV (``Unnamed: 0`` column or row position)."""

    csv: str
    index: int = Field(ge=0)


# Default minutes a hot dish may wait between its last heat step and serving, by the station of that step,
# when neither the dish nor the meal sets hot_hold_max_min.  A dish that finishes in the oven (casserole,
# roast, baked pasta, pot pie) keeps its heat covered, and a roast rests anyway; a dish from the stove or
# the fryer goes soggy or dry, so it waits the short default.  These are chefbot's quality defaults, not a
# food-safety figure: the safety bound is USDA FSIS's -- food must not stay in the danger zone, 40-140 °F,
# more than 2 hours (https://www.fsis.usda.gov/food-safety/safe-food-handling-and-preparation/food-safety-basics/danger-zone-40f-140f);
# 60 minutes is half that bound.  The plan shows each dish's wait (its readiness line and the cook's list: "keep
# covered, waits 40 min") so the cook sees it and can change it in the form.
HOLD_DEFAULT_MIN = {"oven": 60, "other": 15}


class RecipeSpec(Section):
    """Where one dish's recipe comes from: a recipe file, a RecipeNLG row, inline text, or ingredients to be
    written by a model.  Not a recipe itself: ``plan.recipes.load_recipe`` turns it into a ``Recipe``."""

    file: str | None = None  # chefbot recipe text (# Title / ## Ingredients / ## Directions)
    recipenlg: RowRef | None = None
    title: str | None = None
    ingredients: list[str] | None = None
    directions: list[str] | str | None = None
    kind: Literal["auto", "hot", "cold"] = "auto"  # auto: hot when it ends with cooking, cold when chilled/cooled
    # minutes a hot dish may sit idle after leaving the heat; None: the meal's, else HOLD_DEFAULT_MIN by how it ends
    hot_hold_max_min: int | None = Field(None, ge=0, le=24 * 60)

    @model_validator(mode="after")
    def _one_source(self) -> RecipeSpec:
        sources = [
            n for n, v in (("file", self.file), ("recipenlg", self.recipenlg), ("directions", self.directions)) if v
        ]
        if len(sources) > 1:
            raise ValueError(f"give one of file, recipenlg or directions, not {' and '.join(sources)}")
        if not sources and not self.ingredients:
            raise ValueError("a recipe needs file, recipenlg, directions, or ingredients (to be written by a model)")
        return self

    @property
    def needs_generation(self) -> bool:
        return not (self.file or self.recipenlg or self.directions)


class Cook(Section):
    name: str = Field(min_length=1)
    skill: int = Field(3, ge=1, le=5)  # 1 washes and stirs .. 3 knife work, sauteing .. 5 pastry
    available: list[str] = Field(default_factory=list)  # ["16:00-17:00", "18:00-19:30"]; empty: all the time

    @field_validator("available")
    @classmethod
    def _windows(cls, v: list[str]) -> list[str]:
        for w in v:
            parse_window(w)
        return v


class Kitchen(Section):
    """How many of each thing the kitchen has; a task needing one the kitchen lacks cannot be planned.

    One field per kind of ``chefbot.cooking.equipment`` (its ``kitchen_field``), plus ``oven_racks``.
    """

    ovens: int = Field(1, ge=0, le=10)
    oven_racks: int = Field(2, ge=1, le=6)  # dishes one oven holds at the same temperature
    burners: int = Field(4, ge=0, le=20)
    pans: int = Field(2, ge=0, le=20)
    pots: int = Field(3, ge=0, le=20)
    mixers: int = Field(1, ge=0, le=10)
    bowls: int = Field(6, ge=0, le=50)
    blenders: int = Field(1, ge=0, le=10)
    microwaves: int = Field(1, ge=0, le=10)
    slow_cookers: int = Field(0, ge=0, le=10)
    grills: int = Field(0, ge=0, le=10)
    fridge: int = Field(10, ge=0, le=100)  # shelf places
    freezer: int = Field(4, ge=0, le=100)

    def capacity(self, equipment: str) -> int:
        return getattr(self, KITCHEN_FIELD[equipment])


class SolverSettings(Section):
    time_limit_s: float = Field(5.0, gt=0, le=600)
    workers: int = Field(8, ge=1, le=64)  # CP-SAT's portfolio; 8 helps even on 2 cores
    seed: int = 0
    deterministic: bool = False  # interleaved search: the very same plan every run, slower
    explain_time_limit_s: float = Field(2.0, gt=0, le=120)  # per relaxation when explaining infeasibility


class MealSpec(Section):
    title: str = "Meal"
    serve_at: str
    # The day of the meal, YYYY-MM-DD (or give it in serve_at).  A dated plan is checked against now:
    # a serving time in the past is refused and nothing starts before now.  Without a date the plan is a
    # timeline for any day (no check); the plan form and `chefbot plan` always give one (default: today).
    date: str | None = None
    start_after: str | None = None  # HH:MM: nothing may start earlier (kitchen free from then)
    recipes: list[RecipeSpec]
    cooks: list[Cook]
    kitchen: Kitchen = Field(default_factory=Kitchen)
    # A hot dish may sit at most this long, in total, between leaving the heat and serving
    # (resting, slicing, "keep warm" steps count as the dish's own work, not as waiting).
    # None: each hot dish gets HOLD_DEFAULT_MIN by where its last heat step is; set, it holds for every dish
    # (a dish's own hot_hold_max_min still wins).
    hot_hold_max_min: int | None = Field(None, ge=0, le=24 * 60)
    tasks_from: Literal["rules", "model"] = "rules"  # model: ask the endpoint for tasks, rules as fallback
    solver: SolverSettings = Field(default_factory=SolverSettings)

    @field_validator("serve_at", "start_after", mode="before")
    @classmethod
    def _yaml_clock(cls, v):
        # YAML 1.1 reads an unquoted 19:30 as the base-60 integer 1170; turn it back into a clock time.
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 24 * 60:
            return f"{v // 60}:{v % 60:02d}"
        if isinstance(v, (dt.datetime, dt.date)):
            return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat()
        return v

    @field_validator("serve_at")
    @classmethod
    def _serve_at(cls, v: str) -> str:
        parse_serve_at(v)
        return v

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, v):
        if isinstance(v, dt.date) and not isinstance(v, dt.datetime):  # YAML reads 2026-12-07 as a date
            return v.isoformat()
        if v is not None:
            try:
                dt.date.fromisoformat(str(v))
            except ValueError:
                raise ValueError(f"{v!r} is not a date; write YYYY-MM-DD, e.g. 2026-12-24") from None
        return v

    @model_validator(mode="after")
    def _one_date(self) -> MealSpec:
        _, serve_date = parse_serve_at(self.serve_at)
        if self.date and serve_date and serve_date.isoformat() != self.date:
            raise ValueError(f"serve_at says {serve_date} but date says {self.date}; give the day once")
        return self

    @property
    def day(self) -> dt.date | None:
        """The meal's date (from ``date`` or ``serve_at``), or None for a timeline for any day."""
        return dt.date.fromisoformat(self.date) if self.date else parse_serve_at(self.serve_at)[1]

    @field_validator("start_after")
    @classmethod
    def _start_after(cls, v: str | None) -> str | None:
        if v is not None:
            parse_clock(v)
        return v

    @field_validator("recipes")
    @classmethod
    def _recipes(cls, v: list[RecipeSpec]) -> list[RecipeSpec]:
        if not v:
            raise ValueError("the list is empty; give at least one recipe")
        return v

    @field_validator("cooks")
    @classmethod
    def _cooks(cls, v: list[Cook]) -> list[Cook]:
        if not v:
            raise ValueError("the list is empty; name at least one cook, e.g. cooks: [{name: Alex, skill: 3}]")
        names = [c.name for c in v]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"cook names must differ; {', '.join(sorted(dup))} appears twice")
        return v
