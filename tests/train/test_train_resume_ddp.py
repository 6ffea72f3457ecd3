"""Kill-and-resume (pitfall 12) and 2-process DDP on CPU (pitfalls 7 and 11), in subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from train_support import make_cfg

WORKER = Path(__file__).parent / "scripts" / "train_worker.py"


def _env() -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", CHEFBOT_NO_PROGRESS="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"), env.get("PYTHONPATH", "")])
    return env


def _losses(summary_or_log) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in summary_or_log if "loss" in r}


def test_sigkill_mid_save_then_resume_continues_the_same_curve(tiny_model_dir, recipes_jsonl, tmp_path):
    import torch

    from chefbot.config import save_resolved
    from chefbot.train.checkpoint import latest_checkpoint
    from chefbot.train.loop import train

    torch.set_num_threads(1)  # same kernels as the single-threaded worker: comparable floats
    common = ("train.max_steps=4", "train.save_steps=2", "train.batch_size=2", "train.eval_steps=null",
              "lora.dropout=0.1")  # dropout: the restored RNG state must reproduce the masks
    reference = train(make_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "ref", *common))
    cfg = make_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "killed", *common)
    cfg_file = save_resolved(cfg, tmp_path, "killed.yaml")
    p = subprocess.run([sys.executable, str(WORKER), str(cfg_file), str(tmp_path / "k.json"), "--kill-at-save", "4"],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == -9, p.stderr[-3000:]
    assert latest_checkpoint(cfg.output_dir).name == "step-2"  # the half-written step-4 is ignored
    assert list((Path(cfg.output_dir) / "checkpoints").glob(".step-4*"))  # ...and it really was half-written
    log = [json.loads(x) for x in (Path(cfg.output_dir) / "logs" / "train_log.jsonl").read_text().splitlines()]
    before_kill = _losses(log)
    assert sorted(before_kill) == [1, 2, 3, 4]

    resumed = train(cfg)
    assert resumed["resumed_from"].endswith("step-2")
    ref = _losses(reference["train_loss"])
    after = _losses(resumed["train_loss"])
    assert sorted(after) == [3, 4]
    for step in range(1, 5):
        got = after.get(step, before_kill.get(step))
        assert got == pytest.approx(ref[step], rel=1e-4, abs=1e-5), (step, got, ref[step])
    # The curve moved (otherwise equality would prove nothing).
    assert abs(ref[4] - ref[1]) > 1e-3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_processes_on_cpu_equals_one_process_with_double_batch(tiny_model_dir, recipes_jsonl, tmp_path):
    import torch

    from chefbot.config import save_resolved
    from chefbot.train.loop import train

    torch.set_num_threads(1)
    common = ("train.max_steps=2", "train.eval_steps=2", "train.eval_batches=1", "train.save_steps=2")
    single = train(make_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "one", "train.batch_size=4", *common))
    cfg = make_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "ddp", "train.batch_size=2", *common)
    cfg_file = save_resolved(cfg, tmp_path, "ddp.yaml")
    out = tmp_path / "ddp.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           str(WORKER), str(cfg_file), str(out)]
    p = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-4000:]
    ranks = [json.loads(Path(f"{out}.rank{r}").read_text()) for r in (0, 1)]
    assert ranks[0]["world_size"] == ranks[1]["world_size"] == 2
    assert _losses(ranks[0]["train_loss"]) == _losses(ranks[1]["train_loss"])  # both ranks see the global loss
    ref = _losses(single["train_loss"])
    for step, loss in _losses(ranks[0]["train_loss"]).items():
        assert loss == pytest.approx(ref[step], rel=1e-4), (step, loss, ref[step])
    assert ranks[0]["eval_loss"][-1]["loss"] == pytest.approx(single["eval_loss"][-1]["loss"], rel=1e-4)
    assert ranks[0]["target_tokens"] == single["target_tokens"]
    # Only rank 0 wrote: one adapter, one log.
    assert (tmp_path / "ddp" / "adapter" / "adapter_model.safetensors").exists()
