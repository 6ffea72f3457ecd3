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

from dataclasses import dataclass
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
from chefbot.generate.engine_probe import Verdict, cpu_info
from chefbot.generate.llamacpp_engine import LlamaCppGenerator, llamacpp_available, probe_engine, probe_failure
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
    "Completion", "EngineChoice", "Generator", "LlamaCppGenerator", "LocalGenerator", "Messages", "OnResult",
    "OpenAIGenerator", "StreamHandle", "VLLMGenerator", "choose_serving_engine", "cpu_info", "hf_generation_config",
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
    Before loading llama.cpp, ``choose_serving_engine`` also probes it (a crash falls back to transformers)."""
    if requested != "auto":
        return requested
    if vllm_available():
        return "vllm"
    if llamacpp_available():
        import torch

        if not torch.cuda.is_available():
            return "llamacpp"
    return "hf"


@dataclass
class EngineChoice:
    """``choose_serving_engine``'s answer: the engine to load, and why it is not the one auto would have
    picked (``fallback``: the llamacpp engine's failed probe, one line) or None."""

    engine: str
    requested: str
    fallback: str | None = None
    probe: Verdict | None = None


def choose_serving_engine(cfg: ExperimentConfig, requested: str, adapter: str | None = None,
                          quant: str | None = None) -> EngineChoice:
    """``serving_engine``'s choice, made safe: llama.cpp is chosen only after its probe passed on this machine
    (``llamacpp_engine.probe_engine``: a child process, cached per library build, CPU and GGUF; a native
    llama.cpp build can segfault at its first forward pass, docs/SERVING.md).  "auto" then falls back to the
    hf engine (``fallback`` says why); an explicit "llamacpp" raises ``ChefbotError`` (exit 2) with the reason."""
    engine = serving_engine(requested)
    if engine != "llamacpp" or not llamacpp_available():
        return EngineChoice(engine, requested)
    verdict = probe_engine(cfg, adapter, quant)
    if verdict.ok:
        return EngineChoice("llamacpp", requested, probe=verdict)
    if requested == "auto":
        return EngineChoice("hf", requested, fallback=verdict.reason, probe=verdict)
    raise ChefbotError(probe_failure(verdict))


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
