"""``LocalGenerator``: batched generation with a transformers model (base, or base + LoRA unmerged).

LEFT padding (right padding corrupts batched generation, pitfall 13), KV cache on,
prompts sorted by length so a batch wastes few pad tokens, and it stops on every
end-of-turn id the tokenizer and model know (Qwen's files disagree about which one
that is, pitfall 3).  The model's own ``generation_config`` is replaced by a neutral
one, so a hidden ``repetition_penalty`` or ``top_k`` from a hub checkpoint never
changes results: only chefbot's ``GenerationConfig`` counts.  ``stream`` yields text
deltas for the server and can be cancelled when a client goes away.  A request's ``structured`` setting
(JSON matching a schema) is enforced by llguidance as a logits processor (``chefbot.generate.structured``).

With a PEFT adapter it also answers as its base alone (``without_adapter``, the ``AnswersAsBase`` contract):
a twin on the same model object whose calls switch the adapter off with PEFT's ``disable_adapter()``.  That
switch is model-wide, so an ``AdapterGate`` keeps it from touching anyone else's answer: calls with the
adapter share the model, a call without it waits until they are done and runs alone (new calls wait for it).

Plain completions (the server's ``/v1/completions``, lm-evaluation-harness against it)
go through ``complete_ids``/``stream_ids``: the same model, stop ids and settings, but
token ids in and out with no chat template; ``score`` gives exact log-probabilities
(one forward pass, the log-softmax in fp32 of the logits at each position).
"""

from __future__ import annotations

import contextlib
import copy
import queue as queue_module
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from chefbot.config import GenerationConfig
from chefbot.errors import ChefbotError
from chefbot.generate.completion import (
    Completion,
    OnResult,
    Settings,
    TokenCompletion,
    TokenScores,
    resolve_settings,
)
from chefbot.generate.structured import GuidanceProcessor
from chefbot.generate.token_engine import CompletesIds, decode_plain
from chefbot.stops import stop_token_ids


def _base_model(model: Any) -> Any:
    """The underlying transformers model of a PeftModel (or the model itself)."""
    get = getattr(model, "get_base_model", None)
    return get() if callable(get) else model


def is_peft_model(model: Any) -> bool:
    """Whether ``model`` is a PEFT model (base + adapter, unmerged); peft is loaded already if it is one."""
    peft = sys.modules.get("peft")
    return peft is not None and isinstance(model, peft.PeftModel)


class AdapterGate:
    """Who may use a PEFT model now: any number of calls WITH the adapter together (``shared``), or one call
    WITHOUT it alone (``alone``: PEFT's ``disable_adapter()`` switches every LoRA layer of the one model, so a
    call running beside it would lose its adapter too).  A waiting ``alone`` goes before calls that arrive
    after it, so a stream of adapter calls cannot keep it waiting for ever.  Hand-written: the standard library
    has no readers-writer lock, and the calls it guards are leaves (none takes the gate inside another)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._sharing = 0  # calls with the adapter running now
        self._alone = False  # a call without it running now
        self._waiting_alone = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._alone and not self._waiting_alone)
            self._sharing += 1
        try:
            yield
        finally:
            with self._cond:
                self._sharing -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def alone(self, switch_off: Callable[[], Any]) -> Iterator[None]:
        """Wait until no call uses the model, then run with ``switch_off()`` (a context manager) entered."""
        with self._cond:
            self._waiting_alone += 1
            try:
                self._cond.wait_for(lambda: not self._alone and not self._sharing)
            finally:
                self._waiting_alone -= 1
            self._alone = True
        try:
            with switch_off():
                yield
        finally:
            with self._cond:
                self._alone = False
                self._cond.notify_all()


def hf_generation_config(s: GenerationConfig, stop_ids: list[int], pad_id: int) -> Any:
    """An explicit transformers GenerationConfig: every sampling knob set, nothing inherited."""
    from transformers import GenerationConfig as HFGenerationConfig

    sample = s.do_sample and s.temperature > 0  # temperature 0 means greedy, as in the OpenAI API
    kw: dict[str, Any] = dict(
        max_new_tokens=s.max_new_tokens,
        do_sample=sample,
        num_beams=1,
        repetition_penalty=s.repetition_penalty,
        no_repeat_ngram_size=0,
        length_penalty=1.0,
        eos_token_id=list(stop_ids),
        pad_token_id=pad_id,
        use_cache=True,
    )
    if sample:
        kw.update(temperature=s.temperature, top_p=s.top_p, top_k=s.top_k)
    # Greedy: sampling knobs are left unset; transformers applies them only when sampling, and
    # the model's generation_config has been neutralised so none is inherited either.
    return HFGenerationConfig(**kw)


class _Cancel:
    """A stopping criterion that ends generation when an event is set (client went away): its own, or
    the caller's ``cancel`` event (``generate``/``complete_ids``)."""

    def __init__(self, event: threading.Event | None = None) -> None:
        self.event = event if event is not None else threading.Event()

    def criteria(self) -> Any:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        event = self.event

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kw: Any) -> Any:
                return torch.full((input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device)

        return StoppingCriteriaList([_Stop()])


class StreamHandle:
    """Iterate for text deltas; ``completion`` is set once the stream ends; ``cancel()`` frees the slot."""

    def __init__(self, deltas: Iterator[str], cancel: _Cancel, thread: threading.Thread) -> None:
        self._deltas = deltas
        self._cancel = cancel
        self._thread = thread
        self.completion: Completion | None = None
        self.error: BaseException | None = None

    def __iter__(self) -> StreamHandle:
        return self

    def __next__(self) -> str:
        try:
            return next(self._deltas)
        except StopIteration:
            self._thread.join()
            if self.error is not None:
                raise self.error
            raise

    def cancel(self) -> None:
        self._cancel.event.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.event.is_set()

    def join(self, timeout: float | None = None) -> Completion | None:
        self._thread.join(timeout)
        return self.completion


class _StopStrings:
    """A stopping criterion: a row ends once the text of its new tokens holds one of ``stops``."""

    def __init__(self, tokenizer: Any, stops: Sequence[str], width: int) -> None:
        self.tokenizer, self.stops, self.width = tokenizer, [x for x in stops if x], width
        # A stop string of m characters lies within the last 4m+1 tokens (a token is at least one byte):
        # decoding a window one token wider is enough, and the decode stays short.
        self.window = 4 * max((len(x) for x in self.stops), default=0) + 2
        self.ended: dict[int, int] = {}  # row -> its number of new tokens when the text first held a stop string

    def criterion(self) -> Any:
        import torch
        from transformers import StoppingCriteria

        outer = self

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kw: Any) -> Any:
                done = []
                for r in range(input_ids.shape[0]):
                    if r not in outer.ended:
                        new = input_ids[r, outer.width :].tolist()
                        tail = decode_plain(outer.tokenizer, new[-outer.window :]) if new else ""
                        if any(x in tail for x in outer.stops):
                            outer.ended[r] = len(new)
                    done.append(r in outer.ended)
                return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

        return _Stop()


class _IdStreamer:
    """A transformers streamer that hands the new token ids (not text) to another thread."""

    def __init__(self) -> None:
        self.queue: queue_module.Queue = queue_module.Queue()
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:  # generate() first puts the prompt
            self._prompt_seen = True
            return
        self.queue.put([int(i) for i in value.reshape(-1).tolist()])

    def end(self) -> None:
        self.queue.put(None)

    def __iter__(self) -> Iterator[list[int]]:
        while (item := self.queue.get()) is not None:
            yield item


class LocalGenerator(CompletesIds):
    """Batched generation with a local transformers model (optionally with a PEFT adapter): a ``TokenEngine``
    (``chefbot.generate.completion``); ``prompt_ids``, ``generate``, ``stream`` and ``complete_ids`` come from ``CompletesIds``."""

    backend = "hf"

    def __init__(
        self, model: Any, tokenizer: Any, gen_cfg: GenerationConfig, fold: str = "auto", label: str | None = None
    ) -> None:
        from transformers import GenerationConfig as HFGenerationConfig

        self.model = model
        self.tokenizer = tokenizer
        self.gen_cfg = gen_cfg
        self.fold = fold
        base = _base_model(model)
        self.label = label or getattr(base.config, "_name_or_path", None) or type(base).__name__
        gc = getattr(base, "generation_config", None)
        self.stop_ids = stop_token_ids(tokenizer, getattr(base, "config", None))
        if gc is not None:  # the model's own stop ids count too; nothing else from it does
            self.stop_ids += [i for i in _as_list(gc.eos_token_id) if i not in self.stop_ids]
            self.ignored_model_defaults = {
                k: v for k, v in gc.to_diff_dict().items() if k not in ("transformers_version",)
            }
        else:
            self.ignored_model_defaults = {}
        # Neutral: transformers merges the model's generation_config into any unset field.
        base.generation_config = HFGenerationConfig()
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.stop_ids[0]
        # A PEFT model can also answer without its adapter (``without_adapter``); the gate keeps that apart.
        self._gate = AdapterGate() if is_peft_model(model) else None
        self._without_adapter = False  # True in the twin ``without_adapter`` returns
        self._base_twin: LocalGenerator | None = None
        self._base_label = getattr(base.config, "_name_or_path", None) or type(base).__name__

    # -- with or without the adapter (``AnswersAsBase``) ------------------------------------------
    def serves_adapter(self) -> bool:
        return self._gate is not None and not self._without_adapter

    def without_adapter(self) -> LocalGenerator:
        """This generator's twin on the same model object, answering from the base weights alone: each of its
        model calls runs with the adapter switched off and alone on the model (``AdapterGate``)."""
        if self._gate is None:
            raise ChefbotError("this model has no adapter to leave out: it answers as its base already")
        if self._without_adapter:
            return self
        if self._base_twin is None:
            twin = copy.copy(self)
            twin._without_adapter, twin._base_twin, twin.label = True, None, self._base_label
            self._base_twin = twin
        return self._base_twin

    def _model_use(self) -> Any:
        """The context every model call runs in: nothing to arrange without an adapter; with one, a share of the
        model, or (the base twin) the model alone with the adapter switched off."""
        if self._gate is None:
            return contextlib.nullcontext()
        return self._gate.alone(self.model.disable_adapter) if self._without_adapter else self._gate.shared()

    def identity(self) -> dict:
        out = {"backend": self.backend, "dtype": self._dtype()}
        return {**out, "without_adapter": True} if self._without_adapter else out

    def _dtype(self) -> str:
        return str(next(self.model.parameters()).dtype).replace("torch.", "")

    def describe(self, settings_override: dict | None = None) -> dict:
        s = resolve_settings(self.gen_cfg, settings_override)
        return {
            "backend": self.backend,
            "model": self.label,
            **s.model_dump(),
            "stop_token_ids": self.stop_ids,
            "stop_tokens": self.tokenizer.convert_ids_to_tokens(self.stop_ids),
            "padding_side": "left",
            "kv_cache": True,
            "sorted_by_length": True,
            "fold_system": self.fold,
            "dtype": self._dtype(),
            "ignored_model_generation_config": self.ignored_model_defaults,
        }

    # -- batched -----------------------------------------------------------------------------
    def generate_from_ids(
        self,
        prompts: Sequence[Sequence[int]],
        settings_override: dict | None = None,
        on_result: OnResult | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        """Chat answers to prompt ids (``prompt_ids``) in input order; ``on_result(i, completion)`` fires as each
        batch finishes.  Once ``cancel`` is set, decoding stops at the next token and the batches not started yet
        are not run (their completions: no tokens, ``finish_reason "cancelled"``)."""
        s = resolve_settings(self.gen_cfg, settings_override)
        prompts = [list(p) for p in prompts]
        stopper = _Cancel(cancel) if cancel is not None else None
        # Longest first: the slowest batch runs while memory is fresh and OOM shows up at once.
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        out: list[Completion | None] = [None] * len(prompts)
        for start in range(0, len(order), s.batch_size):
            idx = order[start : start + s.batch_size]
            if cancel is not None and cancel.is_set():
                done = [Completion("", "cancelled", len(prompts[i]), 0) for i in idx]
            else:
                done = self._generate_batch([prompts[i] for i in idx], s, cancel=stopper)
            for i, c in zip(idx, done):
                out[i] = c
                if on_result is not None:
                    on_result(i, c)
        return out  # type: ignore[return-value]

    def _inputs(self, prompts: list[list[int]]) -> tuple[Any, Any]:
        import torch

        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for r, p in enumerate(prompts):  # left padding: every prompt ends at the last column
            ids[r, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[r, width - len(p) :] = 1
        device = next(self.model.parameters()).device
        return ids.to(device), mask.to(device)

    def _seed(self, s: GenerationConfig) -> None:
        if s.do_sample:
            import torch

            torch.manual_seed(s.seed)

    def _generate_batch(
        self, prompts: list[list[int]], s: Settings, cancel: _Cancel | None = None, streamer: Any = None
    ) -> list[Completion]:
        new = self._new_tokens(prompts, s, cancel, streamer)
        cancelled = cancel is not None and cancel.event.is_set()
        return [self._completion(row, len(p), s, cancelled) for row, p in zip(new, prompts)]

    def _new_tokens(
        self,
        prompts: list[list[int]],
        s: Settings,
        cancel: _Cancel | None = None,
        streamer: Any = None,
        criteria: list[Any] | None = None,
    ) -> list[list[int]]:
        """The token ids generated after each prompt (one left-padded ``model.generate`` call)."""
        import torch
        from transformers import StoppingCriteriaList

        ids, mask = self._inputs(prompts)
        self._seed(s)
        kw: dict[str, Any] = {}
        stopping = list(cancel.criteria()) if cancel is not None else []
        stopping += criteria or []
        if stopping:
            kw["stopping_criteria"] = StoppingCriteriaList(stopping)
        if streamer is not None:
            kw["streamer"] = streamer
        if s.structured is not None:  # the answer must be this JSON: llguidance masks every other token
            from transformers import LogitsProcessorList

            kw["logits_processor"] = LogitsProcessorList(
                [GuidanceProcessor(s.structured, self.tokenizer, self.stop_ids, len(prompts), ids.shape[1])]
            )
        with self._model_use(), torch.inference_mode():
            seqs = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                generation_config=hf_generation_config(s, self.stop_ids, self.pad_id),
                **kw,
            )
        return seqs[:, ids.shape[1] :].tolist()

    def _completion(self, row: list[int], n_prompt: int, s: GenerationConfig, cancelled: bool = False) -> Completion:
        stops = set(self.stop_ids)
        end = next((k for k, t in enumerate(row) if t in stops), None)
        if end is not None:
            toks, reason, n = row[:end], "stop", end + 1
        else:
            toks, n = row, len(row)
            reason = "length" if n >= s.max_new_tokens else ("cancelled" if cancelled else "stop")
        text = self.tokenizer.decode(toks, skip_special_tokens=True)
        return Completion(text=text, finish_reason=reason, prompt_tokens=n_prompt, completion_tokens=n)

    # -- plain completions: token ids in and out, no chat template ------------------------------
    def score(self, sequences: Sequence[Sequence[int]], top_k: int = 0, next_token: bool = False) -> list[TokenScores]:
        """Exact log-probabilities: for each sequence ONE forward pass of the model as it is served (adapter
        included), then the log-softmax in fp32 of the logits at each position for the token after it.

        Sequences are scored one at a time, so a sequence's numbers never depend on what else was asked.
        ``top_k``: also the k likeliest tokens at each position; ``next_token``: also the distribution
        after the last token (its argmax is what greedy decoding picks next)."""
        return [self._score_one(list(seq), top_k, next_token) for seq in sequences]

    def _score_one(self, seq: list[int], top_k: int, next_token: bool) -> TokenScores:
        import torch

        if not seq:
            raise ValueError("cannot score an empty sequence")
        device = next(self.model.parameters()).device
        x = torch.tensor([seq], dtype=torch.long, device=device)
        out = TokenScores(logprobs=[])
        rows = len(seq) if next_token else len(seq) - 1  # position i predicts token i + 1
        with self._model_use(), torch.inference_mode():
            logits = self.model(input_ids=x, attention_mask=torch.ones_like(x), use_cache=False).logits[0]
            for a in range(0, rows, 256):  # in slices: a whole [length, vocabulary] fp32 copy can be large
                b = min(rows, a + 256)
                lp = torch.log_softmax(logits[a:b].float(), dim=-1)
                known = min(b, len(seq) - 1) - a  # rows of this slice whose next token is in the sequence
                if known > 0:
                    target = x[0, a + 1 : a + 1 + known]
                    out.logprobs += lp[:known].gather(-1, target[:, None])[:, 0].tolist()
                if top_k:
                    values, indices = lp.topk(min(top_k, lp.shape[-1]), dim=-1)
                    pairs = [list(zip(i, v)) for i, v in zip(indices.tolist(), values.tolist())]
                    out.top += pairs[:known]
                if b == len(seq):  # the slice holds the position after the sequence
                    last = lp[-1]
                    best = int(torch.argmax(last))
                    out.next = (best, float(last[best]), pairs[-1] if top_k else [])
        return out

    def _continue_ids(
        self, prompts: list[list[int]], s: Settings, stop: Sequence[str], cancel: threading.Event | None
    ) -> list[TokenCompletion]:
        """``complete_ids``' decoding: prompts decoded in batches, longest first; once ``cancel`` is set decoding
        stops at the next token and later batches are not run."""
        out: list[TokenCompletion] = [None] * len(prompts)  # type: ignore[list-item]
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        stopped = _Cancel(cancel) if cancel is not None else None
        for start in range(0, len(order), s.batch_size):
            idx = order[start : start + s.batch_size]
            if cancel is not None and cancel.is_set():
                for i in idx:
                    out[i] = TokenCompletion(prompts[i], [], "cancelled")
                continue
            batch = [prompts[i] for i in idx]
            stopper = _StopStrings(self.tokenizer, stop, max(len(p) for p in batch))
            rows = self._new_tokens(batch, s, cancel=stopped, criteria=[stopper.criterion()] if stopper.stops else None)
            cancelled = cancel is not None and cancel.is_set()
            for r, (i, row) in enumerate(zip(idx, rows)):
                out[i] = self._token_completion(prompts[i], row, s, stopper.ended.get(r), cancelled)
        return out

    def _token_completion(
        self, prompt: list[int], row: list[int], s: GenerationConfig, ended: int | None, cancelled: bool = False
    ) -> TokenCompletion:
        if ended is not None:
            row = row[:ended]  # the rest is padding: the row stopped at a stop string
        stops = set(self.stop_ids)
        end = next((k for k, t in enumerate(row) if t in stops), None)
        if end is not None:
            return TokenCompletion(prompt, row[: end + 1], "stop", stop_id=True)
        reason = (
            "stop"
            if ended is not None
            else "length"
            if len(row) >= s.max_new_tokens
            else ("cancelled" if cancelled else "stop")
        )
        return TokenCompletion(prompt, row, reason)

    def stream_ids(
        self, prompt: Sequence[int], settings_override: dict | None = None, *, max_tokens: int, stop: Sequence[str] = ()
    ) -> StreamHandle:
        """``complete_ids`` for one prompt, streamed: iterate for lists of new token ids as they are made;
        ``handle.completion`` is the ``TokenCompletion`` (no log-probabilities) once it ends."""
        s = resolve_settings(self.gen_cfg, {**(settings_override or {}), "max_new_tokens": max(1, max_tokens)})
        prompt = list(prompt)
        streamer = _IdStreamer()
        cancel = _Cancel()
        stopper = _StopStrings(self.tokenizer, stop, len(prompt))
        handle: StreamHandle

        def run() -> None:
            try:
                row = self._new_tokens(
                    [prompt],
                    s,
                    cancel=cancel,
                    streamer=streamer,
                    criteria=[stopper.criterion()] if stopper.stops else None,
                )[0]
                handle.completion = self._token_completion(
                    prompt,
                    row,
                    s,
                    stopper.ended.get(0),  # type: ignore[assignment]
                    cancel.event.is_set(),
                )
            except BaseException as e:  # surfaced to the reader instead of dying in the thread
                handle.error = e
                streamer.end()

        thread = threading.Thread(target=run, daemon=True, name="chefbot-stream-ids")
        handle = StreamHandle(iter(streamer), cancel, thread)
        thread.start()
        return handle

    # -- streaming ---------------------------------------------------------------------------
    def stream_from_ids(self, prompt: Sequence[int], settings_override: dict | None = None) -> StreamHandle:
        """The chat answer to prompt ids as text deltas as they are generated; ``handle.completion`` holds the
        final Completion."""
        from transformers import TextIteratorStreamer

        s = resolve_settings(self.gen_cfg, settings_override)
        prompt = list(prompt)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancel = _Cancel()
        handle: StreamHandle

        def run() -> None:
            try:
                handle.completion = self._generate_batch([prompt], s, cancel=cancel, streamer=streamer)[0]
            except BaseException as e:  # surfaced to the reader instead of dying in the thread
                handle.error = e
                streamer.end()

        thread = threading.Thread(target=run, daemon=True, name="chefbot-stream")
        handle = StreamHandle(iter(streamer), cancel, thread)
        thread.start()
        return handle


def _as_list(x: Any) -> list[int]:
    if x is None:
        return []
    return [i for i in (x if isinstance(x, (list, tuple)) else [x]) if isinstance(i, int)]
