"""bench/score_speed.py --quick: same numbers as rouge-score, positive times, docs untouched."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.shared  # the pairs are the reference project's stored predictions


def _metrics_section(doc) -> str:
    return doc.read_text(encoding="utf-8").split("<!-- section:metrics -->", 1)[1].split("<!-- end:metrics -->", 1)[0]


def test_quick_run_scores_and_times_every_arm(shared_dir, repo_dir, tmp_path):
    doc = repo_dir / "docs" / "BENCHMARKS.md"
    before = _metrics_section(doc)
    # A process of its own, as `make bench` runs it: inside pytest torch is already imported, so
    # the scoring pool would spawn (re-importing everything per worker) instead of forking.
    r = subprocess.run(
        [sys.executable, "bench/score_speed.py", "--quick", "--out", str(tmp_path)],
        cwd=repo_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]

    saved = json.loads((tmp_path / "score_speed_quick.json").read_text())
    assert not (tmp_path / "score_speed.json").exists()
    assert saved["quick"] is True and saved["command"].endswith(f"--quick --out {tmp_path}")
    assert saved["pairs"] == 400 and saved["sample_pairs"] == 10
    assert saved["workers"] >= 1
    # chefbot's ROUGE gives rouge-score's numbers on the sample
    assert saved["max_abs_diff_vs_rouge_score"] < 1e-9
    assert saved["rouge_score_ms_per_pair"] > 0 and saved["chefbot_rouge_ms_per_pair_1proc"] > 0
    assert saved["speedup_rouge_1proc"] == pytest.approx(
        saved["rouge_score_ms_per_pair"] / saved["chefbot_rouge_ms_per_pair_1proc"]
    )
    assert saved["rouge_score_extrapolated_s"] == pytest.approx(saved["rouge_score_ms_per_pair"] * 400 / 1000)
    assert set(saved["seconds"]) == {"whole+checks", "whole+directions+checks"}
    assert all(s > 0 for s in saved["seconds"].values())
    assert len(saved["load_average_before"]) == len(saved["load_average_after"]) == 3
    assert _metrics_section(doc) == before  # --quick leaves the docs alone


def test_section_quotes_the_payload_only(bench_module):
    ss = bench_module("score_speed")
    payload = {
        "command": "python bench/score_speed.py --pairs 100",
        "machine": {"cpu": "x", "cpu_cores": 2, "python": "3.11"},
        "pairs": 100,
        "workers": 2,
        "sample_pairs": 7,
        "rouge_score_ms_per_pair": 12.34,
        "chefbot_rouge_ms_per_pair_1proc": 1.0,
        "speedup_rouge_1proc": 12.34,
        "max_abs_diff_vs_rouge_score": 0.0,
        "rouge_score_extrapolated_s": 1.234,
        "seconds": {"whole+checks": 0.5, "whole+directions+checks": 0.7},
        "load_average_before": [0.25, 0, 0],
        "load_average_after": [7.5, 0, 0],
    }
    text = ss.render_section(payload)
    assert "12.3 ms\nper pair in this run, timed on 7 pairs" in text and "load average 0.2 before, 7.5 after" in text
    for fixed in ("tens of ms", "shared with other jobs", "idle", "bench/out"):
        assert fixed not in text
