"""GGUF files of chefbot's models: the one writer, and the cached export the llama.cpp engine serves.

``write_gguf`` writes an HF Llama (SmolLM2) or Qwen2 folder with a byte-level BPE tokenizer as one
GGUF file with the ``gguf`` package's ``GGUFWriter`` and quantizers (the package ships no HF
converter; llama.cpp's ``convert_hf_to_gguf.py`` is used instead when it is installed:
``CONVERT_HF_TO_GGUF`` or on PATH).  ``chefbot export --format gguf|ollama``
(``chefbot.serve.export``) and the llama.cpp engine (``llamacpp_engine.py``) both call it.

``cached_gguf`` is what the engine loads: base + adapter merged in full precision (fp32, never
into 4-bit weights), quantized once (q8_0 by default, q4_0 for 4 bits) and kept under
``model.cache_dir/gguf/`` in a file named by a fingerprint of the base weights, the adapter, the
tokenizer, the quantization and this writer's version, written atomically (a temporary file renamed
into place, under a lock so two processes never export the same model at once).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chefbot.config import ExperimentConfig
from chefbot.errors import ChefbotError
from chefbot.io import atomic_write_json
from chefbot.model import resolve_source
from chefbot.progress import console
from chefbot.stops import stop_token_ids
from chefbot.train.merge import merge_adapter

QUANTS = ("f32", "f16", "q8_0", "q4_0")
# Bump when write_gguf changes what it writes: cached exports of the old writer are then not reused.
WRITER_VERSION = 1
_FINGERPRINT_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
)


def _permute(w: Any, n_head: int) -> Any:
    """HF stores q/k rows rotate-half ordered; llama.cpp's LLAMA rope wants them interleaved
    (the same reshuffle as llama.cpp's converter; transformers' GGUF loader undoes it)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _pre_tokenizer_name(model_type: str, tokenizer: Any) -> str:
    # llama.cpp picks its pre-tokenizer regex by this name; these are the names its converter
    # writes for Qwen2 and SmolLM tokenizers.
    if model_type == "qwen2":
        return "qwen2"
    if tokenizer.convert_tokens_to_ids("<|im_start|>") == 1 and len(tokenizer) == 49152:
        return "smollm"
    return "gpt-2"


def _tensor_type(name: str, shape: tuple, quant: str, gguf: Any) -> Any:
    Q = gguf.GGMLQuantizationType
    if len(shape) < 2 or quant == "f32":
        return Q.F32  # norms and biases stay exact (llama.cpp does the same)
    want = {"f16": Q.F16, "q8_0": Q.Q8_0, "q4_0": Q.Q4_0}[quant]
    if quant == "q4_0" and name in ("token_embd.weight", "output.weight"):
        want = Q.Q8_0  # as llama.cpp's mixtures do: the vocabulary matrices lose most at 4 bits
    block = gguf.GGML_QUANT_SIZES[want][0]
    if shape[-1] % block:
        return Q.F16  # rows that do not split into quant blocks
    return want


FILE_TYPES = {"f32": 0, "f16": 1, "q8_0": 7, "q4_0": 2}  # llama.cpp's LLAMA_FTYPE_* numbers


def write_gguf(model_dir: Path, out_file: Path, quant: str = "q8_0") -> Path:
    """Write ``model_dir`` (an HF Llama/Qwen2 folder) as one GGUF file."""
    if quant not in QUANTS:
        raise ChefbotError(f"--quant {quant!r}: choose one of {', '.join(QUANTS)}")
    converter = os.environ.get("CONVERT_HF_TO_GGUF") or shutil.which("convert_hf_to_gguf.py")
    if converter:
        return _llama_cpp_convert(converter, model_dir, out_file, quant)

    import gguf
    import numpy as np
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(model_dir)
    arches = {"llama": gguf.MODEL_ARCH.LLAMA, "qwen2": gguf.MODEL_ARCH.QWEN2}
    if config.model_type not in arches:
        raise ChefbotError(
            f"{model_dir}: GGUF export supports {', '.join(arches)} models, not {config.model_type!r}; "
            "install llama.cpp and set CONVERT_HF_TO_GGUF=/path/to/convert_hf_to_gguf.py"
        )
    rope = dict(getattr(config, "rope_parameters", None) or {})
    if rope.get("rope_type", "default") != "default":
        raise ChefbotError(
            f"{model_dir}: rope scaling {rope.get('rope_type')!r} is not supported by chefbot's GGUF writer"
        )
    tok_json = model_dir / "tokenizer.json"
    if not tok_json.exists() or json.loads(tok_json.read_text(encoding="utf-8"))["model"]["type"] != "BPE":
        raise ChefbotError(f"{model_dir}: GGUF export needs a byte-level BPE tokenizer.json (Qwen2, SmolLM2)")

    arch = arches[config.model_type]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    n_head, n_kv = config.num_attention_heads, config.num_key_value_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_head

    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(f".{out_file.name}.{os.getpid()}.tmp")
    w = gguf.GGUFWriter(str(tmp), gguf.MODEL_ARCH_NAMES[arch])
    w.add_name(model_dir.name)
    w.add_context_length(config.max_position_embeddings)
    w.add_embedding_length(config.hidden_size)
    w.add_block_count(config.num_hidden_layers)
    w.add_feed_forward_length(config.intermediate_size)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    w.add_layer_norm_rms_eps(config.rms_norm_eps)
    w.add_rope_dimension_count(head_dim)
    if head_dim != config.hidden_size // n_head:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_vocab_size(config.vocab_size)
    w.add_file_type(FILE_TYPES[quant])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    # Tokenizer: every id in order; ids the tokenizer lacks (vocab padding) become [PADn].
    T = gguf.TokenType
    reverse = {i: t for t, i in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for i in range(config.vocab_size):
        if i in added:
            tokens.append(added[i].content)
            types.append(T.CONTROL if added[i].special else T.USER_DEFINED)
        elif i in reverse:
            tokens.append(reverse[i])
            types.append(T.NORMAL)
        else:
            tokens.append(f"[PAD{i}]")
            types.append(T.UNUSED)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(_pre_tokenizer_name(config.model_type, tokenizer))
    w.add_token_list(tokens)
    w.add_token_types(types)
    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=len(tokens))
    special.add_to_gguf(w)  # merges, bos/eos/pad ids, add_bos flag, chat template
    eot = _end_of_turn_id(tokenizer)
    if eot is not None:
        w.add_eot_token_id(eot)

    tmap = gguf.get_tensor_name_map(arch, config.num_hidden_layers)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and tied:
            continue  # no output.weight: readers (llama.cpp, transformers) then tie it to token_embd
        new = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise ChefbotError(f"{model_dir}: no GGUF name for tensor {name!r}")
        data = tensor.detach().to(torch.float32).numpy()
        if arch == gguf.MODEL_ARCH.LLAMA and name.endswith(("q_proj.weight", "k_proj.weight")):
            data = _permute(data, n_head if "q_proj" in name else n_kv)
        qtype = _tensor_type(new, data.shape, quant, gguf)
        if qtype == gguf.GGMLQuantizationType.F32:
            w.add_tensor(new, np.ascontiguousarray(data, dtype=np.float32))
        elif qtype == gguf.GGMLQuantizationType.F16:
            w.add_tensor(new, np.ascontiguousarray(data, dtype=np.float16))
        else:
            w.add_tensor(new, gguf.quants.quantize(np.ascontiguousarray(data), qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, out_file)  # a killed export never leaves a complete-looking file
    return out_file


def _llama_cpp_convert(script: str, model_dir: Path, out_file: Path, quant: str) -> Path:
    outtype = {"f32": "f32", "f16": "f16", "q8_0": "q8_0", "q4_0": None}[quant]
    if outtype is None:
        raise ChefbotError(
            "llama.cpp's converter writes f32/f16/q8_0; for q4_0 unset CONVERT_HF_TO_GGUF "
            "(chefbot's writer) or run llama-quantize on its output"
        )
    tmp = out_file.with_name(f".{out_file.name}.{os.getpid()}.tmp")
    cmd = ["python3", script, str(model_dir), "--outfile", str(tmp), "--outtype", outtype]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise ChefbotError(
            f"{script} failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}"
        )
    os.replace(tmp, out_file)
    return out_file


def _end_of_turn_id(tokenizer: Any) -> int | None:
    ids = stop_token_ids(tokenizer)
    return ids[0] if ids else None


# ---------------------------------------------------------------------------------------------
# the cached export the llama.cpp engine serves
# ---------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _folder_digest(folder: Path, h: Any) -> None:
    """Every weight file and the model/tokenizer files of an HF folder, by content."""
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and (p.suffix in (".safetensors", ".bin") or p.name in _FINGERPRINT_FILES)
    )
    if not any(p.suffix in (".safetensors", ".bin") for p in files):
        raise ChefbotError(f"{folder}: no weights (*.safetensors or *.bin) to export to GGUF")
    for p in files:
        h.update(f"{p.name}:{_sha256(p)}\n".encode())


def gguf_fingerprint(cfg: ExperimentConfig, adapter: str | None, quant: str) -> str:
    """What decides the GGUF's bytes: base weights and tokenizer (content), adapter (content), quant, writer."""
    src = resolve_source(cfg.model)
    if not src.local:
        raise ChefbotError(
            f"engine llamacpp needs local weights; {src.path!r} is a hub id "
            "(run once online to cache it, or give model.name_or_path=/path/to/folder)"
        )
    h = hashlib.sha256(f"writer {WRITER_VERSION} quant {quant} tokenizer {cfg.model.tokenizer}\n".encode())
    _folder_digest(Path(src.path), h)
    if adapter:
        folder = Path(adapter)
        if not (folder / "adapter_config.json").is_file():
            raise ChefbotError(f"--adapter {adapter}: no adapter_config.json in that folder")
        h.update(b"adapter\n")
        for p in sorted(folder.iterdir()):
            if p.is_file() and (p.name.startswith("adapter_") or p.name in _FINGERPRINT_FILES):
                h.update(f"{p.name}:{_sha256(p)}\n".encode())
    return h.hexdigest()


def gguf_source_folder(cfg: ExperimentConfig, adapter: str | None, work: Path) -> Path:
    """A plain HF folder with the weights to convert: base + adapter merged in fp32 (checked against the
    unmerged model by ``merge_adapter``), or the base's own local folder."""
    if adapter:
        folder = work / "merged"
        merge_adapter(cfg, adapter, folder, dtype="fp32")
        return folder
    src = resolve_source(cfg.model)
    if not src.local:
        raise ChefbotError(f"export needs local weights; {src.path!r} is a hub id (run once online, or give a folder)")
    return Path(src.path)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def cached_gguf(cfg: ExperimentConfig, adapter: str | None, quant: str = "q8_0", cache_dir: Path | None = None) -> Path:
    """The GGUF of base + adapter at ``quant``: exported once, then reused while nothing it is made of changes."""
    if quant not in QUANTS:
        raise ChefbotError(f"GGUF quantization {quant!r}: choose one of {', '.join(QUANTS)}")
    fp = gguf_fingerprint(cfg, adapter, quant)
    folder = Path(cache_dir or Path(cfg.model.cache_dir) / "gguf")
    out = folder / f"model-{quant}-{fp[:16]}.gguf"
    if out.is_file():
        return out
    with _file_lock(folder / f".{out.name}.lock"):
        if out.is_file():  # another process finished it while we waited
            return out
        console.print(
            f"Exporting {cfg.model.name_or_path}{' + ' + str(adapter) if adapter else ''} to GGUF ({quant}) once: {out}"
        )
        with tempfile.TemporaryDirectory(prefix="chefbot-gguf-", dir=folder) as work:
            write_gguf(gguf_source_folder(cfg, adapter, Path(work)), out, quant)
        atomic_write_json(
            out.with_suffix(".json"),
            {
                "base": cfg.model.name_or_path,
                "adapter": adapter,
                "quant": quant,
                "fingerprint": fp,
                "writer_version": WRITER_VERSION,
            },
        )
    return out
