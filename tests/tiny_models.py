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


def build_tiny_qwen(folder: Path, tokenizer, seed: int = 0, layers: int = 2, hidden: int = 64) -> Path:
    """A randomly initialised Qwen2 model with the real tokenizer, saved as a local model folder."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    return save_with_stop_ids(Qwen2ForCausalLM(config), tokenizer, folder)
