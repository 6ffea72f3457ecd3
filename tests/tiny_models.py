"""Shared by the test conftests: save a tiny test model the way chefbot expects one."""

from __future__ import annotations

from pathlib import Path


def save_with_stop_ids(model, tokenizer, folder: Path) -> Path:
    """Save model + tokenizer with a generation config naming both ChatML stop ids."""
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")],
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder
