"""``chefbot export``: the tuned model as files other tools run.

* ``merged``: bf16 safetensors + tokenizer + chat template + a generation_config that
  stops on every stop id (``chefbot.train.merge.merge_adapter``; loadable by transformers
  and vLLM).  Without an adapter the base model is written the same way.
* ``gguf``: a GGUF file for llama.cpp / Ollama / LM Studio, f32, f16, q8_0 or q4_0.
* ``ollama``: the GGUF plus a ``Modelfile`` whose TEMPLATE is derived from the
  tokenizer's own chat template and with one ``PARAMETER stop`` per stop token
  (exports that omit them babble or never stop: unsloth #3899, ollama #6823).

Why a GGUF writer here: the ``gguf`` PyPI package (0.19) has the writer, the tensor-name
map and the quantizers, but not llama.cpp's ``convert_hf_to_gguf.py`` (that script lives
only in the llama.cpp repository and needs its checkout).  When it is installed
(``CONVERT_HF_TO_GGUF`` env var or on PATH) we use it; otherwise this module writes the
file itself with ``gguf.GGUFWriter`` for the two architectures chefbot trains (Llama,
e.g. SmolLM2, and Qwen2), with byte-level BPE tokenizers.  Anything else is a clear error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chefbot.config import GenerationConfig
from chefbot.errors import ChefbotError
from chefbot.generate import LocalGenerator
from chefbot.io import atomic_dir, atomic_write_text
from chefbot.model import load_model, load_tokenizer, resolve_source
from chefbot.stops import generation_config_for, stop_token_ids
from chefbot.train.merge import merge_adapter

QUANTS = ("f32", "f16", "q8_0", "q4_0")
FORMATS = ("merged", "gguf", "ollama")


# ---------------------------------------------------------------------------------------------
# merged
# ---------------------------------------------------------------------------------------------


def export_merged(cfg: Any, adapter: str | None, out: Path) -> dict:
    """A standalone bf16 model folder (never 4-bit: merging into 4-bit loses the tuning)."""
    if adapter:
        return dict(merge_adapter(cfg, adapter, out) or {})
    import torch

    tok = load_tokenizer(cfg.model)
    model = load_model(cfg, dtype=torch.bfloat16, quantize=False)
    model.generation_config = generation_config_for(tok, model)
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
    return {"merged": False, "stop_token_ids": list(model.generation_config.eos_token_id)}


def _source_folder(cfg: Any, adapter: str | None, work: Path) -> Path:
    """A plain HF folder with the weights to convert: merged when there is an adapter."""
    if adapter:
        folder = work / "merged"
        export_merged(cfg, adapter, folder)
        return folder
    src = resolve_source(cfg.model)
    if not src.local:
        raise ChefbotError(f"export needs local weights; {src.path!r} is a hub id (run once online, or give a folder)")
    return Path(src.path)


# ---------------------------------------------------------------------------------------------
# GGUF
# ---------------------------------------------------------------------------------------------


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
        raise ChefbotError(f"{model_dir}: GGUF export supports {', '.join(arches)} models, not {config.model_type!r}; "
                           "install llama.cpp and set CONVERT_HF_TO_GGUF=/path/to/convert_hf_to_gguf.py")
    rope = dict(getattr(config, "rope_parameters", None) or {})
    if rope.get("rope_type", "default") != "default":
        raise ChefbotError(f"{model_dir}: rope scaling {rope.get('rope_type')!r} is not supported by chefbot's GGUF writer")
    tok_json = model_dir / "tokenizer.json"
    if not tok_json.exists() or json.loads(tok_json.read_text(encoding="utf-8"))["model"]["type"] != "BPE":
        raise ChefbotError(f"{model_dir}: GGUF export needs a byte-level BPE tokenizer.json (Qwen2, SmolLM2)")

    arch = arches[config.model_type]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    n_head, n_kv = config.num_attention_heads, config.num_key_value_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_head

    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(f".{out_file.name}.tmp")
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
        raise ChefbotError("llama.cpp's converter writes f32/f16/q8_0; for q4_0 unset CONVERT_HF_TO_GGUF "
                           "(chefbot's writer) or run llama-quantize on its output")
    tmp = out_file.with_name(f".{out_file.name}.tmp")
    cmd = ["python3", script, str(model_dir), "--outfile", str(tmp), "--outtype", outtype]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise ChefbotError(f"{script} failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
    os.replace(tmp, out_file)
    return out_file


def _end_of_turn_id(tokenizer: Any) -> int | None:
    ids = stop_token_ids(tokenizer)
    return ids[0] if ids else None


# ---------------------------------------------------------------------------------------------
# Ollama
# ---------------------------------------------------------------------------------------------


@dataclass
class TemplatePieces:
    """The chat template as literal pieces: turn = prefix[role] + content + end."""

    prefix: dict[str, str]
    end: str
    default_system: str | None
    bos: str = ""


def template_pieces(tokenizer: Any) -> TemplatePieces:
    """Read the pieces off the tokenizer's own template by rendering probe conversations."""
    S, U, A, V = "\x01SYS\x01", "\x01USR\x01", "\x01AST\x01", "\x01USR2\x01"
    probe = [{"role": "system", "content": S}, {"role": "user", "content": U},
             {"role": "assistant", "content": A}, {"role": "user", "content": V}]
    try:
        text = tokenizer.apply_chat_template(probe, tokenize=False, add_generation_prompt=True)
    except Exception as e:
        raise ChefbotError(f"cannot render the tokenizer's chat template: {e}") from None
    parts = []
    rest = text
    for marker in (S, U, A, V):
        if marker not in rest:
            raise ChefbotError("the chat template drops or reorders messages; write the Ollama TEMPLATE by hand")
        before, rest = rest.split(marker, 1)
        parts.append(before)
    parts.append(rest)
    p0, p1, p2, p3, p4 = parts
    bos = tokenizer.bos_token or ""
    # A document-start token (Llama 3's <|begin_of_text|>) comes once; SmolLM2 calls
    # <|im_start|> its bos, but that one opens every turn and belongs to the turn prefix.
    if bos and p0.startswith(bos) and bos not in p1:
        p0 = p0[len(bos):]
    else:
        bos = ""
    if "system" not in p0:
        raise ChefbotError("chat template without a recognisable system header; write the Ollama TEMPLATE by hand")
    pre = {r: p0.replace("system", r) for r in ("system", "user", "assistant")}
    if not p1.endswith(pre["user"]):
        raise ChefbotError("chat template is not of the prefix/content/end kind (ChatML-like); write TEMPLATE by hand")
    end = p1[: -len(pre["user"])]
    if (p2, p3, p4) != (end + pre["assistant"], end + pre["user"], end + pre["assistant"]):
        raise ChefbotError("chat template turns are not uniform; write the Ollama TEMPLATE by hand")
    only_user = tokenizer.apply_chat_template([{"role": "user", "content": U}], tokenize=False, add_generation_prompt=True)
    only_user = only_user[len(bos):] if bos and only_user.startswith(bos) else only_user
    default = None
    if only_user.startswith(pre["system"]):  # the template injects a system prompt of its own
        default = only_user[len(pre["system"]):].split(end, 1)[0]
    return TemplatePieces(prefix=pre, end=end, default_system=default, bos=bos)


def render_with_pieces(p: TemplatePieces, messages: list[dict]) -> str:
    """What Ollama renders with the Modelfile below (its SYSTEM goes first when no system message)."""
    msgs = list(messages)
    if p.default_system is not None and (not msgs or msgs[0]["role"] != "system"):
        msgs = [{"role": "system", "content": p.default_system}] + msgs
    return p.bos + "".join(p.prefix[m["role"]] + m["content"] + p.end for m in msgs) + p.prefix["assistant"]


def _go_literal(text: str) -> str:
    if "{{" in text or '"""' in text:
        raise ChefbotError("chat template pieces contain '{{' or '\"\"\"'; write the Ollama TEMPLATE by hand")
    return text


def modelfile_text(gguf_name: str, tokenizer: Any, stop_tokens: list[str], gen: Any) -> str:
    p = template_pieces(tokenizer)
    role = "{{ .Content }}" + _go_literal(p.end)
    template = (
        _go_literal(p.bos)
        + "{{- range .Messages }}"
        + "".join(
            ("{{ if " if i == 0 else "{{ else if ") + f'eq .Role "{r}" }}}}' + _go_literal(p.prefix[r]) + role
            for i, r in enumerate(("system", "user", "assistant"))
        )
        + "{{ end }}{{ end }}"
        + _go_literal(p.prefix["assistant"])
    )
    lines = ["# Written by `chefbot export --format ollama`; run: ollama create chefbot -f Modelfile",
             f"FROM ./{gguf_name}", f'TEMPLATE """{template}"""']
    if p.default_system is not None:
        lines.append(f'SYSTEM """{_go_literal(p.default_system)}"""')
    for s in stop_tokens:
        lines.append(f"PARAMETER stop {json.dumps(s)}")
    # Ollama's own defaults (temperature 0.8, repeat_penalty 1.1) would silently change the
    # answers, so every setting chefbot evaluated with is written out.
    sample = gen.do_sample and gen.temperature > 0
    lines += [f"PARAMETER temperature {gen.temperature if sample else 0}", f"PARAMETER top_p {gen.top_p if sample else 1.0}",
              f"PARAMETER top_k {gen.top_k if sample and gen.top_k else 0}", f"PARAMETER repeat_penalty {gen.repetition_penalty}",
              f"PARAMETER num_predict {gen.max_new_tokens}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------------------------


def export(cfg: Any, adapter: str | None, fmt: str, out: Path, quant: str = "q8_0") -> dict:
    if fmt not in FORMATS:
        raise ChefbotError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    out = Path(out)
    if fmt == "merged":
        info = export_merged(cfg, adapter, out)
        return {"format": fmt, "out": str(out), **info}
    from transformers import AutoConfig, AutoTokenizer

    with tempfile.TemporaryDirectory(prefix="chefbot-export-", dir=out.parent if out.parent.exists() else None) as work:
        src = _source_folder(cfg, adapter, Path(work))
        tokenizer = AutoTokenizer.from_pretrained(src)
        stops = tokenizer.convert_ids_to_tokens(stop_token_ids(tokenizer, AutoConfig.from_pretrained(src)))
        name = f"model-{quant}.gguf"
        with atomic_dir(out) as tmp:
            write_gguf(src, tmp / name, quant)
            files = [name]
            if fmt == "ollama":
                atomic_write_text(tmp / "Modelfile", modelfile_text(name, tokenizer, stops, cfg.eval.generation))
                files.append("Modelfile")
    return {"format": fmt, "out": str(out), "files": files, "quant": quant, "stop_tokens": stops}


SMOKE_PROMPT = "Give me a recipe with rice."


def smoke_test(out: Path, fmt: str, max_new_tokens: int = 48, prompt: str = SMOKE_PROMPT) -> dict:
    """Load an export back with transformers and check that greedy generation stops by itself
    (within ``max_new_tokens``: give a real recipe model its evaluation budget)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = Path(out)
    if fmt == "merged":
        kw: dict[str, Any] = {}
        path = out
    else:
        ggufs = sorted(out.glob("*.gguf"))
        if not ggufs:
            raise ChefbotError(f"{out}: no .gguf file to test")
        kw = {"gguf_file": ggufs[0].name}
        path = out
    tok = AutoTokenizer.from_pretrained(path, **kw)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **kw).eval()
    declared = model.generation_config.eos_token_id if fmt == "merged" else model.config.eos_token_id
    declared = [declared] if isinstance(declared, int) else list(declared or [])
    gen = LocalGenerator(model, tok, GenerationConfig(max_new_tokens=max_new_tokens))
    c = gen.generate([[{"role": "user", "content": prompt}]])[0]
    return {"declared_stop_ids": declared, "stop_ids": gen.stop_ids, "finish_reason": c.finish_reason,
            "completion_tokens": c.completion_tokens, "text": c.text,
            "stopped": c.finish_reason == "stop" and c.completion_tokens < max_new_tokens}
