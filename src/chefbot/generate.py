"""The one generation path for evaluation, comparison, judging and serving.

Three backends share one interface, ``generate(list_of_message_lists) -> list[Completion]``:

* ``LocalGenerator``: a transformers model (base, or base + LoRA adapter unmerged).
  Batched with LEFT padding (right padding corrupts batched generation, pitfall 13),
  KV cache on, prompts sorted by length so a batch wastes few pad tokens, and it
  stops on every end-of-turn id the tokenizer and model know (Qwen's files disagree
  about which one that is, pitfall 3).  The model's own ``generation_config`` is
  replaced by a neutral one, so a hidden ``repetition_penalty`` or ``top_k`` from a
  hub checkpoint never changes results: only chefbot's ``GenerationConfig`` counts.
* ``OpenAIGenerator``: any OpenAI-compatible endpoint (GPT-4o-mini, vLLM, llama.cpp,
  chefbot's own server) with bounded concurrency, retries with exponential backoff
  and a disk cache keyed by model + messages + settings, so a rerun costs nothing.
* ``VLLMGenerator``: used when vLLM is installed and a GPU is present.

Every backend's ``describe()`` returns the exact settings used; results record it.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

from chefbot.config import ExperimentConfig, GenerationConfig
from chefbot.errors import ChefbotError
from chefbot.train.stops import stop_token_ids  # one definition of the stop ids, shared with export

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
    def generate(
        self, batch: Sequence[Messages], settings_override: dict | None = None, on_result: OnResult | None = None
    ) -> list[Completion]: ...

    def describe(self, settings_override: dict | None = None) -> dict: ...


def resolve_settings(gen_cfg: GenerationConfig, override: dict | None = None) -> GenerationConfig:
    """chefbot's settings with an override applied and validated (unknown keys are errors)."""
    if not override:
        return gen_cfg
    from chefbot.config import validate

    return validate(GenerationConfig, {**gen_cfg.model_dump(), **override}, "generation settings")


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
        from chefbot.chat import render_prompt

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


# ---------------------------------------------------------------------------------------------
# OpenAI-compatible endpoints
# ---------------------------------------------------------------------------------------------


@dataclass
class OpenAIGenerator:
    """Any OpenAI-compatible chat endpoint, with a disk cache and bounded concurrency."""

    base_url: str | None
    model: str
    api_key: str | None = None
    gen_cfg: GenerationConfig = field(default_factory=GenerationConfig)
    concurrency: int = 4
    cache_dir: str | Path | None = ".cache/chefbot/openai"
    retries: int = 4
    backoff_s: float = 1.0  # first wait; doubles each retry (plus jitter)
    timeout_s: float = 120.0
    client: Any = None  # an openai.OpenAI instance; built from base_url/api_key when None
    backend: str = "openai"
    calls: int = 0  # requests actually sent (cache hits excluded)

    def __post_init__(self) -> None:
        if self.client is None:
            import os

            import openai

            key = self.api_key or os.environ.get("OPENAI_API_KEY") or ("EMPTY" if self.base_url else None)
            if key is None:
                raise ChefbotError(
                    f"model {self.model!r} needs the OpenAI API: set OPENAI_API_KEY, or give eval.endpoint=URL "
                    "of an OpenAI-compatible server"
                )
            # Retries are ours (below) so the last error can name the endpoint and the backoff is configurable.
            self.client = openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=self.timeout_s)
        self._lock = threading.Lock()

    def describe(self, settings_override: dict | None = None) -> dict:
        s = resolve_settings(self.gen_cfg, settings_override)
        return {"backend": self.backend, "model": self.model, "endpoint": self.base_url or "https://api.openai.com/v1",
                **s.model_dump(), "request": self._request_settings(s)}

    @staticmethod
    def _request_settings(s: GenerationConfig) -> dict:
        """What is sent: the API has no repetition_penalty/top_k, so those go as extras only when set."""
        req: dict[str, Any] = {"max_tokens": s.max_new_tokens, "temperature": s.temperature if s.do_sample else 0.0,
                               "top_p": s.top_p if s.do_sample else 1.0, "seed": s.seed}
        extra = {}
        if s.repetition_penalty != 1.0:
            extra["repetition_penalty"] = s.repetition_penalty
        if s.do_sample and s.top_k > 0:
            extra["top_k"] = s.top_k
        if extra:
            req["extra_body"] = extra
        return req

    def cache_key(self, messages: Messages, req: dict) -> str:
        blob = json.dumps({"model": self.model, "messages": list(messages), "settings": req}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _cache_path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else Path(self.cache_dir) / key[:2] / f"{key}.json"

    def _cached(self, key: str) -> Completion | None:
        p = self._cache_path(key)
        if p is None or not p.exists():
            return None
        try:
            return Completion.from_dict(json.loads(p.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry is simply asked again

    def _store(self, key: str, c: Completion) -> None:
        p = self._cache_path(key)
        if p is not None:
            from chefbot.io import atomic_write_json

            atomic_write_json(p, c.to_dict())

    def _call(self, messages: Messages, req: dict) -> Completion:
        import openai

        retryable = (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError, openai.InternalServerError)
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1) * (1 + 0.1 * random.random()))
            try:
                with self._lock:
                    self.calls += 1
                r = self.client.chat.completions.create(model=self.model, messages=list(messages), **req)
            except retryable as e:
                last = e
                continue
            except openai.APIStatusError as e:  # 4xx other than 429: asking again will not help
                raise ChefbotError(f"endpoint {self.base_url or 'api.openai.com'} model {self.model!r}: HTTP {e.status_code}: {e.message}") from None
            ch = r.choices[0]
            usage = getattr(r, "usage", None)
            reason = "length" if ch.finish_reason == "length" else "stop"
            return Completion(text=ch.message.content or "", finish_reason=reason,
                              prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                              completion_tokens=getattr(usage, "completion_tokens", 0) or 0)
        raise _Unreachable(f"{type(last).__name__}: {last}")

    def generate(
        self, batch: Sequence[Messages], settings_override: dict | None = None, on_result: OnResult | None = None
    ) -> list[Completion]:
        req = self._request_settings(resolve_settings(self.gen_cfg, settings_override))
        out: list[Completion | None] = [None] * len(batch)
        todo = []
        for i, m in enumerate(batch):
            key = self.cache_key(m, req)
            hit = self._cached(key)
            if hit is not None:
                out[i] = hit
                if on_result is not None:
                    on_result(i, hit)
            else:
                todo.append((i, key))
        failure: str | None = None
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = {pool.submit(self._call, batch[i], req): (i, key) for i, key in todo}
            for fut in as_completed(futures):
                i, key = futures[fut]
                try:
                    c = fut.result()
                except _Unreachable as e:
                    failure = failure or str(e)
                    continue
                self._store(key, c)
                out[i] = c
                if on_result is not None:
                    on_result(i, c)
        if failure is not None:
            done = sum(c is not None for c in out)
            raise ChefbotError(
                f"endpoint {self.base_url or 'https://api.openai.com/v1'} (model {self.model!r}) failed after "
                f"{self.retries + 1} tries: {failure}. {done} of {len(batch)} items finished and are kept "
                f"(cache {self.cache_dir}); run the same command again to continue."
            )
        return out  # type: ignore[return-value]


class _Unreachable(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# vLLM (GPU only; import-guarded, cannot run on the CPU CI machine)
# ---------------------------------------------------------------------------------------------


class VLLMGenerator:
    backend = "vllm"

    def __init__(self, model_path: str, tokenizer: Any, gen_cfg: GenerationConfig, adapter: str | None = None, fold: str = "auto") -> None:
        from vllm import LLM  # noqa: PLC0415 - optional dependency

        self.tokenizer = tokenizer
        self.gen_cfg = gen_cfg
        self.fold = fold
        self.model_path = model_path
        self.adapter = adapter
        self.stop_ids = stop_token_ids(tokenizer)
        self.llm = LLM(model=model_path, tokenizer=model_path, enable_lora=adapter is not None,
                       generation_config="vllm")  # "vllm": ignore the model's generation_config.json defaults

    def describe(self, settings_override: dict | None = None) -> dict:
        s = resolve_settings(self.gen_cfg, settings_override)
        return {"backend": self.backend, "model": self.model_path, "adapter": self.adapter, **s.model_dump(),
                "stop_token_ids": self.stop_ids, "fold_system": self.fold}

    def generate(self, batch: Sequence[Messages], settings_override: dict | None = None, on_result: OnResult | None = None) -> list[Completion]:
        from vllm import SamplingParams

        from chefbot.chat import render_prompt

        s = resolve_settings(self.gen_cfg, settings_override)
        sample = s.do_sample and s.temperature > 0
        params = SamplingParams(
            max_tokens=s.max_new_tokens, temperature=s.temperature if sample else 0.0, top_p=s.top_p if sample else 1.0,
            top_k=(s.top_k or -1) if sample else -1, repetition_penalty=s.repetition_penalty, seed=s.seed,
            stop_token_ids=self.stop_ids, skip_special_tokens=True,
        )
        lora = None
        if self.adapter:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("adapter", 1, self.adapter)
        prompts = [render_prompt(m, self.tokenizer, self.fold) for m in batch]
        results = self.llm.generate(prompts, params, lora_request=lora)
        out = []
        for i, r in enumerate(results):
            o = r.outputs[0]
            c = Completion(text=o.text, finish_reason="length" if o.finish_reason == "length" else "stop",
                           prompt_tokens=len(r.prompt_token_ids), completion_tokens=len(o.token_ids))
            out.append(c)
            if on_result is not None:
                on_result(i, c)
        return out


def vllm_available() -> bool:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def inference_dtype(cfg: ExperimentConfig) -> str:
    """``eval.dtype``; "auto" is fp32 on CPU (most CPUs emulate bf16 matmuls: slower, and not
    what a GPU computes either) and the training precision on a GPU."""
    if cfg.eval.dtype != "auto":
        return cfg.eval.dtype
    import torch

    return cfg.train.precision if torch.cuda.is_available() else "fp32"


def inference_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """``cfg`` with the precision ``load_for_inference`` should load the weights in."""
    return cfg.model_copy(update={"train": cfg.train.model_copy(update={"precision": inference_dtype(cfg)})})


def make_generator(cfg: ExperimentConfig, adapter: str | None = None) -> Any:
    """The generator ``cfg.eval.engine`` asks for ("auto": endpoint > vLLM on a GPU > transformers)."""
    e = cfg.eval
    engine = e.engine
    if engine == "auto":
        engine = "openai" if e.endpoint else ("vllm" if vllm_available() else "hf")
    if engine == "openai":
        if not e.endpoint and not e.api_model:
            raise ChefbotError("eval.engine=openai needs eval.endpoint=URL (or eval.api_model for api.openai.com)")
        return OpenAIGenerator(base_url=e.endpoint, model=e.api_model or cfg.model.name_or_path, gen_cfg=e.generation,
                               concurrency=e.concurrency, cache_dir=Path(".cache/chefbot/openai"))
    from chefbot.model import load_tokenizer, resolve_source

    tokenizer = load_tokenizer(cfg.model)
    adapter = adapter or cfg.adapter
    if engine == "vllm":
        if not vllm_available():
            raise ChefbotError("eval.engine=vllm needs the vllm package and a CUDA GPU; use eval.engine=hf")
        return VLLMGenerator(resolve_source(cfg.model).path, tokenizer, e.generation, adapter=adapter, fold=cfg.prompt.fold_system)
    from chefbot.model import load_for_inference

    model = load_for_inference(inference_config(cfg), adapter=adapter)
    label = cfg.model.name_or_path + (f"+{adapter}" if adapter else "")
    return LocalGenerator(model, tokenizer, e.generation, fold=cfg.prompt.fold_system, label=label)
