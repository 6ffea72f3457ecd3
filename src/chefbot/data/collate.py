"""Packing and collation: the batch the trainer consumes.

Batch contract: ``input_ids``, ``labels`` (not shifted) and ``position_ids``, all
LongTensor [B, T], and *no* ``attention_mask``.  Position ids restart at 0 at every
example (and at the tail padding), and transformers builds a block-diagonal causal
mask from them (masking_utils.find_packed_sequence_indices), so packed examples never
attend to each other and a packed batch gives the same loss as its examples alone.
The first token of every example is labelled IGNORE_INDEX (-100) so no example is
trained to predict the start of the next one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from chefbot.data.tokenize import IGNORE_INDEX


def pack_lengths(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Best-fit-decreasing bin packing of example indices into rows of ``capacity`` tokens.

    Written by hand because no installed library offers bin packing over integer
    lengths at this speed: open rows are bucketed by remaining space, so placing an
    example scans at most ``capacity`` buckets and 2M examples pack in seconds.
    """
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    by_space: list[list[int]] = [[] for _ in range(capacity + 1)]  # remaining space -> open row ids
    rows: list[list[int]] = []
    space: list[int] = []
    for idx in order.tolist():
        n = int(lengths[idx])
        if n > capacity:
            raise ValueError(f"example {idx} has {n} tokens, more than the row capacity {capacity}")
        row = -1
        for s in range(n, capacity + 1):
            if by_space[s]:
                row = by_space[s].pop()
                break
        if row < 0:
            row = len(rows)
            rows.append([])
            space.append(capacity)
        rows[row].append(idx)
        space[row] -= n
        if space[row] > 0:
            by_space[space[row]].append(row)
    return rows


def packed_row(examples: Iterable[dict]) -> dict[str, list[int]]:
    """Concatenate examples into one row with position ids restarting per example."""
    ids: list[int] = []
    labels: list[int] = []
    pos: list[int] = []
    for ex in examples:
        n = len(ex["input_ids"])
        ids.extend(ex["input_ids"])
        lab = list(ex["labels"])
        lab[0] = IGNORE_INDEX
        labels.extend(lab)
        pos.extend(range(n))
    return {"input_ids": ids, "labels": labels, "position_ids": pos}


def _pad_rows(rows: Sequence[dict], length: int, pad_id: int):
    import torch

    b = len(rows)
    input_ids = torch.full((b, length), pad_id, dtype=torch.long)
    labels = torch.full((b, length), IGNORE_INDEX, dtype=torch.long)
    position_ids = torch.zeros((b, length), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        input_ids[i, :n] = torch.as_tensor(r["input_ids"], dtype=torch.long)
        labels[i, :n] = torch.as_tensor(r["labels"], dtype=torch.long)
        if "position_ids" in r:
            position_ids[i, :n] = torch.as_tensor(r["position_ids"], dtype=torch.long)
        else:
            position_ids[i, :n] = torch.arange(n)
        # Tail padding is its own "example": positions restart so it attends only to itself.
        position_ids[i, n:] = torch.arange(length - n)
    return {"input_ids": input_ids, "labels": labels, "position_ids": position_ids}


def collate_packed(rows: Sequence[dict], pad_to: int | None = None, pad_id: int = 0) -> dict[str, Any]:
    """Stack packed rows (``input_ids``/``labels``/``position_ids``) into a batch,
    padding to the longest row (or ``pad_to``) with label IGNORE_INDEX."""
    length = max(len(r["input_ids"]) for r in rows)
    if pad_to is not None:
        length = max(length, pad_to)
    return _pad_rows(rows, length, pad_id)


def collate_padding_free(examples: Sequence[dict]) -> dict[str, Any]:
    """Packing off: concatenate the batch's examples into one row, no padding at all."""
    return _pad_rows([packed_row(examples)], sum(len(e["input_ids"]) for e in examples), 0)


def packing_efficiency(lengths: Sequence[int], n_rows: int, capacity: int) -> float:
    """Share of the row tokens that are real tokens (1.0 = no padding at all)."""
    return float(sum(lengths)) / float(n_rows * capacity) if n_rows else 0.0
