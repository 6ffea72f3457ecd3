"""``chefbot eval run ... --training RUN_DIR``: a report rescored from a run's stored predictions gets that
run's Training table, read back from its own log (``run.training_section``), as ``chefbot demo`` writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chefbot.errors import DataError
from chefbot.evaluate.report_tables import training_table
from chefbot.evaluate.run import training_section


def write_run(run: Path, device: str | None = "cpu") -> None:
    rows = [
        {"step": 0, "eval_loss": 1.5},
        {"step": 1, "loss": 1.4, "target_tokens": 100, "step_seconds": 2.0, "peak_mem_mb": 900.0},
        {"step": 2, "loss": 1.2, "target_tokens": 140, "step_seconds": 2.0, "peak_mem_mb": 950.0},
        {"step": 2, "eval_loss": 1.1},
    ]
    (run / "logs").mkdir(parents=True)
    (run / "logs" / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if device:
        (run / "train_summary.json").write_text(json.dumps({"steps": 2, "device": device}))


def test_the_training_table_is_read_back_from_the_runs_own_log(tmp_path: Path):
    write_run(tmp_path / "run", device="cuda")
    section = training_section(tmp_path / "run")
    assert section["steps"] == 2 and section["target_tokens"] == 240 and section["target_tokens_per_s"] == 60.0
    assert section["extra"] == {"device": "cuda"}
    assert str(tmp_path / "run" / "logs" / "train_log.jsonl") in section["note"]
    md = training_table(section).md()
    assert "| validation loss, step 0 → 2 | 1.500 → 1.100 |" in md and "| device | cuda |" in md


def test_a_folder_without_a_training_log_is_refused_by_name(tmp_path: Path):
    with pytest.raises(DataError, match="no training log"):
        training_section(tmp_path)
