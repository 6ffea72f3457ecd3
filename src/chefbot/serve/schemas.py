"""Request and response shapes: the subset of the OpenAI chat API chefbot serves, plus
/v1/recipes, and the server-sent event framing the streams use (``sse``).

Requests ignore unknown fields (OpenAI clients send extras such as ``user`` or
``logprobs: false``) but validate the ones we act on, so a wrong type answers 422
naming the field instead of being silently dropped.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


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
    include_usage: bool = False


class ChatCompletionRequest(_Request):
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)  # the newer OpenAI name for max_tokens
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = None
    n: int = Field(1, ge=1, le=1)  # one choice per request; more is a 422, not silently ignored
    stream: bool = False
    stream_options: StreamOptions | None = None

    def plain_messages(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.text()} for m in self.messages]


class RecipeConstraints(_Request):
    vegetarian: bool = False
    vegan: bool = False
    gluten_free: bool = False
    max_minutes: int | None = Field(None, ge=1, le=24 * 60)

    def phrases(self) -> list[str]:
        out = [name for name, on in (("vegan", self.vegan), ("vegetarian", self.vegetarian and not self.vegan),
                                     ("gluten-free", self.gluten_free)) if on]
        if self.max_minutes:
            out.append(f"ready in {self.max_minutes} minutes or less")
        return out


class RecipeRequest(_Request):
    model: str | None = None
    # A list, or one string with commas/newlines (what a person pastes).
    ingredients: list[str] | str
    constraints: RecipeConstraints = Field(default_factory=RecipeConstraints)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    seed: int | None = None
    stream: bool = False

    @field_validator("ingredients")
    @classmethod
    def _split(cls, v: list[str] | str) -> list[str]:
        items = re.split(r"[,\n;]", v) if isinstance(v, str) else v
        return [i.strip() for i in items if i and i.strip()]


# -- responses ------------------------------------------------------------------------------


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
