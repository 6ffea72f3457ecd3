"""Packing and collation (pitfall 1: packed examples must not attend to each other)."""

from __future__ import annotations

import random

import pytest
import torch

from chefbot.data.collate import collate_packed, collate_padding_free, pack_lengths, packed_row
from chefbot.data.tokenize import IGNORE_INDEX


def test_pack_lengths_fits_and_uses_every_example():
    rng = random.Random(0)
    lengths = [rng.randint(5, 100) for _ in range(500)]
    rows = pack_lengths(lengths, 128)
    assert sorted(i for r in rows for i in r) == list(range(500))
    assert all(sum(lengths[i] for i in r) <= 128 for r in rows)
    assert sum(lengths) / (len(rows) * 128) > 0.95  # best-fit decreasing packs tightly
    with pytest.raises(ValueError):
        pack_lengths([129], 128)


def _examples():
    return [
        {"input_ids": [5, 6, 7, 8], "labels": [IGNORE_INDEX, IGNORE_INDEX, 7, 8]},
        {"input_ids": [9, 10, 11], "labels": [IGNORE_INDEX, 10, 11]},
    ]


def test_collate_packed_contract():
    rows = [packed_row(_examples()), packed_row(_examples()[:1])]
    b = collate_packed(rows)
    assert set(b) == {"input_ids", "labels", "position_ids"}  # no attention_mask: built from position_ids
    assert all(t.dtype == torch.long and t.shape == (2, 7) for t in b.values())
    assert b["position_ids"][0].tolist() == [0, 1, 2, 3, 0, 1, 2]
    assert b["position_ids"][1].tolist() == [0, 1, 2, 3, 0, 1, 2]  # tail padding restarts too
    assert b["labels"][1].tolist() == [IGNORE_INDEX, IGNORE_INDEX, 7, 8, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]


def test_collate_padding_free_concatenates():
    b = collate_padding_free(_examples())
    assert b["input_ids"].tolist() == [[5, 6, 7, 8, 9, 10, 11]]
    assert b["position_ids"].tolist() == [[0, 1, 2, 3, 0, 1, 2]]
    assert b["labels"].tolist() == [[IGNORE_INDEX, IGNORE_INDEX, 7, 8, IGNORE_INDEX, 10, 11]]


def _summed_loss(model, batch) -> torch.Tensor:
    # use_cache=False matters: with a cache object present transformers skips the packed-sequence mask
    logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits.float()
    labels = batch["labels"][:, 1:]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"
    )


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_loss_equals_unpacked(tiny_qwen_dir, qwen_tokenizer, attn):
    """Summed token cross-entropy of a packed row == the same examples run one by one."""
    from transformers import AutoModelForCausalLM

    from chefbot.config import PromptConfig
    from chefbot.data.tokenize import encode_example, messages_for, target_for
    from chefbot.recipe_format import Recipe

    model = AutoModelForCausalLM.from_pretrained(tiny_qwen_dir, dtype=torch.float32, attn_implementation=attn).eval()
    recipes = [
        Recipe(id="a", title="Corn", ingredients=["1 corn"], ner=["corn"], directions=["Boil it."]),
        Recipe(
            id="b",
            title="Toast With Butter",
            ingredients=["2 slices bread", "1 tbsp butter"],
            ner=["bread", "butter"],
            directions=["Toast.", "Spread butter."],
        ),
        Recipe(id="c", title="Tea", ingredients=["1 tea bag"], ner=["tea"], directions=["Steep 3 minutes."]),
    ]
    exs = [encode_example(messages_for(r, PromptConfig()), target_for(r), qwen_tokenizer, 512) for r in recipes]
    with torch.no_grad():
        alone = sum(_summed_loss(model, collate_packed([packed_row([e])])) for e in exs)
        packed = _summed_loss(
            model, collate_packed([packed_row(exs)], pad_to=sum(len(e["input_ids"]) for e in exs) + 7)
        )
        free = _summed_loss(model, collate_padding_free(exs))
        # what naive packing (no position restart) would give: examples see each other
        naive = collate_packed([packed_row(exs)])
        naive["position_ids"] = torch.arange(naive["input_ids"].shape[1])[None]
        leaked = _summed_loss(model, naive)
    torch.testing.assert_close(packed, alone, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(free, alone, atol=1e-4, rtol=1e-5)
    assert abs(leaked.item() - alone.item()) > 1e-3
