"""The memory model (chefbot.train.memory) against the models' tensors and measured CPU peaks.

Static terms are checked against the bytes of the real objects (parameter counts of the
published architectures, a bitsandbytes NF4 layer, an 8-bit AdamW state).  The step terms
are checked against ``measure_step_peak``: torch's CPU allocator events under the profiler,
i.e. the tensor bytes a training step allocates above what was alive before it (what
``torch.cuda.max_memory_allocated`` counts on a GPU), on SmolLM2-135M's architecture and the
tiny Qwen2 (151,665-token vocabulary), through chefbot's own step (attach_adapter,
TargetTokenLoss, accumulate_gradients, optimizer).  Observed agreement: within 2% in every
case below; the test allows 10%.  What the CPU cannot check: the GPU's autocast copies and
the 1-byte dropout masks of CUDA's fused dropout (docs/TRAINING.md, "Memory").
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import pytest
from train_support import make_cfg

from chefbot.train import memory as M

REPO = Path(__file__).resolve().parents[2]
SMOL = M.ARCHITECTURES["HuggingFaceTB/SmolLM2-135M-Instruct"]


def _hf_config(arch: M.Architecture):
    from transformers import LlamaConfig, Qwen2Config

    cls = Qwen2Config if arch.attention_bias else LlamaConfig
    return cls(
        hidden_size=arch.hidden_size,
        num_hidden_layers=arch.num_hidden_layers,
        num_attention_heads=arch.num_attention_heads,
        num_key_value_heads=arch.num_key_value_heads,
        intermediate_size=arch.intermediate_size,
        vocab_size=arch.vocab_size,
        tie_word_embeddings=arch.tie_word_embeddings,
    )


@pytest.mark.parametrize("name", sorted(M.ARCHITECTURES))
def test_architecture_parameter_counts_match_the_model(name, bench_gpu_train):
    import torch
    from transformers import AutoModelForCausalLM

    arch = M.ARCHITECTURES[name]
    with torch.device("meta"):  # no memory: only the shapes
        model = AutoModelForCausalLM.from_config(_hf_config(arch))
    assert M.Architecture.from_config(model.config) == arch
    assert arch.total_params() == model.num_parameters()
    if name == "Qwen/Qwen2.5-1.5B-Instruct":  # the benchmark's copy of the published config agrees
        assert M.Architecture.from_config(dict(bench_gpu_train.QWEN25_1P5B, model_type="qwen2")) == arch


@pytest.fixture(scope="module")
def bench_gpu_train():
    import importlib
    import sys

    sys.path.insert(0, str(REPO / "bench"))
    try:
        return importlib.import_module("gpu_train")
    finally:
        sys.path.remove(str(REPO / "bench"))


def test_nf4_layer_and_8bit_adam_state_bytes():
    import torch

    bnb = pytest.importorskip("bitsandbytes")
    d_in, d_out = SMOL.hidden_size, SMOL.intermediate_size
    layer = bnb.nn.Linear4bit(
        d_in,
        d_out,
        bias=False,
        compute_dtype=torch.float32,
        compress_statistics=True,
        quant_type="nf4",
        quant_storage=torch.float32,
    ).to("cpu")
    qs = layer.weight.quant_state
    tensors = [layer.weight, qs.absmax, qs.code, qs.offset, qs.state2.absmax, qs.state2.code]
    got = sum(t.numel() * t.element_size() for t in tensors if t is not None)
    want = d_in * d_out * M.quantized_bytes_per_weight("nf4", True, 4)
    assert abs(got - want) <= 0.005 * want  # the rest: two code books of 16 and 256 floats

    # 8-bit AdamW on q_proj's LoRA weights (r=16): SmolLM2's are above bitsandbytes' 4,096-element
    # threshold (8-bit moments + an absmax per 256), a 128-wide model's below it (fp32 moments).
    run = M.RunSettings(lora_r=16, lora_targets=("q_proj",), optimizer="adamw_8bit")
    for arch in (
        replace(SMOL, num_hidden_layers=1),
        replace(SMOL, num_hidden_layers=1, hidden_size=128, num_attention_heads=2, num_key_value_heads=2),
    ):
        d_in, d_out = arch.linear_shapes()["q_proj"]
        params = [torch.nn.Parameter(torch.randn(16, d_in)), torch.nn.Parameter(torch.randn(d_out, 16))]
        opt = bnb.optim.AdamW8bit(params, lr=1e-3)
        for p in params:
            p.grad = torch.randn_like(p)
        opt.step()
        state = sum(
            t.numel() * t.element_size()
            for st in opt.state.values()
            for k, t in st.items()
            if k in ("state1", "state2", "absmax1", "absmax2")
        )
        assert state == pytest.approx(M.optimizer_bytes(arch, run), rel=0.01), arch.hidden_size


@pytest.fixture(scope="module")
def smollm2_base():
    """SmolLM2-135M's architecture with random weights, fp32, in memory (nothing downloaded)."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(_hf_config(SMOL))


def _measured_and_estimated(
    model, cfg, rows: int, length: int, target_share: float, recompute_head: bool = False, head_chunk: int = 1024
):
    """One warm-up step, then the measured peak of a second step and the model's estimate for it."""
    import torch

    import chefbot.train.loss as loss_module
    from chefbot.train import packed_attention
    from chefbot.train import setup as S
    from chefbot.train.loop import accumulate_gradients
    from chefbot.train.loss import TargetTokenLoss

    class OneProcess:  # what accumulate_gradients asks of accelerate, for one process
        device, num_processes = torch.device("cpu"), 1

        @staticmethod
        def reduce(t, reduction="sum"):
            return t

        @staticmethod
        def autocast():
            import contextlib

            return contextlib.nullcontext()

        @staticmethod
        def backward(loss):
            loss.backward()

    packed_attention.enable(model)
    S.keep_4bit_training_layout(model)
    model = S.attach_adapter(model, cfg)
    loss = TargetTokenLoss(model, chunk_size=head_chunk).train()
    opt = S.make_optimizer(S.trainable_parameters(model), cfg)
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(0)

    def batch():  # two examples per row, each a prompt then its answer
        ids = torch.randint(3, vocab, (rows, length), generator=g)
        labels, half = ids.clone(), length // 2
        for s, e in ((0, half), (half, length)):
            labels[:, s : s + round((e - s) * (1 - target_share))] = -100
        positions = torch.cat([torch.arange(half), torch.arange(length - half)]).repeat(rows, 1)
        return {"input_ids": ids, "labels": labels, "position_ids": positions}

    def step():
        accumulate_gradients(loss, [batch()], OneProcess)
        opt.step()
        opt.zero_grad(set_to_none=True)

    keep, threads = loss_module.KEEP_LOGITS_BYTES, torch.get_num_threads()
    loss_module.KEEP_LOGITS_BYTES = 0 if recompute_head else keep
    torch.set_num_threads(1)  # on a shared 2-core machine two spinning threads make this 10x slower
    try:
        step()
        measured = M.measure_step_peak(step)
    finally:
        loss_module.KEEP_LOGITS_BYTES = keep
        torch.set_num_threads(threads)
    n_targets = int((batch()["labels"][:, 1:] != -100).sum())
    run = M.RunSettings.from_config(
        cfg,
        device="cuda" if recompute_head else "cpu",
        compute="fp32",
        batch_size=rows,
        seq_len=length,
        target_fraction=n_targets / (rows * length),
        head_chunk=head_chunk,
    )
    return measured, M.estimate(M.Architecture.from_config(model.config), run)


SMOL_CASES = {  # name: (overrides, rows, length, target share)
    "no checkpointing, q/v": (("train.gradient_checkpointing=false", "lora.dropout=0.0"), 1, 128, 0.75),
    "checkpointing, q/v, dropout, few targets": (
        ("train.gradient_checkpointing=true", "lora.dropout=0.1"),
        1,
        128,
        0.05,
    ),
    "checkpointing, all-linear, dropout": (
        ("train.gradient_checkpointing=true", "lora.dropout=0.05", "lora.target_modules=all-linear"),
        1,
        128,
        0.75,
    ),
}


@pytest.mark.parametrize("case", sorted(SMOL_CASES))
def test_step_peak_matches_measurement_smollm2(case, smollm2_base, tmp_path):
    overrides, rows, length, share = SMOL_CASES[case]
    cfg = make_cfg(tmp_path, tmp_path / "none.jsonl", tmp_path / "run", "lora.r=16", *overrides)
    measured, est = _measured_and_estimated(copy.deepcopy(smollm2_base), cfg, rows, length, share)
    assert est.step == pytest.approx(measured, rel=0.10), (case, measured / 2**20, est.step / 2**20, est.phases)


TINY_CASES = {  # the 151,665-column LM head dominates: head formulas, chunking (128 targets a chunk here), NF4 layers
    "NF4, all-linear, dropout, checkpointing": (
        ("quant.mode=nf4", "lora.target_modules=all-linear", "lora.dropout=0.1", "train.gradient_checkpointing=true"),
        2,
        128,
        False,
    ),
    "three chunks, logits kept (CPU)": (("train.gradient_checkpointing=true",), 2, 160, False),
    "three chunks, recomputed in backward (GPU path)": (("train.gradient_checkpointing=true",), 2, 160, True),
}


@pytest.mark.parametrize("case", sorted(TINY_CASES))
def test_step_peak_matches_measurement_tiny_qwen(case, tiny_model_dir, tmp_path):
    import torch

    from chefbot.model import load_model

    overrides, rows, length, recompute = TINY_CASES[case]
    if "quant.mode=nf4" in overrides:
        pytest.importorskip("bitsandbytes")
    cfg = make_cfg(tiny_model_dir, tmp_path / "none.jsonl", tmp_path / "run", "quant.compute_dtype=fp32", *overrides)
    model = load_model(cfg, dtype=torch.float32)
    measured, est = _measured_and_estimated(model, cfg, rows, length, 0.75, recompute_head=recompute, head_chunk=128)
    assert est.step == pytest.approx(measured, rel=0.10), (case, measured / 2**20, est.step / 2**20, est.phases)


def test_presets_and_published_figures():
    """The presets' own settings fit the cards their comments name; the reference's layout costs more."""
    from chefbot.config import load_config

    def est(name, **kw):
        cfg = load_config(REPO / "configs" / f"{name}.yaml")
        return M.estimate(M.ARCHITECTURES[M.PRESETS[f"configs/{name}.yaml"]], M.RunSettings.from_config(cfg, **kw))

    assert est("qwen2.5-14b-qlora").peak <= M.usable_bytes(24)  # "one GPU with >= 24 GB"
    assert M.usable_bytes(24) < est("qwen2.5-32b-qlora").peak <= M.usable_bytes(32)  # "about 32 GB"
    assert est("qwen2.5-32b-qlora", gpus=2, fsdp=True).peak <= M.usable_bytes(24)  # FSDP over two 24 GB cards
    ours = est("qwen2.5-1.5b-qlora").peak
    assert (
        ours < M.reference_run_estimate().peak < 12e9
    )  # full-vocabulary logits cost more; still below the reported 12 GB


def test_training_doc_quotes_the_generated_table():
    doc = (REPO / "docs" / "TRAINING.md").read_text(encoding="utf-8")
    assert "python -m chefbot.train.memory" in doc
    assert M.preset_table(REPO) in doc, "docs/TRAINING.md's memory table is stale: rerun python -m chefbot.train.memory"
    assert M.breakdown_table(REPO) in doc, "rerun python -m chefbot.train.memory --breakdown"
