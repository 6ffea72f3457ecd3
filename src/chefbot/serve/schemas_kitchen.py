"""Request and response shapes of the kitchen API (``routes_kitchen.py``, docs/KITCHEN.md).

The same rules as ``schemas.py``'s: strict types (no ``"3"`` for 3, no ``0`` for false), every
limit in the schema, and the schema is exactly what validation does (the fuzz test holds
the server to it).  Unlike the OpenAI-shaped requests these refuse unknown fields
(``additionalProperties: false``): a typo such as ``serving`` is a 422 naming it, not a
silently ignored value.  ``POST /api/recipes`` takes either ``text`` or the recipe's
fields; its ``oneOf`` says so in the schema and ``RecipeCreate._one_form`` in validation.

The field types and the models a stored row shares with a request (``RecipeSource``,
``TastingSide``, ``Title``, ``Line``, ``Step``, ``Name``) live in ``chefbot.kitchen.rows``, so a
backup's rows are checked by exactly these (the kitchen may not import the server).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from chefbot.kitchen.rows import (
    MAX_DIRECTIONS,
    MAX_INGREDIENTS,
    MAX_TITLE,
    VISIBLE,
    WHITESPACE,
    Category,
    Line,
    Name,
    NoteText,
    RecipeSource,
    Servings,
    Stars,
    Step,
    Tags,
    TastingSide,
    Title,
)
from chefbot.kitchen.schema_org import MAX_HTML_CHARS
from chefbot.plan.schema import Kitchen
from chefbot.serve.schemas import EXACT_INT, ErrorResponse, Int, ValidationErrorResponse
from chefbot.serve.schemas_recipes import Ingredients

# A recipe text at its longest stays well under the default body limit (serve.max_body_bytes: 6 x 8000 + 64 KiB)
# even with every character JSON-escaped, so an over-long text is a 422 naming `text`, not a 413.
MAX_TEXT = 16_000
CLOCK = r"^[0-9]{1,2}:[0-9]{2}$"
SERVE_AT = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}[ T])?[0-9]{1,2}:[0-9]{2}$"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
Id = Annotated[Int(ge=1, le=EXACT_INT), Field(description="a row id")]


class KitchenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


_FIELDS = ("title", "ingredients", "directions")
# The four ways to give a recipe: exactly one of them (``url`` goes only with ``html``).
_RECIPE_FORMS = {"text": ("text",), "fields": _FIELDS, "jsonld": ("jsonld",), "html": ("html",)}
_FORM_KEYS = ("text", *_FIELDS, "jsonld", "html", "url")
RECIPE_FORMS = {
    "oneOf": [
        {
            "required": list(keys),
            "not": {
                "anyOf": [
                    {"required": [k]} for k in _FORM_KEYS if k not in keys and not (form == "html" and k == "url")
                ]
            },
        }
        for form, keys in _RECIPE_FORMS.items()
    ]
}


class RecipeCreate(KitchenRequest):
    """A recipe to save: ``text`` (chefbot's recipe format or a RecipeNLG row), its fields, ``jsonld``
    (schema.org, Mealie, Tandoor) or ``html`` (a saved page, with its ``url``)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=RECIPE_FORMS)
    # Absent when not given, never null: the schema's oneOf is about which fields are present.
    text: str = Field(
        None,
        min_length=1,
        max_length=MAX_TEXT,  # type: ignore[assignment]
        description="chefbot's recipe format (# Title / ## Ingredients / ## Directions), a RecipeNLG "
        "row as a JSON object, or a RecipeNLG CSV line",
    )
    format: Literal["auto", "chefbot", "recipenlg"] = Field("auto", description="how to read text")
    title: str = Field(
        None,
        min_length=1,
        max_length=MAX_TITLE,
        pattern=VISIBLE,  # type: ignore[assignment]
        description="at least one visible character; no control characters (400 bad_recipe)",
    )
    ingredients: list[Line] = Field(
        None,
        min_length=1,
        max_length=MAX_INGREDIENTS,  # type: ignore[assignment]
        description="one line per ingredient",
    )
    directions: list[Step] = Field(
        None,
        min_length=1,
        max_length=MAX_DIRECTIONS,  # type: ignore[assignment]
        description="one step per entry",
    )
    jsonld: dict[str, Any] | list[Any] = Field(
        None,  # type: ignore[assignment]
        description="a schema.org Recipe as JSON-LD (one Recipe, a list or an @graph holding one), or one "
        "recipe's JSON exported by Mealie or Tandoor",
    )
    html: str = Field(
        None,
        min_length=1,
        max_length=MAX_HTML_CHARS,  # type: ignore[assignment]
        description="a saved recipe web page, read by recipe-scrapers (bodies over serve.max_import_bytes: 413)",
    )
    url: str = Field(
        None,
        max_length=2048,
        pattern=f"^https?://[^{WHITESPACE}]+$",  # type: ignore[assignment]  (spelled out: \\s differs by engine)
        description="with html: the page's address (picks the site's reader; nothing is fetched)",
    )
    servings: Servings | None = Field(
        None, description="servings the amounts are for (default: the recipe's own yield, else 4)"
    )
    source: RecipeSource | None = None
    tags: Tags | None = Field(None, description="tags, normalized (lower case); 400 bad_recipe names tags.N")
    category: Category | None = Field(None, description="one category (400 bad_recipe names category)")

    @model_validator(mode="after")
    def _one_form(self) -> RecipeCreate:
        given = [form for form, keys in _RECIPE_FORMS.items() if any(getattr(self, k) is not None for k in keys)]
        if len(given) > 1:
            raise ValueError(f"give one form of recipe, not {' and '.join(given)}")
        if self.url is not None and given != ["html"]:
            raise ValueError("url goes with html (the saved page's address)")
        if given == ["fields"] or not given:
            missing = [f for f in _FIELDS if getattr(self, f) is None]
            if missing:
                raise ValueError(
                    f"give text, jsonld, html, or title, ingredients and directions (missing: {', '.join(missing)})"
                )
        return self


class RecipeUpdate(KitchenRequest):
    """Every editable field of a recipe, and the ``version`` it was read at (a stale one: 409 stale_version)."""

    version: Id = Field(description="the recipe's version as you read it")
    title: Title
    servings: Servings
    ingredients: list[Line] = Field(min_length=1, max_length=MAX_INGREDIENTS, description="one line per ingredient")
    directions: list[Step] = Field(min_length=1, max_length=MAX_DIRECTIONS, description="one step per entry")
    tags: Tags = Field(default_factory=list, description="the recipe's tags (replacing the ones it had)")
    category: Category | None = Field(None, description="the recipe's category, or null for none")


class ShoppingItem(KitchenRequest):
    recipe_id: Id
    servings: Servings | None = Field(None, description="default: the recipe's own")


class ShoppingRequest(KitchenRequest):
    items: list[ShoppingItem] = Field(min_length=1, max_length=50)


class PlanRecipe(KitchenRequest):
    recipe_id: Id
    servings: Servings | None = Field(None, description="default: the recipe's own")
    kind: Literal["auto", "hot", "cold"] = Field("auto", description="auto: hot when it ends with cooking")
    hot_hold_max_min: Int(ge=0, le=24 * 60) | None = Field(
        None, description="minutes this hot dish may wait off the heat; default: the meal's"
    )


class PlanCook(KitchenRequest):
    name: Name
    skill: Int(ge=1, le=5) = Field(3, description="1 washes and stirs .. 3 knife work, sauteing .. 5 pastry")
    available_from: str | None = Field(None, pattern=CLOCK, description="HH:MM; default: from the start")
    available_to: str | None = Field(None, pattern=CLOCK, description="HH:MM; default: until serving")


def _kitchen_field(name: str) -> tuple[Any, Any]:
    info = Kitchen.model_fields[name]
    bounds = {k: getattr(m, k) for m in info.metadata for k in ("ge", "le") if hasattr(m, k)}
    return Int(**bounds), Field(info.default)


# The planner's kitchen (chefbot.plan.schema.Kitchen: one field per kind of equipment), strict.
PlanKitchen = create_model(
    "PlanKitchen",
    __base__=KitchenRequest,
    __module__=__name__,
    __doc__="How many of each thing the kitchen has (docs/PLANNER.md).",
    **{name: _kitchen_field(name) for name in Kitchen.model_fields},
)


class PlanCreate(KitchenRequest):
    title: str = Field("Meal", min_length=1, max_length=200)
    serve_at: str = Field(pattern=SERVE_AT, description="HH:MM, or YYYY-MM-DD HH:MM")
    date: str | None = Field(
        None, pattern=DATE, description="YYYY-MM-DD (the form sends the browser's today); a past time is refused"
    )
    start_after: str | None = Field(None, pattern=CLOCK, description="HH:MM: nothing starts earlier")
    recipes: list[PlanRecipe] = Field(min_length=1, max_length=12)
    cooks: list[PlanCook] = Field(min_length=1, max_length=8)
    kitchen: PlanKitchen = Field(default_factory=PlanKitchen)  # type: ignore[valid-type]
    hot_hold_max_min: Int(ge=0, le=24 * 60) | None = Field(
        None, description="minutes a hot dish may wait; empty: 60 for an oven-finished dish, 15 otherwise"
    )
    time_limit_s: float | None = Field(
        None, gt=0, le=600, description="the solver's seconds (default 5; capped by serve.plan_time_limit_s)"
    )


class ProgressCreate(KitchenRequest):
    cook: Name
    task_id: str = Field(min_length=1, max_length=100)
    status: Literal["done", "started"] = "done"
    at: str | None = Field(None, max_length=40, description="ISO date and time; default: now")


class PairCreate(KitchenRequest):
    ingredients: Ingredients
    a: TastingSide = Field(default_factory=TastingSide)
    b: TastingSide = Field(default_factory=TastingSide)


class TastingCreate(KitchenRequest):
    pair_id: Id
    choice: Literal["A", "B", "tie", "both_bad"]
    rater: Name | None = Field(
        None, description="who votes; required unless logged in (a person's vote is theirs: their name is used)"
    )
    note: str | None = Field(None, max_length=2000)


class RatingSet(KitchenRequest):
    stars: Stars


class NoteCreate(KitchenRequest):
    text: NoteText


# -- responses -------------------------------------------------------------------------------
class RatingFields(BaseModel):
    """A recipe's ratings as the library shows them (kitchen.ratings.summaries)."""

    rating_mean: float | None = Field(None, description="the household's mean stars (1-5), null when nobody rated it")
    rating_count: int = Field(0, description="how many people rated it")
    my_rating: int | None = Field(None, description="the caller's own stars, null when they have not rated it")


class RecipePhoto(BaseModel):
    """A recipe's photo (kitchen/photos.py): stored once as WebP by its SHA-256, with a thumbnail."""

    id: int
    object: Literal["recipe_photo"]
    recipe_id: int
    hash: str = Field(description="SHA-256 of the stored WebP file (its name)")
    width: int
    height: int
    position: int = Field(description="order among the recipe's photos; the first is the recipe's picture")
    created_at: str
    url: str = Field(description="the image (GET, immutable: cache it forever)")
    thumb_url: str = Field(description="its thumbnail (longest side kitchen.photo_thumb_px)")


class RecipePhotoList(BaseModel):
    object: Literal["list"]
    recipe_id: int
    data: list[RecipePhoto]


class RecipePhotoDeleted(BaseModel):
    id: int
    object: Literal["recipe_photo"]
    deleted: Literal[True]


class SavedRecipe(RatingFields):
    """A recipe as the library keeps it (id, servings, source), not the foundations' ``recipe_format.Recipe``."""

    id: int
    object: Literal["recipe"]
    version: int = Field(description="1 when saved, +1 on every edit; an edit names the version it read")
    title: str
    servings: int
    base_servings: int
    ingredients: list[str]
    directions: list[str]
    tags: list[str]
    category: str | None
    source: dict[str, Any]
    created_at: str
    updated_at: str
    photo: RecipePhoto | None = Field(None, description="the recipe's picture (its first photo), if it has one")


class RecipeVersion(BaseModel):
    """A previous version of a recipe: what an edit replaced."""

    object: Literal["recipe_version"]
    version: int
    title: str
    servings: int
    ingredients: list[str]
    directions: list[str]
    tags: list[str]
    category: str | None
    saved_at: str = Field(description="when this version was saved")


class RecipeSummary(RatingFields):
    id: int
    title: str
    servings: int
    version: int
    tags: list[str]
    category: str | None
    ingredients_count: int
    source_kind: str | None
    created_at: str
    photo: RecipePhoto | None = Field(None, description="the recipe's picture (its first photo); absent: none")


class UnreadableRow(BaseModel):
    """A stored row this server cannot read (written by another version or edited by hand), left out of a list."""

    id: int
    field: str
    message: str


class RecipeList(BaseModel):
    object: Literal["list"]
    total: int
    data: list[RecipeSummary]
    spellings: dict[str, list[str]] = Field(
        default_factory=dict,
        description="a query word that matched nothing -> the index's close spellings also searched "
        "(e.g. chilli -> chili); present only when some were",
    )
    unreadable: list[UnreadableRow] = Field(
        default_factory=list, description="present only when some rows could not be read; they are not in data"
    )


class RecipeVersionList(BaseModel):
    object: Literal["list"]
    recipe_id: int
    version: int = Field(description="the recipe's current version")
    data: list[RecipeVersion] = Field(description="its previous versions, newest first")
    unreadable: list[UnreadableRow] = Field(
        default_factory=list, description="present only when some versions could not be read; they are not in data"
    )


class RecipeRating(RatingFields):
    object: Literal["recipe_rating"]
    recipe_id: int


class RecipeNote(BaseModel):
    id: int
    object: Literal["recipe_note"]
    recipe_id: int
    person_id: int
    person: str = Field(description="its author's name")
    mine: bool = Field(description="written by the caller (only its author may change or delete it)")
    text: str
    created_at: str
    updated_at: str


class RecipeNoteList(BaseModel):
    object: Literal["list"]
    recipe_id: int
    data: list[RecipeNote] = Field(description="everyone's notes on the recipe, oldest first")


class NoteDeleted(BaseModel):
    id: int
    object: Literal["recipe_note"]
    deleted: Literal[True]


class Deleted(BaseModel):
    id: int
    object: Literal["recipe"]
    deleted: Literal[True]


class ShoppingAmount(BaseModel):
    """One amount of an item: amounts that do not add up (a mass and a count, cans of two sizes) are each one."""

    quantity: str = Field(description='what to buy: "7", "3 (14 oz) cans", "3 cups + 2 tbsp", "≈ 1/8 tsp"')
    text: str = Field(description='the amount with its name: "7 eggs (need 6 1/2)"')
    need: str | None = Field(
        description="the exact amount when quantity is not exactly it (whole things rounded up, a measure written "
        "≈), else null"
    )


class ShoppingLine(BaseModel):
    name: str
    quantity: str = Field(description="the amounts' quantities, joined by '; '")
    text: str = Field(description="the amounts' texts, joined by '; ', then notes without a number (to taste)")
    amounts: list[ShoppingAmount] = Field(description="one per amount that does not add up with the others")
    recipes: list[int] = Field(description="library ids of the recipes it is for")
    lines: list[str] = Field(description="the recipes' lines it comes from, scaled, preparation notes and all")


class Aisle(BaseModel):
    aisle: str
    items: list[ShoppingLine]


class ShoppingList(BaseModel):
    object: Literal["shopping_list"]
    aisles: list[Aisle]
    pantry: list[ShoppingLine]
    recipes: list[dict[str, Any]]


class PlanRecord(BaseModel):
    """A saved plan as it now stands (docs/KITCHEN.md describes every field)."""

    model_config = ConfigDict(extra="allow")
    id: int
    object: Literal["plan"]
    title: str
    created_at: str
    serve_at: str
    request: dict[str, Any]
    plan: dict[str, Any]
    tasks: list[dict[str, Any]]
    cooks: dict[str, dict[str, Any]]
    preheat: list[dict[str, Any]]
    progress: list[dict[str, Any]]
    delay_min: int
    finished: bool


class PlanSummary(BaseModel):
    id: int
    title: str
    serve_at: str
    created_at: str
    cooks: list[str]
    done: int
    total: int
    delay_min: int


class PlanList(BaseModel):
    object: Literal["list"]
    data: list[PlanSummary]
    unreadable: list[UnreadableRow] = Field(
        default_factory=list, description="present only when some plans could not be read; they are not in data"
    )


class ShownAnswer(BaseModel):
    label: Literal["A", "B"]
    text: str
    recipe: dict[str, Any]


class TastingSides(BaseModel):
    object: Literal["tasting_sides"]
    models: list[str] = Field(
        description="every model a side may name here: served, base (when it can answer), "
        "the names of kitchen.tasting_models"
    )
    served: str = Field(description="what answers as served: the final model (base model and adapter)")
    base: str | None = Field(description="what answers as base here, or null: this server cannot")
    default: dict[Literal["a", "b"], TastingSide] = Field(
        description="the pairing the page starts from: served vs base where base can answer, else served at two "
        "temperatures"
    )
    note: str = Field(description="the pairing in words, for the page")


class TastingPair(BaseModel):
    pair_id: int
    object: Literal["tasting_pair"]
    ingredients: list[str]
    answers: list[ShownAnswer]


class Tasting(BaseModel):
    id: int
    object: Literal["tasting"]
    pair_id: int
    choice: Literal["A", "B", "tie", "both_bad"]
    rater: str
    person_id: int | None = Field(None, description="the account that voted (kitchen.people), or null")
    note: str | None
    created_at: str
    changed: bool = Field(description="true when this replaced the voter's earlier vote on the pair")


class TastingVote(BaseModel):
    choice: Literal["A", "B", "tie", "both_bad"]
    rater: str
    person_id: int | None
    note: str | None
    created_at: str


class TastingReveal(BaseModel):
    object: Literal["tasting_reveal"]
    pair_id: int
    revealed_at: str = Field(description="when the pair was first revealed: its votes are final from then on")
    revealed: dict[str, dict[str, Any]] = Field(description="the side that wrote A and the one that wrote B")
    names: dict[str, str] = Field(description="the sides' names as the summary counts them")
    votes: list[TastingVote]


class TastingSummary(BaseModel):
    object: Literal["tasting_summary"]
    n: int
    comparisons: list[dict[str, Any]]
    unreadable: list[UnreadableRow] = Field(
        default_factory=list, description="present only when some votes' pairs could not be read; not counted"
    )


KITCHEN_ERRORS = {
    400: "refused by the kitchen (error.code): bad_recipe, bad_meal_spec, unknown_cook, bad_progress, "
    "unknown_tasting_model, empty_ingredients, bad_rating, bad_image (a photo that cannot be decoded); or a body that cannot "
    "be read as JSON text",
    404: "no such row (error.code: recipe_not_found, recipe_version_not_found, plan_not_found, task_not_found, tasting_pair_not_found, note_not_found)",
    403: "ratings and notes belong to a person: log in or use a personal token (person_required); a note is "
    "changed or deleted only by its author (not_author)",
    409: "this rater name is someone else's vote on this pair (already_voted), the pair was revealed and its votes "
    "are final (revealed), or the recipe was edited since the version "
    "given (stale_version: the message names the current version)",
    413: "the body is over serve.max_body_bytes, or the prompt over serve.max_prompt_chars/max_prompt_tokens; a "
    "photo over kitchen.photo_max_bytes or kitchen.photo_max_pixels (image_too_large)",
    415: "a photo that is not a JPEG, PNG or WebP image (unsupported_image), or a body that is not JSON (or, for a "
    "photo upload, multipart/form-data with X-Requested-With)",
    422: "the request does not match this schema (error.param names the field)",
    429: "the model's queue is full (serve.max_concurrency + serve.max_queue); retry after Retry-After seconds",
    500: "the model failed, or a stored row cannot be read (unreadable_row: written by another version or edited "
    "by hand)",
    502: "a tasting model's endpoint (kitchen.tasting_models) failed",
    503: "the kitchen DB is unavailable (storage_unavailable: read-only, locked, I/O error, damaged; kitchen_db: "
    "it cannot be opened), or the meal planner (OR-Tools) is not installed (planner_missing); "
    "error.message gives the cause",
    504: "no answer or plan within serve.request_timeout_s",
    507: "the kitchen DB's disk is full (storage_full): nothing of the change was saved",
}
STORAGE = (503, 507)  # every route that touches the kitchen DB may answer these


def kitchen_errors(*statuses: int) -> dict[int | str, dict]:
    """The OpenAPI ``responses`` entries of these refusals (the error envelope), with the kitchen's wording."""
    return {
        s: {"model": ValidationErrorResponse if s == 422 else ErrorResponse, "description": KITCHEN_ERRORS[s]}
        for s in statuses
    }
