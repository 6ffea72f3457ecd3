"""The generator contract: what every generation backend returns and accepts, written down.

* ``Completion`` (a chat answer), ``TokenCompletion`` and ``TokenScores`` (token ids in and out);
* ``ChatPrompt``: a conversation and the token ids it renders to, rendered at most once;
* the protocols, ``runtime_checkable`` so the server asks ``isinstance`` instead of probing attributes:

  - ``Generator``: every engine (``LocalGenerator``, ``LlamaCppGenerator``, ``VLLMGenerator``,
    ``OpenAIGenerator``, the server's test doubles): chat answers, streamed or not, and who it is;
  - ``TokenizedGenerator``: an engine fed token ids built by chefbot (``chefbot.chat.prompt_token_ids``):
    it has the tokenizer, so the server counts a prompt with the ids the model is fed and hands those
    same ids to the model (``generate_from_ids``/``stream_from_ids``) instead of rendering again;
  - ``TokenEngine``: token ids in and out with exact log-probabilities (``complete_ids``, ``stream_ids``,
    ``score``): what ``/v1/completions`` needs (``LocalGenerator``, ``LlamaCppGenerator``);

  - ``CompletesText``: text prompts in and out, no token ids (a model served elsewhere: ``/v1/completions``
    forwarded to it without log-probabilities: ``UpstreamGenerator``);

  - ``AnswersAsBase``: an engine serving base + adapter that can also answer as its base alone, in the same
    process (the blind tastings' base vs final model without a second server: ``LocalGenerator``,
    ``LlamaCppGenerator``);

* ``WholeAnswerStream``: the ``Stream`` of an engine that cannot stream;
* ``Settings`` (the generation settings of one request: the config's, plus ``structured``, the JSON an answer
  must be) and ``resolve_settings``: the settings a request may override.

What token engines share (prompt ids, plain decoding, the ``complete_ids`` skeleton) is in
``chefbot.generate.token_engine``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import Field

from chefbot.config import GenerationConfig, validate
from chefbot.generate.structured import StructuredOutput

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
    def from_dict(cls, d: dict) -> Completion:
        return cls(**{k: d[k] for k in ("text", "finish_reason", "prompt_tokens", "completion_tokens")})


@dataclass
class TokenScores:
    """``score``: the log-probability of each token after the first, given the tokens before it."""

    logprobs: list[float]  # len(sequence) - 1
    top: list[list[tuple[int, float]]] = field(default_factory=list)  # the top_k likeliest (id, logprob) at each
    next: tuple[int, float, list[tuple[int, float]]] | None = None  # after the sequence: argmax id, its logprob, top_k


@dataclass
class TokenCompletion:
    """``complete_ids``: one prompt's new tokens and, when asked, every log-probability."""

    prompt: list[int]
    # the new tokens, up to the stop id that ended them (included) or the one that completed a stop string
    ids: list[int]
    finish_reason: str  # "stop" | "length" | "cancelled"
    stop_id: bool = False  # the last of ``ids`` is a stop id (it ends the text; it is no part of it)
    logprobs: list[float] | None = None  # for prompt[1:] + ids
    top: list[list[tuple[int, float]]] | None = None  # the k likeliest (id, logprob) at each of those positions

    @property
    def text_ids(self) -> list[int]:
        """The new tokens that make the text: without a final stop id."""
        return self.ids[:-1] if self.stop_id else self.ids


@runtime_checkable
class Stream(Protocol):
    """What ``stream``/``stream_from_ids``/``stream_ids`` return: iterate for deltas (text, or lists of token
    ids for ``stream_ids``); ``completion`` is set once the iteration ended; ``cancel()`` (from any thread)
    stops the model at its next token."""

    completion: Any

    def __iter__(self) -> Iterator[Any]: ...

    def cancel(self) -> None: ...


@runtime_checkable
class Generator(Protocol):
    """What every engine does.

    ``backend``: its name ("hf", "llamacpp", "vllm", "openai"); ``gen_cfg``: the settings a request starts from.
    ``generate`` answers ``batch`` in input order (``on_result(i, completion)`` as each finishes).
    ``cancel``: an event another thread sets once nobody wants the answers any more (the server's
    queue sets it when every caller of a batch timed out or left).  The generator then stops as soon
    as it can (the local engines: at the next token) and returns a completion for every item anyway,
    those it did not finish with ``finish_reason "cancelled"`` (tokens made so far, possibly none).
    A backend that cannot interrupt a call in flight still must accept the keyword and honour it
    where it can (vLLM: before it starts; an OpenAI endpoint: no further requests).
    ``stream``: one answer as text deltas (an engine that cannot stream yields the whole text once).
    ``describe``: the exact settings used (results record it); ``identity``: what decides the answers
    beyond the settings (``backend``, and ``dtype``/``quant`` and the like where the engine knows them:
    ``/health`` reports it, clients key caches on it)."""

    backend: str
    gen_cfg: GenerationConfig

    def generate(
        self,
        batch: Sequence[Messages],
        settings_override: dict | None = None,
        on_result: OnResult | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]: ...

    def stream(self, messages: Messages, settings_override: dict | None = None) -> Stream: ...

    def describe(self, settings_override: dict | None = None) -> dict: ...

    def identity(self) -> dict: ...


@runtime_checkable
class TokenizedGenerator(Generator, Protocol):
    """A ``Generator`` whose model is fed token ids chefbot builds: ``prompt_ids(messages)`` (the one prompt path,
    ``chefbot.chat.prompt_token_ids``, with this engine's ``tokenizer`` and ``fold`` policy), and the chat
    answer to ids made so (``generate_from_ids``/``stream_from_ids``: ``generate``/``stream`` without rendering).
    ``stop_ids``: the token ids that end an answer."""

    tokenizer: Any
    stop_ids: list[int]

    def prompt_ids(self, messages: Messages) -> list[int]: ...

    def generate_from_ids(
        self,
        prompts: Sequence[Sequence[int]],
        settings_override: dict | None = None,
        on_result: OnResult | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]: ...

    def stream_from_ids(self, prompt: Sequence[int], settings_override: dict | None = None) -> Stream: ...


@runtime_checkable
class TokenEngine(TokenizedGenerator, Protocol):
    """Token ids in and out, no chat template (``/v1/completions``, lm-evaluation-harness).

    ``complete_ids``: continue each prompt by at most ``max_tokens`` tokens (0: none), stopping at a stop id
    (kept as the last new token, ``stop_id``) or once the new text holds one of ``stop``; with ``logprobs``
    (the top-k count, 0 for none) every token's log-probability over prompt + new tokens; once ``cancel`` is
    set the unfinished ones end ``"cancelled"`` and no log-probabilities are computed.  ``stream_ids``: the
    same for one prompt, streamed as lists of new ids.  ``score``: exact log-probabilities, one pass per
    sequence (``next_token``: also the distribution after it)."""

    def complete_ids(
        self,
        prompts: Sequence[Sequence[int]],
        settings_override: dict | None = None,
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        logprobs: int | None = None,
        cancel: threading.Event | None = None,
    ) -> list[TokenCompletion]: ...

    def stream_ids(
        self, prompt: Sequence[int], settings_override: dict | None = None, *, max_tokens: int, stop: Sequence[str] = ()
    ) -> Stream: ...

    def score(
        self, sequences: Sequence[Sequence[int]], top_k: int = 0, next_token: bool = False
    ) -> list[TokenScores]: ...


@runtime_checkable
class CompletesText(Generator, Protocol):
    """A ``Generator`` that continues plain text prompts without token ids: a model served elsewhere (an
    OpenAI-compatible upstream, ``UpstreamGenerator``), whose tokenizer chefbot does not have.  ``/v1/completions``
    forwards text prompts to it; token-id prompts and log-probabilities are refused (501), never made up.

    ``complete_text``: each prompt continued by at most ``max_tokens`` tokens, ending before the first of ``stop``,
    one ``Completion`` per prompt in input order (the continuation only); once ``cancel`` is set no further prompt
    is sent.  ``stream_text``: one prompt's continuation as text deltas."""

    def complete_text(
        self,
        prompts: Sequence[str],
        settings_override: dict | None = None,
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        cancel: threading.Event | None = None,
    ) -> list[Completion]: ...

    def stream_text(
        self,
        prompt: str,
        settings_override: dict | None = None,
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
    ) -> Stream: ...


@runtime_checkable
class AnswersAsBase(Protocol):
    """An engine that serves base + adapter and can answer as the same base without the adapter, beside its
    usual answers and without a second server.  ``serves_adapter()``: whether there is an adapter to leave out
    (False: the engine is its base already); ``without_adapter()``: a ``TokenizedGenerator`` answering from the
    base weights alone (the hf engine: the same model object, PEFT's adapter switched off around each of its
    calls, which run alone on the model; llama.cpp: the base's own GGUF, loaded on first use).  Only when
    ``serves_adapter()``; it may load weights, so call it from a model thread, not the event loop."""

    def serves_adapter(self) -> bool: ...

    def without_adapter(self) -> TokenizedGenerator: ...


def contract_gaps(obj: Any, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``obj`` lacks (empty: ``isinstance(obj, protocol)``), for an error
    message that names them."""
    members = sorted(protocol_members(protocol))
    return [m for m in members if not hasattr(obj, m)]


def require(obj: Any, protocol: type = Generator) -> None:
    """Raise a ``TypeError`` naming what ``obj`` lacks unless it implements ``protocol``."""
    if not isinstance(obj, protocol):
        raise TypeError(
            f"{type(obj).__name__} is not a chefbot {protocol.__name__}: it lacks "
            f"{', '.join(contract_gaps(obj, protocol))} (the contract: chefbot.generate.completion)"
        )


def protocol_members(protocol: type) -> set[str]:
    """The names a protocol declares (its own and its protocol bases'): methods and annotated attributes.
    Hand-written for Python 3.11: typing lists them only from 3.12 on (``__protocol_attrs__``)."""
    known = getattr(protocol, "__protocol_attrs__", None)  # Python >= 3.12
    if known is not None:
        return set(known)
    names: set[str] = set()
    for base in protocol.__mro__:
        if base in (object, Protocol) or not getattr(base, "_is_protocol", False):
            continue
        names |= {
            n for n in (*vars(base), *getattr(base, "__annotations__", {})) if not n.startswith("_") or n == "__iter__"
        }
    return names


class ChatPrompt:
    """A conversation and, for a ``TokenizedGenerator``, the token ids its model is fed: rendered once
    (the server's size check counts them; the queued job hands the same ids to the model)."""

    def __init__(self, messages: Messages) -> None:
        self.messages = list(messages)
        self._ids: list[int] | None = None
        self._ids_of: Any = None  # the generator the ids were made for

    def ids_for(self, generator: TokenizedGenerator) -> list[int]:
        """``generator.prompt_ids(messages)``, computed on the first call for that generator."""
        if self._ids is None or self._ids_of is not generator:
            self._ids, self._ids_of = generator.prompt_ids(self.messages), generator
        return self._ids


class WholeAnswerStream:
    """The ``Stream`` of an engine that cannot stream (vLLM's offline engine, an OpenAI endpoint as chefbot
    calls it): iterating runs ``answer(cancel)`` (its ``generate`` of one conversation) and yields the whole text
    once; ``cancel()`` sets the event that call was given, honoured where the engine can."""

    def __init__(self, answer: Callable[[threading.Event], Completion]) -> None:
        self._answer = answer
        self._cancel = threading.Event()
        self.completion: Completion | None = None

    def __iter__(self) -> Iterator[str]:
        self.completion = self._answer(self._cancel)
        if self.completion.text:
            yield self.completion.text

    def cancel(self) -> None:
        self._cancel.set()


class Settings(GenerationConfig):
    """The settings one request is generated with: the config's ``GenerationConfig`` and what only a request sets.
    ``structured`` is left out of ``model_dump`` (results and the config record the config's settings only)."""

    structured: StructuredOutput | None = Field(
        None,
        exclude=True,
        description="the answer must be JSON matching this schema (a request's response_format; "
        "chefbot.generate.structured); null: free text",
    )


def resolve_settings(gen_cfg: GenerationConfig, override: dict | None = None) -> Settings:
    """chefbot's settings with an override applied and validated (unknown keys are errors)."""
    if isinstance(gen_cfg, Settings) and not override:
        return gen_cfg
    base = gen_cfg.model_dump()
    if isinstance(gen_cfg, Settings) and gen_cfg.structured is not None:
        base["structured"] = gen_cfg.structured
    return validate(Settings, {**base, **(override or {})}, "generation settings")
