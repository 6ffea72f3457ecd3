"""The recipe request's prompt and checks (``routes_recipes.py`` is its HTTP side).

The prompt is the training prompt (``chefbot.chat.request_messages``) so a fine-tuned
model sees exactly what it learned from; constraints are one extra sentence (the config's
``prompt.constraints`` template, or ``DEFAULT_CONSTRAINTS`` for a preset that trains without
one).  The answer is read back with ``chefbot.recipe_format.parse_recipe`` (the same parser
the evaluation uses) and judged by the one checker, ``cooking.recipe_constraints.check_recipe``
(the rules the training labels are made by): ``check_constraints``.  The diet checks flag
what the ingredient lexicon knows; they do not claim to prove a recipe safe for an allergy.
The same parsed recipe is judged by ``cooking.kitchen_sense.check_kitchen_sense`` too (is it a
recipe at all, is it safe to follow, is it plausible): ``kitchen_sense`` in the answer, what
``enforce`` retries on beside the constraints and what the page warns with.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from chefbot.chat import request_messages
from chefbot.config import GroundingConfig, PromptConfig
from chefbot.cooking.kitchen_sense import check_kitchen_sense
from chefbot.cooking.recipe_constraints import RecipeConstraints, check_recipe
from chefbot.cooking.tasks import tasks_from_directions
from chefbot.recipe_format import Recipe, parse_recipe
from chefbot.serve.schemas_recipes import RecipeJSON, StructuredRecipe

DEFAULT_CONSTRAINTS = "The recipe must be: {constraints}."


def recipe_messages(
    ingredients: list[str],
    constraints: RecipeConstraints,
    prompt: PromptConfig,
    references: Sequence[Recipe] = (),
    grounding: GroundingConfig | None = None,
) -> list[dict]:
    """The request's prompt; ``references``: the retrieved recipes (``serve/grounding.py``) it may adapt."""
    if not prompt.constraints:
        prompt = prompt.model_copy(update={"constraints": DEFAULT_CONSTRAINTS})
    return request_messages(ingredients, prompt, constraints=constraints, references=references, grounding=grounding)


def minutes_mentioned(directions: list[str]) -> float:
    """Minutes the steps state themselves ("bake 25 minutes", "simmer 1 hour"), read by the
    planner's task extraction: a lower bound of the time."""
    dish = tasks_from_directions("answer", "", directions)
    return float(sum(t.duration_min for t in dish.tasks if t.duration_from == "text"))


def check_json_answer(text: str, constraints: RecipeConstraints) -> dict:
    """``check_constraints`` of an answer written as ``RecipeJSON`` (``"format": "json"``): the JSON read by the
    schema, rendered to chefbot's recipe text (``Recipe.render``) and checked exactly as a text answer is, plus
    ``recipe_json``; an answer that is no such JSON (cut at max_tokens) is checked as an empty recipe, with why."""
    try:
        data = RecipeJSON.model_validate_json(text)
    except ValidationError as e:
        checked = check_constraints("", constraints)
        why = e.errors(include_url=False)[0]
        checked["problems"].insert(0, f"the JSON answer does not match the recipe schema: {why['msg']}")
        checked["valid"] = False
        return {**checked, "recipe_json": None}
    checked = check_constraints(data.as_recipe().render(), constraints)
    return {**checked, "recipe_json": data.model_dump()}


def check_constraints(text: str, constraints: RecipeConstraints) -> dict:
    """The answer ``text`` parsed into a recipe and checked against the request's ``constraints``
    (and for the parts a recipe needs): ``{recipe, valid, well_formed, problems, checks, minutes_stated,
    kitchen_sense}``; ``checks`` holds one ``ConstraintCheck.to_dict()`` per requested constraint,
    ``kitchen_sense`` the ``SenseReport.to_dict()`` of the same parsed recipe (every check, safety first
    in the page's warning; ``enforce`` retries while ``safe`` is false)."""
    parsed = parse_recipe(text)
    problems: list[str] = []
    if not parsed.title:
        problems.append("no title")
    if not parsed.ingredients:
        problems.append("no ingredient list")
    if not parsed.directions:
        problems.append("no directions")
    elif not parsed.numbered:
        problems.append("directions are not numbered")
    checks = check_recipe(parsed.title or "", parsed.ingredients, parsed.directions, constraints)
    problems += [f"not {c.requested}: {c.detail}" for c in checks if c.satisfied is False]
    return {
        "recipe": StructuredRecipe.from_recipe(parsed).model_dump(),
        "valid": parsed.well_formed and not problems,
        "well_formed": parsed.well_formed,
        "problems": problems,
        "checks": [c.to_dict() for c in checks],
        "minutes_stated": minutes_mentioned(parsed.directions),
        "kitchen_sense": check_kitchen_sense(parsed).to_dict(),
    }
