"""bench/train_throughput.py: the arms see exactly the same target tokens, each set up as described."""

from __future__ import annotations

import math

import pytest

from chefbot.train import packed_attention


@pytest.fixture
def tt_args(bench_module, tmp_path, tiny_qwen_dir, recipes_csv):
    tt = bench_module("train_throughput")
    argv = [
        "--model",
        str(tiny_qwen_dir),
        "--data",
        str(recipes_csv),
        "--examples",
        "24",
        "--val-examples",
        "4",
        "--max-length",
        "256",
        "--work-dir",
        str(tmp_path / "work"),
        "--no-docs",
        "--set",
        f"data.cache_dir={tmp_path / 'cache'}",
        "--set",
        "data.format=recipenlg_csv",
    ]
    return tt, tt.parse_args(argv), argv


def _epoch_target_tokens(dataloader_or_batches) -> int:
    return sum(int((b["labels"][:, 1:] != -100).sum()) for b in dataloader_or_batches)


def test_arms_train_on_the_same_target_tokens(tt_args):
    from chefbot.model import load_tokenizer

    tt, args, argv = tt_args
    cfg = tt.bench_config(args)
    tok = load_tokenizer(cfg.model)
    data = tt.prepare_once(args)
    assert 16 <= data["train_examples"] <= 24 and data["packed_rows"] < data["train_examples"]

    # chefbot, padding-free (default): the reference's batches of 4 examples, one row each, no padding
    run = tt.build_chefbot(cfg, tok)
    chefbot_batches = tt.chefbot_epoch_batches(run)
    assert all("attention_mask" not in b for b in chefbot_batches)
    assert len(chefbot_batches) == -(-data["train_examples"] // 4) and all(
        b["input_ids"].shape[0] == 1 for b in chefbot_batches
    )
    assert run.cfg.train.grad_accum == 4 and run.collate.real == run.collate.slots
    assert packed_attention.is_enabled(run.model.get_base_model())  # CPU: attention within each example
    ref = tt.build_reference(cfg, tok)
    ref_nogc = tt.build_reference(cfg, tok, checkpointing=False)
    trl = tt.build_trl(cfg, tok)
    # the reference as published and TRL's defaults checkpoint; the strict baseline does not
    assert ref.model.get_base_model().is_gradient_checkpointing and trl.args.gradient_checkpointing
    assert not ref_nogc.model.get_base_model().is_gradient_checkpointing
    counts = {
        "chefbot": _epoch_target_tokens(chefbot_batches),
        "reference": _epoch_target_tokens(ref.get_train_dataloader()),
        "reference-nogc": _epoch_target_tokens(ref_nogc.get_train_dataloader()),
        "trl": _epoch_target_tokens(trl.get_train_dataloader()),
    }
    assert counts["chefbot"] == data["train_target_tokens"] > 0
    assert len(set(counts.values())) == 1, counts
    # the wrappers counted what the loaders produced, and padding shows only where expected
    assert ref.data_collator.target == counts["reference"] and ref.data_collator.real < ref.data_collator.slots
    assert run.collate.target == counts["chefbot"]

    # chefbot, packed rows: about the reference's 16 examples per optimizer step
    packed_cfg = tt.bench_config(tt.parse_args([*argv, "--chefbot-packing"]))
    packed = tt.build_chefbot(packed_cfg, tok)
    assert packed.cfg.data.packing and len(packed.train_data) == data["packed_rows"]
    assert packed.cfg.train.grad_accum == tt.chefbot_grad_accum(tt.load_data(cfg, tok, packing=True).stats)
    assert _epoch_target_tokens(tt.chefbot_epoch_batches(packed)) == counts["chefbot"]

    # held-out scoring: one shared function, summed target-token CE / target tokens
    rows = tt.heldout_rows(cfg, tok, 4)
    res = tt.heldout_loss(ref.model, rows)
    assert res["examples"] == len(rows) > 0
    assert res["tokens"] == sum(sum(x != -100 for x in r["labels"][1:]) for r in rows)
    # a random tiny model is near uniform over the vocabulary
    assert res["loss"] == pytest.approx(math.log(ref.model.config.vocab_size), rel=0.1)


def test_summary_ratios_are_per_repeat(bench_module):
    tt = bench_module("train_throughput")
    runs = [
        {"arm": "chefbot", "repeat": 0, "target_tokens_per_s": 30.0},
        {"arm": "trl", "repeat": 0, "target_tokens_per_s": 10.0},
        {"arm": "chefbot", "repeat": 1, "target_tokens_per_s": 10.0},
        {"arm": "trl", "repeat": 1, "target_tokens_per_s": 5.0},
    ]
    for r in runs:
        r.update(peak_rss_mb=1, heldout_loss=1, wall_s=1, target_tokens=100, padding_share=0, optimizer_steps=1)
    s = tt.summarize(runs, ["chefbot", "trl"])
    assert s["chefbot_vs_trl"]["median"] == pytest.approx(2.5)  # median of 3.0 and 2.0, not 20/7.5
    assert s["chefbot"]["target_tokens_per_s"] == 20.0


def test_profile_splits_a_chefbot_step_by_kind_of_op(tt_args):
    tt, args, _ = tt_args
    prof = tt.profile_chefbot(args)
    assert sum(prof["shares"].values()) == pytest.approx(1.0, abs=1e-6)
    assert prof["shares"]["matmuls"] > 0.05 and prof["shares"]["attention"] > 0
    assert prof["tokens"] > 0 and prof["matmul_gflops_per_s"] > 0.01


def test_render_states_goals_and_work(bench_module):
    tt = bench_module("train_throughput")
    runs = []
    for arm, speed, slots in (
        ("chefbot", 20.0, 800),
        ("trl", 8.0, 1000),
        ("reference", 9.0, 1000),
        ("reference-nogc", 15.0, 1000),
    ):
        runs.append(
            {
                "arm": arm,
                "repeat": 0,
                "target_tokens_per_s": speed,
                "peak_rss_mb": 1,
                "heldout_loss": 1.0,
                "wall_s": 1,
                "target_tokens": 500,
                "padding_share": 0.2,
                "optimizer_steps": 1,
                "slots": slots,
            }
        )
    result = {
        "runs": runs,
        "summary": tt.summarize(runs, list(tt.ARMS)),
        "settings": {"precision": "fp32", "lr": 1e-3, "max_length": 512},
        "data": {
            "arch": {"linear_params": 1000, "vocab": 10, "hidden": 10},
            "train_examples": 8,
            "packed_rows": 3,
            "packing_efficiency": 0.9,
            "train_target_tokens": 500,
            "validation_examples_scored": 4,
        },
    }
    result["flops_bound"] = tt.flops_bound(result)
    # checkpointing arms pay 6N per slot, chefbot 4N on fewer slots and the head on targets only
    assert result["flops_bound"]["reference"]["gflops"] > result["flops_bound"]["reference-nogc"]["gflops"]
    assert result["flops_bound"]["reference-nogc"]["ratio_to_chefbot"] > 1
    text = tt.render_section(result, "python bench/train_throughput.py")
    assert "**2.50×**" in text and "goal ≥ 1.5× — met" in text  # trl: 20 / 8
    assert "**2.22×**" in text and "goal ≥ 2.0× — met" in text  # reference as published: 20 / 9
    assert "**1.33×**" in text and "no goal set" in text  # the strict baseline carries no goal


def test_notes_quote_only_the_result(bench_module):
    import argparse

    tt = bench_module("train_throughput")
    res = {
        "machine": {"cpu": "x"},
        "flops_bound": {
            "chefbot": {"gflops": 100.0},
            "reference": {"gflops": 300.0},
            "reference-nogc": {"gflops": 200.0},
        },
        "summary": {"chefbot": {"wall_s": 2.0}, "reference": {"wall_s": 10.0}, "reference-nogc": {"wall_s": 4.0}},
    }
    text = "\n".join(tt.args_notes(argparse.Namespace(precision="fp32"), res))
    assert "1.50× the matmul work of `reference-nogc`" in text  # 300 / 200, from flops_bound
    assert "`chefbot` 50, `reference` 30, `reference-nogc` 50" in text  # GFLOP / median wall s
    assert "native bf16" not in text  # not recorded by this run: no claim at all
    for fixed in ("half again", "2.4×", "~5%", "about the same speed", "2 cores"):
        assert fixed not in text
    # the flag is the run's machine's, not the machine that renders
    res["machine"]["native_bf16"] = False
    assert "native bf16 matmuls on the machine of this run: no" in "\n".join(
        tt.args_notes(argparse.Namespace(precision="fp32"), res)
    )
    assert tt.args_notes(argparse.Namespace(precision="fp32"))  # nothing measured: still renders, no figures


def test_profile_line_names_the_threads_it_ran_on(bench_module):
    tt = bench_module("train_throughput")
    runs = [
        {
            "arm": "chefbot",
            "repeat": 0,
            "target_tokens_per_s": 20.0,
            "peak_rss_mb": 1,
            "heldout_loss": 1.0,
            "wall_s": 1,
            "target_tokens": 500,
            "padding_share": 0.0,
            "optimizer_steps": 1,
            "slots": 500,
        }
    ]
    result = {
        "runs": runs,
        "summary": tt.summarize(runs, ["chefbot"]),
        "settings": {"precision": "fp32", "lr": 1e-3, "max_length": 512},
        "data": {
            "train_examples": 8,
            "packed_rows": 3,
            "packing_efficiency": 0.9,
            "train_target_tokens": 500,
            "validation_examples_scored": 4,
        },
        "profile": {"shares": {"matmuls": 1.0}, "tokens": 10, "matmul_gflops_per_s": 5.0, "command": "c"},
    }
    assert "The matmuls run at 5 GFLOP/s." in tt.render_section(result, "cmd")
    result["profile"]["threads"] = 3
    assert "The matmuls run at 5 GFLOP/s on 3 threads." in tt.render_section(result, "cmd")
