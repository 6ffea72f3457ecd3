"""Kill-and-resume (pitfall 12) and 2-process DDP on CPU (pitfalls 7 and 11), in subprocesses.

Dropout draws different masks in one process and in two, so the comparisons are split:

- Dropout off: the gradients of a 2-process (gloo) run, taken after backward and DDP's
  all-reduce and before clipping and the optimizer step, equal those of one process on
  the same global batch (exact math in fp32: 1e-5), as do losses, eval loss and target
  tokens.  Gradients, not only losses after Adam steps: Adam and clipping hide a constant
  scale, so a loss normalised without the world size would pass a loss-only test.  Run
  on fp32 weights and on NF4 4-bit weights (bitsandbytes' CPU backend), with
  non-reentrant gradient checkpointing and two micro-batches per step.
- Dropout on: a 2-process run killed (SIGKILL, mid-save) after a checkpoint and resumed
  equals the uninterrupted 2-process run: per-step losses, every resumed step's
  gradients on both ranks, the final adapter, and the training log (one row per step).
  The two ranks' saved RNG states differ, so restoring rank 0's state on both ranks
  (the old behaviour) changes rank 1's masks and fails this test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from train_support import (
    GRAD_RUN,
    WORKER,
    assert_same_gradients,
    free_port,
    grad_quants,
    log_results,
    losses,
    make_cfg,
    rank_outputs,
    read_log,
    worker_env,
)


def _torchrun(tmp_path: Path, runs: dict, *flags: str) -> subprocess.CompletedProcess:
    """One 2-process launch training each config of ``runs`` ({name: cfg}) in turn."""
    from chefbot.config import save_resolved

    args = []
    for name, cfg in runs.items():
        args += [str(save_resolved(cfg, tmp_path, f"{name}.yaml")), str(tmp_path / name)]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(free_port()),
        "--monitor_interval",
        "0.1",
        str(WORKER),
        *args,
        *flags,
    ]
    return subprocess.run(cmd, env=worker_env(), capture_output=True, text=True, timeout=300)


def test_sigkill_mid_save_then_resume_continues_the_same_curve(tiny_model_dir, recipes_jsonl, tmp_path):
    import torch

    from chefbot.config import save_resolved
    from chefbot.train.checkpoint import latest_checkpoint
    from chefbot.train.history import read_history
    from chefbot.train.loop import train

    torch.set_num_threads(1)  # same kernels as the single-threaded worker: comparable floats
    common = (
        "train.max_steps=4",
        "train.save_steps=2",
        "train.batch_size=2",
        "train.eval_steps=null",
        "lora.dropout=0.1",
    )  # dropout: the restored RNG state must reproduce the masks
    reference = train(make_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "ref", *common))
    cfg = make_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "killed", *common)
    cfg_file = save_resolved(cfg, tmp_path, "killed.yaml")
    p = subprocess.run(
        [sys.executable, str(WORKER), str(cfg_file), str(tmp_path / "k.json"), "--kill-at-save", "4"],
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == -9, p.stderr[-3000:]
    assert latest_checkpoint(cfg.output_dir).name == "step-2"  # the half-written step-4 is ignored
    assert list((Path(cfg.output_dir) / "checkpoints").glob(".step-4*"))  # ...and it really was half-written
    before_kill = losses(read_log(cfg.output_dir))
    assert sorted(before_kill) == [1, 2, 3, 4]

    resumed = train(cfg)
    assert resumed["resumed_from"].endswith("step-2")
    ref = losses(reference["train_loss"])
    after = losses(resumed["train_loss"])
    assert sorted(after) == [3, 4]
    for step in range(1, 5):
        got = after.get(step, before_kill.get(step))
        assert got == pytest.approx(ref[step], rel=1e-4, abs=1e-5), (step, got, ref[step])
    # The curve moved (otherwise equality would prove nothing).
    assert abs(ref[4] - ref[1]) > 1e-3
    # One row per step: the killed process's rows of steps 3 and 4 were dropped on resume.
    log = read_log(cfg.output_dir)
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    assert losses(log) == after | {s: before_kill[s] for s in (1, 2)}
    assert [r["step"] for r in read_history(cfg.output_dir)["train_loss"]] == [1, 2, 3, 4]


def test_ddp_gradients_equal_one_process_with_double_batch(
    tiny_model_dir, recipes_jsonl, tmp_path, one_process_reference
):
    """2 ranks x batch 2 x 2 micro-batches == 1 process x batch 4 x 2 micro-batches, gradient by gradient.

    Dropout off, non-reentrant gradient checkpointing on; fp32 weights and NF4 4-bit weights.
    """
    quants = grad_quants()
    p = _torchrun(
        tmp_path,
        {
            f"ddp-{q}": make_cfg(
                tiny_model_dir, recipes_jsonl, tmp_path / f"ddp-{q}", "train.batch_size=2", f"quant.mode={q}", *GRAD_RUN
            )
            for q in quants
        },
        "--grads",
    )
    assert p.returncode == 0, p.stderr[-4000:]
    for q in quants:
        single, single_grads = one_process_reference[q]
        ranks, grads = rank_outputs(tmp_path, f"ddp-{q}")
        assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2  # pitfall 11: one 2-process group
        assert sorted(single_grads) == [1, 2] and any(n.endswith("lora_A.default.weight") for n in single_grads[2])
        for r in (0, 1):  # after the all-reduce every rank holds the gradient of the whole global batch
            assert_same_gradients(grads[r], single_grads, rel=1e-5)
        assert losses(ranks[0]["train_loss"]) == losses(ranks[1]["train_loss"])  # both ranks see the global loss
        ref = losses(single["train_loss"])
        for step, loss in losses(ranks[0]["train_loss"]).items():
            assert loss == pytest.approx(ref[step], rel=1e-5), (q, step, loss, ref[step])
        assert ranks[0]["eval_loss"][-1]["loss"] == pytest.approx(single["eval_loss"][-1]["loss"], rel=1e-5)
        assert ranks[0]["target_tokens"] == single["target_tokens"]
        # Only rank 0 wrote: one adapter, one log; the checkpoint holds both ranks' RNG states.
        out = tmp_path / f"ddp-{q}"
        assert (out / "adapter" / "adapter_model.safetensors").exists()
        assert sorted(f.name for f in (out / "checkpoints" / "step-2").glob("rng*")) == ["rng-rank0.pt", "rng-rank1.pt"]


@pytest.mark.slow
def test_ddp_sigkill_and_resume_equals_uninterrupted_run_with_dropout(tiny_model_dir, recipes_jsonl, tmp_path):
    """2 processes, NF4 weights, dropout on, non-reentrant checkpointing: killed at step 4, resumed from step 2."""
    import torch
    from safetensors.torch import load_file

    from chefbot.train.checkpoint import latest_checkpoint

    pytest.importorskip("bitsandbytes")
    common = (
        "train.max_steps=4",
        "train.save_steps=2",
        "train.batch_size=2",
        "train.grad_accum=2",
        "train.eval_steps=2",
        "train.eval_batches=1",
        "train.gradient_checkpointing=true",
        "lora.dropout=0.1",
        "quant.mode=nf4",
        "quant.compute_dtype=fp32",
    )
    cfg = make_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "killed", *common)
    # One launch: the uninterrupted run, then the run that rank 0 kills while writing checkpoint 4.
    p = _torchrun(
        tmp_path,
        {"ref": make_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "ref", *common), "killed": cfg},
        "--grads",
        "--kill-at-save",
        "4",
    )
    assert p.returncode != 0 and "SIGKILL" in p.stderr, p.stderr[-4000:]
    ref, ref_grads = rank_outputs(tmp_path, "ref")
    ckpt = latest_checkpoint(cfg.output_dir)
    assert ckpt.name == "step-2"  # the half-written step-4 is ignored
    assert sorted(r["step"] for r in read_log(cfg.output_dir) if "loss" in r) == [
        1,
        2,
        3,
        4,
    ]  # steps 3, 4 ran before the kill
    rng = [torch.load(ckpt / f"rng-rank{r}.pt", weights_only=False)["torch"] for r in (0, 1)]
    assert not torch.equal(*rng)  # the ranks' dropout streams differ: restoring one state on both would show

    p = _torchrun(tmp_path, {"resumed": cfg}, "--grads")
    assert p.returncode == 0, p.stderr[-4000:]
    resumed, resumed_grads = rank_outputs(tmp_path, "resumed")
    assert resumed[0]["resumed_from"].endswith("step-2") and sorted(losses(resumed[0]["train_loss"])) == [3, 4]
    ref_losses = losses(ref[0]["train_loss"])
    assert losses(resumed[0]["train_loss"]) == {s: ref_losses[s] for s in (3, 4)}
    assert abs(ref_losses[4] - ref_losses[1]) > 1e-3  # the curve moved (otherwise equality would prove nothing)
    for r in (0, 1):
        assert_same_gradients(resumed_grads[r], {s: ref_grads[r][s] for s in (3, 4)}, rel=0.0)
    want, got = (load_file(tmp_path / d / "adapter" / "adapter_model.safetensors") for d in ("ref", "killed"))
    assert sorted(got) == sorted(want)
    for name in want:
        assert torch.equal(got[name], want[name]), name
    # The log equals the uninterrupted run's, one row per step and per evaluation.
    assert log_results(read_log(cfg.output_dir)) == log_results(read_log(tmp_path / "ref"))
