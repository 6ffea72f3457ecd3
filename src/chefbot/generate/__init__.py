"""The one generation path for evaluation, comparison, judging and serving.

Four backends share one interface, ``generate(list_of_message_lists) -> list[Completion]``
(``completion.py``), and ``make_generator`` picks one from the config:

* ``LocalGenerator`` (``local.py``): a transformers model, base or base + LoRA unmerged (exact).
* ``LlamaCppGenerator`` (``llamacpp_engine.py``): llama.cpp on a cached GGUF of base + adapter
  (``gguf.py``), chefbot's CPU serving engine; needs llama-cpp-python.
* ``OpenAIGenerator`` (``openai_compat.py``): any OpenAI-compatible endpoint, cached.
* ``VLLMGenerator`` (``vllm_engine.py``): used when vLLM is installed and a GPU is present.

Every backend's ``describe()`` returns the exact settings used; results record it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chefbot.config import ExperimentConfig
from chefbot.errors import ChefbotError
from chefbot.generate.completion import (
    Completion,
    Generator,
    Messages,
    OnResult,
    resolve_settings,
)
from chefbot.generate.engine_probe import cpu_info
from chefbot.generate.llamacpp_engine import EngineUnsafe, LlamaCppGenerator, llamacpp_available
from chefbot.generate.local import LocalGenerator, StreamHandle, hf_generation_config
from chefbot.generate.openai_compat import OpenAIGenerator
from chefbot.generate.vllm_engine import VLLMGenerator
from chefbot.model import (
    inference_precision,
    load_for_inference,
    load_tokenizer,
    resolve_source,
)

__all__ = [
    "Completion", "EngineUnsafe", "Generator", "LlamaCppGenerator", "LocalGenerator", "Messages", "OnResult",
    "OpenAIGenerator", "StreamHandle", "VLLMGenerator", "cpu_info", "hf_generation_config",
    "llamacpp_available", "make_generator", "resolve_settings", "serving_engine", "vllm_available",
]


def vllm_available() -> bool:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def serving_engine(requested: str) -> str:
    """``serve.engine`` (and ``chefbot chat --engine``) resolved: "auto" is vLLM on a CUDA GPU when vLLM is
    installed, llama.cpp on a machine without a GPU when llama-cpp-python is installed, else transformers.
    llama.cpp itself is loaded only after its probe passed (``LlamaCppGenerator.from_config`` raises
    ``EngineUnsafe`` otherwise; ``chefbot serve``/``chat`` then fall back to transformers for "auto")."""
    if requested != "auto":
        return requested
    if vllm_available():
        return "vllm"
    if llamacpp_available():
        import torch

        if not torch.cuda.is_available():
            return "llamacpp"
    return "hf"


def make_generator(cfg: ExperimentConfig, adapter: str | None = None) -> Any:
    """The generator ``cfg.eval.engine`` asks for ("auto": endpoint > vLLM on a GPU > transformers, the exact
    engine; llama.cpp only when asked: ``eval.engine=llamacpp``)."""
    e = cfg.eval
    engine = e.engine
    if engine == "auto":
        engine = "openai" if e.endpoint else ("vllm" if vllm_available() else "hf")
    if engine == "llamacpp":
        return LlamaCppGenerator.from_config(cfg, adapter=adapter)
    if engine == "openai":
        if not e.endpoint and not e.api_model:
            raise ChefbotError("eval.engine=openai needs eval.endpoint=URL (or eval.api_model for api.openai.com)")
        return OpenAIGenerator(base_url=e.endpoint, model=e.api_model or cfg.model.name_or_path, gen_cfg=e.generation,
                               concurrency=e.concurrency, cache_dir=Path(".cache/chefbot/openai"))
    tokenizer = load_tokenizer(cfg.model)
    adapter = adapter or cfg.adapter
    if engine == "vllm":
        if not vllm_available():
            raise ChefbotError("eval.engine=vllm needs the vllm package and a CUDA GPU; use eval.engine=hf")
        return VLLMGenerator(resolve_source(cfg.model).path, tokenizer, e.generation, adapter=adapter, fold=cfg.prompt.fold_system)
    precision = inference_precision(e.dtype, cfg.train.precision)
    model = load_for_inference(cfg, adapter=adapter, precision=precision)
    label = cfg.model.name_or_path + (f"+{adapter}" if adapter else "")
    return LocalGenerator(model, tokenizer, e.generation, fold=cfg.prompt.fold_system, label=label)
