"""Merge a LoRA adapter into a full-precision copy of the base, and prove it kept the tuning.

Merging into 4-bit weights rounds the small LoRA update away (peft #2321,
transformers #31293): the reference project's merged model scored like the untuned
base.  So the base is always loaded *unquantized* (bf16 by default, dequantized when
the training used NF4), the merged model is saved, reloaded from disk, and its logits
are compared with base+adapter (unmerged) on a few prompts.  The merge fails when
they differ by more than the tolerance, or when the adapter moved the logits but the
saved merged model did not follow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chefbot.chat import render_prompt, request_messages
from chefbot.config import ExperimentConfig
from chefbot.errors import ChefbotError
from chefbot.io import atomic_dir, atomic_write_json
from chefbot.model import load_model, load_tokenizer
from chefbot.stops import generation_config_for

CHECK_INGREDIENTS = [
    ["chicken", "garlic", "lemon", "thyme"],
    ["flour", "sugar", "butter", "eggs"],
    ["rice", "onion", "tomato", "peas"],
    ["potato", "leek", "cream"],
    ["beef", "carrot", "celery", "red wine"],
]
DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
# Largest allowed |merged - adapter| logit difference (fp32 compute): only the rounding of the
# saved W + BA to ``dtype`` remains (bf16 keeps 8 mantissa bits).
DEFAULT_TOLERANCE = {"bf16": 0.5, "fp16": 0.1, "fp32": 1e-3}


def check_inputs(cfg: ExperimentConfig, tokenizer: Any, n: int) -> list[list[int]]:
    """Token ids of a few recipe requests plus the start of an answer in our format."""
    out = []
    for ner in CHECK_INGREDIENTS[: max(1, n)]:
        text = render_prompt(request_messages(ner, cfg.prompt), tokenizer, cfg.prompt.fold_system)
        text += f"# {ner[0].capitalize()} dish\n\n## Ingredients\n- 1 cup {ner[0]}\n"
        out.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    return out


def _logits(model: Any, inputs: list[list[int]]) -> list[Any]:
    import torch

    device = next(model.parameters()).device
    with torch.no_grad():
        return [model(input_ids=torch.tensor([ids], device=device)).logits[0].float().cpu() for ids in inputs]


def _max_diff(a: list[Any], b: list[Any]) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def merge_adapter(
    cfg: ExperimentConfig,
    adapter_dir: str | Path,
    out_dir: str | Path,
    check_prompts: int = 3,
    dtype: str = "bf16",
    tolerance: float | None = None,
) -> dict:
    """Merge ``adapter_dir`` into an unquantized ``dtype`` copy of the base and save it to ``out_dir``."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter_dir, out_dir = Path(adapter_dir), Path(out_dir)
    if not (adapter_dir / "adapter_config.json").exists():
        raise ChefbotError(
            f"--adapter {adapter_dir}: no adapter_config.json in that folder (give the adapter folder of a training run, e.g. runs/<name>/adapter)"
        )
    if dtype not in DTYPES:
        raise ChefbotError(f"merge dtype {dtype!r}: expected one of {', '.join(DTYPES)} (never 4-bit)")
    tol = DEFAULT_TOLERANCE[dtype] if tolerance is None else tolerance
    torch_dtype = getattr(torch, DTYPES[dtype])
    tokenizer = (
        AutoTokenizer.from_pretrained(adapter_dir)
        if (adapter_dir / "tokenizer_config.json").exists()
        else load_tokenizer(cfg.model)
    )
    inputs = check_inputs(cfg, tokenizer, check_prompts)

    # Logits are compared in fp32 (bf16 *compute* noise through 30 layers is ~1 logit, as large as a
    # short fine-tune's effect); only the saved weights are cast to ``dtype``.  Never 4-bit.
    base = load_model(cfg, dtype=torch.float32, quantize=False)
    base.eval()
    base_logits = _logits(base, inputs)
    model = PeftModel.from_pretrained(base, str(adapter_dir))
    model.eval()
    adapter_logits = _logits(model, inputs)
    merged = model.merge_and_unload().to(torch_dtype)
    merged.config.dtype = torch_dtype
    with atomic_dir(out_dir) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        generation_config_for(tokenizer, merged).save_pretrained(tmp)
    del merged, model, base

    # Check what was written, not what is in memory: the file is what users load.
    reloaded = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32)  # the saved weights, upcast
    reloaded.eval()
    merged_logits = _logits(reloaded, inputs)
    result = {
        "adapter_dir": str(adapter_dir),
        "out_dir": str(out_dir),
        "dtype": dtype,
        "prompts": len(inputs),
        "positions": sum(len(x) for x in inputs),
        "max_abs_logit_diff": _max_diff(merged_logits, adapter_logits),
        "adapter_vs_base_max_abs_logit_diff": _max_diff(adapter_logits, base_logits),
        "merged_vs_base_max_abs_logit_diff": _max_diff(merged_logits, base_logits),
        "tolerance": tol,
        "stop_token_ids": list(generation_config_for(tokenizer, reloaded).eos_token_id),
    }
    atomic_write_json(out_dir / "merge_check.json", result)
    if result["max_abs_logit_diff"] > tol:
        raise ChefbotError(
            f"merged model {out_dir} differs from base+adapter by {result['max_abs_logit_diff']:.4g} logits "
            f"(tolerance {tol}); do not use it (try --dtype fp32)"
        )
    moved = result["adapter_vs_base_max_abs_logit_diff"]
    if moved > tol and result["merged_vs_base_max_abs_logit_diff"] < 0.5 * moved:
        raise ChefbotError(f"merged model {out_dir} lost the fine-tuning: it is as close to the base as to the adapter")
    return result
