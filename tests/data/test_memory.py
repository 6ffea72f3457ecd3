"""Bounded memory in prepare(): a chunk's token array is freed once the chunk is processed.

Held-out candidates (and, with data.max_train, the capped training candidates) stay until
the end of the pass.  If they kept slices of their chunk's token array, that whole array
would stay alive with them; held-out recipes come from nearly every chunk, so at full scale
most chunks would (issue 12).  Training examples may keep slices until their packing
window is written, which bounds them by ``arrow_writer.PACK_WINDOW``.
"""

from __future__ import annotations

import gc
import weakref

import pytest


@pytest.mark.parametrize("max_train", [None, 50])
def test_chunk_token_arrays_are_released(make_cfg, shared_dir, qwen_tokenizer, monkeypatch, max_train):
    from chefbot.data import arrow_writer, readers
    from chefbot.data import prepare as P

    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 16 << 10)  # ~40 chunks from the 1,000-row sample
    monkeypatch.setattr(arrow_writer, "PACK_WINDOW", 40)  # training slices pinned for ~2 chunks at most
    refs: list[weakref.ref] = []
    alive_at: list[int] = []
    real_run = P._run

    def spy(chunks, num_proc, initargs):
        for res in real_run(chunks, num_proc, initargs):
            alive_at.append(sum(r() is not None for r in refs))  # earlier chunks, after the last one was taken
            refs.append(weakref.ref(res.tokens))
            yield res

    monkeypatch.setattr(P, "_run", spy)
    extra = [f"data.max_train={max_train}"] if max_train else []
    cfg = make_cfg(
        shared_dir / "data" / "recipenlg" / "first_1000.csv",
        "data.format=recipenlg_csv",
        "data.val_size=20",
        "data.test_size=20",
        "data.max_length=128",
        *extra,
    )
    p = P.prepare(cfg, qwen_tokenizer, progress=False)
    assert len(refs) >= 30, f"only {len(refs)} chunks: the test needs many"
    held = p.stats["split"]
    assert held["validation"] == held["test"] == 20 and held["held_out_reserve"] > 0
    # while streaming: at most the current packing window's chunks (and the one just taken) alive
    assert max(alive_at) <= 4, alive_at
    gc.collect()
    assert sum(r() is not None for r in refs) == 0  # after the pass, nothing pins any chunk
