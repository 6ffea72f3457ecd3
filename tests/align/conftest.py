"""Fixtures for the align tests: the training tests' tiny model and synthetic recipes (tests/train/train_support.py),
and an SFT adapter on that model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))  # train_support: one home for the tiny model

from train_support import make_cfg, recipes_jsonl, synthetic_recipes, tiny_model_dir  # noqa: E402, F401

TINY_ALIGN = (
    "align.max_steps=4",
    "align.save_steps=2",
    "align.batch_size=2",
    "align.grad_accum=1",
    "align.max_length=128",
    "align.lr=5e-3",
    "align.logging_steps=1",
    "lora.target_modules=[q_proj,v_proj]",
)


def align_cfg(model_dir: Path, data: Path, out: Path, *overrides: str):
    return make_cfg(model_dir, data, out, *TINY_ALIGN, *overrides)


@pytest.fixture(scope="session")
def sft_adapter(tiny_model_dir, tmp_path_factory) -> Path:  # noqa: F811  (the fixture, as a parameter)
    """A LoRA adapter on the tiny model with non-zero weights (a stand-in for `chefbot train`'s output)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0))
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)  # B = 0 would make the adapter the base model
    folder = tmp_path_factory.mktemp("sft") / "adapter"
    peft.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(folder)
    return folder


def sample_pairs(n: int = 8) -> list[dict]:
    """Preference pairs from synthetic recipes: the recipe itself chosen, a two-line answer rejected."""
    from chefbot.recipe_format import Recipe

    out = []
    for r in synthetic_recipes(n, seed=3):
        rec = Recipe(**{k: r[k] for k in ("id", "title", "ingredients", "ner", "directions")})
        out.append(
            {
                "id": r["id"],
                "prompt": [{"role": "user", "content": "Include ingredients: " + ", ".join(r["ner"])}],
                "chosen": rec.render(),
                "rejected": f"# {r['title']}\n1. Mix.",
            }
        )
    return out
