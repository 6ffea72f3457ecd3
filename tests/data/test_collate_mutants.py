"""pack_lengths fills a row exactly when an example fits it exactly; packed_row never trains an
example's first token (it would learn to predict the start of the next example from the previous one)."""

from __future__ import annotations

import random

import pytest

from chefbot.data.collate import collate_padding_free, pack_lengths, packed_row
from chefbot.data.tokenize import IGNORE_INDEX


@pytest.mark.parametrize(
    "lengths,capacity,rows",
    [
        ([50] * 100, 100, 50),  # two halves make a full row
        ([60, 40] * 30, 100, 30),
        ([100] * 7, 100, 7),  # an example as long as the row
        ([70, 30, 30, 70, 100], 100, 3),
        ([99, 1, 99, 1], 100, 2),  # one token of room is still room
    ],
)
def test_exact_fits_fill_a_row(lengths: list[int], capacity: int, rows: int):
    packed = pack_lengths(lengths, capacity)
    assert len(packed) == rows
    assert all(sum(lengths[i] for i in r) == capacity for r in packed)
    assert sorted(i for r in packed for i in r) == list(range(len(lengths)))


def test_best_fit_picks_the_tightest_open_row():
    # 70 and 60 open two rows (30 and 40 left): the 40 and the 30 each fill one exactly, no third row
    rows = pack_lengths([70, 60, 40, 30], 100)
    assert sorted(sorted(r) for r in rows) == [[0, 3], [1, 2]]
    rng = random.Random(1)
    halves = [rng.choice([25, 50, 75]) for _ in range(400)]
    halves += [100 - x for x in halves]  # every example has an exact partner: no row needs padding
    assert len(pack_lengths(halves, 100)) == len(halves) // 2


def test_the_first_token_of_every_example_is_untrained():
    # labels equal to the ids (no prompt): only the first-token rule makes positions 0, 3, 5 untrained
    examples = [
        {"input_ids": [1, 2, 3], "labels": [1, 2, 3]},
        {"input_ids": [4, 5], "labels": [4, 5]},
        {"input_ids": [6, 7, 8], "labels": [6, 7, 8]},
    ]
    row = packed_row(examples)
    assert row["labels"] == [IGNORE_INDEX, 2, 3, IGNORE_INDEX, 5, IGNORE_INDEX, 7, 8]
    assert row["position_ids"] == [0, 1, 2, 0, 1, 0, 1, 2]
    assert collate_padding_free(examples)["labels"].tolist() == [row["labels"]]
    assert examples[0]["labels"] == [1, 2, 3]  # the caller's example is left as it was


def test_rows_are_reproducible_and_keep_the_order_of_equal_lengths():
    # a stable sort: examples of one length are placed in the order they come (a rerun packs the same rows)
    assert pack_lengths([10] * 300, 10) == [[i] for i in range(300)]
    rng = random.Random(2)
    lengths = [rng.choice([10, 5, 4]) for _ in range(200)]
    placed = [i for row in pack_lengths(lengths, 10) for i in row]
    for length in (10, 5, 4):
        same = [i for i in placed if lengths[i] == length]
        assert same == sorted(same), length
    assert len(pack_lengths([1, 1, 1], 100)) == 1  # a row with all but one token free still takes more
    with pytest.raises(ValueError, match="example 1 has 129 tokens, more than the row capacity 128"):
        pack_lengths([5, 129], 128)


def test_rows_without_position_ids_and_the_default_padding():
    from chefbot.data.collate import collate_packed

    batch = collate_packed([{"input_ids": [7, 8, 9], "labels": [IGNORE_INDEX, 8, 9]}], pad_to=5)
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1]]
    assert batch["input_ids"].tolist() == [[7, 8, 9, 0, 0]]  # pad id 0 unless told
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 8, 9, IGNORE_INDEX, IGNORE_INDEX]]


def test_packing_efficiency():
    from chefbot.data.collate import packing_efficiency

    assert packing_efficiency([50, 30, 20], 1, 100) == 1.0
    assert packing_efficiency([50, 30], 2, 100) == 0.4
    assert packing_efficiency([], 0, 100) == 0.0
