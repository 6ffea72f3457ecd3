"""Plain completions (``POST /v1/completions``): token ids from the model, OpenAI's text and logprobs out.

The model side is a ``TokenEngine``'s ``complete_ids`` / ``stream_ids`` (``chefbot.generate.completion``:
no chat template, exact log-probabilities).  Here the tokens become the answer:

* **text**: the new tokens decoded with special tokens kept and no clean-up (``decode_plain``), a
  final stop id left out (it ends the text; it is no part of it), cut before the first ``stop``
  string; with ``echo`` the prompt's tokens decoded the same way come first;
* **logprobs** (OpenAI's legacy shape): per token its own decoded text (``tokens``), its
  log-probability (``token_logprobs``; null for the first prompt token, which nothing precedes),
  the ``logprobs`` likeliest tokens at its position plus itself (``top_logprobs``, keyed by decoded
  text: two candidates with the same text keep the likelier) and where it starts, in characters of
  prompt + completion (``text_offset``; with ``echo`` or not, the same token has the same offset).
  A final stop id is listed, at the end of the text: clients such as lm-evaluation-harness read
  the log-probability of the generated token from the end of the list.  Tokens after a ``stop``
  string are dropped.

A ``CompletesText`` engine (a model served elsewhere: ``complete_text``, ``TextCompletionStream``) has no token
ids: its text prompts are forwarded, ``echo`` puts the prompt before the continuation here, and logprobs or
token-id prompts are refused before (the route, ``ServerState.check_prompt_text``).

Everything here runs in model threads (``Scheduler.run``, a stream's pump), never in the event loop.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from chefbot.generate.completion import CompletesText, TokenCompletion, TokenEngine
from chefbot.generate.token_engine import decode_plain
from chefbot.serve.schemas_openai import openai_finish_reason

REPLACEMENT = "\ufffd"  # what a token ending in the middle of a UTF-8 character decodes to


@dataclass
class Request:
    """What ``complete_ids`` / ``stream_ids`` need, and how to shape the answer."""

    prompts: list[list[int]] | list[str]  # token ids; text for a CompletesText engine
    settings: dict
    max_tokens: int
    stop: list[str]
    echo: bool
    logprobs: int | None


@dataclass
class Totals:
    """Token counts of a finished stream (``usage``)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


def token_texts(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    return tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=False, clean_up_tokenization_spaces=False)


def text_offsets(tokenizer: Any, ids: Sequence[int], text: str, pieces: list[str] | None = None) -> list[int]:
    """Where each token's text starts in ``text`` (= ``decode_plain(ids)``).

    Usually the tokens' own texts add up to the text (byte-level BPE) and the offsets are their running
    sum; otherwise (a character split over tokens, a tokenizer that drops a leading space when a token
    stands alone) incremental detokenization finds them: a token that ends inside a character adds
    nothing until the token that completes it."""
    pieces = token_texts(tokenizer, ids) if pieces is None else pieces
    out: list[int] = []
    if "".join(pieces) == text:
        n = 0
        for piece in pieces:
            out.append(n)
            n += len(piece)
        return out
    emitted, prefix, read = 0, 0, 0
    for i in range(len(ids)):
        out.append(min(emitted, len(text)))
        before = decode_plain(tokenizer, ids[prefix:read])
        after = decode_plain(tokenizer, ids[prefix : i + 1])
        if len(after) > len(before) and not after.endswith(REPLACEMENT):
            emitted += len(after) - len(before)
            prefix, read = read, i + 1
    return out


def find_stop(text: str, stops: Sequence[str]) -> int | None:
    """Where the first stop string begins in ``text``, or None."""
    found = [i for i in (text.find(x) for x in stops if x) if i >= 0]
    return min(found) if found else None


def _finite(x: float) -> float:
    if math.isnan(x):
        raise ValueError("the model produced NaN log-probabilities")
    return max(x, -9999.0) if math.isinf(x) else x  # JSON has no -Infinity (vLLM sends -9999.0 too)


def build_choice(tokenizer: Any, c: TokenCompletion, index: int, req: Request) -> dict:
    """One ``choices`` entry (OpenAI's shape) from the model's tokens; also ``_pieces``: the text of each
    listed token (concatenated: the choice's text), for streams."""
    gen_ids = c.text_ids
    gen_text = decode_plain(tokenizer, gen_ids)
    cut = find_stop(gen_text, req.stop)
    finish = "stop" if cut is not None or c.finish_reason == "stop" else "length"
    completion = gen_text if cut is None else gen_text[:cut]
    prompt_text = decode_plain(tokenizer, c.prompt) if (req.echo or req.logprobs is not None) else ""
    text = (prompt_text if req.echo else "") + completion
    choice: dict[str, Any] = {"text": text, "index": index, "logprobs": None, "finish_reason": finish}
    if req.logprobs is None:
        choice["_pieces"] = [text]
        return choice
    gen_pieces = token_texts(tokenizer, gen_ids)
    gen_offsets = text_offsets(tokenizer, gen_ids, gen_text, gen_pieces)
    kept = len(gen_ids) if cut is None else sum(1 for o in gen_offsets if o < cut)
    listed_gen = list(gen_ids[:kept])
    offsets_gen = [len(prompt_text) + o for o in gen_offsets[:kept]]
    pieces_gen = gen_pieces[:kept]
    if c.stop_id and cut is None:  # the stop id: listed, at the end of the text, adding nothing to it
        listed_gen.append(c.ids[-1])
        offsets_gen.append(len(prompt_text) + len(completion))
        pieces_gen += token_texts(tokenizer, [c.ids[-1]])
    positions = list(range(len(c.prompt))) if req.echo else []
    positions += [len(c.prompt) + j for j in range(len(listed_gen))]
    lps, tops = c.logprobs or [], c.top or []
    tokens, token_lps, top_lps, offsets = [], [], [], []
    if req.echo:
        prompt_pieces = token_texts(tokenizer, c.prompt)
        tokens += prompt_pieces
        offsets += text_offsets(tokenizer, c.prompt, prompt_text, prompt_pieces)
    tokens += pieces_gen
    offsets += offsets_gen
    candidates: dict[int, str] = {}
    wanted = {i for p in positions if p > 0 for i, _ in tops[p - 1]} if req.logprobs else set()
    for i, t in zip(sorted(wanted), token_texts(tokenizer, sorted(wanted))):
        candidates[i] = t
    for p, tok in zip(positions, tokens):
        if p == 0:  # nothing precedes the first token
            token_lps.append(None)
            top_lps.append(None)
            continue
        lp = _finite(lps[p - 1])
        token_lps.append(lp)
        top: dict[str, float] = {}
        for i, v in tops[p - 1] if req.logprobs else []:
            top.setdefault(candidates[i], _finite(v))
        top.setdefault(tok, lp)  # the chosen token is always listed (OpenAI: up to logprobs + 1 entries)
        top_lps.append(top)
    choice["logprobs"] = {
        "tokens": tokens,
        "token_logprobs": token_lps,
        "top_logprobs": top_lps,
        "text_offset": offsets,
    }
    # the text each listed token adds (the echoed prompt as one piece), for streaming with logprobs
    base = 0 if req.echo else len(prompt_text)
    starts = [min(max(o - base, 0), len(text)) for o in offsets_gen]
    ends = starts[1:] + [len(text)]
    choice["_pieces"] = ([prompt_text] if req.echo else []) + [text[a:b] for a, b in zip(starts, ends)]
    return choice


def complete(
    generator: TokenEngine, req: Request, cancel: threading.Event | None = None
) -> tuple[list[dict], int, int]:
    """Non-streaming: every prompt's choice (in a model thread), prompt and completion token counts.
    ``cancel`` (set when the request timed out or its client left: ``Scheduler.run``'s cancel) stops the
    model at its next token; the answer is then no one's, and nothing is shaped."""
    done = generator.complete_ids(
        req.prompts, req.settings, max_tokens=req.max_tokens, stop=req.stop, logprobs=req.logprobs, cancel=cancel
    )
    if cancel is not None and cancel.is_set():
        return [], sum(len(p) for p in req.prompts), sum(len(c.ids) for c in done)
    choices = [build_choice(generator.tokenizer, c, i, req) for i, c in enumerate(done)]
    for ch in choices:
        ch.pop("_pieces")
    return choices, sum(len(p) for p in req.prompts), sum(len(c.ids) for c in done)


class CompletionStream:
    """The handle a stream's pump iterates (``Scheduler.open_stream(start=...)``): one dict per event,
    ``{"index", "text", "logprobs", "finish_reason"}``, prompt after prompt.

    Without ``logprobs`` the text comes as it is generated (``stream_ids``), holding back the last
    characters that could still begin a stop string and any unfinished character.  With ``logprobs``
    every log-probability comes from one forward pass over prompt + completion, so the events follow
    once the completion is done: the echoed prompt as one event, then one per token."""

    def __init__(self, generator: TokenEngine, req: Request) -> None:
        self.generator, self.req = generator, req
        self.completion: Totals | None = None
        self._cancelled = threading.Event()
        self._inner: Any = None
        self._lock = threading.Lock()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled.set()
            inner = self._inner
        if inner is not None:
            inner.cancel()

    def __iter__(self) -> Iterator[dict]:
        totals = Totals()
        for index, prompt in enumerate(self.req.prompts):
            if self._cancelled.is_set():
                return
            totals.prompt_tokens += len(prompt)
            if self.req.logprobs is not None or self.req.max_tokens == 0:
                yield from self._whole(index, prompt, totals)
            else:
                yield from self._live(index, prompt, totals)
        self.completion = totals

    def _event(self, index: int, text: str, logprobs: dict | None = None, finish: str | None = None) -> dict:
        return {"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish}

    def _whole(self, index: int, prompt: list[int], totals: Totals) -> Iterator[dict]:
        req = self.req
        c = self.generator.complete_ids(
            [prompt],
            req.settings,
            max_tokens=req.max_tokens,
            stop=req.stop,
            logprobs=req.logprobs,
            cancel=self._cancelled,
        )[0]
        if self._cancelled.is_set():
            return
        totals.completion_tokens += len(c.ids)
        choice = build_choice(self.generator.tokenizer, c, index, req)
        pieces, lp = choice["_pieces"], choice["logprobs"]
        if lp is None:
            if pieces[0]:
                yield self._event(index, pieces[0])
        else:
            n_prompt = len(c.prompt) if req.echo else 0
            if req.echo:
                yield self._event(index, pieces[0], {k: v[:n_prompt] for k, v in lp.items()})
            for j, piece in enumerate(pieces[1 if req.echo else 0 :]):
                k = n_prompt + j
                yield self._event(index, piece, {key: v[k : k + 1] for key, v in lp.items()})
        yield self._event(index, "", None, choice["finish_reason"])

    def _live(self, index: int, prompt: list[int], totals: Totals) -> Iterator[dict]:
        req, tokenizer = self.req, self.generator.tokenizer
        if req.echo:
            yield self._event(index, decode_plain(tokenizer, prompt))
        handle = self.generator.stream_ids(prompt, req.settings, max_tokens=req.max_tokens, stop=req.stop)
        with self._lock:
            self._inner = handle
            cancelled = self._cancelled.is_set()
        if cancelled:
            handle.cancel()
        stop_ids = set(self.generator.stop_ids)
        hold = max((len(x) for x in req.stop), default=1) - 1  # characters that may begin a stop string
        ids: list[int] = []
        sent, stopped = 0, False
        for chunk in handle:
            ids += chunk
            if stopped:
                continue
            text = decode_plain(tokenizer, ids[:-1] if ids and ids[-1] in stop_ids else ids)
            cut = find_stop(text, req.stop)
            if cut is not None:
                stopped = True
                safe = cut
            else:
                safe = len(text) - hold
                while safe > 0 and text[safe - 1] == REPLACEMENT:  # an unfinished character: wait for the rest
                    safe -= 1
            if safe > sent:
                yield self._event(index, text[sent:safe])
                sent = safe
        c: TokenCompletion = handle.completion
        totals.completion_tokens += len(c.ids)
        text = decode_plain(tokenizer, c.text_ids)
        cut = find_stop(text, req.stop)
        final = text if cut is None else text[:cut]
        if len(final) > sent:
            yield self._event(index, final[sent:])
        reason = "stop" if cut is not None or c.finish_reason == "stop" else "length"
        yield self._event(index, "", None, reason)


def complete_text(
    generator: CompletesText, req: Request, cancel: threading.Event | None = None
) -> tuple[list[dict], int, int]:
    """``complete`` for a ``CompletesText`` engine: each text prompt's continuation (after the prompt with
    ``echo``), no log-probabilities; token counts as the engine reports them."""
    done = generator.complete_text(req.prompts, req.settings, max_tokens=req.max_tokens, stop=req.stop, cancel=cancel)
    choices = [
        {
            "text": (p if req.echo else "") + c.text,
            "index": i,
            "logprobs": None,
            "finish_reason": openai_finish_reason(c.finish_reason),
        }
        for i, (p, c) in enumerate(zip(req.prompts, done))
    ]
    return choices, sum(c.prompt_tokens for c in done), sum(c.completion_tokens for c in done)


class TextCompletionStream(CompletionStream):
    """``CompletionStream``'s events for a ``CompletesText`` engine: each prompt (with ``echo``, first as one
    event) and then its continuation as the engine streams it, prompt after prompt."""

    def __iter__(self) -> Iterator[dict]:
        totals = Totals()
        for index, prompt in enumerate(self.req.prompts):
            if self._cancelled.is_set():
                return
            if self.req.echo:
                yield self._event(index, prompt)
            handle = self.generator.stream_text(
                prompt, self.req.settings, max_tokens=self.req.max_tokens, stop=self.req.stop
            )
            with self._lock:
                self._inner = handle
                cancelled = self._cancelled.is_set()
            if cancelled:
                handle.cancel()
            for delta in handle:
                yield self._event(index, delta)
            c = handle.completion
            totals.prompt_tokens += c.prompt_tokens
            totals.completion_tokens += c.completion_tokens
            yield self._event(index, "", None, openai_finish_reason(c.finish_reason))
        self.completion = totals
