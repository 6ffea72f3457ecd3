"""``LocalGenerator``: batched generation with a transformers model (base, or base + LoRA unmerged).

LEFT padding (right padding corrupts batched generation, pitfall 13), KV cache on,
prompts sorted by length so a batch wastes few pad tokens, and it stops on every
end-of-turn id the tokenizer and model know (Qwen's files disagree about which one
that is, pitfall 3).  The model's own ``generation_config`` is replaced by a neutral
one, so a hidden ``repetition_penalty`` or ``top_k`` from a hub checkpoint never
changes results: only chefbot's ``GenerationConfig`` counts.  ``stream`` yields text
deltas for the server and can be cancelled when a client goes away.
"""

from __future__ import annotations

import threading
from typing import Any, Iterator, Sequence

from chefbot.chat import render_prompt
from chefbot.config import GenerationConfig
from chefbot.generate.completion import Completion, Messages, OnResult, resolve_settings
from chefbot.stops import stop_token_ids


def _base_model(model: Any) -> Any:
    """The underlying transformers model of a PeftModel (or the model itself)."""
    get = getattr(model, "get_base_model", None)
    return get() if callable(get) else model


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
    """A stopping criterion that ends generation when an event is set (client went away)."""

    def __init__(self) -> None:
        self.event = threading.Event()

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

    def __iter__(self) -> "StreamHandle":
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


class LocalGenerator:
    """Batched generation with a local transformers model (optionally with a PEFT adapter)."""

    backend = "hf"

    def __init__(self, model: Any, tokenizer: Any, gen_cfg: GenerationConfig, fold: str = "auto", label: str | None = None) -> None:
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
            self.ignored_model_defaults = {k: v for k, v in gc.to_diff_dict().items() if k not in ("transformers_version",)}
        else:
            self.ignored_model_defaults = {}
        # Neutral: transformers merges the model's generation_config into any unset field.
        base.generation_config = HFGenerationConfig()
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.stop_ids[0]

    # -- prompts -----------------------------------------------------------------------------
    def prompt_ids(self, messages: Messages) -> list[int]:
        text = render_prompt(messages, self.tokenizer, self.fold)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

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
            "dtype": str(next(self.model.parameters()).dtype).replace("torch.", ""),
            "ignored_model_generation_config": self.ignored_model_defaults,
        }

    # -- batched -----------------------------------------------------------------------------
    def generate(
        self, batch: Sequence[Messages], settings_override: dict | None = None, on_result: OnResult | None = None
    ) -> list[Completion]:
        """Completions in input order; ``on_result(i, completion)`` fires as each batch finishes."""
        s = resolve_settings(self.gen_cfg, settings_override)
        prompts = [self.prompt_ids(m) for m in batch]
        # Longest first: the slowest batch runs while memory is fresh and OOM shows up at once.
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        out: list[Completion | None] = [None] * len(prompts)
        for start in range(0, len(order), s.batch_size):
            idx = order[start : start + s.batch_size]
            for i, c in zip(idx, self._generate_batch([prompts[i] for i in idx], s)):
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

    def _generate_batch(self, prompts: list[list[int]], s: GenerationConfig, cancel: _Cancel | None = None, streamer: Any = None) -> list[Completion]:
        import torch

        ids, mask = self._inputs(prompts)
        self._seed(s)
        kw: dict[str, Any] = {}
        if cancel is not None:
            kw["stopping_criteria"] = cancel.criteria()
        if streamer is not None:
            kw["streamer"] = streamer
        with torch.inference_mode():
            seqs = self.model.generate(
                input_ids=ids, attention_mask=mask, generation_config=hf_generation_config(s, self.stop_ids, self.pad_id), **kw
            )
        new = seqs[:, ids.shape[1] :].tolist()
        cancelled = cancel is not None and cancel.event.is_set()
        return [self._completion(row, len(p), s, cancelled) for row, p in zip(new, prompts)]

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

    # -- streaming ---------------------------------------------------------------------------
    def stream(self, messages: Messages, settings_override: dict | None = None) -> StreamHandle:
        """Text deltas as they are generated; ``handle.completion`` holds the final Completion."""
        from transformers import TextIteratorStreamer

        s = resolve_settings(self.gen_cfg, settings_override)
        prompt = self.prompt_ids(messages)
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
