"""Request and response shapes: the subset of the OpenAI chat and (legacy) completions APIs
chefbot serves, plus /v1/recipes, and the server-sent event framing the streams use (``sse``).

The OpenAPI schema at ``/openapi.json`` is generated from these models, and it is the
contract (``tests/serve/test_api_fuzz.py`` checks the server against it), so what the
schema says is exactly what validation does:

* **strict types**: a boolean is ``true``/``false``, not ``0`` or ``"yes"``; an integer is
  not ``"3"``, ``true`` or ``3.5`` (but ``3.0`` is one, as in JSON Schema); a number is not
  ``"0.5"`` (pydantic's lax coercions would accept requests the schema forbids);
* **limits in the schema**: at least one message and at most ``serve.max_messages``
  (``minItems``/``maxItems``; the model is built per server by ``chat_request_model``), at
  least one ingredient that is not blank (``minItems``/``contains``/``pattern``), token ids
  within the served vocabulary and at most ``serve.max_prompts`` prompts
  (``completion_request_model``).

Requests ignore unknown fields (OpenAI clients send extras such as ``user`` or
``logprobs: false``) but validate the ones we act on, so a wrong type answers 422
naming the field instead of being silently dropped.  Validation errors that are
refusals by a limit answer 400 instead (``REFUSALS``).

Response models (``ChatCompletion``, ``RecipeResponse``, ...) document what the endpoints
return; the endpoints build plain dicts, and the fuzz test checks they match.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Annotated, Any, Literal, NotRequired, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    WithJsonSchema,
    create_model,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from chefbot.cooking.recipe_constraints import RecipeConstraints  # the request's constraints: one class, one name

# Integers a JSON number holds exactly (clients parse numbers as doubles; so does FastAPI's
# OpenAPI document, so a bound like 2**63 - 1 would read as 2**63 there).
EXACT_INT = 2**53


def whole_number(value: Any) -> Any:
    """JSON Schema's integer includes 3.0 (JSON has one number type), strict pydantic does not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def Int(**bounds: int) -> Any:  # a type, hence the capital
    """A JSON integer within these bounds (ge/le), strict otherwise: not "3", not true, not 3.5.
    (The bounds go inside, under the validator, or the schema would show pydantic's ge/le.)"""
    return Annotated[int, Field(**bounds), BeforeValidator(whole_number)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=(), strict=True)


class TextPart(_Request):
    type: Literal["text"]
    text: str


class ChatMessage(_Request):
    role: Literal["system", "user", "assistant"]
    # OpenAI allows a list of content parts; only text parts make sense for a text model.
    content: str | list[TextPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class StreamOptions(_Request):
    include_usage: bool = Field(False, description="stream: add a last chunk with token usage (and empty choices)")


Seed = Annotated[Int(ge=-EXACT_INT, le=EXACT_INT), Field(description="sampling seed")]


class ChatCompletionRequest(_Request):
    model: str | None = Field(None, description="the served model id (GET /v1/models); another id is 404")
    messages: list[ChatMessage] = Field(min_length=1, description="the conversation, oldest first")
    max_tokens: Int(ge=1) | None = Field(None, description="longest answer in tokens (above serve.max_tokens_cap: lowered to it)")
    max_completion_tokens: Int(ge=1) | None = Field(None, description="the newer OpenAI name for max_tokens")
    temperature: float | None = Field(None, ge=0, le=2, description="0 = greedy")
    top_p: float | None = Field(None, gt=0, le=1)
    seed: Seed | None = None
    n: Int(ge=1, le=1) = Field(1, description="one choice per request")  # more is a 422, not silently ignored
    stream: bool = Field(False, description="answer as server-sent events (text/event-stream)")
    stream_options: StreamOptions | None = None

    def plain_messages(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.text()} for m in self.messages]


def chat_request_model(max_messages: int) -> type[ChatCompletionRequest]:
    """``ChatCompletionRequest`` with this server's message limit in its schema (``maxItems``)."""
    return create_model(
        "ChatCompletionRequest",
        __base__=ChatCompletionRequest,
        __module__=__name__,
        __doc__="An OpenAI chat completion request (the fields chefbot acts on; others are ignored).",
        messages=(list[ChatMessage], Field(min_length=1, max_length=max_messages,
                                           description=f"the conversation, oldest first; at most {max_messages} "
                                                       "messages (serve.max_messages)")),
    )


# -- ingredients: a list, or one string with commas/new lines (what a person pastes) ----------------
# Blank pieces are dropped (Python's str.strip), so a request must have at least one piece left.  The
# schema says so with character classes spelled out (every character str.isspace() is true for), not
# \s, whose meaning differs between Python, Rust and ECMA regular expressions.
WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009" \
             "\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = f"[^{WHITESPACE}]"  # a character that survives strip()
NOT_SEPARATOR = f"[^{WHITESPACE},;]"  # ... and is not a separator either
_SPLIT_RE = re.compile(r"[,\n;]")
EMPTY_INGREDIENTS = 'give at least one ingredient, e.g. ["chicken", "rice"]'
INGREDIENTS_SCHEMA = {
    "anyOf": [
        {"type": "array", "items": {"type": "string"}, "minItems": 1,
         "contains": {"type": "string", "pattern": NOT_BLANK}},
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


class RecipeRequest(_Request):
    model: str | None = Field(None, description="the served model id (GET /v1/models); another id is 404")
    ingredients: Ingredients
    constraints: RecipeConstraints = Field(default_factory=RecipeConstraints)
    max_tokens: Int(ge=1) | None = Field(None, description="longest answer in tokens (above serve.max_tokens_cap: lowered to it)")
    temperature: float | None = Field(None, ge=0, le=2, description="0 = greedy")
    seed: Seed | None = None
    stream: bool = Field(False, description="answer as server-sent events (text/event-stream)")
    enforce: bool = Field(False, description="generate again (sampled) while a requested constraint is violated, at "
                                             "most serve.enforce_attempts answers; else the best one, constraints_met false")


# -- plain completions: prompts as text or token ids ---------------------------------------------
MAX_LOGPROBS = 20  # the most top_logprobs per position a request may ask for (vLLM's default limit too)
MAX_STOPS = 16
MAX_STOP_CHARS = 200


def _token_id(value: Any, vocab_size: int) -> bool:
    """A JSON integer (3.0 counts, true does not) naming a token of this vocabulary."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not value.is_integer():
        return False
    return 0 <= value < vocab_size


def _prompt_validator(max_prompts: int, vocab_size: int) -> Any:
    ids_msg = f"a list of token ids (integers from 0 to {vocab_size - 1}), at least one"

    def one(value: Any, where: str) -> str | list[int] | None:
        """One prompt; ``where`` names it in a list of prompts (the error's field is "prompt" either way)."""
        if isinstance(value, str):
            if not value:
                raise PydanticCustomError("empty_prompt", f"{where}an empty string: give at least one character")
            return value
        if isinstance(value, list):
            if not value:
                raise PydanticCustomError("empty_prompt", f"{where}an empty list: give {ids_msg}")
            if all(_token_id(v, vocab_size) for v in value):
                return [int(v) for v in value]
            bad = next(v for v in value if not _token_id(v, vocab_size))
            raise PydanticCustomError("token_id", f"{where}{bad!r} is not a token id of this model; give {ids_msg}")
        return None

    def validate(value: Any) -> list[str | list[int]]:
        """Always a list of prompts (each a string or a list of token ids)."""
        if isinstance(value, str) or (isinstance(value, list) and not any(isinstance(v, (str, list)) for v in value)):
            return [one(value, "")]  # type: ignore[list-item]
        if not isinstance(value, list):
            raise PydanticCustomError("prompt_type", "give a string, a list of token ids, or a list of those (one per prompt)")
        if len(value) > max_prompts:
            raise PydanticCustomError("too_many_prompts", f"{len(value)} prompts; this server takes at most {max_prompts} "
                                                          "in one request")
        kinds = {type(v) for v in value}
        if kinds not in ({str}, {list}):
            raise PydanticCustomError("prompt_type", "a list of prompts holds only strings or only lists of token ids")
        return [one(v, f"prompt {i}: ") for i, v in enumerate(value)]  # type: ignore[misc]

    return validate


def _prompt_schema(max_prompts: int, vocab_size: int) -> dict:
    text = {"type": "string", "minLength": 1}
    ids = {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0, "maximum": vocab_size - 1}}
    return {
        "anyOf": [text, ids, {"type": "array", "minItems": 1, "maxItems": max_prompts, "items": text},
                  {"type": "array", "minItems": 1, "maxItems": max_prompts, "items": ids}],
        "description": "the text to continue (no chat template is applied), or its token ids; or a list of "
                       f"either, one per prompt (at most {max_prompts}, serve.max_prompts), each answered as one choice; "
                       "a prompt of more characters than serve.max_prompt_chars or more tokens than "
                       "serve.max_prompt_tokens is 413",
    }


StopString = Annotated[str, Field(min_length=1, max_length=MAX_STOP_CHARS)]


class CompletionRequest(_Request):
    model: str | None = Field(None, description="the served model id (GET /v1/models); another id is 404")
    prompt: list[str | list[int]]  # replaced per server by completion_request_model
    max_tokens: Int(ge=0) | None = Field(None, description="most tokens to generate (0 with echo: score the prompt "
                                                           "only; above serve.max_tokens_cap: lowered to it)")
    echo: bool = Field(False, description="return the prompt before the completion (with its log-probabilities)")
    logprobs: Int(ge=0, le=MAX_LOGPROBS) | None = Field(
        None, description="return each token's log-probability and the top N alternatives at its position")
    stop: StopString | Annotated[list[StopString], Field(max_length=MAX_STOPS)] | None = Field(
        None, description="stop before the first of these strings in the completion (not returned)")
    temperature: float | None = Field(None, ge=0, le=2, description="0 = greedy")
    top_p: float | None = Field(None, gt=0, le=1)
    seed: Seed | None = None
    n: Int(ge=1, le=1) = Field(1, description="one choice per prompt")
    stream: bool = Field(False, description="answer as server-sent events (text/event-stream)")
    stream_options: StreamOptions | None = None

    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])


def completion_request_model(max_prompts: int, vocab_size: int) -> type[CompletionRequest]:
    """``CompletionRequest`` with this server's vocabulary (token ids) and prompt count in its schema."""
    prompt_type = Annotated[list[Union[str, list[int]]], PlainValidator(_prompt_validator(max_prompts, vocab_size)),  # noqa: UP007
                            WithJsonSchema(_prompt_schema(max_prompts, vocab_size))]
    return create_model(
        "CompletionRequest",
        __base__=CompletionRequest,
        __module__=__name__,
        __doc__="An OpenAI (legacy) completion request: plain text or token ids, continued without a chat template.",
        prompt=(prompt_type, ...),
    )


# Validation errors that are refusals by a limit (400, with a code and the config key to name),
# keyed by (field path, pydantic error type); everything else a validation finds is a 422.
REFUSALS: dict[tuple[str, str], tuple[str, str | None]] = {
    ("messages", "too_long"): ("too_many_messages", "serve.max_messages"),
    ("ingredients", "empty_ingredients"): ("empty_ingredients", None),
    ("prompt", "too_many_prompts"): ("too_many_prompts", "serve.max_prompts"),
}


# -- responses --------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """Every refusal and failure: the OpenAI error envelope."""

    error: ErrorDetail


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str | None


class ValidationErrorResponse(BaseModel):
    """A request that does not match the schema: the envelope names the first field; ``detail`` lists all."""

    error: ErrorDetail
    detail: list[ValidationIssue]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class ChunkDelta(TypedDict, total=False):
    role: Literal["assistant"]
    content: str


class ChunkChoice(BaseModel):
    index: int
    delta: ChunkDelta
    finish_reason: Literal["stop", "length"] | None


class ChatCompletionChunk(TypedDict):
    """One streamed event; the last one (with ``stream_options.include_usage``) has no choices and the usage."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: NotRequired[Usage]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class AdapterInfo(BaseModel):
    path: str
    sha256: str | None = Field(description="first 12 hex digits of the sha256 of adapter_model.safetensors (or .bin)")
    config_sha256: str | None = Field(description="first 12 hex digits of the sha256 of adapter_config.json")


class Health(BaseModel):
    """What the server serves (all but status, queue and uptime_s: clients key caches on it) and its state."""

    status: Literal["ok"]
    model: str = Field(description="the served model id")
    backend: str = Field(description="the generation engine: hf (transformers) or vllm")
    base_model: str = Field(description="model.name_or_path: the base model (or a merged export's folder)")
    adapter: AdapterInfo | None = Field(description="the LoRA adapter served on top (unmerged), or null")
    dtype: str | None = Field(description="the weights' dtype (null when the engine does not say)")
    quant: str | None = Field(description="quant.mode the base was loaded with (hf engine), or null")
    tokenizer: str | None = Field(description="fingerprint of the vocabulary (first 12 hex digits of the sha256 of "
                                              "every token id's string, in id order); null without a tokenizer")
    limits: dict[str, int] = Field(description="serve.* limits that shape answers")
    features: dict[str, bool]
    queue: dict[str, int]
    uptime_s: float


class CompletionLogprobs(BaseModel):
    """Per token (the prompt's first, with ``echo``, then the completion's): its text, its log-probability
    (null for the first prompt token: nothing precedes it), the likeliest tokens at its position (with
    itself; null for the first prompt token) and where it starts in prompt + completion (characters)."""

    tokens: list[str]
    token_logprobs: list[float | None]
    top_logprobs: list[dict[str, float] | None]
    text_offset: list[int]


class CompletionChoice(BaseModel):
    text: str
    index: int
    logprobs: CompletionLogprobs | None
    finish_reason: Literal["stop", "length"]


class TextCompletion(BaseModel):
    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


class CompletionChunkChoice(BaseModel):
    text: str
    index: int
    logprobs: CompletionLogprobs | None
    finish_reason: Literal["stop", "length"] | None


class TextCompletionChunk(TypedDict):
    """One streamed event: a piece of one choice's text (the last of a choice has its finish_reason);
    with ``stream_options.include_usage`` a last event has no choices and the usage."""

    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[CompletionChunkChoice]
    usage: NotRequired[Usage]


class RecipeStep(BaseModel):
    number: int
    text: str


class StructuredRecipe(BaseModel):
    title: str | None
    ingredients: list[str]
    steps: list[RecipeStep]


class ConstraintCheckResult(BaseModel):
    """One requested constraint judged by the checker (``cooking.recipe_constraints.ConstraintCheck``)."""

    name: str = Field(description="a diet (vegan, ...), max_minutes, difficulty, cuisine or servings")
    requested: str = Field(description="what was asked, in words")
    satisfied: bool | None = Field(description="true: met; false: violated; null: the recipe does not tell")
    detail: str = Field(description="why, e.g. \"mentions '1 lb chicken' (poultry)\" or \"about 55 minutes, over 30\"")
    offending: list[str] = Field(description="the ingredient lines that break it")
    minutes: float | None = Field(description="the estimated total time, where it matters")


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
        description="requested diets the given ingredients break (vegetarian + chicken); the prompt asked for a substitute")
    constraints_met: bool = Field(description="no requested constraint is violated (unknowns do not count)")
    attempts: int = Field(description="answers generated (more than 1 only with enforce)")
    attempt: int = Field(description="which of them this is (with enforce: the first that passed, else the best)")
    raw: str
    finish_reason: Literal["stop", "length"]
    usage: Usage


class RecipeDelta(BaseModel):
    delta: str


class RecipeRetry(BaseModel):
    """A recipe stream with enforce: the answer so far violated a constraint and another attempt starts;
    the text streamed so far is discarded (the last event, done, carries the answer chosen)."""

    attempt: int = Field(description="the attempt that starts now (2, 3, ...)")
    max_attempts: int
    violated: list[ConstraintCheckResult] = Field(description="the previous answer's violated checks")


class RecipeDone(RecipeResponse):
    """The last event of a recipe stream: the whole structured recipe."""

    done: Literal[True]


class PlanResponse(BaseModel):
    """The plan (``chefbot.plan.api.plan_to_dict``; docs/PLANNER.md describes every field)."""

    model_config = ConfigDict(extra="allow")
    title: str
    serve_at: str
    start: str
    makespan_min: int
    tasks: list[dict[str, Any]]
    by_cook: dict[str, list[dict[str, Any]]]
    warnings: list[str]
    html: str


def json_schema(tp: Any) -> dict:
    """The JSON schema of a type, for the OpenAPI document (``$defs`` are moved to components there)."""
    return TypeAdapter(tp).json_schema(mode="validation")


def sse_media_type(*payloads: Any) -> dict:
    """An OpenAPI media type object for a stream of server-sent events: each event's ``data`` is one
    JSON payload of these types, and the last is ``[DONE]``.  (Before OpenAPI 3.2 a stream's
    ``schema`` describes one event.)"""
    payload = json_schema(Union[payloads] if len(payloads) > 1 else payloads[0])  # noqa: UP007
    return {
        "schema": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "event": {"type": "string"},
                "data": {
                    "type": "string",
                    "description": "one JSON payload per event; the stream ends with `data: [DONE]`",
                    "if": {"const": "[DONE]"},
                    "else": {"contentMediaType": "application/json", "contentSchema": payload},
                },
            },
        },
    }


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """The OpenAPI ``responses`` entries for refusals with these status codes (the error envelope)."""
    out: dict[int | str, dict] = {}
    for status in statuses:
        model = ValidationErrorResponse if status == 422 else ErrorResponse
        out[status] = {"model": model, "description": ERROR_DESCRIPTIONS[status]}
    return out


ERROR_DESCRIPTIONS = {
    400: "refused: a limit (serve.max_messages, serve.max_prompts), no ingredient, messages the chat template "
         "refuses, a prompt of no tokens, or a bad meal spec; a semantic refusal (the request matches the schema "
         "but cannot be served) where the route's own 400 says so",
    401: "missing or wrong API key (only when the server has serve.api_keys)",
    404: "unknown model id",
    413: "too large: the body (serve.max_body_bytes), the prompt's characters (serve.max_prompt_chars) or "
         "tokens (serve.max_prompt_tokens)",
    422: "the request does not match this schema (error.param names the field)",
    429: "the queue is full (serve.max_concurrency + serve.max_queue); retry after Retry-After seconds",
    500: "the model failed (e.g. out of memory); in a stream that has started, an error event instead",
    503: "a stream waited serve.request_timeout_s for a free slot",
    504: "no answer within serve.request_timeout_s",
}


SEMANTIC = "semantic refusal (error.code names it): the request matches this schema, but "

# The 400s a route gives for requests its schema accepts: what no JSON Schema can say, said here, per route.
# (Clients and fuzzers read them as "valid by the schema, still refused": docs/SERVING.md, "The API contract".)
SEMANTIC_400 = {
    "chat": SEMANTIC + "the model's chat template refuses these messages (invalid_messages, e.g. roles in an "
            "order it does not allow); also a schema refusal answered 400, not 422: more than serve.max_messages "
            "messages (too_many_messages, the schema's maxItems)",
    "completions": SEMANTIC + "a text prompt the tokenizer turns into no tokens (empty_prompt); also a schema "
                   "refusal answered 400, not 422: more than serve.max_prompts prompts (too_many_prompts, maxItems)",
    "recipes": SEMANTIC + "the model's chat template refuses the prompt (invalid_messages); also a schema refusal "
               "answered 400, not 422: no ingredient at all (empty_ingredients: minItems, contains, pattern)",
    "plan": SEMANTIC + "the meal cannot be planned: a recipe with no step the planner can schedule, no feasible "
            "timeline (the message says which constraint blocks it), or no plan found within the solver's time "
            "(bad_meal_spec); also a value the strict validation refuses (bad_meal_spec: \"3\" for 3, 1 for true)",
    "recipe_create": SEMANTIC + "the kitchen cannot make one recipe of it (bad_recipe): a pasted text with no "
                     "title, no ingredient line or no directions, or with more than one recipe; ingredient or "
                     "direction lines that are all blank once normalized",
    "shopping": SEMANTIC + "the kitchen refuses the list (kitchen_error)",
    "plan_create": SEMANTIC + "the meal cannot be planned (bad_meal_spec: a recipe with no step the planner can "
                   "schedule, no feasible timeline, no plan within the solver's time) or the form names what the "
                   "kitchen does not have (kitchen_error)",
    "progress": SEMANTIC + "the cook is not one of this plan's (unknown_cook), or the time is not an ISO date and "
                "time or is more than a day from the serving time (bad_progress)",
    "tasting_pair": SEMANTIC + "a side names a tasting model this server has not configured (unknown_tasting_model: "
                    "\"served\" or a key of kitchen.tasting_models), or the model's chat template refuses the prompt "
                    "(invalid_messages)",
    "tasting_vote": SEMANTIC + "the kitchen refuses the vote (kitchen_error)",
}


def semantic_400(route: str) -> dict[int | str, dict]:
    """The OpenAPI ``responses`` entry of a route's 400: the semantic refusals (``SEMANTIC_400``) named as such."""
    return {400: {"model": ErrorResponse, "description": SEMANTIC_400[route]}}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def openai_finish_reason(reason: str) -> str:
    """chefbot's "cancelled" has no OpenAI equivalent; a cut answer reads as "length"."""
    return reason if reason in ("stop", "length") else "length"


def error_body(message: str, type_: str = "invalid_request_error", param: str | None = None, code: str | None = None) -> dict:
    """The OpenAI error envelope, so the openai client raises a typed error with our message."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(obj: dict) -> str:
    """One server-sent event carrying ``obj`` as JSON."""
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"
