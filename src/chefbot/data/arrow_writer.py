"""``ArrowRows``: streams encoded examples into an Arrow file that ``datasets`` can memory-map.

Examples arrive one at a time as (token ids, prompt length).  Every ``PACK_WINDOW``
examples are packed into rows of ``data.max_length`` tokens (best-fit decreasing,
``collate.pack_lengths``; with packing off every example is its own row), the rows are
shuffled with ``data.seed``, and the window is written as one Arrow record batch of
``input_ids``, ``labels`` and ``position_ids`` (the batch contract in ``collate``):
position ids restart at every example, and labels come from ``tokenize.build_labels``.
"""

from __future__ import annotations

from itertools import chain
from pathlib import Path

import numpy as np

from chefbot.data.collate import pack_lengths
from chefbot.data.tokenize import IGNORE_INDEX, build_labels

PACK_WINDOW = 50_000  # examples packed together; larger windows gain <0.1% efficiency


class ArrowRows:
    """Streams example or packed rows into an Arrow file that datasets can memory-map."""

    def __init__(self, path: Path, max_length: int, packing: bool, seed: int):
        import pyarrow as pa

        self.pa = pa
        self.path = path
        self.max_length = max_length
        self.packing = packing
        self.rng = np.random.default_rng(seed)
        self.schema = pa.schema([(c, pa.list_(pa.int32())) for c in ("input_ids", "labels", "position_ids")])
        self.sink = pa.OSFile(str(path), "wb")
        self.writer = pa.ipc.new_stream(self.sink, self.schema)
        self.buffer: list[tuple[np.ndarray, int]] = []
        self.rows = 0
        self.tokens = 0
        self.label_tokens = 0
        self.examples = 0

    def add(self, tokens: np.ndarray, n_prompt: int) -> None:
        self.buffer.append((tokens, n_prompt))
        if len(self.buffer) >= PACK_WINDOW:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        pa = self.pa
        lengths = np.array([len(t) for t, _ in self.buffer], dtype=np.int64)
        bins = pack_lengths(lengths, self.max_length) if self.packing else [[i] for i in range(len(lengths))]
        bins = [bins[i] for i in self.rng.permutation(len(bins)).tolist()]
        order = list(chain.from_iterable(bins))
        ex_len = lengths[order]
        ex_prompt = np.array([p for _, p in self.buffer], dtype=np.int64)[order]
        ids = np.concatenate([self.buffer[i][0] for i in order]).astype(np.int32)
        starts = np.cumsum(ex_len) - ex_len
        pos = (np.arange(len(ids), dtype=np.int64) - np.repeat(starts, ex_len)).astype(np.int32)
        labels = build_labels(
            ids, np.repeat(ex_prompt, ex_len), positions=pos
        )  # prompt tokens (incl. each example's first token) untrained
        bin_sizes = np.fromiter(map(len, bins), dtype=np.int64, count=len(bins))
        row_len = np.add.reduceat(ex_len, np.cumsum(bin_sizes) - bin_sizes)
        offsets = pa.array(np.concatenate([[0], np.cumsum(row_len)]).astype(np.int32))
        cols = [pa.ListArray.from_arrays(offsets, pa.array(a)) for a in (ids, labels, pos)]
        self.writer.write_batch(pa.record_batch(cols, schema=self.schema))
        self.rows += len(bins)
        self.tokens += int(len(ids))
        self.label_tokens += int((labels != IGNORE_INDEX).sum())
        self.examples += len(lengths)
        self.buffer = []

    def close(self) -> None:
        self.flush()
        self.writer.close()
        self.sink.close()

    def efficiency(self) -> float:
        return self.tokens / (self.rows * self.max_length) if self.rows else 0.0
