"""bench/data_prep_scale.py --quick: the CI-size run that `make bench` does (about 30 s)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_quick_run_prepares_and_matches_the_baseline(bench_module, shared_dir, tmp_path, monkeypatch):
    dps = bench_module("data_prep_scale")
    monkeypatch.setattr(dps, "OUT", tmp_path)  # the CSV, cache and JSON go to tmp, not bench/out
    result = dps.main(["--quick", "--tokenizer-backend", "tokenizers,tiktoken"])
    assert result["rows"] == 5_000 and (tmp_path / "recipenlg_synth_5000.csv").exists()
    stats = result["chefbot"]["stats"]
    assert stats["rows_read"] == 5_000 and stats["bad_rows"] > 0  # the CSV breaks 0.1% of rows on purpose
    assert result["baseline"]["rows"] == 1_000
    assert result["baseline"]["same_outputs_equal"] == result["baseline"]["same_outputs_checked"] > 0
    # one arm per text backend, one after the other, writing the same training file
    arms = result["arms"]
    assert list(arms) == ["tokenizers", "tiktoken"] and result["chefbot"] is arms["tokenizers"]
    assert arms["tokenizers"]["stats"]["tokenizer_backend"]["used"] == "tokenizers"
    assert arms["tiktoken"]["stats"]["tokenizer_backend"]["used"] == "tiktoken"
    assert "data.tokenizer_backend=tiktoken" in arms["tiktoken"]["command"]
    assert result["identical_train_arrow"] is True
    assert result["tiktoken_vs_tokenizers"]["cpu_speedup"] > 0
    assert all(a["load"][0]["start"] is not None for a in arms.values())
    alone = result["tokenizer_alone"]
    assert alone["identical_ids"] is True and alone["recipes"] >= 1_200 and alone["speedup"] > 1
    saved = json.loads((tmp_path / "data_prep_scale_5000.json").read_text())
    assert saved["rows"] == 5_000 and saved["identical_train_arrow"] is True


def test_tokenizer_backend_option_is_checked(bench_module):
    dps = bench_module("data_prep_scale")
    with pytest.raises(SystemExit):
        dps.main(["--quick", "--tokenizer-backend", "fast"])
