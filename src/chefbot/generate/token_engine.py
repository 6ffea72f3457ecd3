"""What the token-level engines (``LocalGenerator``, ``LlamaCppGenerator``, ``VLLMGenerator``) share, beside the
contract itself (``chefbot.generate.completion``):

* ``chat_prompt_ids``: the ids a model is fed for a conversation (the one prompt path) and ``PromptIdsChat``,
  the ``prompt_ids``/``generate``/``stream`` every such engine derives from its ``*_from_ids`` methods;
* ``decode_plain``: token ids as plain-completion text;
* ``CompletesIds``: the ``complete_ids`` skeleton (one scored pass for lm-evaluation-harness's
  one-token requests, no tokens for ``max_tokens`` 0, log-probabilities over prompt + new tokens), around the
  engine's own decoding; ``one_pass_completions`` and ``attach_logprobs``, its parts;
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from chefbot.chat import prompt_token_ids
from chefbot.config import GenerationConfig
from chefbot.generate.completion import (
    Completion,
    Messages,
    OnResult,
    Settings,
    TokenCompletion,
    TokenScores,
    resolve_settings,
)

Score = Callable[..., list[TokenScores]]  # a TokenEngine's ``score``
# An engine's own decoding (``CompletesIds._continue_ids``): (prompts, settings, stop strings, cancel) -> completions
Continue = Callable[[list[list[int]], Settings, Sequence[str], "threading.Event | None"], list[TokenCompletion]]


def chat_prompt_ids(tokenizer: Any, messages: Messages, fold: str = "auto") -> list[int]:
    """The token ids a model sees before it answers ``messages``: ``chefbot.chat.render_prompt`` (the
    tokenizer's own chat template) tokenized by ``chefbot.chat.prompt_token_ids``, where message text
    never becomes a special token.  Every token engine (transformers, llama.cpp, vLLM) feeds the model these ids."""
    return prompt_token_ids(messages, tokenizer, fold)


def decode_plain(tokenizer: Any, ids: Sequence[int]) -> str:
    """Token ids as text, special tokens kept and nothing tidied: what plain completions return."""
    return tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)


class PromptIdsChat:
    """``prompt_ids``, ``generate`` and ``stream`` of a ``TokenizedGenerator``: the conversation rendered by the
    one prompt path with the engine's ``tokenizer`` and ``fold``, then its ``generate_from_ids``/``stream_from_ids``
    (one definition for every engine, so none can render a prompt its own way)."""

    tokenizer: Any
    fold: str

    def prompt_ids(self, messages: Messages) -> list[int]:
        return chat_prompt_ids(self.tokenizer, messages, self.fold)

    def generate(
        self,
        batch: Sequence[Messages],
        settings_override: dict | None = None,
        on_result: OnResult | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        prompts = [self.prompt_ids(m) for m in batch]
        return self.generate_from_ids(prompts, settings_override, on_result, cancel)  # type: ignore[attr-defined]

    def stream(self, messages: Messages, settings_override: dict | None = None) -> Any:
        return self.stream_from_ids(self.prompt_ids(messages), settings_override)  # type: ignore[attr-defined]


def one_pass_completions(
    score: Score,
    tokenizer: Any,
    stop_ids: Sequence[int] | frozenset[int],
    prompts: list[list[int]],
    stop: Sequence[str],
    logprobs: int | None,
) -> list[TokenCompletion]:
    """One greedy token per prompt, without repetition penalty (how lm-evaluation-harness asks for
    log-likelihoods), from ONE scored pass each: the token is the argmax of the distribution after the
    prompt, and the pass gives every log-probability too.  ``score`` is a generator's ``score``."""
    k = logprobs or 0
    out = []
    for p, sc in zip(prompts, score(prompts, k, next_token=True)):
        best, lp, top = sc.next
        stopped = best in stop_ids
        c = TokenCompletion(p, [best], "stop" if stopped else "length", stop_id=stopped)
        if not stopped and any(x and x in decode_plain(tokenizer, [best]) for x in stop):
            c.finish_reason = "stop"
        if logprobs is not None:
            c.logprobs = sc.logprobs + [lp]
            c.top = sc.top + [top] if k else [[] for _ in c.logprobs]
        out.append(c)
    return out


def attach_logprobs(score: Score, completions: list[TokenCompletion], k: int) -> None:
    """Every token's log-probability (and the ``k`` likeliest at each position) from ``score`` over prompt + new
    tokens."""
    for c, sc in zip(completions, score([c.prompt + c.ids for c in completions], k)):
        c.logprobs, c.top = sc.logprobs, sc.top if k else [[] for _ in sc.logprobs]


class CompletesIds(PromptIdsChat):
    """``TokenEngine.complete_ids`` for an engine with ``gen_cfg``, ``score``, ``tokenizer``, ``stop_ids`` and its own
    decoding, ``_continue_ids(prompts, settings, stop, cancel)`` (at least one token per prompt); one definition,
    so the engines differ only in how they decode."""

    gen_cfg: GenerationConfig
    stop_ids: list[int]
    score: Score
    _continue_ids: Continue

    def complete_ids(
        self,
        prompts: Sequence[Sequence[int]],
        settings_override: dict | None = None,
        *,
        max_tokens: int,
        stop: Sequence[str] = (),
        logprobs: int | None = None,
        cancel: threading.Event | None = None,
    ) -> list[TokenCompletion]:
        """Greedy with one token and no repetition penalty (how lm-evaluation-harness asks for log-likelihoods)
        takes one forward pass: the token is the argmax of the scored distribution (not interrupted by
        ``cancel``).  Once ``cancel`` is set nobody waits for the answers: no scoring pass."""
        s = resolve_settings(self.gen_cfg, {**(settings_override or {}), "max_new_tokens": max(1, max_tokens)})
        prompts = [list(p) for p in prompts]
        greedy = not (s.do_sample and s.temperature > 0)
        if max_tokens == 1 and greedy and s.repetition_penalty == 1.0 and s.structured is None:
            return one_pass_completions(self.score, self.tokenizer, self.stop_ids, prompts, stop, logprobs)
        if max_tokens == 0:
            out = [TokenCompletion(p, [], "length") for p in prompts]
        else:
            out = self._continue_ids(prompts, s, stop, cancel)
        if cancel is not None and cancel.is_set():
            return out
        if logprobs is not None:
            attach_logprobs(self.score, out, logprobs)
        return out


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """First 12 hex digits of the sha256 of every token id's string, in id order: two tokenizers with
    the same fingerprint give every token id the same meaning (``/health``; ``eval benchmarks --endpoint``
    checks it before it sends token ids)."""
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return hashlib.sha256("\n".join(str(t) for t in tokens).encode("utf-8", "surrogatepass")).hexdigest()[:12]
