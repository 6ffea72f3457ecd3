"""Tasks from a model (``tasks_from: model``): the directions in, a JSON task list out.

The model is any ``complete(messages) -> str`` callable (``chefbot.plan.complete``).  Its
task list is validated against the same ``Task`` schema the rules produce; anything that
does not validate falls back to the rules, with the reason kept.
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from chefbot.cooking.durations import MAX_TASK_MINUTES, OVEN_RANGE_C
from chefbot.cooking.equipment import NAMES, Equipment
from chefbot.cooking.tasks import DishTasks, Task, mark_vessels, tasks_from_directions
from chefbot.errors import ChefbotError
from chefbot.plan.complete import Complete
from chefbot.recipe_format import Recipe

TASK_SYSTEM = (
    "You split cooking directions into kitchen tasks for a scheduler. Answer with JSON only: a list with one "
    "object per task, in order, with keys: text (the step), verb (one word), duration_min (integer minutes), "
    "attended (false when hands are needed only to start and finish, as for baking, simmering, chilling), "
    "skill (1 washing/stirring .. 3 knife work, sauteing .. 5 pastry), equipment (a list from: "
    + ", ".join(NAMES)
    + "), oven_temp_c (integer or null), "
    "after (list of 1-based task numbers that must finish before this one starts)."
)


class TaskDraft(BaseModel):
    """What a model is asked to return for one task."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    verb: str = Field(min_length=1)
    duration_min: int = Field(ge=1, le=MAX_TASK_MINUTES)
    attended: bool
    skill: int = Field(ge=1, le=5)
    equipment: list[Equipment] = Field(default_factory=list)
    oven_temp_c: int | None = Field(None, ge=OVEN_RANGE_C[0], le=OVEN_RANGE_C[1])
    after: list[int] = Field(default_factory=list)


_DRAFTS = TypeAdapter(list[TaskDraft])


def _json_part(text: str) -> str:
    """The JSON inside an answer that may wrap it in a ``` fence or a sentence."""
    fence = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fence:
        return fence.group(1)
    start = text.find("[")
    end = text.rfind("]")
    return text[start : end + 1] if start >= 0 and end > start else text


def parse_model_tasks(answer: str, key: str) -> list[Task]:
    """Validate a model's answer into tasks; ValueError with the reason when it does not fit."""
    try:
        drafts = _DRAFTS.validate_json(_json_part(answer))
    except ValidationError as e:
        first = e.errors()[0]
        raise ValueError(
            f"answer does not match the task schema: {'.'.join(map(str, first['loc']))}: {first['msg']}"
        ) from None
    if not drafts:
        raise ValueError("answer has no tasks")
    tasks = []
    for n, d in enumerate(drafts, 1):
        if any(a < 1 or a >= n for a in d.after):
            raise ValueError(f"task {n}: 'after' must name earlier tasks (1..{n - 1}), got {d.after}")
        if "oven" in d.equipment and d.oven_temp_c is None:
            raise ValueError(f"task {n}: uses the oven but gives no oven_temp_c")
        tasks.append(
            Task(
                id=f"{key}.{n}",
                dish=key,
                step=n,
                text=d.text,
                verb=d.verb.lower(),
                duration_min=d.duration_min,
                attended=d.attended,
                skill=d.skill,
                equipment=sorted(set(d.equipment)),
                oven_temp_c=d.oven_temp_c if "oven" in d.equipment else None,
                after=[f"{key}.{a}" for a in d.after],
                duration_from="model",
            )
        )
    return tasks


def tasks_with_model(key: str, recipe: Recipe, complete: Complete) -> tuple[DishTasks, str | None]:
    """Ask the model for tasks; on a bad answer use the rules. Returns (tasks, fallback reason or None)."""
    messages = [
        {"role": "system", "content": TASK_SYSTEM},
        {
            "role": "user",
            "content": f"Recipe: {recipe.title}\nDirections:\n" + "\n".join(f"- {d}" for d in recipe.directions),
        },
    ]
    try:
        tasks = parse_model_tasks(complete(messages), key)
    except ChefbotError:
        raise
    except Exception as e:  # a bad answer or a failing endpoint: the rules still give a plan
        dish = tasks_from_directions(key, recipe.title, recipe.directions, recipe.ingredients)
        return dish, f"model tasks for '{recipe.title}' rejected ({e}); used the rules"
    dish = DishTasks(key=key, title=recipe.title, tasks=tasks, ingredients=list(recipe.ingredients))
    mark_vessels(key, dish.tasks)
    return dish, None


def dumps_example() -> str:
    """A valid answer, used in docs and tests."""
    return json.dumps(
        [
            {
                "text": "Chop the onion",
                "verb": "chop",
                "duration_min": 5,
                "attended": True,
                "skill": 3,
                "equipment": [],
                "oven_temp_c": None,
                "after": [],
            },
            {
                "text": "Bake 30 minutes at 180 C",
                "verb": "bake",
                "duration_min": 30,
                "attended": False,
                "skill": 2,
                "equipment": ["oven"],
                "oven_temp_c": 180,
                "after": [1],
            },
        ]
    )
