"""Requests and answers of the OpenAI-compatible routes (``routes_openai.py``): the subset of the
OpenAI chat and (legacy) completions APIs chefbot serves, and ``/v1/models``.

Limits in the schema: at least one message and at most ``serve.max_messages`` (the model is built
per server by ``chat_request_model``), token ids within the served vocabulary and at most
``serve.max_prompts`` prompts (``completion_request_model``).  The shared rules (strict types,
unknown fields ignored) are ``schemas.py``'s.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, Field, PlainValidator, WithJsonSchema, create_model
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from chefbot.serve.schemas import MAX_LOGPROBS, Int, LenientRequest, Seed


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


class ChatCompletionRequest(LenientRequest):
    model: str | None = Field(None, description="the served model id (GET /v1/models); another id is 404")
    messages: list[ChatMessage] = Field(min_length=1, description="the conversation, oldest first")
    max_tokens: Int(ge=1) | None = Field(
        None, description="longest answer in tokens (above serve.max_tokens_cap: lowered to it)"
    )
    max_completion_tokens: Int(ge=1) | None = Field(None, description="the newer OpenAI name for max_tokens")
    temperature: float | None = Field(None, ge=0, le=2, description="0 = greedy")
    top_p: float | None = Field(None, gt=0, le=1)
    seed: Seed | None = None
    n: Int(ge=1, le=1) = Field(1, description="one choice per request")  # more is a 422, not silently ignored
    stream: bool = Field(False, description="answer as server-sent events (text/event-stream)")
    stream_options: StreamOptions | None = None

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


class CompletionRequest(LenientRequest):
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
    temperature: float | None = Field(None, ge=0, le=2, description="0 = greedy")
    top_p: float | None = Field(None, gt=0, le=1)
    seed: Seed | None = None
    n: Int(ge=1, le=1) = Field(1, description="one choice per prompt")
    stream: bool = Field(False, description="answer as server-sent events (text/event-stream)")
    stream_options: StreamOptions | None = None

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
