"""`chefbot data prepare` / `chefbot data inspect` from the command line."""

from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner


def test_prepare_and_inspect_print_summary(data_fixtures, qwen_tokenizer_dir, tmp_path):
    from chefbot.cli import app

    args = [
        "configs/quickstart.yaml", f"data.source={data_fixtures / 'recipenlg_bad.csv'}", "data.format=recipenlg_csv",
        f"model.tokenizer={qwen_tokenizer_dir}", f"data.cache_dir={tmp_path}", "data.num_proc=1",
        "data.val_size=1", "data.test_size=1", "data.max_length=128",
    ]
    runner = CliRunner()
    res = runner.invoke(app, ["data", "prepare", *args], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "rows read" in res.output and "dropped: malformed_row" in res.output and "packing efficiency" in res.output
    res = runner.invoke(app, ["data", "inspect", *args, "--n", "1"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "cache hit" in res.output and "train row 0" in res.output and "<|im_end|>" in res.output


def test_bad_path_is_one_line_without_traceback(repo_dir):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "chefbot.cli", "data", "prepare", "configs/quickstart.yaml", "data.source=/nope/missing.csv", "data.format=auto"],
        cwd=repo_dir, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "/nope/missing.csv" in lines[0] and "no such file" in lines[0]
