"""bench/gpu_train.py at tiny size on CPU: the same code path the GPU run takes."""

from __future__ import annotations

import pytest


def test_architecture_is_qwen25_1p5b(bench_module):
    g = bench_module("gpu_train")
    a = g.QWEN25_1P5B
    assert (a["hidden_size"], a["intermediate_size"], a["num_hidden_layers"]) == (1536, 8960, 28)
    assert (a["num_attention_heads"], a["num_key_value_heads"], a["vocab_size"]) == (12, 2, 151936)
    assert a["rope_theta"] == 1e6 and a["tie_word_embeddings"] and a["max_position_embeddings"] == 32768


def test_flops_formula_counts_the_models_linears(bench_module):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    g = bench_module("gpu_train")
    model = Qwen2ForCausalLM(Qwen2Config(**g.TINY))
    layers = model.model.layers
    n_lin = sum(m.weight.numel() for m in layers.modules() if isinstance(m, torch.nn.Linear))
    counts = {"real": 10, "target": 4, "pairs": 55}
    arch = g.TINY
    h, L = arch["hidden_size"], arch["num_hidden_layers"]
    kv_dim = arch["num_key_value_heads"] * h // arch["num_attention_heads"]
    lora = 6 * L * 16 * ((h + h) + (h + kv_dim)) * 10  # q_proj and v_proj adapters
    expected = 4 * n_lin * 10 + 4 * arch["vocab_size"] * h * 4 + lora + 12 * h * 55 * L
    assert g.step_flops(arch, counts, 16, ["q_proj", "v_proj"]) == pytest.approx(expected)
    # the real architecture: ~1.31B linear parameters outside the embedding
    big = g.step_flops(g.QWEN25_1P5B, {"real": 1, "target": 0, "pairs": 0}, 0, [])
    assert 4 * 1.2e9 < big < 4 * 1.4e9


def test_batch_counts_and_data_modes(bench_module):
    g = bench_module("gpu_train")
    ex = g.synthetic_examples(24, 1000, 128, seed=1)
    assert all(len(e["input_ids"]) <= 128 and e["labels"][0] == -100 for e in ex)
    n_real = sum(len(e["input_ids"]) for e in ex)
    n_target = sum(sum(x != -100 for x in e["labels"]) for e in ex)
    pairs = sum(len(e["input_ids"]) * (len(e["input_ids"]) + 1) // 2 for e in ex)
    shares = {}
    for mode in ("packed", "padding_free", "padded"):
        totals: dict[str, int] = {}
        for b in g.micro_batches(mode, ex, 2, 128):
            assert "attention_mask" not in b
            for k, v in g.batch_counts(b).items():
                totals[k] = totals.get(k, 0) + v
        assert (totals["examples"], totals["real"], totals["target"], totals["pairs"]) == (
            24,
            n_real,
            n_target,
            pairs,
        ), mode
        shares[mode] = 1 - totals["real"] / totals["slots"]
    assert shares["padding_free"] == 0 and shares["padded"] > shares["packed"]


def test_tiny_run_reports_sane_numbers(bench_module, tmp_path):
    g = bench_module("gpu_train")
    out = g.main(
        ["--tiny", "--variants", "packed", "--steps", "1", "--warmup", "1", "--no-docs", "--out", str(tmp_path)]
    )
    assert (tmp_path / "gpu_train_tiny.json").exists()
    (row,) = out["variants"]
    assert row["variant"] == "packed" and row["steps_timed"] == 1
    assert row["step_time_s_median"] > 0 and row["tokens_per_s"] > row["target_tokens_per_s"] > 0
    assert row["examples_per_step"] > 4  # packed rows of 128 hold several examples; 2 rows x 2 micro-batches
    assert row["padding_share"] < 0.2
    assert row["mfu"] is None  # no GPU peak on CPU
    assert row["model_tflops_per_step"] > 0 and row["peak_mem_gb"] > 0
    assert row["loss_first"] == pytest.approx(6.9, abs=0.5)  # ln(1024): random weights, vocab 1024
    assert (
        0 < row["memory_model_gb"] < 1
    )  # chefbot.train.memory's estimate for the largest micro-batch (GPU: next to peak GB)
    assert out["best"]["variant"] == "packed"
    assert (
        out["data"]["examples"] == 32 and 2 < out["data"]["median_tokens"] <= 128 and out["wall_s"] > 0
    )  # what the section quotes


def test_quick_run_writes_quick_json_and_leaves_docs(bench_module, repo_dir, tmp_path):
    g = bench_module("gpu_train")
    doc = repo_dir / "docs" / "BENCHMARKS.md"

    def section():
        return doc.read_text(encoding="utf-8").split("<!-- section:gpu -->", 1)[1].split("<!-- end:gpu -->", 1)[0]  # noqa: E731

    before = section()
    # --tiny keeps it on CPU even on a GPU machine; --quick alone would be --tiny only without a GPU
    out = g.main(["--tiny", "--quick", "--variants", "packed", "--steps", "1", "--warmup", "1", "--out", str(tmp_path)])
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["gpu_train_tiny_quick.json"]
    assert out["quick"] is True and out["tiny"] is True and out["steps"] == 1
    (row,) = out["variants"]
    assert row["step_time_s_median"] > 0 and row["tokens_per_s"] > 0
    assert section() == before  # a quick run never rewrites the doc section


def test_gpu_section_without_gpu_explains_how_to_run(bench_module):
    g = bench_module("gpu_train")
    text = g.render_section(None)
    assert "python bench/gpu_train.py --steps 30" in text and "Not measured yet" in text
    fake = {
        "machine": {"gpu": "NVIDIA H100 80GB HBM3", "cpu": "x", "python": "3.11", "torch": "2"},
        "written_at": "now",
        "command": "python bench/gpu_train.py --steps 30",
        "steps": 30,
        "goal_met": True,
        "variants": [
            {
                "variant": "packed",
                "step_time_s_median": 0.5,
                "tokens_per_s": 16000,
                "target_tokens_per_s": 12000,
                "examples_per_step": 38.0,
                "padding_share": 0.01,
                "mfu": 0.2,
                "peak_mem_gb": 5.0,
                "memory_model_gb": 4.75,
                "reference_300_steps_projected_s": 100.0,
            }
        ],
    }
    fake["best"] = fake["variants"][0]
    text = g.render_section(fake)
    assert "H100" in text and "20.0%" in text and "met" in text and "| 4.75 |" in text
    assert g.peak_tflops("NVIDIA H100 80GB HBM3") == 989 and g.peak_tflops("NVIDIA H100 PCIe") == 756
    assert g.peak_tflops("NVIDIA A100-SXM4-40GB") == 312 and g.peak_tflops("Tesla T4") is None


def test_gpu_section_states_only_settings_and_results(bench_module):
    g = bench_module("gpu_train")
    text = g.render_section(None)
    for fixed in ("minutes", "median 202", "A100 40GB", "12 GB"):  # no estimate or outside figure in the template
        assert fixed not in text
    assert f"≤ {g.GOAL_SECONDS:.0f} s and ≤ {g.GOAL_PEAK_GB:.0f} GB" in text and "H100 PCIe 756" in text
    fake = {
        "machine": {"gpu": "NVIDIA H100 80GB HBM3", "cpu": "x", "python": "3.11", "torch": "2"},
        "written_at": "now",
        "command": "python bench/gpu_train.py --steps 30",
        "steps": 30,
        "goal_met": False,
        "wall_s": 390.0,
        "data": {"examples": 2000, "median_tokens": 198.0},
        "variants": [
            {
                "variant": "padded+gc",
                "step_time_s_median": 1.0,
                "tokens_per_s": 8000,
                "target_tokens_per_s": 6000,
                "examples_per_step": 16.0,
                "padding_share": 0.3,
                "mfu": None,
                "peak_mem_gb": 9.0,
                "memory_model_gb": None,
                "reference_300_steps_projected_s": 300.0,
            }
        ],
    }
    fake["best"] = fake["variants"][0]
    text = g.render_section(fake)
    assert "median 198 tokens" in text and "The whole run took 6.5 min." in text and "**not met**" in text
