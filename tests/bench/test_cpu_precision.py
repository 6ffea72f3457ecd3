"""bench/cpu_precision.py --quick: fp32 and bf16 both measured, ratios consistent, docs untouched."""

from __future__ import annotations

import json


def test_quick_run_measures_both_dtypes(bench_module, repo_dir, tmp_path):
    cp = bench_module("cpu_precision")
    doc = (repo_dir / "docs" / "BENCHMARKS.md").read_text(encoding="utf-8")
    r = cp.main(["--quick", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "cpu_precision_quick.json").read_text())
    assert saved["quick"] is True and saved["bf16_speedup"] == r["bf16_speedup"]
    for dtype in ("fp32", "bf16"):
        assert all(len(v) == 1 and v[0] > 0 for v in saved["repeats_raw"][dtype].values())
    med = saved["median"]
    assert r["bf16_speedup"]["train_step"] == med["fp32"]["train_step_s"] / med["bf16"]["train_step_s"]
    assert (repo_dir / "docs" / "BENCHMARKS.md").read_text(encoding="utf-8") == doc
    assert "bf16 against fp32" in cp.section(r, saved["machine"])
