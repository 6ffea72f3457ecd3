"""``chefbot demo``: killed during training, the next run resumes and reports the whole run."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chefbot.config import load_config
from chefbot.demo import fresh_output_dir
from chefbot.train.checkpoint import complete_checkpoints

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "data.max_train=24",
    "data.max_length=160",
    "train.batch_size=2",
    "train.eval_batches=1",
    "eval.limit=2",
    "engine.generation.max_new_tokens=8",
    "eval.bootstrap_samples=100",
    "eval.bertscore_model=none",
]


def test_fresh_run_folder_is_new_and_beside_the_configured_one(tmp_path):
    cfg = load_config(REPO / "configs" / "quickstart.yaml", [f"output_dir={tmp_path}/runs/quickstart"])
    now = dt.datetime(2026, 11, 25, 10, 15, 0)
    first = fresh_output_dir(cfg, now)
    assert first.output_dir == f"{tmp_path}/runs/quickstart-20261125-101500"
    Path(first.output_dir).mkdir(parents=True)
    assert fresh_output_dir(cfg, now).output_dir == f"{tmp_path}/runs/quickstart-20261125-101500-2"


@pytest.mark.slow
def test_demo_killed_during_training_resumes(tmp_path):
    out = tmp_path / "runs" / "quickstart"
    args = [
        sys.executable,
        "-m",
        "chefbot.cli",
        "demo",
        "configs/quickstart.yaml",
        *TINY,
        f"output_dir={out}",
        "train.max_steps=8",
        "train.save_steps=1",
        "train.eval_steps=8",
    ]
    env = {**os.environ, "CHEFBOT_NO_PROGRESS": "1"}
    proc = subprocess.Popen(
        args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 600
        while not [s for s, _ in complete_checkpoints(out) if s >= 2]:
            assert proc.poll() is None, "the demo ended before its second checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "report.md").exists()
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    said = done.stdout + done.stderr
    assert "continuing that run" in said
    report = (out / "report.md").read_text()
    assert "| optimizer steps | 8 |" in report
    assert "this demo trained" in report and "(resumed from" in report
    timings = json.loads((out / "demo_timings.json").read_text())  # what a quoted demo time points at
    assert set(timings["stages_s"]) == {"data", "train", "evaluate"} and timings["resumed_from"]
    assert 0 < timings["trained_steps"] <= 8 and len(timings["load_average_1_5_15"]["end"]) == 3
