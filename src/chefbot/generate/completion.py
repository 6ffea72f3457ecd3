"""What every generation backend returns and accepts: ``Completion``, the ``Generator`` protocol,
and the settings a request may override."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Callable, Protocol, Sequence

from chefbot.config import GenerationConfig, validate

Messages = Sequence[dict[str, str]]
OnResult = Callable[[int, "Completion"], None]


@dataclass
class Completion:
    text: str
    finish_reason: str  # "stop" (ended by itself) | "length" (cut by max_new_tokens) | "cancelled"
    prompt_tokens: int
    completion_tokens: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Completion":
        return cls(**{k: d[k] for k in ("text", "finish_reason", "prompt_tokens", "completion_tokens")})


class Generator(Protocol):
    """What every backend implements (``LocalGenerator``, ``LlamaCppGenerator``, ``VLLMGenerator``,
    ``OpenAIGenerator``, and the server's test doubles).

    ``generate`` answers ``batch`` in input order (``on_result(i, completion)`` as each finishes).
    ``cancel``: an event another thread sets once nobody wants the answers any more (the server's
    queue sets it when every caller of a batch timed out or left).  The generator then stops as soon
    as it can (the local engines: at the next token) and returns a completion for every item anyway,
    those it did not finish with ``finish_reason "cancelled"`` (tokens made so far, possibly none).
    A backend that cannot interrupt a call in flight still must accept the keyword and honour it
    where it can (vLLM: before it starts; an OpenAI endpoint: no further requests)."""

    def generate(
        self, batch: Sequence[Messages], settings_override: dict | None = None, on_result: OnResult | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]: ...

    def describe(self, settings_override: dict | None = None) -> dict: ...


def resolve_settings(gen_cfg: GenerationConfig, override: dict | None = None) -> GenerationConfig:
    """chefbot's settings with an override applied and validated (unknown keys are errors)."""
    if not override:
        return gen_cfg
    return validate(GenerationConfig, {**gen_cfg.model_dump(), **override}, "generation settings")
