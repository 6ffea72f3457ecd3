"""``chefbot export``: the tuned model as files other tools run.

* ``merged``: bf16 safetensors + tokenizer + chat template + a generation_config that
  stops on every stop id (``chefbot.train.merge.merge_adapter``; loadable by transformers
  and vLLM).  Without an adapter the base model is written the same way.
* ``gguf``: a GGUF file for llama.cpp / Ollama / LM Studio, f32, f16, q8_0 or q4_0.
* ``ollama``: the GGUF plus a ``Modelfile`` whose TEMPLATE is derived from the
  tokenizer's own chat template and with one ``PARAMETER stop`` per stop token
  (exports that omit them babble or never stop: unsloth #3899, ollama #6823).

Every format keeps the prompt the model was trained with (``trained_prompt``): the Modelfile's
SYSTEM is the config's ``prompt.system`` (folded into the first user turn when training folded it),
and the chat template written into the merged folder and the GGUF puts the same system prompt in
front of a conversation that brings none (``exported_chat_template``), instead of the template's
own default ("You are a helpful AI assistant named SmolLM...", "You are Qwen..."), which the
adapter never saw (the bug class of unsloth #3899, LlamaFactory #6320, ollama #6823).  The
export's README.md says which system prompt it carries.

The GGUF writer itself is ``chefbot.generate.gguf.write_gguf`` (the llama.cpp engine uses it
too; the ``gguf`` PyPI package has the writer and quantizers but no HF converter): Llama, e.g.
SmolLM2, and Qwen2 models with byte-level BPE tokenizers, or llama.cpp's
``convert_hf_to_gguf.py`` when it is installed.  Here are the formats around it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chefbot.chat import adapt_to_template, fixed_system_prompt
from chefbot.config import GenerationConfig, PromptConfig
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
    "TrainedPrompt",
    "export",
    "export_merged",
    "exported_chat_template",
    "modelfile_text",
    "render_with_pieces",
    "smoke_test",
    "template_pieces",
    "trained_prompt",
    "write_gguf",
]
FORMATS = ("merged", "gguf", "ollama")


# ---------------------------------------------------------------------------------------------
# the trained prompt
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainedPrompt:
    """What training put in front of every request: ``system`` (``prompt.system``; None: no system
    turn, so the template's own default, if it has one, is what training rendered) and ``fold``
    (True: it went into the first user turn, ``chefbot.chat.fold_system``)."""

    system: str | None
    fold: bool


def trained_prompt(prompt: PromptConfig, tokenizer: Any) -> TrainedPrompt:
    """The system prompt as training builds it (``chefbot.chat.request_messages``) and the fold decision
    as training takes it (``adapt_to_template`` with ``prompt.fold_system``) for this tokenizer."""
    system = fixed_system_prompt(prompt)
    if system is None and not prompt.system:
        return TrainedPrompt(system=None, fold=False)
    if system is None:
        raise ChefbotError(
            "prompt.system uses {ner} or {title}: every training request had its own system prompt, which a "
            "fixed Modelfile SYSTEM or chat template cannot repeat; export with a prompt.system without placeholders"
        )
    probe = [{"role": "system", "content": system}, {"role": "user", "content": "x"}]
    folded = adapt_to_template(probe, tokenizer, prompt.fold_system)[0]["role"] != "system"
    return TrainedPrompt(system=system, fold=folded)


def _jinja_literal(text: str) -> str:
    # A JSON string is a valid Jinja string literal (jinja2 and llama.cpp's minja read its escapes).
    return json.dumps(text)


def exported_chat_template(tokenizer: Any, trained: TrainedPrompt) -> str | None:
    """The tokenizer's chat template with the trained system prompt in front of a conversation that has
    none (and folded into the first user turn when training folded it), so llama.cpp, vLLM and
    transformers users of the export render what training rendered.  Unchanged when training used no
    system prompt; None when the tokenizer has no template."""
    template = tokenizer.chat_template
    if template is None or trained.system is None:
        return template
    if not isinstance(template, str):
        raise ChefbotError("the tokenizer has several named chat templates; export supports one template")
    sys = _jinja_literal(trained.system)
    prelude = (
        "{%- if not messages or messages[0]['role'] != 'system' %}"
        f"{{%- set messages = [{{'role': 'system', 'content': {sys}}}] + messages %}}"
        "{%- endif %}"
    )
    if trained.fold:  # chefbot.chat.fold_system, in Jinja
        prelude += (
            "{%- set chefbot = namespace(system=messages[0]['content'], out=[]) %}"
            "{%- for m in messages[1:] %}"
            "{%- if chefbot.system is not none and m['role'] == 'user' %}"
            "{%- set chefbot.out = chefbot.out + [{'role': 'user', 'content': chefbot.system + '\\n\\n' + m['content']}] %}"
            "{%- set chefbot.system = none %}"
            "{%- else %}{%- set chefbot.out = chefbot.out + [m] %}{%- endif %}"
            "{%- endfor %}"
            "{%- if chefbot.system is not none %}"
            "{%- set chefbot.out = [{'role': 'user', 'content': chefbot.system}] + chefbot.out %}"
            "{%- endif %}"
            "{%- set messages = chefbot.out %}"
        )
    return prelude + template


def _with_chat_template(src: Path, template: str | None, work: Path) -> Path:
    """``src`` as a folder whose tokenizer carries ``template``: the tokenizer files written anew,
    every other file a link to ``src``'s (nothing in ``src`` is changed; the weights are not copied)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(src)
    if tokenizer.chat_template == template:
        return src
    staged = work / "with-trained-prompt" / src.name
    staged.mkdir(parents=True)
    tokenizer.chat_template = template
    tokenizer.save_pretrained(staged)
    for f in src.iterdir():
        if not (staged / f.name).exists() and f.name != "chat_template.json":
            (staged / f.name).symlink_to(f.resolve())
    return staged


def _set_chat_template(folder: Path, template: str | None) -> None:
    """Rewrite the tokenizer files of an export folder with ``template`` (each file written to a temporary
    folder beside it and renamed over the old one)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.chat_template == template:
        return
    tokenizer.chat_template = template
    with tempfile.TemporaryDirectory(prefix=".chat-template-", dir=folder) as tmp:
        tokenizer.save_pretrained(tmp)
        for f in Path(tmp).iterdir():
            os.replace(f, folder / f.name)
    stale = folder / "chat_template.json"  # an older transformers' file would shadow chat_template.jinja
    if stale.exists() and (folder / "chat_template.jinja").exists():
        stale.unlink()


def readme_text(fmt: str, trained: TrainedPrompt, template: TemplatePieces | None = None) -> str:
    """The export's README.md: which system prompt the export carries, and why."""
    how = {
        "merged": "The chat template (chat_template.jinja) puts it in front of every conversation that brings no "
        "system message; transformers and vLLM render it.",
        "gguf": "The GGUF's chat template (tokenizer.chat_template) puts it in front of every conversation that "
        "brings no system message; llama.cpp and LM Studio render it.",
        "ollama": "It is the Modelfile's SYSTEM; Ollama puts it in front of every conversation that brings no "
        "system message. The GGUF's own chat template does the same for llama.cpp.",
    }[fmt]
    lines = ["# chefbot export", "", f"Format: {fmt}.", ""]
    if trained.system is None:
        default = template.default_system if template is not None else None
        lines += [
            "The model was trained without a system prompt (prompt.system: null): every training conversation "
            "was rendered by the chat template as it is"
            + (f", which adds its default system prompt:\n\n    {default}" if default else "")
            + ".",
        ]
    else:
        lines += [
            "The model was trained with this system prompt (the config's prompt.system):",
            "",
            *("    " + line for line in trained.system.splitlines()),
            "",
            how,
        ]
        if trained.fold:
            lines += [
                "",
                "As in training (prompt.fold_system), the system prompt is not a turn of its own: it opens the "
                "first user message, followed by a blank line.",
            ]
    lines += [
        "",
        "A system message of your own replaces it; the model never saw other system prompts while it was "
        "trained, so its answers may then be worse.",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# merged
# ---------------------------------------------------------------------------------------------


def export_merged(cfg: Any, adapter: str | None, out: Path) -> dict:
    """A standalone bf16 model folder (never 4-bit: merging into 4-bit loses the tuning), whose chat
    template carries the trained system prompt (``exported_chat_template``)."""
    if adapter:
        info = dict(merge_adapter(cfg, adapter, out) or {})
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(out)
        trained = trained_prompt(cfg.prompt, tok)
        _set_chat_template(out, exported_chat_template(tok, trained))
        atomic_write_text(out / "README.md", readme_text("merged", trained, _pieces_or_none(tok)))
        return {**info, "system_prompt": trained.system, "fold_system": trained.fold}
    import torch

    tok = load_tokenizer(cfg.model)
    trained = trained_prompt(cfg.prompt, tok)
    pieces = _pieces_or_none(tok)
    model = load_model(cfg, dtype=torch.bfloat16, quantize=False)
    model.generation_config = generation_config_for(tok, model)
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        _set_chat_template(tmp, exported_chat_template(tok, trained))
        atomic_write_text(tmp / "README.md", readme_text("merged", trained, pieces))
    return {
        "merged": False,
        "stop_token_ids": list(model.generation_config.eos_token_id),
        "system_prompt": trained.system,
        "fold_system": trained.fold,
    }


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


def _pieces_or_none(tokenizer: Any) -> TemplatePieces | None:
    try:
        return template_pieces(tokenizer)
    except ChefbotError:  # only the README's mention of the template's default needs them
        return None


def modelfile_system(p: TemplatePieces, trained: TrainedPrompt) -> str | None:
    """The Modelfile's SYSTEM: the trained system prompt; without one, the template's own default,
    which is what training rendered then (the template adds it to a conversation without a system turn)."""
    return trained.system if trained.system is not None else p.default_system


def render_with_pieces(p: TemplatePieces, messages: list[dict], trained: TrainedPrompt) -> str:
    """What Ollama renders with ``modelfile_text``'s Modelfile: the server puts SYSTEM first when the
    conversation does not start with a system message, then the template sees the messages with
    consecutive same-role ones joined by a blank line and ``.System`` = all system texts joined the same
    way (ollama server/routes.go ChatHandler, template/template.go collate)."""
    msgs = [dict(m) for m in messages]
    system = modelfile_system(p, trained)
    if system is not None and (not msgs or msgs[0]["role"] != "system"):
        msgs = [{"role": "system", "content": system}] + msgs
    collated: list[dict] = []
    for m in msgs:
        if collated and collated[-1]["role"] == m["role"]:
            collated[-1]["content"] += "\n\n" + m["content"]
        else:
            collated.append(m)
    if not trained.fold:
        turns = "".join(p.prefix[m["role"]] + m["content"] + p.end for m in collated)
        return p.bos + turns + p.prefix["assistant"]
    pending = "\n\n".join(m["content"] for m in msgs if m["role"] == "system")
    text = p.bos + _default_turn(p)
    for m in collated:
        if m["role"] == "user":
            text += p.prefix["user"] + (pending + "\n\n" if pending else "") + m["content"] + p.end
            pending = ""
        elif m["role"] == "assistant":
            text += p.prefix["assistant"] + m["content"] + p.end
    return text + p.prefix["assistant"]


def _default_turn(p: TemplatePieces) -> str:
    """The template's default system turn, written as it is (folded training rendered it before the user turn)."""
    return "" if p.default_system is None else p.prefix["system"] + p.default_system + p.end


def _go_literal(text: str) -> str:
    if "{{" in text or '"""' in text:
        raise ChefbotError("chat template pieces contain '{{' or '\"\"\"'; write the Ollama TEMPLATE by hand")
    return text


def modelfile_text(gguf_name: str, tokenizer: Any, stop_tokens: list[str], gen: Any, trained: TrainedPrompt) -> str:
    """The Modelfile: TEMPLATE from the tokenizer's own chat template, SYSTEM the trained system prompt
    (``modelfile_system``), folded into the first user turn when training folded it."""
    p = template_pieces(tokenizer)
    role = "{{ .Content }}" + _go_literal(p.end)
    if not trained.fold:
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
    else:  # chefbot.chat.fold_system: .System (SYSTEM or the request's own) opens the first user turn
        template = (
            "{{- $system := .System }}"
            + _go_literal(p.bos + _default_turn(p))
            + "{{ range .Messages }}"
            + '{{ if eq .Role "user" }}'
            + _go_literal(p.prefix["user"])
            + '{{ if $system }}{{ $system }}\n\n{{ $system = "" }}{{ end }}'
            + role
            + '{{ else if eq .Role "assistant" }}'
            + _go_literal(p.prefix["assistant"])
            + role
            + "{{ end }}{{ end }}"
            + _go_literal(p.prefix["assistant"])
        )
    system = modelfile_system(p, trained)
    lines = [
        "# Written by `chefbot export --format ollama`; run: ollama create chefbot -f Modelfile",
        f"FROM ./{gguf_name}",
        f'TEMPLATE """{template}"""',
    ]
    if system is not None:
        lines.append(f'SYSTEM """{_go_literal(system)}"""')
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
        trained = trained_prompt(cfg.prompt, tokenizer)
        stops = tokenizer.convert_ids_to_tokens(stop_token_ids(tokenizer, AutoConfig.from_pretrained(src)))
        name = f"model-{quant}.gguf"
        staged = _with_chat_template(src, exported_chat_template(tokenizer, trained), Path(work))
        with atomic_dir(out) as tmp:
            write_gguf(staged, tmp / name, quant)
            files = [name]
            if fmt == "ollama":
                gen = cfg.engine.generation
                atomic_write_text(tmp / "Modelfile", modelfile_text(name, tokenizer, stops, gen, trained))
                files.append("Modelfile")
            atomic_write_text(tmp / "README.md", readme_text(fmt, trained, _pieces_or_none(tokenizer)))
            files.append("README.md")
    return {
        "format": fmt,
        "out": str(out),
        "files": files,
        "quant": quant,
        "stop_tokens": stops,
        "system_prompt": trained.system,
        "fold_system": trained.fold,
    }


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
