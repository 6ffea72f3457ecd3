"""bench/data_prep_scale.py --quick: the CI-size run that `make bench` does (about 20 s)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_quick_run_prepares_and_matches_the_baseline(bench_module, shared_dir, tmp_path, monkeypatch):
    dps = bench_module("data_prep_scale")
    monkeypatch.setattr(dps, "OUT", tmp_path)  # the CSV, cache and JSON go to tmp, not bench/out
    result = dps.main(["--quick"])
    assert result["rows"] == 5_000 and (tmp_path / "recipenlg_synth_5000.csv").exists()
    stats = result["chefbot"]["stats"]
    assert stats["rows_read"] == 5_000 and stats["bad_rows"] > 0  # the CSV breaks 0.1% of rows on purpose
    assert result["baseline"]["rows"] == 1_000
    assert result["baseline"]["same_outputs_equal"] == result["baseline"]["same_outputs_checked"] > 0
    assert json.loads((tmp_path / "data_prep_scale_5000.json").read_text())["rows"] == 5_000
