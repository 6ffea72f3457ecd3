"""The token ids generation must stop on.

Model files disagree about the end of a turn: Qwen2.5's config.json names
``<|endoftext|>`` (151643) while its tokenizer's eos is ``<|im_end|>`` (151645)
(QwenLM/Qwen3 #927).  A model that only stops on one of them rambles on after its
answer, so generation, export and the saved generation_config use the union.
"""

from __future__ import annotations

from typing import Any

# End-of-turn markers of common chat templates; used only when the tokenizer has them
# as special tokens (a plain-text "</s>" inside a vocabulary must not stop anything).
END_OF_TURN_TOKENS = (
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|end_of_text|>",
    "<end_of_turn>",
    "<|end|>",
    "<|eom_id|>",
)


def _as_list(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value if v is not None]
    return [int(value)]


def stop_token_ids(tokenizer: Any, model_config: Any = None) -> list[int]:
    """The tokenizer's eos first, then the model config's eos ids and known end-of-turn tokens."""
    ids: list[int] = []
    ids += _as_list(getattr(tokenizer, "eos_token_id", None))
    if model_config is not None:
        ids += _as_list(getattr(model_config, "eos_token_id", None))
    special = set(getattr(tokenizer, "all_special_tokens", []) or [])
    added = getattr(tokenizer, "get_added_vocab", lambda: {})() or {}
    for tok in END_OF_TURN_TOKENS:
        if tok in special or tok in added:
            tid = tokenizer.convert_tokens_to_ids(tok)
            if isinstance(tid, int) and tid != getattr(tokenizer, "unk_token_id", None):
                ids.append(tid)
    seen: set[int] = set()
    return [i for i in ids if not (i in seen or seen.add(i))]


def generation_config_for(tokenizer: Any, model: Any = None) -> Any:
    """A transformers GenerationConfig that stops on every stop id (greedy unless asked otherwise)."""
    from transformers import GenerationConfig

    model_config = getattr(model, "config", None)
    stops = stop_token_ids(tokenizer, model_config)
    base = getattr(model, "generation_config", None)
    return GenerationConfig(
        eos_token_id=stops,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=getattr(base, "bos_token_id", None) if base is not None else tokenizer.bos_token_id,
        do_sample=False,
    )
