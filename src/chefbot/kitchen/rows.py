"""The kitchen's rows: one set of models for what the API accepts, what a backup may hold and what a
read trusts, and the one normalization of titles and lines.

* **One set of models.** ``RecipeSource``, ``TastingSide`` and the field types (``Title``,
  ``Line``, ``Step``, ``Name``, ``Servings``) are the API's own (``serve/schemas_kitchen.py``
  imports them from here: the kitchen may not import the server); ``RecipeRow``, ``PlanRow``
  and ``PairRow`` are a backup's rows built from them, so ``chefbot library import`` refuses
  exactly what ``POST /api/...`` refuses.  ``PlanData`` is what the live schedule reads of a
  saved plan; a stored plan that does not match it cannot be shown and is reported, not a 500.
* **One normalization** (``clean_text``), used by ``POST /api/recipes`` (fields and pasted
  text), ``chefbot library add`` and ``chefbot library import`` through ``check_recipe``
  (``library.py``): whitespace and invisible characters (zero-width spaces and joiners,
  BOM, soft hyphen, bidi marks) are stripped at both ends; a control character (NUL and the
  other C0 characters but tab and line breaks, DEL) is refused, naming the field; what is
  left must hold a visible character and fit the field's length.  The schema's ``pattern``
  (``VISIBLE``) says "at least one visible character", so a title of only zero-width
  characters is a 422 by the schema itself; a NUL inside a title is a 400 naming it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from chefbot.errors import DataError

EXACT_INT = 2**53  # integers a JSON number holds exactly (as serve/schemas.py)
MAX_SERVINGS = 100
MAX_TITLE = 200
MAX_LINE = 500
MAX_STEP = 4000
MAX_INGREDIENTS = 200
MAX_DIRECTIONS = 100
MAX_TAG = 40  # a tag's characters, after normalization
MAX_TAGS = 20  # tags per recipe
MAX_CATEGORY = 60
MAX_NOTE = 4000  # a recipe note's characters (kitchen/ratings.py), as a step's

# Every character str.isspace() is true for (spelled out: \s differs between Python, Rust and ECMA
# regular expressions; the same list as serve/schemas.py's WHITESPACE).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Characters that show nothing: stripped at the ends of a title or line.
INVISIBLE = (
    "\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u206a\u206b"
    "\u206c\u206d\u206e\u206f\u3164\ufeff\uffa0"
)
# Variation selectors show nothing alone but belong to the character before them (an emoji): not stripped.
VARIATION = "".join(chr(c) for c in range(0xFE00, 0xFE10))
# Refused anywhere: C0 controls but tab and line breaks, and DEL (a NUL ends a string for SQLite's length()).
CONTROL = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r") + "\x7f"
CONTROL_RE = re.compile(f"[{re.escape(CONTROL)}]")
# A character a reader sees; the schema's pattern for every title, line, step and name (one such character).
VISIBLE = f"[^{WHITESPACE}{INVISIBLE}{VARIATION}{CONTROL}]"
VISIBLE_RE = re.compile(VISIBLE)


class RecipeError(DataError):
    """A recipe that cannot be saved; ``field`` names the part that is wrong."""

    def __init__(self, message: str, field: str = "text") -> None:
        super().__init__(message)
        self.field = field


def clean_text(value: Any, field: str, max_length: int) -> str:
    """``value`` with whitespace and invisible characters stripped at both ends; '' when nothing visible is left.
    RecipeError (naming ``field``) for a non-string, a control character or a value over ``max_length``."""
    if not isinstance(value, str):
        raise RecipeError(f"{field}: expected a string, got {type(value).__name__}", field)
    bad = CONTROL_RE.search(value)
    if bad:
        raise RecipeError(f"{field}: control character U+{ord(bad.group()):04X} at position {bad.start()}", field)
    value = value.strip(WHITESPACE + INVISIBLE)
    if not VISIBLE_RE.search(value):
        return ""
    if len(value) > max_length:
        raise RecipeError(f"{field}: {len(value)} characters, at most {max_length}", field)
    return value


def has_control(text: str) -> bool:
    return CONTROL_RE.search(text) is not None


# -- field types (the API's) ----------------------------------------------------------------------
def whole_number(value: Any) -> Any:
    """JSON Schema's integer includes 3.0 (JSON has one number type), strict pydantic does not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def Int(**bounds: int) -> Any:  # a type, hence the capital
    """A JSON integer within these bounds, strict otherwise (as serve/schemas.py's ``Int``)."""
    return Annotated[int, Field(**bounds), BeforeValidator(whole_number)]


def iso_datetime(value: str) -> str:
    try:
        dt.datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{value[:40]!r} is not an ISO date and time, e.g. 2026-11-25T17:12:00") from None
    return value


Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE, pattern=VISIBLE)]
Line = Annotated[str, Field(min_length=1, max_length=MAX_LINE, pattern=VISIBLE)]
Step = Annotated[str, Field(min_length=1, max_length=MAX_STEP, pattern=VISIBLE)]
Name = Annotated[str, Field(min_length=1, max_length=60, pattern=VISIBLE)]
Servings = Int(ge=1, le=MAX_SERVINGS)
# A tag or category as given: its normalization and the characters it may hold are library.check_tags' (400
# bad_recipe naming tags.N / category), so the schema only bounds the length.
Tag = Annotated[str, Field(max_length=MAX_TAG * 2, description="a tag; normalized (library.check_tags)")]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS, description=f"at most {MAX_TAGS} tags")]
Category = Annotated[str, Field(max_length=MAX_CATEGORY * 2, description="one category, e.g. Dinner")]
Seed = Annotated[Int(ge=-EXACT_INT, le=EXACT_INT), Field(description="sampling seed")]
Timestamp = Annotated[str, Field(max_length=40), AfterValidator(iso_datetime)]
Stars = Annotated[Int(ge=1, le=5), Field(description="a rating: 1 (poor) to 5 (excellent) stars")]
NoteText = Annotated[str, Field(min_length=1, max_length=MAX_NOTE, pattern=VISIBLE)]


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RecipeSource(Row):
    kind: Literal["manual", "pasted", "file", "generated", "import"] = Field(
        "manual", description="where the recipe came from; generated: a ChefBot answer"
    )
    model: str | None = Field(None, max_length=200, description="generated: the model id (default: the served one)")
    base_model: str | None = Field(
        None, max_length=500, description="generated: the base model (default: the served one)"
    )
    adapter: str | None = Field(
        None, max_length=500, description="generated: the LoRA adapter (default: the served one)"
    )
    adapter_sha256: str | None = Field(None, max_length=64, description="generated: the adapter weights' fingerprint")
    settings: dict[str, Any] = Field(default_factory=dict, description="generated: temperature, seed, max_tokens, ...")
    ingredients_given: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=50, description="generated: the ingredients ChefBot was asked to use"
    )
    file: str | None = Field(None, max_length=4096, description="file: the file it was read from")
    format: Literal["jsonld", "html", "mealie", "tandoor"] | None = Field(
        None, description="import: what it was read from (kitchen/schema_org.py)"
    )
    url: str | None = Field(None, max_length=4096, description="import: the web page it came from")
    total_minutes: Int(ge=1, le=100_000) | None = Field(  # Int: a JSON 4212.0 is an integer to the schema too
        None, description="import: the total time the source declared (schema.org totalTime)"
    )


class TastingSide(Row):
    model: str = Field(
        "served",
        min_length=1,
        max_length=60,
        description="served (this server's model) or a name of kitchen.tasting_models",
    )
    temperature: float | None = Field(None, ge=0, le=2, description="0 = greedy")
    seed: Seed | None = None
    max_tokens: Int(ge=1) | None = Field(None, description="longest answer (above serve.max_tokens_cap: lowered to it)")


# -- a backup's rows ------------------------------------------------------------------------------
class RecipeVersionRow(Row):
    """A previous version of a recipe (``recipe_versions``): what an edit replaced."""

    version: int = Field(ge=1, le=EXACT_INT)
    title: Title
    servings: Servings
    ingredients: list[Line] = Field(min_length=1, max_length=MAX_INGREDIENTS)
    directions: list[Step] = Field(min_length=1, max_length=MAX_DIRECTIONS)
    tags: Tags = Field(default_factory=list)
    category: Category | None = None
    saved_at: Timestamp


class RatingRow(Row):
    """A person's rating of a recipe in a backup, by the person's name (kitchen.ratings)."""

    person: Name
    stars: Stars
    updated_at: Timestamp


class NoteRow(Row):
    """A person's note on a recipe in a backup, by the person's name (kitchen.ratings)."""

    person: Name
    text: NoteText
    created_at: Timestamp
    updated_at: Timestamp


class PhotoRow(Row):
    """A recipe's photo in a backup: the stored WebP file itself (base64) and the hash it is stored under."""

    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file (its name beside the DB)")
    width: int = Field(ge=1, le=1_000_000)
    height: int = Field(ge=1, le=1_000_000)
    position: int = Field(ge=-EXACT_INT, le=EXACT_INT)
    created_at: Timestamp
    data: str = Field(description="the WebP file, base64; checked against hash on restore")


class RecipeRow(Row):
    id: int | None = None  # the exporting DB's id (a restore gives new ones)
    title: Title
    servings: Servings
    ingredients: list[Line] = Field(min_length=1, max_length=MAX_INGREDIENTS)
    directions: list[Step] = Field(min_length=1, max_length=MAX_DIRECTIONS)
    source: RecipeSource = Field(default_factory=lambda: RecipeSource(kind="import"))
    created_at: Timestamp
    updated_at: Timestamp | None = None
    version: int = Field(1, ge=1, le=EXACT_INT)
    tags: Tags = Field(default_factory=list)
    category: Category | None = None
    versions: list[RecipeVersionRow] = Field(default_factory=list, max_length=10_000)
    ratings: list[RatingRow] = Field(default_factory=list, max_length=10_000)
    notes: list[NoteRow] = Field(default_factory=list, max_length=10_000)
    photos: list[PhotoRow] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _versions_before_this_one(self) -> RecipeRow:
        twice = [p for p, n in Counter(r.person.casefold() for r in self.ratings).items() if n > 1]
        if twice:
            raise ValueError(f"ratings: {twice[0]!r} rated this recipe twice")
        numbers = [v.version for v in self.versions]
        if len(set(numbers)) != len(numbers):
            raise ValueError("versions: a version number appears twice")
        if any(n >= self.version for n in numbers):
            raise ValueError(f"versions: a previous version must be below the recipe's version {self.version}")
        return self


class ProgressRow(Row):
    task_id: str = Field(min_length=1, max_length=100)
    cook: Name
    status: Literal["done", "started"]
    at: Timestamp


class _Open(BaseModel):  # a part of the planner's answer: the fields the live schedule reads, the rest kept
    model_config = ConfigDict(extra="allow", strict=True)


class PlanTask(_Open):
    id: str
    cook: str
    start_min: int
    end_min: int
    start: str
    end: str
    after: list[str]
    vessel: str | None
    oven: int | None
    oven_temp_c: float | None = None
    hands: list[Annotated[list[int], Field(min_length=2, max_length=2)]] | None = None


class PlanCook(_Open):
    name: str


class OvenSegment(_Open):
    oven: int
    temp_c: float
    tasks: list[str] = Field(min_length=1)
    start: int
    preheat_end: int


class PlanData(_Open):
    """A saved plan as the live schedule (``plans.live``) reads it."""

    serve_at: Timestamp
    horizon_min: int
    preheat_min: int = 15
    tasks: list[PlanTask]
    cooks: list[PlanCook]
    oven_segments: list[OvenSegment] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_tasks(self) -> PlanData:
        ids = {t.id for t in self.tasks}
        for i, seg in enumerate(self.oven_segments):
            unknown = [t for t in seg.tasks if t not in ids]
            if unknown:
                raise ValueError(f"oven_segments.{i}.tasks: no task {unknown[0]!r} in the plan")
        return self


class PlanRow(Row):
    id: int | None = None
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    serve_at: str = Field(min_length=1, max_length=40)
    request: dict[str, Any]
    plan: PlanData
    created_at: Timestamp
    progress: list[ProgressRow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_row_per_task_and_status(self) -> PlanRow:
        twice = [k for k, n in Counter((p.task_id, p.status) for p in self.progress).items() if n > 1]
        if twice:
            raise ValueError(f"progress: task {twice[0][0]!r} is {twice[0][1]} twice")
        return self


class VoteRow(Row):
    choice: Literal["A", "B", "tie", "both_bad"]
    rater: Name
    note: str | None = Field(None, max_length=2000)
    created_at: Timestamp
    person: Name | None = Field(None, description="the account that voted (kitchen.people), by name")


class TokenRow(Row):
    """A personal API token in a backup: its SHA-256 only (the token itself is never stored)."""

    name: Name
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    created_at: Timestamp
    last_used_at: Timestamp | None = None


class PersonRow(Row):
    """An account in a backup: the argon2id hash of the password, never the password (kitchen.people)."""

    id: int | None = None
    name: Name
    password_hash: str = Field(pattern=r"^\$argon2id\$", max_length=500)
    created_at: Timestamp
    tokens: list[TokenRow] = Field(default_factory=list)


class PairRow(Row):
    id: int | None = None
    ingredients: list[str]
    side_a: TastingSide
    side_b: TastingSide
    answer_a: str
    answer_b: str
    created_at: Timestamp
    revealed_at: Timestamp | None = None
    votes: list[VoteRow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_vote_per_rater(self) -> PairRow:
        twice = [r for r, n in Counter(v.rater for v in self.votes).items() if n > 1]
        if twice:
            raise ValueError(f"votes: {twice[0]!r} voted twice on this pair")
        return self


def first_problem(e: ValidationError) -> tuple[str, str]:
    """(field, message) of a validation error's first problem (``ingredients.1``, ``Input should be ...``)."""
    err = e.errors(include_url=False)[0]
    field = ".".join(str(p) for p in err.get("loc", ()))
    if err.get("type") == "missing":
        return field, "missing"
    if err.get("type") == "string_pattern_mismatch":  # every pattern here is VISIBLE
        return field, "no visible character"
    msg = " ".join(str(err.get("msg", "invalid")).removeprefix("Value error, ").split())  # one line
    inner = re.match(r"([\w.]+): (.*)", msg)  # a model validator's message names the field inside the row
    if inner:
        field, msg = ".".join(p for p in (field, inner.group(1)) if p), inner.group(2)
    return field, msg


class ShoppingItemRow(Row):
    position: int = Field(ge=0, le=EXACT_INT)
    aisle: str = Field(min_length=1, max_length=100)
    text: Line
    detail: dict[str, Any] = Field(default_factory=dict)  # computed items: name, amounts, recipes, lines
    own: bool
    checked: bool
    checked_by: Name | None = None
    checked_at: Timestamp | None = None
    created_at: Timestamp


class ShoppingListRow(Row):
    """A saved shopping list with its items and ticks (``kitchen/saved_lists.py``)."""

    id: int | None = None
    title: Title
    version: int = Field(ge=1, le=EXACT_INT)
    recipes: list[dict[str, Any]] = Field(max_length=50)
    created_at: Timestamp
    updated_at: Timestamp
    items: list[ShoppingItemRow] = Field(default_factory=list, max_length=2000)


def iso_date(value: str) -> str:
    """A calendar day as stored, YYYY-MM-DD (a real date)."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("expected a date YYYY-MM-DD")
    dt.date.fromisoformat(value)  # ValueError for a day that does not exist (2026-02-30)
    return value


class CalendarEntryRow(Row):
    """A meal calendar entry (``kitchen/calendar.py``): ``recipe_id`` is the backup's own recipe id (null when
    the recipe had left the library), linked to the recipe imported with it."""

    id: int | None = None
    day: Annotated[str, AfterValidator(iso_date)]
    meal: Name
    recipe_id: int | None = Field(None, ge=1, le=EXACT_INT)
    title: Title
    servings: Servings
    created_at: Timestamp
    updated_at: Timestamp
