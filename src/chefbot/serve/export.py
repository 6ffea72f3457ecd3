"""``chefbot export``: the tuned model as files other tools run.

* ``merged``: bf16 safetensors + tokenizer + chat template + a generation_config that
  stops on every stop id (``chefbot.train.merge.merge_adapter``; loadable by transformers
  and vLLM).  Without an adapter the base model is written the same way.
* ``gguf``: a GGUF file for llama.cpp / Ollama / LM Studio, f32, f16, q8_0 or q4_0.
* ``ollama``: the GGUF plus a ``Modelfile`` whose TEMPLATE is derived from the
  tokenizer's own chat template and with one ``PARAMETER stop`` per stop token
  (exports that omit them babble or never stop: unsloth #3899, ollama #6823).

The GGUF writer itself is ``chefbot.generate.gguf.write_gguf`` (the llama.cpp engine uses it
too; the ``gguf`` PyPI package has the writer and quantizers but no HF converter): Llama, e.g.
SmolLM2, and Qwen2 models with byte-level BPE tokenizers, or llama.cpp's
``convert_hf_to_gguf.py`` when it is installed.  Here are the formats around it.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chefbot.config import GenerationConfig
from chefbot.errors import ChefbotError
from chefbot.generate import LocalGenerator
from chefbot.generate.gguf import QUANTS, gguf_source_folder, write_gguf
from chefbot.io import atomic_dir, atomic_write_text
from chefbot.model import load_model, load_tokenizer
from chefbot.stops import generation_config_for, stop_token_ids
from chefbot.train.merge import merge_adapter

__all__ = [
    "FORMATS",
    "QUANTS",
    "export",
    "export_merged",
    "modelfile_text",
    "render_with_pieces",
    "smoke_test",
    "template_pieces",
    "write_gguf",
]
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
    probe = [
        {"role": "system", "content": S},
        {"role": "user", "content": U},
        {"role": "assistant", "content": A},
        {"role": "user", "content": V},
    ]
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
        p0 = p0[len(bos) :]
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
    only_user = tokenizer.apply_chat_template(
        [{"role": "user", "content": U}], tokenize=False, add_generation_prompt=True
    )
    only_user = only_user[len(bos) :] if bos and only_user.startswith(bos) else only_user
    default = None
    if only_user.startswith(pre["system"]):  # the template injects a system prompt of its own
        default = only_user[len(pre["system"]) :].split(end, 1)[0]
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
    lines = [
        "# Written by `chefbot export --format ollama`; run: ollama create chefbot -f Modelfile",
        f"FROM ./{gguf_name}",
        f'TEMPLATE """{template}"""',
    ]
    if p.default_system is not None:
        lines.append(f'SYSTEM """{_go_literal(p.default_system)}"""')
    for s in stop_tokens:
        lines.append(f"PARAMETER stop {json.dumps(s)}")
    # Ollama's own defaults (temperature 0.8, repeat_penalty 1.1) would silently change the
    # answers, so every setting chefbot evaluated with is written out.
    sample = gen.do_sample and gen.temperature > 0
    lines += [
        f"PARAMETER temperature {gen.temperature if sample else 0}",
        f"PARAMETER top_p {gen.top_p if sample else 1.0}",
        f"PARAMETER top_k {gen.top_k if sample and gen.top_k else 0}",
        f"PARAMETER repeat_penalty {gen.repetition_penalty}",
        f"PARAMETER num_predict {gen.max_new_tokens}",
    ]
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
        src = gguf_source_folder(cfg, adapter, Path(work))
        tokenizer = AutoTokenizer.from_pretrained(src)
        stops = tokenizer.convert_ids_to_tokens(stop_token_ids(tokenizer, AutoConfig.from_pretrained(src)))
        name = f"model-{quant}.gguf"
        with atomic_dir(out) as tmp:
            write_gguf(src, tmp / name, quant)
            files = [name]
            if fmt == "ollama":
                atomic_write_text(tmp / "Modelfile", modelfile_text(name, tokenizer, stops, cfg.engine.generation))
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
    return {
        "declared_stop_ids": declared,
        "stop_ids": gen.stop_ids,
        "finish_reason": c.finish_reason,
        "completion_tokens": c.completion_tokens,
        "text": c.text,
        "stopped": c.finish_reason == "stop" and c.completion_tokens < max_new_tokens,
    }
