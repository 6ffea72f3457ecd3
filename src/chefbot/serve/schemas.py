"""What every route's schema shares: strict JSON types, the error envelope and its documentation, the
limits validation refuses with 400 (``REFUSALS``), and the small answers of ``/health`` and ``/v1/plan``.

The shapes of one API live beside it: ``schemas_openai.py`` (/v1/models, /v1/chat/completions,
/v1/completions), ``schemas_recipes.py`` (/v1/recipes), ``schemas_kitchen.py`` (/api/*); the
server-sent event framing is ``sse.py`` and answer ids ``ids.py``.

The OpenAPI schema at ``/openapi.json`` is generated from these models, and it is the
contract (``tests/serve/test_api_fuzz.py`` checks the server against it), so what the
schema says is exactly what validation does:

* **strict types**: a boolean is ``true``/``false``, not ``0`` or ``"yes"``; an integer is
  not ``"3"``, ``true`` or ``3.5`` (but ``3.0`` is one, as in JSON Schema); a number is not
  ``"0.5"`` (pydantic's lax coercions would accept requests the schema forbids);
* **limits in the schema**: ``minItems``/``maxItems``/``pattern`` say what validation checks.

Requests of the OpenAI-shaped routes (``LenientRequest``) ignore unknown fields (OpenAI clients
send extras such as ``user`` or ``logprobs: false``) but validate the ones we act on, so a wrong
type answers 422 naming the field instead of being silently dropped.  Validation errors that are
refusals by a limit answer 400 instead (``REFUSALS``).

Response models are what the routes return (``response_model``), so the documented answer is the
code; the fuzz test still checks every answer against the document.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter

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


class LenientRequest(BaseModel):
    """A request of the OpenAI-shaped routes: strict types, unknown fields ignored."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=(), strict=True)


Seed = Annotated[Int(ge=-EXACT_INT, le=EXACT_INT), Field(description="sampling seed")]


# The most top_logprobs per position a /v1/completions request may ask for (vLLM's default limit too);
# /health reports it among the limits.
MAX_LOGPROBS = 20

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


class AdapterInfo(BaseModel):
    path: str
    sha256: str | None = Field(description="first 12 hex digits of the sha256 of adapter_model.safetensors (or .bin)")
    config_sha256: str | None = Field(description="first 12 hex digits of the sha256 of adapter_config.json")


class UpstreamInfo(BaseModel):
    """``/health`` of a server whose model is served elsewhere (``engine.kind: openai``)."""

    url: str = Field(description="engine.endpoint, without user, password or query")
    model: str = Field(description="the model asked for there (engine.api_model, else the first it lists)")
    models: list[str] | None = Field(description="what its GET /v1/models listed at start; null: it could not say")
    models_error: str | None = Field(None, description="why /v1/models said nothing (absent when it answered)")


class Health(BaseModel):
    """What the server serves (all but status, queue and uptime_s: clients key caches on it) and its state."""

    status: Literal["ok"]
    model: str = Field(description="the served model id")
    backend: str = Field(
        description="the generation engine: hf (transformers), llamacpp, vllm, or openai (a model served elsewhere)"
    )
    base_model: str = Field(
        description="model.name_or_path: the base model (or a merged export's folder); engine openai: the model "
        "asked for upstream"
    )
    adapter: AdapterInfo | None = Field(description="the LoRA adapter served on top (unmerged), or null")
    dtype: str | None = Field(description="the weights' dtype (null when the engine does not say)")
    quant: str | None = Field(
        description="quant.mode the base was loaded with (hf engine), the GGUF quantization (llamacpp), or null"
    )
    gguf: str | None = Field(None, description="engine llamacpp: the GGUF file served (its name holds its fingerprint)")
    upstream: UpstreamInfo | None = Field(
        None, description="engine openai: the server that answers (engine.endpoint) and the model asked for there"
    )
    tokenizer: str | None = Field(
        description="fingerprint of the vocabulary (first 12 hex digits of the sha256 of "
        "every token id's string, in id order); null without a tokenizer"
    )
    limits: dict[str, int] = Field(description="serve.* limits that shape answers")
    cpu: dict[str, Any] = Field(
        description="the CPU's model, arch and the SIMD flags that decide llama.cpp's kernels (amx: whether it has AMX)"
    )
    features: dict[str, bool]
    queue: dict[str, int]
    uptime_s: float


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
    401: "missing or wrong API key or personal token, or not logged in (only when the server has serve.api_keys "
    "or the kitchen has accounts)",
    404: "unknown model id",
    413: "too large: the body (serve.max_body_bytes), the prompt's characters (serve.max_prompt_chars) or "
    "tokens (serve.max_prompt_tokens)",
    422: "the request does not match this schema (error.param names the field)",
    429: "the queue is full (serve.max_concurrency + serve.max_queue); retry after Retry-After seconds",
    500: "the model failed (e.g. out of memory); in a stream that has started, an error event instead",
    501: "not possible with this server's engine: token-id prompts or logprobs when the model is served elsewhere "
    "(engine.kind openai)",
    502: "the model served elsewhere (engine.kind openai, engine.endpoint) could not be reached or failed; the "
    "message gives the cause",
    503: "a stream waited serve.request_timeout_s for a free slot, or the model served elsewhere is busy (Retry-After)",
    504: "no answer within serve.request_timeout_s (or, from a model served elsewhere, engine.timeout_s)",
}


SEMANTIC = "semantic refusal (error.code names it): the request matches this schema, but "

# The 400s a route gives for requests its schema accepts: what no JSON Schema can say, said here, per route.
# (Clients and fuzzers read them as "valid by the schema, still refused": docs/SERVING.md, "The API contract".)
SEMANTIC_400 = {
    "chat": SEMANTIC + "the model's chat template refuses these messages (invalid_messages, e.g. roles in an "
    "order it does not allow); also a schema refusal answered 400, not 422: more than serve.max_messages "
    "messages (too_many_messages, the schema's maxItems); " + "{unsupported}",
    "completions": SEMANTIC + "a text prompt the tokenizer turns into no tokens (empty_prompt); also a schema "
    "refusal answered 400, not 422: more than serve.max_prompts prompts (too_many_prompts, maxItems); "
    + "{unsupported}",
    "recipes": SEMANTIC + "the model's chat template refuses the prompt (invalid_messages); also a schema refusal "
    "answered 400, not 422: no ingredient at all (empty_ingredients: minItems, contains, pattern)",
    "plan": SEMANTIC + "the meal cannot be planned: a recipe with no step the planner can schedule, no feasible "
    "timeline (the message says which constraint blocks it), or no plan found within the solver's time "
    '(bad_meal_spec); also a value the strict validation refuses (bad_meal_spec: "3" for 3, 1 for true)',
    "recipe_create": SEMANTIC + "the kitchen cannot make one recipe of it (bad_recipe): a pasted text with no "
    "title, no ingredient line or no directions, or with more than one recipe; ingredient or "
    "direction lines that are all blank once normalized; a jsonld or html that holds no recipe, several "
    "recipes, or a malformed field (param names it: jsonld.recipeIngredient.3)",
    "recipe_update": SEMANTIC + "the kitchen refuses the edit (bad_recipe, param names the field): ingredient or "
    "direction lines all blank once normalized, a control character, a tag or category with characters other "
    "than letters, digits, spaces and - ' & + (tags.N, category)",
    "recipe_filter": SEMANTIC
    + "a tag or category filter the kitchen could never have stored (bad_recipe, param tags.0 or "
    "category): longer than a tag or category may be, or characters other than letters, digits, spaces and - ' & +",
    "shopping": SEMANTIC + "the kitchen refuses the list (kitchen_error)",
    "plan_create": SEMANTIC + "the meal cannot be planned (bad_meal_spec: a recipe with no step the planner can "
    "schedule, no feasible timeline, no plan within the solver's time) or the form names what the "
    "kitchen does not have (kitchen_error)",
    "progress": SEMANTIC + "the cook is not one of this plan's (unknown_cook), or the time is not an ISO date and "
    "time or is more than a day from the serving time (bad_progress)",
    "tasting_pair": SEMANTIC + "a side names a tasting model this server has not configured (unknown_tasting_model: "
    '"served" or a key of kitchen.tasting_models), or the model\'s chat template refuses the prompt '
    "(invalid_messages)",
    "tasting_vote": SEMANTIC + "the kitchen refuses the vote (kitchen_error; bad_vote: no rater given when not "
    "logged in, or a rater the kitchen refuses)",
    "note": SEMANTIC + "the note's text holds a control character (bad_rating, naming text); also a body that "
    "cannot be read as JSON text",
    "rating": SEMANTIC + "none for a well-formed rating; only a body that cannot be read as JSON text (no code)",
    "photo": SEMANTIC + "a file that says it is a JPEG, PNG or WebP but cannot be decoded as one (bad_image, "
    "naming file: truncated or damaged)",
    "token_create": SEMANTIC + "the token's name holds a control character or nothing visible once normalized "
    "(bad_account); also a body that cannot be read as JSON text",
    "login": SEMANTIC + "none for a well-formed login (a wrong name or password is 401 invalid_login); only a body "
    "that cannot be read as JSON text (no code)",
}


# The OpenAI routes' refusals of what they do not do (schemas_openai.UNSUPPORTED_FIELDS, response_format).
UNSUPPORTED_400 = (
    "a field the server does not support, asked for (unsupported_field: tools, logit_bias, n > 1, ...: "
    'docs/SERVING.md, "Structured output"), a response_format of another type than text, json_object or '
    "json_schema (unsupported_response_format), a JSON schema keyword that is not enforced (unsupported_schema)"
)
for _route in ("chat", "completions"):
    SEMANTIC_400[_route] = SEMANTIC_400[_route].replace("{unsupported}", UNSUPPORTED_400)


def semantic_400(route: str) -> dict[int | str, dict]:
    """The OpenAPI ``responses`` entry of a route's 400: the semantic refusals (``SEMANTIC_400``) named as such."""
    return {400: {"model": ErrorResponse, "description": SEMANTIC_400[route]}}


def error_body(
    message: str, type_: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> dict:
    """The OpenAI error envelope, so the openai client raises a typed error with our message."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
