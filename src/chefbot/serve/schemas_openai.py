"""Requests and answers of the OpenAI-compatible routes (``routes_openai.py``): the subset of the
OpenAI chat and (legacy) completions APIs chefbot serves, and ``/v1/models``.

Limits in the schema: at least one message and at most ``serve.max_messages`` (the model is built
per server by ``chat_request_model``), token ids within the served vocabulary and at most
``serve.max_prompts`` prompts (``completion_request_model``).  The shared rules (strict types,
unknown fields ignored) are ``schemas.py``'s.

Fields OpenAI defines are never ignored when they would change the answer: ``response_format`` is enforced
(``text``, ``json_object``, ``json_schema``: ``chefbot.generate.structured``); what chefbot does not do is
``UNSUPPORTED_FIELDS`` (each with its reason), refused with 400 ``unsupported_field`` naming the field when
a request asks for it; ``IGNORED_FIELDS`` are those that change nothing in the answer, and why.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any, Literal, NotRequired

from pydantic import AfterValidator, BaseModel, Discriminator, Field, PlainValidator, Tag, WithJsonSchema, create_model
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from chefbot.generate.structured import StructuredOutput, check_schema
from chefbot.serve.schemas import MAX_LOGPROBS, REFUSALS, Int, LenientRequest, Seed

# Request fields of the OpenAI API that would change the answer and that chefbot does not do: a request that
# asks for one (any value but the harmless ones listed) is refused with 400 ``unsupported_field`` naming it.
# field -> (why it is refused, the values that ask for nothing)
UNSUPPORTED_FIELDS: dict[str, tuple[str, tuple]] = {
    "tools": ("no tool calling: the model was not trained to call tools", (None, [])),
    "tool_choice": ("no tool calling", (None, "none", "auto")),
    "functions": ("no function calling (the older name of tools)", (None, [])),
    "function_call": ("no function calling", (None, "none", "auto")),
    "logit_bias": ("per-token biases are not applied", (None, {})),
    "logprobs_chat": ("chat answers carry no log-probabilities (POST /v1/completions has them)", (None, False)),
    "top_logprobs": ("chat answers carry no log-probabilities (POST /v1/completions has them)", (None, 0)),
    "presence_penalty": ("not applied; repetition_penalty is chefbot's penalty", (None, 0, 0.0)),
    "frequency_penalty": ("not applied; repetition_penalty is chefbot's penalty", (None, 0, 0.0)),
    "stop_chat": ("chat answers end at the model's own end of turn (POST /v1/completions takes stop)", (None, "", [])),
    "audio": ("a text model: no audio output", (None,)),
    "modalities": ("a text model: text is the only output", (None, ["text"])),
    "prediction": ("no predicted outputs", (None,)),
    "reasoning_effort": ("not a reasoning model", (None,)),
    "web_search_options": ("no web search", (None,)),
    "suffix": ("no insertion: a completion only continues the prompt", (None, "")),
    "best_of": ("one candidate per prompt", (None, 1)),
}
# Fields accepted and left alone because they change nothing in the answer: field -> why.
IGNORED_FIELDS: dict[str, str] = {
    "user": "an end-user id for the provider's abuse monitoring",
    "safety_identifier": "the newer name of user",
    "metadata": "tags for stored completions; nothing is stored",
    "store": "whether the provider stores the completion; chefbot stores none",
    "service_tier": "the provider's processing tier; one tier here",
    "prompt_cache_key": "a hint for the provider's prompt cache",
    "parallel_tool_calls": "only meaningful with tools, which are refused",
}
# The two chat names above are the chat routes' own ``logprobs`` and ``stop`` (completions support both).
_FIELD_NAME = {"logprobs_chat": "logprobs", "stop_chat": "stop"}
for _key in UNSUPPORTED_FIELDS:
    REFUSALS[(_FIELD_NAME.get(_key, _key), "unsupported_field")] = ("unsupported_field", None)
REFUSALS[("response_format", "union_tag_invalid")] = ("unsupported_response_format", None)
# (the location holds the union's tag: response_format.<type>.json_schema.schema)
REFUSALS[("response_format.json_schema.json_schema.schema", "unsupported_schema")] = ("unsupported_schema", None)
REFUSALS[("n", "less_than_equal")] = ("unsupported_field", None)


def Refused(key: str) -> Any:  # a type, hence the capital
    """A field of ``UNSUPPORTED_FIELDS``: its harmless values pass (as None), any other is refused."""
    reason, harmless = UNSUPPORTED_FIELDS[key]
    shown = " or ".join("null" if h is None else json.dumps(h) for h in harmless)

    def check(value: Any) -> None:
        if any(value == h and type(value) is type(h) for h in harmless):
            return None
        raise PydanticCustomError(
            "unsupported_field", f"not supported by this server ({reason}); send it only as {shown}"
        )

    return Annotated[
        Any,
        AfterValidator(check),
        WithJsonSchema(
            {
                "enum": [h for i, h in enumerate(harmless) if h not in harmless[:i]],  # 0.0 is 0 to JSON Schema
                "description": f"not supported ({reason}); accepted only as {shown} (another value: 400)",
            }
        ),
    ]


class TextFormat(LenientRequest):
    type: Literal["text"] = Field(description="free text (the default)")


class JsonObjectFormat(LenientRequest):
    type: Literal["json_object"] = Field(description="the answer is one JSON object (any)")


def _supported_schema(schema: dict) -> dict:
    try:
        check_schema(schema)
    except Exception as e:  # UnsupportedSchema: a refusal naming the keyword
        raise PydanticCustomError("unsupported_schema", str(e)) from None
    return schema


class JsonSchemaSpec(LenientRequest):
    name: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="the schema's name (OpenAI's rule: 1-64 of a-z, A-Z, 0-9, _ and -)",
    )
    description: str | None = Field(None, description="what the answer is for (not shown to the model)")
    schema_: Annotated[dict, AfterValidator(_supported_schema)] = Field(
        alias="schema",
        description="the JSON Schema the answer matches, enforced while decoding; a keyword outside the supported "
        'list (docs/SERVING.md, "Structured output") is refused with 400 unsupported_schema naming it',
    )
    strict: bool | None = Field(None, description="accepted; the schema is always enforced exactly")


class JsonSchemaFormat(LenientRequest):
    type: Literal["json_schema"] = Field(description="the answer is JSON matching json_schema.schema")
    json_schema: JsonSchemaSpec


def _format_type(value: Any) -> str | None:
    return value.get("type") if isinstance(value, dict) else getattr(value, "type", None)


# A callable discriminator: a "type" one would put a discriminator mapping of "#/$defs/..." references in the
# document, which FastAPI does not rewrite to its components.
ResponseFormat = Annotated[
    Annotated[TextFormat, Tag("text")]
    | Annotated[JsonObjectFormat, Tag("json_object")]
    | Annotated[JsonSchemaFormat, Tag("json_schema")],
    Discriminator(_format_type),
]


def structured_output(fmt: TextFormat | JsonObjectFormat | JsonSchemaFormat | None) -> StructuredOutput | None:
    """A request's ``response_format`` as the engines' setting (None: free text)."""
    if fmt is None or isinstance(fmt, TextFormat):
        return None
    if isinstance(fmt, JsonObjectFormat):
        return StructuredOutput(kind="json_object")
    spec = fmt.json_schema
    return StructuredOutput(kind="json_schema", json_schema=spec.schema_, name=spec.name, strict=spec.strict)


class TextPart(LenientRequest):
    type: Literal["text"]
    text: str


class ChatMessage(LenientRequest):
    role: Literal["system", "user", "assistant"]
    # OpenAI allows a list of content parts; only text parts make sense for a text model.
    content: str | list[TextPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class StreamOptions(LenientRequest):
    include_usage: bool = Field(False, description="stream: add a last chunk with token usage (and empty choices)")


class SamplingRequest(LenientRequest):
    """What the chat and the completions requests share: how the answer is sampled, streamed and shaped."""

    temperature: float | None = Field(None, ge=0, le=2, description="0 = greedy")
    top_p: float | None = Field(None, gt=0, le=1)
    seed: Seed | None = None
    top_k: Int(ge=0) | None = Field(None, description="sample among the k likeliest tokens (0: off; vLLM's extra)")
    repetition_penalty: float | None = Field(
        None, gt=0, le=5, description="penalty on tokens already in the text (1: off; vLLM's extra)"
    )
    stream: bool = Field(False, description="answer as server-sent events (text/event-stream)")
    stream_options: StreamOptions | None = None
    response_format: ResponseFormat | None = Field(
        None, description="text (default), json_object or json_schema: the answer is JSON, enforced while decoding"
    )
    logit_bias: Refused("logit_bias") = None
    presence_penalty: Refused("presence_penalty") = None
    frequency_penalty: Refused("frequency_penalty") = None

    def sampling(self) -> dict[str, Any]:
        """The keywords of ``ServerState.settings_for`` this request sets (all but the token limit)."""
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "top_k": self.top_k,
            "repetition_penalty": self.repetition_penalty,
            "structured": structured_output(self.response_format),
        }


class ChatCompletionRequest(SamplingRequest):
    model: str | None = Field(None, description="the served model id (GET /v1/models); another id is 404")
    messages: list[ChatMessage] = Field(min_length=1, description="the conversation, oldest first")
    max_tokens: Int(ge=1) | None = Field(
        None, description="longest answer in tokens (above serve.max_tokens_cap: lowered to it)"
    )
    max_completion_tokens: Int(ge=1) | None = Field(None, description="the newer OpenAI name for max_tokens")
    n: Int(ge=1, le=1) = Field(1, description="one choice per request (more: 400 unsupported_field)")
    tools: Refused("tools") = None
    tool_choice: Refused("tool_choice") = None
    functions: Refused("functions") = None
    function_call: Refused("function_call") = None
    logprobs: Refused("logprobs_chat") = None
    top_logprobs: Refused("top_logprobs") = None
    stop: Refused("stop_chat") = None
    audio: Refused("audio") = None
    modalities: Refused("modalities") = None
    prediction: Refused("prediction") = None
    reasoning_effort: Refused("reasoning_effort") = None
    web_search_options: Refused("web_search_options") = None

    def plain_messages(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.text()} for m in self.messages]


@cache  # one class per limit: the routes look it up per request
def chat_request_model(max_messages: int) -> type[ChatCompletionRequest]:
    """``ChatCompletionRequest`` with this server's message limit in its schema (``maxItems``)."""
    return create_model(
        "ChatCompletionRequest",
        __base__=ChatCompletionRequest,
        __module__=__name__,
        __doc__="An OpenAI chat completion request (the fields chefbot acts on; others are ignored).",
        messages=(
            list[ChatMessage],
            Field(
                min_length=1,
                max_length=max_messages,
                description=f"the conversation, oldest first; at most {max_messages} messages (serve.max_messages)",
            ),
        ),
    )


MAX_STOPS = 16
MAX_STOP_CHARS = 200


def _token_id(value: Any, vocab_size: int | None) -> bool:
    """A JSON integer (3.0 counts, true does not) naming a token of this vocabulary (None: a vocabulary this
    server does not know, a model served elsewhere: any id; the route then refuses ids, 501)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not value.is_integer():
        return False
    return 0 <= value and (vocab_size is None or value < vocab_size)


def _prompt_validator(max_prompts: int, vocab_size: int | None) -> Any:
    upto = f" to {vocab_size - 1}" if vocab_size is not None else " up"
    ids_msg = f"a list of token ids (integers from 0{upto}), at least one"

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
            raise PydanticCustomError(
                "prompt_type", "give a string, a list of token ids, or a list of those (one per prompt)"
            )
        if len(value) > max_prompts:
            raise PydanticCustomError(
                "too_many_prompts", f"{len(value)} prompts; this server takes at most {max_prompts} in one request"
            )
        kinds = {type(v) for v in value}
        if kinds not in ({str}, {list}):
            raise PydanticCustomError("prompt_type", "a list of prompts holds only strings or only lists of token ids")
        return [one(v, f"prompt {i}: ") for i, v in enumerate(value)]  # type: ignore[misc]

    return validate


def _prompt_schema(max_prompts: int, vocab_size: int | None) -> dict:
    text = {"type": "string", "minLength": 1}
    item: dict[str, Any] = {"type": "integer", "minimum": 0}
    if vocab_size is not None:
        item["maximum"] = vocab_size - 1
    ids = {"type": "array", "minItems": 1, "items": item}
    return {
        "anyOf": [
            text,
            ids,
            {"type": "array", "minItems": 1, "maxItems": max_prompts, "items": text},
            {"type": "array", "minItems": 1, "maxItems": max_prompts, "items": ids},
        ],
        "description": "the text to continue (no chat template is applied), or its token ids; or a list of "
        f"either, one per prompt (at most {max_prompts}, serve.max_prompts), each answered as one choice; "
        "a prompt of more characters than serve.max_prompt_chars or more tokens than "
        "serve.max_prompt_tokens is 413",
    }


StopString = Annotated[str, Field(min_length=1, max_length=MAX_STOP_CHARS)]


class CompletionRequest(SamplingRequest):
    model: str | None = Field(None, description="the served model id (GET /v1/models); another id is 404")
    prompt: list[str | list[int]]  # replaced per server by completion_request_model
    max_tokens: Int(ge=0) | None = Field(
        None,
        description="most tokens to generate (0 with echo: score the prompt "
        "only; above serve.max_tokens_cap: lowered to it)",
    )
    echo: bool = Field(False, description="return the prompt before the completion (with its log-probabilities)")
    logprobs: Int(ge=0, le=MAX_LOGPROBS) | None = Field(
        None, description="return each token's log-probability and the top N alternatives at its position"
    )
    stop: StopString | Annotated[list[StopString], Field(max_length=MAX_STOPS)] | None = Field(
        None, description="stop before the first of these strings in the completion (not returned)"
    )
    n: Int(ge=1, le=1) = Field(1, description="one choice per prompt (more: 400 unsupported_field)")
    suffix: Refused("suffix") = None
    best_of: Refused("best_of") = None

    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])


@cache  # one class per limit and vocabulary: looked up per request
def completion_request_model(max_prompts: int, vocab_size: int | None) -> type[CompletionRequest]:
    """``CompletionRequest`` with this server's vocabulary (token ids; None: unknown, a model served elsewhere)
    and prompt count in its schema."""
    prompt_type = Annotated[
        list[str | list[int]],
        PlainValidator(_prompt_validator(max_prompts, vocab_size)),  # noqa: UP007
        WithJsonSchema(_prompt_schema(max_prompts, vocab_size)),
    ]
    return create_model(
        "CompletionRequest",
        __base__=CompletionRequest,
        __module__=__name__,
        __doc__="An OpenAI (legacy) completion request: plain text or token ids, continued without a chat template.",
        prompt=(prompt_type, ...),
    )


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


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def openai_finish_reason(reason: str) -> str:
    """chefbot's "cancelled" has no OpenAI equivalent; a cut answer reads as "length"."""
    return reason if reason in ("stop", "length") else "length"
