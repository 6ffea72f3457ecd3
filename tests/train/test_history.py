"""``train.history.read_history``: a run's history from its own log, across resumes."""

from __future__ import annotations

import json

import pytest

from chefbot.errors import DataError
from chefbot.train.history import log_path, read_history, truncate_log


def write_log(folder, rows):
    p = log_path(folder)
    p.parent.mkdir(parents=True)
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))


def step(n, loss, tokens=100, seconds=2.0, peak=500.0):
    return {
        "step": n,
        "loss": loss,
        "target_tokens": tokens,
        "step_seconds": seconds,
        "peak_mem_mb": peak,
        "target_tokens_per_s": 1e9,
    }


def test_a_resumed_run_counts_each_step_once_and_the_last_row_wins(tmp_path):
    # Killed after step 3 (checkpoint at 2), resumed: steps 3 and its eval run again.
    write_log(
        tmp_path,
        [
            {"step": 0, "eval_loss": 2.0},
            step(1, 1.9),
            step(2, 1.8),
            {"step": 2, "eval_loss": 1.7},
            step(3, 1.75, peak=900),
            step(3, 1.6, seconds=4.0),
            step(4, 1.5),
            {"step": 4, "eval_loss": 1.4},
        ],
    )
    h = read_history(tmp_path)
    assert h["steps"] == 4
    assert h["train_loss"] == [
        {"step": 1, "loss": 1.9},
        {"step": 2, "loss": 1.8},
        {"step": 3, "loss": 1.6},
        {"step": 4, "loss": 1.5},
    ]
    assert [e["step"] for e in h["eval_loss"]] == [0, 2, 4]
    assert h["target_tokens"] == 400
    assert h["train_seconds"] == pytest.approx(10.0)
    assert h["target_tokens_per_s"] == pytest.approx(40.0)  # not the rows' running rate
    assert h["peak_mem_mb"] == 500.0  # the replaced row's peak belonged to the killed process


def test_old_logs_without_step_seconds_fall_back_to_the_running_rate(tmp_path):
    write_log(tmp_path, [{"step": 1, "loss": 1.0, "target_tokens": 10, "target_tokens_per_s": 12.5}])
    h = read_history(tmp_path)
    assert h["target_tokens_per_s"] == 12.5 and h["train_seconds"] is None and h["peak_mem_mb"] is None


def test_missing_or_damaged_log_names_the_file_and_line(tmp_path):
    with pytest.raises(DataError, match="train_log.jsonl: no training log"):
        read_history(tmp_path)
    write_log(tmp_path, [step(1, 1.0)])
    with open(log_path(tmp_path), "a") as f:
        f.write('{"loss": 1.0}\n')
    with pytest.raises(DataError, match=r"train_log.jsonl:2: not a training log row"):
        read_history(tmp_path)


def test_the_trainer_logs_what_the_history_needs(tiny_model_dir, recipes_jsonl, tmp_path):
    from train_support import make_cfg

    from chefbot.train.loop import train

    cfg = make_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "run", "train.max_steps=2", "train.eval_steps=2")
    s = train(cfg)
    h = read_history(cfg.output_dir)
    assert h["steps"] == s["steps"] == 2
    assert h["train_loss"] == s["train_loss"] and h["eval_loss"] == s["eval_loss"]
    assert h["target_tokens"] == s["target_tokens"]
    assert h["target_tokens_per_s"] == pytest.approx(s["target_tokens_per_s"], rel=1e-6)
    again = train(cfg)  # finished: trains nothing, and the history is unchanged
    assert again["train_loss"] == [] and read_history(cfg.output_dir)["train_loss"] == h["train_loss"]


def test_truncate_log_keeps_the_checkpointed_steps(tmp_path):
    """A resume from step 2 drops later rows (and a line cut short by the kill); a fresh start drops all."""
    rows = [{"step": 0, "eval_loss": 2.0}, step(1, 1.9), step(2, 1.8), {"step": 2, "eval_loss": 1.7}, step(3, 1.75)]
    write_log(tmp_path, rows)
    path = log_path(tmp_path)
    path.write_text(path.read_text() + '{"step": 4, "lo')
    assert truncate_log(path, 2) == 2
    assert [json.loads(x) for x in path.read_text().splitlines()] == rows[:4]
    before = path.stat().st_mtime_ns
    assert truncate_log(path, 2) == 0 and path.stat().st_mtime_ns == before  # nothing to drop: not rewritten
    assert truncate_log(path, 0) == 4 and path.read_text() == ""
    assert truncate_log(tmp_path / "absent.jsonl", 3) == 0
