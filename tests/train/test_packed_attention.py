"""Per-example attention for packed/padding-free rows, and kept vs recomputed LM-head logits:
the fast CPU paths must give the loss and gradients of the masked SDPA path."""

from __future__ import annotations

import pytest
import torch

from chefbot.data.collate import collate_packed, packed_row
from chefbot.train import loss as loss_mod
from chefbot.train import packed_attention
from chefbot.train.loss import TargetTokenLoss


def _model(model_dir, seed=0):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    return get_peft_model(model, lora)


def _packed_batch(vocab: int, seed: int = 0) -> dict:
    """Two rows of 2 and 3 examples; the shorter row gets tail padding."""
    g = torch.Generator().manual_seed(seed)

    def ex(n, k):
        ids = torch.randint(10, min(vocab, 5000), (n,), generator=g).tolist()
        return {"input_ids": ids, "labels": [-100] * (n - k) + ids[n - k :]}

    rows = [packed_row([ex(30, 20), ex(25, 10)]), packed_row([ex(20, 15), ex(18, 9), ex(22, 12)])]
    return collate_packed(rows, pad_id=0)


def _loss_and_grads(model, batch):
    model.zero_grad()
    s, n = TargetTokenLoss(model)(**batch)
    (s / n).backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.requires_grad}
    return float(s.detach() / n), grads


@torch.no_grad()
def _hidden(model, batch, spans):
    decoder = model.get_base_model().get_decoder()
    return decoder(
        input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False, example_spans=spans
    ).last_hidden_state


def test_example_spans_follow_restarting_position_ids():
    pos = torch.tensor([[0, 1, 2, 0, 1, 0, 1, 2, 3, 0, 1], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])
    assert packed_attention.example_spans(pos) == [[(0, 3), (3, 5), (5, 9), (9, 11)], [(0, 11)]]
    assert packed_attention.example_spans(torch.tensor([[3, 4, 0, 1]])) == [[(0, 2), (2, 4)]]


def test_per_example_attention_matches_masked_sdpa(tiny_model_dir):
    model = _model(tiny_model_dir)
    batch = _packed_batch(model.config.vocab_size)
    assert batch["input_ids"].shape[0] == 2 and (batch["labels"][0] == -100).sum() > 0
    masked_loss, masked_grads = _loss_and_grads(model, batch)

    assert packed_attention.enable(model.get_base_model())
    assert packed_attention.is_enabled(model.get_base_model())
    loss, grads = _loss_and_grads(model, batch)
    assert loss == pytest.approx(masked_loss, rel=1e-5)
    for k in grads:
        assert torch.allclose(grads[k], masked_grads[k], atol=1e-6, rtol=1e-4), k

    # Power: the spans decide what attends to what (one span per row lets examples see each other).
    length = batch["input_ids"].shape[1]
    right = _hidden(model, batch, packed_attention.example_spans(batch["position_ids"]))
    wrong = _hidden(model, batch, [[(0, length)], [(0, length)]])
    assert torch.allclose(right[:, :20], wrong[:, :20], atol=1e-5)  # the first example sees nothing else either way
    assert (right[0, 30:55] - wrong[0, 30:55]).abs().max() > 1e-2  # the second one must not see the first


def test_without_spans_it_is_plain_sdpa(tiny_model_dir):
    """Generation and plain forwards (left padding, attention_mask) take transformers' own SDPA."""
    model = _model(tiny_model_dir).get_base_model()
    ids = torch.randint(10, 500, (2, 12))
    mask = torch.ones_like(ids)
    mask[1, :4] = 0
    with torch.no_grad():
        before = model(input_ids=ids, attention_mask=mask).logits
        packed_attention.enable(model)
        after = model(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(before[mask.bool()], after[mask.bool()], atol=1e-5)


def test_enable_leaves_other_implementations_alone(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation="eager")
    assert not packed_attention.enable(model)
    assert model.config._attn_implementation == "eager"


def test_kept_logits_equal_recomputed_logits(tiny_model_dir, monkeypatch):
    model = _model(tiny_model_dir)
    batch = _packed_batch(model.config.vocab_size, seed=1)
    monkeypatch.setattr(loss_mod, "KEEP_LOGITS_BYTES", 0)  # every chunk recomputed in the backward pass
    assert TargetTokenLoss(model)._recompute_head(10, 100, torch.device("cpu"))
    recomputed, g_re = _loss_and_grads(model, batch)
    monkeypatch.setattr(loss_mod, "KEEP_LOGITS_BYTES", 1 << 40)
    assert not TargetTokenLoss(model)._recompute_head(10, 100, torch.device("cpu"))
    assert TargetTokenLoss(model)._recompute_head(10, 100, torch.device("cuda", 0))
    kept, g_keep = _loss_and_grads(model, batch)
    assert kept == pytest.approx(recomputed, rel=1e-6)
    for k in g_keep:
        assert torch.allclose(g_keep[k], g_re[k], atol=1e-7, rtol=1e-5), k
