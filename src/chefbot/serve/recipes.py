"""The recipe request's prompt and checks (``routes_recipes.py`` is its HTTP side).

The prompt is the training prompt (``chefbot.chat.request_messages``) so a fine-tuned
model sees exactly what it learned from; constraints are one extra sentence.  The
answer is read back with ``chefbot.recipe_format.parse_recipe`` (the same parser the
evaluation uses) and checked against the request's constraints
(``check_constraints``).  The checks are keyword lists: they *flag* a likely
problem (a vegetarian recipe that mentions bacon) for the person to see; they do not
claim to prove a recipe safe for an allergy.
"""

from __future__ import annotations

import re

from chefbot.chat import request_messages
from chefbot.config import PromptConfig
from chefbot.recipe_format import parse_recipe
from chefbot.serve.schemas import RecipeConstraints

MEAT = ("beef", "pork", "chicken", "turkey", "bacon", "ham", "sausage", "lamb", "veal", "duck", "steak", "mince",
        "prosciutto", "salami", "pepperoni", "chorizo", "gelatin", "anchov", "fish", "salmon", "tuna", "cod", "shrimp",
        "prawn", "crab", "lobster", "clam", "mussel", "oyster", "scallop", "squid", "meat", "broth", "lard")
ANIMAL = ("milk", "butter", "cheese", "cream", "yogurt", "yoghurt", "egg", "honey", "whey", "ghee", "mayonnaise")
PLANT_OK = ("vegetable broth", "veggie broth", "coconut milk", "almond milk", "soy milk", "oat milk", "peanut butter",
            "almond butter", "cocoa butter", "eggplant", "vegan", "cream of tartar", "butternut", "coconut cream")
GLUTEN = ("wheat", "flour", "bread", "pasta", "spaghetti", "noodle", "barley", "rye", "couscous", "semolina", "cracker",
          "breadcrumb", "tortilla", "soy sauce", "beer", "biscuit", "cake mix", "macaroni")
GLUTEN_OK = ("gluten-free", "gluten free", "rice flour", "almond flour", "coconut flour", "corn tortilla", "rice noodle",
             "buckwheat", "tamari")
_TIME_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:-|to)?\s*(?:\d+\s*)?(hours?|hrs?|minutes?|mins?)\b", re.I)


def recipe_messages(ingredients: list[str], constraints: RecipeConstraints, prompt: PromptConfig) -> list[dict]:
    msgs = request_messages(ingredients, prompt)
    wanted = constraints.phrases()
    if wanted:
        msgs[-1]["content"] += "\nThe recipe must be " + ", ".join(wanted) + "."
    return msgs


def _mentions(text: str, words: tuple[str, ...], allowed: tuple[str, ...]) -> list[str]:
    low = text.lower()
    for ok in allowed:
        low = low.replace(ok, " ")
    return [w for w in words if re.search(rf"\b{re.escape(w)}", low)]


def minutes_mentioned(directions: list[str]) -> float:
    """Sum of the cooking times the steps state ("bake 25 minutes", "simmer 1 hour"): a lower bound."""
    total = 0.0
    for step in directions:
        for num, unit in _TIME_RE.findall(step):
            total += float(num) * (60 if unit.lower().startswith(("h", "hr")) else 1)
    return total


def check_constraints(text: str, constraints: RecipeConstraints) -> dict:
    """The answer ``text`` parsed into a recipe and checked against the request's ``constraints``
    (and for the parts a recipe needs): ``{recipe, valid, well_formed, problems, minutes_stated}``."""
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
    body = "\n".join(parsed.ingredients + parsed.directions) or text
    if constraints.vegetarian or constraints.vegan:
        for w in _mentions(body, MEAT, PLANT_OK):
            problems.append(f"not vegetarian: mentions {w!r}")
    if constraints.vegan:
        for w in _mentions(body, ANIMAL, PLANT_OK):
            problems.append(f"not vegan: mentions {w!r}")
    if constraints.gluten_free:
        for w in _mentions(body, GLUTEN, GLUTEN_OK):
            problems.append(f"may contain gluten: mentions {w!r}")
    stated = minutes_mentioned(parsed.directions)
    if constraints.max_minutes and stated > constraints.max_minutes:
        problems.append(f"steps state {stated:g} minutes, over the {constraints.max_minutes}-minute limit")
    return {
        "recipe": {
            "title": parsed.title,
            "ingredients": parsed.ingredients,
            "steps": [{"number": n, "text": d} for n, d in enumerate(parsed.directions, 1)],
        },
        "valid": parsed.well_formed and not problems,
        "well_formed": parsed.well_formed,
        "problems": problems,
        "minutes_stated": stated,
    }
