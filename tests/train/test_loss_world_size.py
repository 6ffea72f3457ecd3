"""accumulate_gradients on two ranks, without starting two processes: each rank's step runs against a
stand-in accelerator whose all-reduce adds the other rank's numbers, and the two ranks' gradients are
averaged as DDP averages them.  The result must be the one-process gradient of (sum of token losses) /
(target tokens of the whole step), which needs the loop's world-size factor (the 2-process test in
test_train_resume_ddp.py checks the same with real processes, slowly)."""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch
from torch import nn

from chefbot.data.tokenize import IGNORE_INDEX
from chefbot.train.loop import accumulate_gradients
from chefbot.train.loss import count_targets

VOCAB = 16


class ToyTargetLoss(nn.Module):
    """The contract of loss.TargetTokenLoss ((summed loss over target tokens, target count)) on a tiny model."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed, self.head = nn.Embedding(VOCAB, 8), nn.Linear(8, VOCAB)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor, position_ids: torch.Tensor):
        logits = self.head(self.embed(input_ids))[:, :-1]
        targets = labels[:, 1:]
        total = nn.functional.cross_entropy(
            logits.reshape(-1, VOCAB), targets.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"
        )
        return total, (targets != IGNORE_INDEX).sum()


class OneRankAccelerator:
    """What accumulate_gradients uses of accelerate.Accelerator, for one rank of ``num_processes``:
    ``reduce`` adds the other ranks' values, given in the order the loop reduces (target count, loss sum)."""

    device = torch.device("cpu")

    def __init__(self, num_processes: int, other_ranks: list[float]) -> None:
        self.num_processes, self.other_ranks = num_processes, list(other_ranks)

    def reduce(self, tensor: torch.Tensor, reduction: str) -> torch.Tensor:
        assert reduction == "sum"
        return tensor + self.other_ranks.pop(0)

    def no_sync(self, module: nn.Module):
        return contextlib.nullcontext()

    def autocast(self):
        return contextlib.nullcontext()

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()


def micro_batch(seed: int, rows: int, length: int, prompt: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (rows, length), generator=g)
    labels = ids.clone()
    labels[:, :prompt] = IGNORE_INDEX
    return {"input_ids": ids, "labels": labels, "position_ids": torch.arange(length).expand(rows, length)}


def step_grads(model: nn.Module, batches: list[dict], accelerator: OneRankAccelerator):
    model = copy.deepcopy(model)
    loss, n = accumulate_gradients(model, batches, accelerator)
    return loss, n, [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("accum", [1, 2])
def test_two_rank_step_equals_the_one_process_step(accum: int):
    model = ToyTargetLoss()
    # ranks with different target counts (the prompt lengths differ), so a per-rank denominator shows too
    ranks = [[micro_batch(10 * r + i, rows=2, length=12, prompt=3 + 5 * r) for i in range(accum)] for r in range(2)]
    counts = [sum(count_targets(b["labels"]) for b in rank) for rank in ranks]
    with torch.no_grad():
        sums = [float(sum(model(**b)[0] for b in rank)) for rank in ranks]
    assert counts[0] != counts[1]

    per_rank = [step_grads(model, ranks[r], OneRankAccelerator(2, [counts[1 - r], sums[1 - r]])) for r in range(2)]
    ddp_grads = [(g0 + g1) / 2 for g0, g1 in zip(per_rank[0][2], per_rank[1][2])]  # DDP's all-reduce: a mean
    ref_loss, ref_n, ref_grads = step_grads(model, ranks[0] + ranks[1], OneRankAccelerator(1, [0, 0]))

    assert ref_n == per_rank[0][1] == per_rank[1][1] == sum(counts)
    assert per_rank[0][0] == pytest.approx(ref_loss, rel=1e-5) and ref_loss == pytest.approx(sum(sums) / sum(counts))
    for got, want in zip(ddp_grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
