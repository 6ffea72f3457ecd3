"""The target-token loss: summed cross-entropy over labelled tokens only.

Why by hand: ``model(labels=...)`` projects *every* position through the output layer
(49k-151k columns) and averages per micro-batch.  Here the decoder runs once, only the
hidden states at target positions go through ``lm_head`` (in chunks; on a GPU, or when
the [targets x vocab] fp32 logits would pass ``KEEP_LOGITS_BYTES``, recomputed in the
backward pass instead of kept), and the loss is a *sum*; the loop divides by the
target-token count of the whole optimizer step across micro-batches and ranks (transformers PR #34191: a mean of means is wrong).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from chefbot.data.tokenize import IGNORE_INDEX
from chefbot.train import packed_attention

# Logits kept for the backward pass on CPU up to this size (about 1,500 targets with a
# 151k vocabulary); above it, or on a GPU, each chunk is recomputed (measured on CPU:
# recomputing costs ~5% of a SmolLM2 step for no memory that matters there).
KEEP_LOGITS_BYTES = 1 << 30


def count_targets(labels: torch.Tensor) -> int:
    """Tokens that are predicted (labels are unshifted: position t predicts labels[t+1])."""
    return int((labels[:, 1:] != IGNORE_INDEX).sum())


def _causal_lm(model: Any) -> Any:
    """The transformers CausalLM under PEFT/DDP wrappers."""
    if hasattr(model, "get_base_model"):
        return model.get_base_model()
    return model


def _ce_sum(hidden: torch.Tensor, targets: torch.Tensor, head: nn.Module, softcap: float | None) -> torch.Tensor:
    logits = head(hidden).float()
    if softcap:  # Gemma 2 caps its final logits; the loss must see what generation sees
        logits = torch.tanh(logits / softcap) * softcap
    return nn.functional.cross_entropy(logits, targets, reduction="sum")


class TargetTokenLoss(nn.Module):
    """Wraps the (PEFT) model so DDP/FSDP see one forward: returns (loss_sum, n_targets)."""

    def __init__(self, model: nn.Module, chunk_size: int = 1024):
        super().__init__()
        self.model = model
        self.chunk_size = chunk_size

    def _recompute_head(self, n_targets: int, vocab: int, device: torch.device) -> bool:
        return device.type != "cpu" or n_targets * vocab * 4 > KEEP_LOGITS_BYTES

    def forward(
        self, input_ids: torch.Tensor, labels: torch.Tensor, position_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        lm = _causal_lm(self.model)
        # No attention_mask: transformers builds a block-diagonal causal mask from position_ids,
        # so packed examples never attend to each other (batch contract).  With per-example
        # attention (CPU) the example spans go to the attention function instead.
        extra = (
            {"example_spans": packed_attention.example_spans(position_ids)} if packed_attention.is_enabled(lm) else {}
        )
        hidden = lm.get_decoder()(
            input_ids=input_ids, position_ids=position_ids, use_cache=False, **extra
        ).last_hidden_state
        targets = labels[:, 1:]
        mask = targets != IGNORE_INDEX
        picked = hidden[:, :-1][mask]  # [n_targets, hidden]: masked positions never reach lm_head
        wanted = targets[mask]
        head = lm.get_output_embeddings()
        softcap = getattr(lm.config, "final_logit_softcapping", None)
        total = hidden.new_zeros((), dtype=torch.float32)
        recompute = self._recompute_head(picked.shape[0], head.out_features, picked.device)
        for start in range(0, picked.shape[0], self.chunk_size):
            h, y = picked[start : start + self.chunk_size], wanted[start : start + self.chunk_size]
            if torch.is_grad_enabled() and recompute:
                total = total + checkpoint(_ce_sum, h, y, head, softcap, use_reentrant=False)
            else:
                total = total + _ce_sum(h, y, head, softcap)
        if picked.shape[0] == 0:
            # Keep every trainable parameter in the graph so DDP's reducer still fires.
            total = total + 0.0 * hidden.sum()
        return total, mask.sum()
