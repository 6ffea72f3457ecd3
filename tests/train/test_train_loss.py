"""The target-token loss and gradient accumulation (pitfall 7)."""

from __future__ import annotations

import pytest
import torch

from chefbot.train.loss import TargetTokenLoss, count_targets


def _peft_model(model_dir, seed=0):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    # init_lora_weights=False: B is random too, so every LoRA weight gets a non-zero gradient.
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    return get_peft_model(model, lora)


def _examples(vocab: int, lengths_and_targets, seed=0):
    """Rows whose target-token counts differ a lot, so a mean of per-batch means is wrong."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for n, k in lengths_and_targets:
        ids = torch.randint(10, min(vocab, 5000), (n,), generator=g).tolist()
        labels = [-100] * (n - k) + ids[n - k :]
        rows.append({"input_ids": ids, "labels": labels, "position_ids": list(range(n))})
    return rows


def test_chunked_loss_matches_transformers(tiny_model_dir):
    from chefbot.data.collate import collate_padding_free

    model = _peft_model(tiny_model_dir)
    batch = collate_padding_free(_examples(model.config.vocab_size, [(40, 30), (25, 5)]))
    loss_sum, n = TargetTokenLoss(model, chunk_size=7)(**batch)
    # One example alone, scored by transformers' own (mean) loss, to pin the shift convention.
    single = _examples(model.config.vocab_size, [(40, 30)])[0]
    ids, lab = torch.tensor([single["input_ids"]]), torch.tensor([single["labels"]])
    ref = model(input_ids=ids, labels=lab).loss
    own, own_n = TargetTokenLoss(model, chunk_size=5)(ids, lab, torch.arange(40)[None])
    assert int(own_n) == count_targets(lab) == 30
    assert torch.allclose(own / own_n, ref, atol=1e-5)
    assert int(n) == 30 + 5  # targets sit at the ends of the examples, none is a first token
    assert torch.isfinite(loss_sum)


def _grads_after(model_dir, micro_batches):
    from accelerate import Accelerator

    from chefbot.train.loop import accumulate_gradients

    model = _peft_model(model_dir)
    loss, n = accumulate_gradients(TargetTokenLoss(model), micro_batches, Accelerator(cpu=True))
    grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.requires_grad}
    return loss, n, grads


def test_batch4_accum1_equals_batch2_accum2(tiny_model_dir):
    """Same loss AND same gradients; unequal target counts per micro-batch make a mean of means fail."""
    from chefbot.data.collate import collate_padding_free

    vocab = 5000
    rows = _examples(vocab, [(30, 28), (30, 25), (40, 3), (35, 2)])
    loss4, n4, g4 = _grads_after(tiny_model_dir, [collate_padding_free(rows)])
    loss22, n22, g22 = _grads_after(tiny_model_dir, [collate_padding_free(rows[:2]), collate_padding_free(rows[2:])])
    assert n4 == n22
    assert loss4 == pytest.approx(loss22, rel=1e-5)
    for k in g4:
        assert torch.allclose(g4[k], g22[k], atol=1e-6, rtol=1e-4), k
    # The test has power: weighting each micro-batch's mean equally (a mean of means) gives
    # different gradients, because the micro-batches hold 53 and 5 target tokens.
    model = _peft_model(tiny_model_dir)
    for part in (rows[:2], rows[2:]):
        s, n = TargetTokenLoss(model)(**collate_padding_free(part))
        (s / n / 2).backward()
    mom = {k: p.grad for k, p in model.named_parameters() if p.requires_grad}
    assert max(float((mom[k] - g4[k]).abs().max()) for k in g4) > 100 * max(
        float((g22[k] - g4[k]).abs().max()) for k in g4
    )
