"""FSDP + LoRA/QLoRA on 2 CPU processes (gloo), launched the way the 14B/32B presets are.

``accelerate launch --config_file configs/accelerate/fsdp_qlora.yaml --num_processes 2`` runs
tests/train/scripts/train_worker.py on CPU: accelerate's FSDP plugin from that file (FSDP 1,
transformer-based wrapping, FULL_SHARD, ``use_orig_params: false``), which chefbot turns on for
the gloo group itself (``chefbot.train.fsdp.enable_on_cpu``: accelerate only enables FSDP for
accelerator devices).  Every LoRA weight is its own FSDP unit and the decoder layers are units,
so each rank holds half of every flat parameter.  Each LM-head chunk is recomputed in the
backward pass, as on a GPU (``--recompute-head``).

One launch trains four tiny runs, a second resumes the killed one:

- dropout off, fp32 weights and NF4 weights (bitsandbytes' CPU backend, stored as fp32 through
  ``bnb_4bit_quant_storage`` so FSDP can flatten them): the gradients after backward (every
  rank's shards gathered, before clipping and the optimizer step), losses, eval loss and
  target tokens equal one process with the same global batch (``one_process_reference``),
  within 1e-5 of the largest gradient entry;
- NF4, dropout on, gradient checkpointing, 8-bit AdamW: the run killed (SIGKILL, rank 0 in the
  middle of writing checkpoint 4) and resumed from step 2 equals the uninterrupted run bit for
  bit: both ranks' gradients of steps 3 and 4, per-step losses, final adapter and log.  Step 4's
  gradients and the final adapter depend on the Adam moments restored at step 2: each rank's
  optimizer shard is saved (``optimizer-rank<R>.pt``) and restored;
- the adapter written by the sharded run merges into the base with ``chefbot.train.merge.merge_adapter``.
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

from chefbot.train.checkpoint import latest_checkpoint

REPO = Path(__file__).resolve().parents[2]
FSDP_CONFIG = REPO / "configs" / "accelerate" / "fsdp_qlora.yaml"
RESUME_RUN = (
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
    "train.optimizer=adamw_8bit",
)


def _accelerate_launch(tmp_path: Path, runs: dict, *flags: str) -> subprocess.CompletedProcess:
    """One 2-process FSDP launch (configs/accelerate/fsdp_qlora.yaml) training each config of ``runs`` in turn."""
    from chefbot.config import save_resolved

    args = []
    for name, cfg in runs.items():
        args += [str(save_resolved(cfg, tmp_path, f"{name}.yaml")), str(tmp_path / name)]
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(FSDP_CONFIG),
        "--num_processes",
        "2",
        "--main_process_port",
        str(free_port()),
        "--monitor_interval",
        "0.1",
        str(WORKER),
        *args,
        "--recompute-head",
        *flags,
    ]
    return subprocess.run(cmd, env=worker_env(), capture_output=True, text=True, timeout=300, cwd=REPO)


def _tensors(state):
    """Every tensor of a (nested) optimizer state, in order (bitsandbytes nests its own)."""
    import torch

    if torch.is_tensor(state):
        yield state
    elif isinstance(state, dict):
        for key in state:
            yield from _tensors(state[key])


@pytest.fixture(scope="module")
def fsdp_runs(tiny_model_dir, recipes_jsonl, tmp_path_factory) -> dict:
    pytest.importorskip("bitsandbytes", reason="NF4 weights and the 8-bit optimizer need bitsandbytes")
    tmp = tmp_path_factory.mktemp("fsdp")
    runs = {
        f"fsdp-{q}": make_cfg(
            tiny_model_dir, recipes_jsonl, tmp / f"fsdp-{q}", "train.batch_size=2", f"quant.mode={q}", *GRAD_RUN
        )
        for q in grad_quants()
    }
    killed = make_cfg(tiny_model_dir, recipes_jsonl, tmp / "killed", *RESUME_RUN)
    runs |= {"ref": make_cfg(tiny_model_dir, recipes_jsonl, tmp / "ref", *RESUME_RUN), "killed": killed}
    first = _accelerate_launch(tmp, runs, "--grads", "--kill-at-save", "4")
    assert first.returncode != 0 and "SIGKILL" in first.stderr, first.stderr[-4000:]
    # What the kill left behind, before the resume adds to it.
    after_kill = {
        "latest": latest_checkpoint(killed.output_dir),
        "half_written": list((Path(killed.output_dir) / "checkpoints").glob(".step-4*")),
        "logged_steps": sorted(r["step"] for r in read_log(killed.output_dir) if "loss" in r),
    }
    second = _accelerate_launch(tmp, {"resumed": killed}, "--grads")
    assert second.returncode == 0, second.stderr[-4000:]
    return {"dir": tmp, "killed": killed, "after_kill": after_kill}


@pytest.mark.slow
@pytest.mark.parametrize("quant", grad_quants())
def test_fsdp_gradients_equal_one_process_with_double_batch(fsdp_runs, one_process_reference, quant):
    tmp = fsdp_runs["dir"]
    single, single_grads = one_process_reference[quant]
    ranks, grads = rank_outputs(tmp, f"fsdp-{quant}")
    assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2
    assert ranks[0]["distributed_type"] == "FSDP"  # sharded, not quietly DDP
    # Each decoder layer is one unit holding its frozen base weights (the packed 4-bit weights
    # under NF4), each LoRA weight its own trainable unit; every rank holds half of each.
    units = ranks[0]["fsdp_units"]
    layers = {n: u for n, u in units.items() if n.endswith("layers.0")}
    (layer,) = layers.values()
    assert not layer[2] and any(f.endswith("q_proj.base_layer.weight") for f in layer[3])
    lora = [u for n, u in units.items() if ".lora_" in n]
    assert lora and all(u[2] and u[3] == ["weight"] for u in lora)
    for local, full, _, _ in units.values():
        assert local == -(-full // 2)  # FULL_SHARD over 2 ranks (padded to equal halves)
    for r in (0, 1):  # every rank's shards, gathered: the gradient of the whole global batch
        assert_same_gradients(grads[r], single_grads, rel=1e-5)
    assert losses(ranks[0]["train_loss"]) == losses(ranks[1]["train_loss"])
    for step, loss in losses(ranks[0]["train_loss"]).items():
        assert loss == pytest.approx(losses(single["train_loss"])[step], rel=1e-5), (step, loss)
    assert ranks[0]["eval_loss"][-1]["loss"] == pytest.approx(single["eval_loss"][-1]["loss"], rel=1e-5)
    assert ranks[0]["target_tokens"] == single["target_tokens"]
    out = tmp / f"fsdp-{quant}"
    step2 = out / "checkpoints" / "step-2"
    assert sorted(f.name for f in step2.glob("optimizer*")) == ["optimizer-rank0.pt", "optimizer-rank1.pt"]
    # The adapter gathered from the shards is the one-process adapter after the same two steps.
    from safetensors.torch import load_file

    want = load_file(Path(single["adapter_dir"]) / "adapter_model.safetensors")
    got = load_file(out / "adapter" / "adapter_model.safetensors")
    assert sorted(got) == sorted(want) and want
    scale = max(float(t.abs().max()) for t in want.values())
    for name in want:
        assert float((got[name] - want[name]).abs().max()) <= 1e-4 * scale, name


def test_fsdp_sigkill_and_resume_equals_uninterrupted_run(fsdp_runs):
    """NF4, dropout on, 8-bit AdamW: killed while writing checkpoint 4, resumed from step 2."""
    import torch
    from safetensors.torch import load_file

    tmp, cfg, after_kill = fsdp_runs["dir"], fsdp_runs["killed"], fsdp_runs["after_kill"]
    ref, ref_grads = rank_outputs(tmp, "ref")
    resumed, resumed_grads = rank_outputs(tmp, "resumed")
    ckpt = after_kill["latest"]
    assert ckpt.name == "step-2" and after_kill["half_written"]  # the half-written step-4 was ignored
    assert after_kill["logged_steps"] == [1, 2, 3, 4]  # steps 3 and 4 ran before the kill
    shards = [list(_tensors(torch.load(ckpt / f"optimizer-rank{r}.pt", weights_only=False)["state"])) for r in (0, 1)]
    assert shards[0] and len(shards[0]) == len(shards[1])  # each rank saved the moments of its own shards...
    assert any(not torch.equal(a, b) for a, b in zip(*shards))  # ...which differ between the ranks

    assert resumed[0]["resumed_from"].endswith("step-2")
    ref_losses = losses(ref[0]["train_loss"])
    assert losses(resumed[0]["train_loss"]) == {s: ref_losses[s] for s in (3, 4)}
    assert abs(ref_losses[4] - ref_losses[1]) > 1e-3  # the curve moved
    for r in (0, 1):
        assert_same_gradients(resumed_grads[r], {s: ref_grads[r][s] for s in (3, 4)}, rel=0.0)
    want, got = (load_file(tmp / d / "adapter" / "adapter_model.safetensors") for d in ("ref", "killed"))
    assert sorted(got) == sorted(want) and want
    for name in want:
        assert torch.equal(got[name], want[name]), name
    assert log_results(read_log(cfg.output_dir)) == log_results(read_log(tmp / "ref"))


def test_adapter_of_a_sharded_run_loads_and_merges(fsdp_runs, tmp_path):
    from chefbot.train.merge import merge_adapter

    cfg = fsdp_runs["killed"]
    result = merge_adapter(cfg, Path(cfg.output_dir) / "adapter", tmp_path / "merged", check_prompts=2, dtype="fp32")
    assert result["max_abs_logit_diff"] <= result["tolerance"]
    assert result["adapter_vs_base_max_abs_logit_diff"] > 0  # the adapter trained: merged != base
    assert (tmp_path / "merged" / "model.safetensors").exists()
