"""The one generation path for evaluation, comparison, judging and serving.

Four backends share one interface, ``generate(list_of_message_lists) -> list[Completion]``
(``completion.py``), and ``make_generator`` picks one from the config:

* ``LocalGenerator`` (``local.py``): a transformers model, base or base + LoRA unmerged (exact).
* ``LlamaCppGenerator`` (``llamacpp_engine.py``): llama.cpp on a cached GGUF of base + adapter
  (``gguf.py``), chefbot's CPU serving engine; needs llama-cpp-python.
* ``OpenAIGenerator`` (``openai_compat.py``): any OpenAI-compatible endpoint, cached (evaluation).
* ``UpstreamGenerator`` (``upstream.py``): the same endpoint as the model behind ``chefbot serve`` and ``chat``:
  streamed, not cached, its failures answered 502/503/504.
* ``VLLMGenerator`` (``vllm_engine.py``): used when vLLM is installed and a GPU is present.

Every backend's ``describe()`` returns the exact settings used; results record it.

The config's ``engine`` section says which; ``resolve_engine`` turns its ``kind: auto`` into one backend
per purpose ("exact": evaluation and comparison; "serving": ``chefbot serve`` and ``chat``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from rich.markup import escape

from chefbot.config import EngineConfig, ExperimentConfig
from chefbot.errors import ChefbotError
from chefbot.generate.completion import (
    ChatPrompt,
    Completion,
    Generator,
    Messages,
    OnResult,
    TokenEngine,
    TokenizedGenerator,
    resolve_settings,
)
from chefbot.generate.engine_probe import cpu_info
from chefbot.generate.llamacpp_engine import (
    INSTALL_HINT,
    EngineUnsafe,
    LlamaCppGenerator,
    llamacpp_available,
    passive_openmp,
)
from chefbot.generate.local import LocalGenerator, StreamHandle, hf_generation_config
from chefbot.generate.openai_compat import OpenAIGenerator
from chefbot.generate.upstream import UpstreamError, UpstreamGenerator
from chefbot.generate.vllm_engine import VLLMGenerator
from chefbot.model import (
    inference_precision,
    load_for_inference,
    load_tokenizer,
    resolve_source,
)
from chefbot.progress import console

__all__ = [
    "ChatPrompt",
    "Completion",
    "EngineUnsafe",
    "Generator",
    "LlamaCppGenerator",
    "LocalGenerator",
    "Messages",
    "OnResult",
    "OpenAIGenerator",
    "Purpose",
    "StreamHandle",
    "TokenEngine",
    "TokenizedGenerator",
    "UpstreamError",
    "UpstreamGenerator",
    "VLLMGenerator",
    "endpoint_api_key",
    "cpu_info",
    "hf_generation_config",
    "llamacpp_available",
    "make_generator",
    "resolve_engine",
    "resolve_settings",
    "vllm_available",
]

Purpose = Literal["exact", "serving"]
SERVING_KINDS = ("auto", "hf", "vllm", "llamacpp", "openai")  # openai: an endpoint, chefbot in front of it


def vllm_available() -> bool:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def resolve_engine(engine: EngineConfig, purpose: Purpose) -> str:
    """The backend ``engine.kind`` names; "auto" resolved for ``purpose``, the one place that does it.

    * "exact" (eval, compare): the endpoint if ``engine.endpoint`` is set, else vLLM on a CUDA GPU when vLLM
      is installed, else hf (transformers), the exact engine; llama.cpp only when asked (``kind: llamacpp``).
    * "serving" (serve, chat): vLLM on a CUDA GPU when vLLM is installed, llama.cpp on a machine without a GPU
      when llama-cpp-python is installed, else hf; the endpoint is not used.  llama.cpp is loaded only after its
      probe passed (``LlamaCppGenerator.from_config`` raises ``EngineUnsafe`` otherwise, and ``make_generator``
      then falls back to hf for "auto").  ``kind: openai`` serves the model at ``engine.endpoint``
      (``UpstreamGenerator``); "auto" never does.
    """
    if purpose == "serving" and engine.kind not in SERVING_KINDS:
        raise ChefbotError(
            f"engine.kind={engine.kind} cannot be served by chefbot: choose one of {', '.join(SERVING_KINDS)}"
        )
    if engine.kind != "auto":
        return engine.kind
    if purpose == "exact":
        return "openai" if engine.endpoint else ("vllm" if vllm_available() else "hf")
    if vllm_available():
        return "vllm"
    if llamacpp_available():
        import torch

        if not torch.cuda.is_available():
            return "llamacpp"
    return "hf"


def endpoint_api_key(engine: EngineConfig) -> str | None:
    """The endpoint's API key: the environment variable ``engine.api_key_env`` names (unset: an error naming it);
    without one, ``OPENAI_API_KEY`` for api.openai.com (no ``engine.endpoint``) and no key for an endpoint."""
    if engine.api_key_env:
        key = os.environ.get(engine.api_key_env)
        if not key:
            raise ChefbotError(
                f"engine.api_key_env={engine.api_key_env}: the environment variable {engine.api_key_env} is not set "
                "(export it with the endpoint's key, or set engine.api_key_env=null for an endpoint without a key)"
            )
        return key
    return None if engine.endpoint else os.environ.get("OPENAI_API_KEY")


def make_generator(cfg: ExperimentConfig, adapter: str | None = None, *, purpose: Purpose) -> Any:
    """The one factory: the generator ``cfg.engine`` asks for, "auto" kind and dtype resolved for ``purpose``
    (``resolve_engine``, ``chefbot.model.inference_precision``).

    With ``kind: auto`` a llama.cpp build whose probe fails prints one warning with the reason and the hf engine
    is used instead; ``kind: llamacpp`` raises ``EngineUnsafe`` (a ``ChefbotError``, exit 2) with the reason.
    """
    e = cfg.engine
    if (e.kind == "llamacpp" or (e.kind == "auto" and purpose == "serving")) and llamacpp_available():
        passive_openmp()  # before anything imports torch (resolve_engine's CUDA check does)
    kind = resolve_engine(e, purpose)
    if kind == "llamacpp":
        if not llamacpp_available():
            raise ChefbotError(f"engine.kind=llamacpp: {INSTALL_HINT}")
        try:
            return LlamaCppGenerator.from_config(cfg, adapter=adapter)
        except EngineUnsafe as err:  # the probe failed: llama.cpp was not loaded
            if e.kind != "auto":
                raise
            console.print(
                f"[yellow]warning:[/] not using the llamacpp engine: {escape(err.verdict.reason)}. Using "
                'the hf engine (transformers) instead (docs/SERVING.md, "When the engine\'s probe fails")',
                highlight=False,
                soft_wrap=True,
            )
            kind = "hf"
    if kind == "openai" and purpose == "serving":
        if not e.endpoint:
            raise ChefbotError(
                "engine.kind=openai serves the model of an endpoint: give --endpoint URL (engine.endpoint)"
            )
        if adapter:
            raise ChefbotError(
                f"--adapter {adapter} cannot go with engine.kind=openai: the upstream at {e.endpoint} serves its own "
                "model (load the adapter there, or serve it with --engine hf or llamacpp)"
            )
        return UpstreamGenerator(
            e.endpoint,
            e.api_model,
            e.generation,
            api_key=endpoint_api_key(e),
            concurrency=e.concurrency,
            timeout_s=e.timeout_s,
            retries=e.retries,
            backoff_s=e.backoff_s,
        )
    if kind == "openai":
        if not e.endpoint and not e.api_model:
            raise ChefbotError("engine.kind=openai needs engine.endpoint=URL (or engine.api_model for api.openai.com)")
        return OpenAIGenerator(
            base_url=e.endpoint,
            model=e.api_model or cfg.model.name_or_path,
            api_key=endpoint_api_key(e),
            gen_cfg=e.generation,
            concurrency=e.concurrency,
            cache_dir=Path(".cache/chefbot/openai"),
            retries=e.retries,
            backoff_s=e.backoff_s,
            timeout_s=e.timeout_s,
        )
    tokenizer = load_tokenizer(cfg.model)
    adapter = adapter or cfg.adapter
    if kind == "vllm":
        if not vllm_available():
            raise ChefbotError(
                "engine.kind=vllm needs the vllm package and a CUDA GPU (pip install vllm); "
                "use engine.kind=hf (--engine hf)"
            )
        return VLLMGenerator(
            resolve_source(cfg.model).path, tokenizer, e.generation, adapter=adapter, fold=cfg.prompt.fold_system
        )
    precision = inference_precision(e.dtype, cfg.train.precision, purpose)
    model = load_for_inference(cfg, adapter=adapter, precision=precision)
    label = cfg.model.name_or_path + (f"+{adapter}" if adapter else "")
    return LocalGenerator(model, tokenizer, e.generation, fold=cfg.prompt.fold_system, label=label)
