"""DPO on the SFT adapter (TRL DPOTrainer, tiny model): it trains and moves the adapter, and a run killed with
SIGKILL mid-training resumes to the same adapter and the same logged losses as one never interrupted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import align_cfg, sample_pairs
from safetensors.torch import load_file

from chefbot.config import save_resolved

WORKER = Path(__file__).parent / "scripts" / "dpo_worker.py"
REPO = Path(__file__).resolve().parents[2]


def _weights(folder: Path) -> dict:
    return load_file(folder / "adapter_model.safetensors")


def _losses(align_dir: Path) -> list[tuple[int, float]]:
    rows = [json.loads(x) for x in (align_dir / "train_log.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows if "loss" in r]


def test_dpo_trains_and_changes_the_adapter(tiny_model_dir, recipes_jsonl, sft_adapter, tmp_path):
    from chefbot.align.dpo import train_dpo

    cfg = align_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "run", "align.max_steps=3", "align.save_steps=3")
    result = train_dpo(cfg, sft_adapter, sample_pairs(6), tmp_path / "run" / "align")
    out = Path(result["adapter_dir"])
    before, after = _weights(sft_adapter), _weights(out)
    assert set(before) == set(after)  # the SFT adapter's keys: only "default" was saved, not TRL's "ref" copy
    moved = max(float((after[k] - before[k]).abs().max()) for k in before)
    assert moved > 1e-4
    losses = _losses(tmp_path / "run" / "align")
    assert [s for s, _ in losses] == [1, 2, 3]
    assert abs(losses[0][1] - 0.6931) < 1e-3  # policy == reference at step 1: DPO's loss is log 2
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 4  # a PEFT folder like any adapter


def _run(args: list[str], expect_kill: bool = False) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CHEFBOT_NO_PROGRESS": "1", "PYTHONPATH": str(REPO / "src")}
    p = subprocess.run([sys.executable, str(WORKER), *args], env=env, capture_output=True, text=True, timeout=600)
    if expect_kill:
        assert p.returncode == -9, p.stderr[-3000:]
    else:
        assert p.returncode == 0, p.stderr[-3000:]


@pytest.mark.slow
def test_sigkill_mid_training_resumes_exactly(tiny_model_dir, recipes_jsonl, sft_adapter, tmp_path):
    from chefbot.align.dpo import complete_checkpoint

    cfg = align_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "run")
    save_resolved(cfg, tmp_path)
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps(sample_pairs(8)))
    common = [str(tmp_path / "config.yaml"), str(pairs), str(sft_adapter)]
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    _run([*common, str(ref)])
    _run([*common, str(killed), "--kill-at-step", "3"], expect_kill=True)
    assert not (killed / "adapter").exists()
    assert complete_checkpoint(killed / "trainer").name == "checkpoint-2"
    # a checkpoint cut short by the kill (no trainer_state.json) is not resumed from
    half = killed / "trainer" / "checkpoint-4"
    half.mkdir()
    (half / "adapter_model.safetensors").write_bytes(b"cut short")
    _run([*common, str(killed)])
    assert not half.exists() or (half / "trainer_state.json").exists()
    assert _losses(killed) == _losses(ref) and len(_losses(ref)) == 4
    a, b = _weights(ref / "adapter"), _weights(killed / "adapter")
    assert all(bool((a[k] == b[k]).all()) for k in a), "resumed adapter differs from the uninterrupted run's"
