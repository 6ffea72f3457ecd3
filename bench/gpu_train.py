"""GPU training benchmark: the reference QLoRA run on the Qwen2.5-1.5B architecture.

    python bench/gpu_train.py --steps 30            # on a GPU: every variant, ~5 minutes
    python bench/gpu_train.py --tiny                # CPU, tiny model: what CI runs

The model is Qwen2.5-1.5B's published architecture with random weights (speed does
not depend on the values, so nothing is downloaded): built once, saved as a local
checkpoint, then loaded through ``chefbot.model.load_model`` with NF4 quantization,
exactly as a real run loads the hub weights.  Training goes through chefbot's own
trainer pieces (``chefbot.train``): LoRA attachment, optimizer, the batch contract
and the loss, so the numbers are chefbot's, not a hand-written loop's.

Data: synthetic examples whose prompt/answer lengths follow the measured Qwen2.5
token lengths of the RecipeNLG sample in the reference prompt format (table below),
with random token ids.  Length is what matters for speed (padding, packing);
the ids do not.

Reported per variant (packing on/off, gradient checkpointing on/off, Liger kernels
when installed): tokens/s (real and target), median optimizer-step time, model
FLOPs utilisation and peak GPU memory, plus the projected wall time of the
reference's 300 steps (4,800 examples).

MFU formula (FLOPs the maths needs, counted on real tokens only; recomputation by
gradient checkpointing is not counted, as in PaLM's definition):
  frozen base linears   4 * N_lin * T      forward 2NT + input-gradient 2NT, no weight gradient
  LM head               4 * V * h * T_tgt  only positions whose logits the loss needs
  LoRA (per adapter)    6 * r * (d_in + d_out) * T   forward, input- and weight-gradient
  attention             3 * 4 * h_attn * P per layer, P = causal (query, key) pairs inside
                        each example (block-diagonal with packing); forward 4*h*P, backward 2x
  MFU = FLOPs / step time / peak bf16 dense FLOP/s of the GPU (table PEAK_TFLOPS).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

# Qwen/Qwen2.5-1.5B(-Instruct) config.json, value for value.
QWEN25_1P5B = dict(
    hidden_size=1536,
    intermediate_size=8960,
    num_hidden_layers=28,
    num_attention_heads=12,
    num_key_value_heads=2,
    vocab_size=151936,
    rope_theta=1_000_000.0,
    rms_norm_eps=1e-6,
    hidden_act="silu",
    tie_word_embeddings=True,
    max_position_embeddings=32768,
    use_sliding_window=False,
    sliding_window=32768,
    max_window_layers=21,
    bos_token_id=151643,
    eos_token_id=151645,
)
TINY = dict(QWEN25_1P5B, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=1024, bos_token_id=1, eos_token_id=2)

# Dense bf16 tensor-core peak (no sparsity), TFLOP/s, from NVIDIA's data sheets.
# Matched in order against torch.cuda.get_device_name(); first hit wins.
PEAK_TFLOPS = [
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),  # SXM / HBM3
    ("H200", 989.0),
    ("GH200", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
]

# Qwen2.5-tokenized lengths of the RecipeNLG sample (first_1000.csv) in the reference
# prompt format: percentiles 0,5,10,25,50,75,90,95,99,100.  Measured with the real
# tokenizer and chat template; prompt = system+user+generation prompt, answer = recipe
# text + <|im_end|>.
LENGTH_PCTS = [0, 5, 10, 25, 50, 75, 90, 95, 99, 100]
PROMPT_LEN = [33, 41, 42, 46, 50, 55, 61, 64, 73, 90]
ANSWER_LEN = [31, 79, 93, 116, 149, 189, 224, 254, 301, 449]

REFERENCE_STEPS = 300  # the reference run: 300 optimizer steps of 4 x 4 examples
REFERENCE_EXAMPLES_PER_STEP = 16
GOAL_SECONDS, GOAL_PEAK_GB = 180.0, 8.0


def peak_tflops(gpu_name: str | None) -> float | None:
    if not gpu_name:
        return None
    for key, value in PEAK_TFLOPS:
        if key.lower() in gpu_name.lower():
            return value
    return None


# ------------------------------------------------------------------ data


def _quantile(pcts: list[float], values: list[int], u: float) -> int:
    """Inverse CDF by linear interpolation of the percentile table."""
    p = u * 100.0
    for i in range(1, len(pcts)):
        if p <= pcts[i]:
            lo, hi = pcts[i - 1], pcts[i]
            w = (p - lo) / (hi - lo) if hi > lo else 0.0
            return int(round(values[i - 1] + w * (values[i] - values[i - 1])))
    return values[-1]


def synthetic_examples(n: int, vocab: int, max_length: int, seed: int = 0) -> list[dict]:
    """``{"input_ids", "labels"}`` rows with RecipeNLG-like prompt/answer lengths."""
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        p = _quantile(LENGTH_PCTS, PROMPT_LEN, rng.random())
        a = _quantile(LENGTH_PCTS, ANSWER_LEN, rng.random())
        a = max(1, min(a, max_length - p))  # cut the answer's tail, never the prompt
        ids = [rng.randrange(3, vocab) for _ in range(p + a)]
        out.append({"input_ids": ids, "labels": [-100] * p + ids[p:]})
    return out


def reference_padded(examples: list[dict], pad_id: int = 0) -> dict:
    """The reference collation: right padding to the longest example, attention_mask."""
    import torch

    length = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), length), pad_id, dtype=torch.long)
    labels = torch.full_like(ids, -100)
    mask = torch.zeros_like(ids)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        ids[i, :n] = torch.tensor(e["input_ids"])
        labels[i, :n] = torch.tensor(e["labels"])
        mask[i, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def micro_batches(mode: str, examples: list[dict], batch_size: int, max_length: int) -> list[dict]:
    """Collate the examples into micro-batches for one data mode.

    packed:       chefbot packing (best-fit rows of ``max_length``, position ids restart per example)
    padding_free: chefbot with packing off (a batch's examples concatenated into one row)
    padded:       the reference (right padding to the longest in the batch)
    """
    from chefbot.data.collate import collate_packed, collate_padding_free, pack_lengths, packed_row

    if mode == "packed":
        rows = [packed_row([examples[i] for i in idx]) for idx in pack_lengths([len(e["input_ids"]) for e in examples], max_length)]
        return [collate_packed(rows[i : i + batch_size]) for i in range(0, len(rows), batch_size)]
    groups = [examples[i : i + batch_size] for i in range(0, len(examples), batch_size)]
    if mode == "padding_free":
        return [collate_padding_free(g) for g in groups]
    if mode == "padded":
        return [reference_padded(g) for g in groups]
    raise ValueError(f"unknown data mode {mode!r}")


def batch_counts(batch: dict) -> dict[str, int]:
    """Real tokens, target tokens and causal attention pairs of one micro-batch."""
    import torch

    labels = batch["labels"]
    if "attention_mask" in batch:
        lengths = batch["attention_mask"].sum(1).tolist()
        real = int(sum(lengths))
        pairs = sum(n * (n + 1) // 2 for n in lengths)
        slots = labels.numel()
    else:
        # Examples start where position_ids restart at 0; trailing padding has label -100
        # everywhere and is excluded by counting only up to the last labelled position.
        real, pairs = 0, 0
        for row_pos, row_lab in zip(batch["position_ids"], labels):
            starts = (row_pos == 0).nonzero().flatten().tolist() + [len(row_pos)]
            for s, e in zip(starts[:-1], starts[1:]):
                if bool((row_lab[s:e] != -100).any()):
                    n = e - s
                    real += n
                    pairs += n * (n + 1) // 2
        slots = labels.numel()
    target = int((labels[:, 1:] != -100).sum()) + int((labels[:, 0] != -100).sum()) * 0
    return {"real": real, "target": int(target), "pairs": int(pairs), "slots": int(slots)}


# ------------------------------------------------------------------ FLOPs


def step_flops(arch: dict, counts: dict[str, int], lora_r: int, lora_targets: list[str]) -> float:
    """Model FLOPs for the tokens in ``counts`` (see the module docstring)."""
    h = arch["hidden_size"]
    heads, kv = arch["num_attention_heads"], arch["num_key_value_heads"]
    hd = h // heads
    kv_dim = kv * hd
    inter, layers, vocab = arch["intermediate_size"], arch["num_hidden_layers"], arch["vocab_size"]
    shapes = {  # (d_in, d_out) of every linear in a layer
        "q_proj": (h, h), "k_proj": (h, kv_dim), "v_proj": (h, kv_dim), "o_proj": (h, h),
        "gate_proj": (h, inter), "up_proj": (h, inter), "down_proj": (inter, h),
    }
    n_lin = layers * sum(a * b for a, b in shapes.values())
    base = 4.0 * n_lin * counts["real"]
    head = 4.0 * vocab * h * counts["target"]
    lora = 6.0 * layers * sum(lora_r * sum(shapes[t]) for t in lora_targets) * counts["real"]
    attn = 3.0 * 4.0 * h * counts["pairs"] * layers
    return base + head + lora + attn


# ------------------------------------------------------------------ model


def build_checkpoint(arch: dict, folder: Path, device: str) -> Path:
    """Random-weight Qwen2 checkpoint with the given architecture, saved as bf16 safetensors."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(**arch)
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder, safe_serialization=True)
    del model
    return folder


def experiment_config(args: argparse.Namespace, ckpt: Path, gc: bool) -> Any:
    """The reference configuration (configs/qwen2.5-1.5b-qlora.yaml) pointed at the random checkpoint."""
    from chefbot.config import load_config

    repo = Path(__file__).resolve().parent.parent
    overrides = [
        f"model.name_or_path={ckpt}",
        f"quant.mode={args.quant}",
        f"train.gradient_checkpointing={str(gc).lower()}",
        f"train.batch_size={args.batch_size}",
        f"train.grad_accum={args.grad_accum}",
        f"data.max_length={args.seq_len}",
        f"train.max_steps={args.steps}",
        f"train.precision={args.precision}",
        f"train.optimizer={args.optimizer}",
        f"output_dir={args.work_dir / 'run'}",
    ]
    return load_config(repo / "configs" / "qwen2.5-1.5b-qlora.yaml", overrides)


@dataclass
class VariantResult:
    name: str
    data_mode: str
    gradient_checkpointing: bool
    liger: bool
    steps: int = 0
    step_time_s: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    load_s: float = 0.0
    peak_mem_gb: float | None = None
    error: str | None = None
    loss_first: float | None = None
    loss_last: float | None = None


def run_variant(args, arch, ckpt, examples, data_mode: str, gc: bool, liger: bool) -> VariantResult:
    import torch

    from chefbot.model import load_model
    from chefbot.train import steps as chefbot_steps  # the trainer's own pieces; see module docstring

    name = f"{data_mode}{'+gc' if gc else ''}{'+liger' if liger else ''}"
    res = VariantResult(name, data_mode, gc, liger)
    cuda = torch.cuda.is_available() and not args.tiny
    device = "cuda" if cuda else "cpu"
    cfg = experiment_config(args, ckpt, gc)
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    model = load_model(cfg, device_map={"": 0} if cuda else None)
    if liger:
        from liger_kernel.transformers import _apply_liger_kernel_to_instance

        # Kernels for RoPE, RMSNorm and SwiGLU; the loss stays chefbot's own
        # (its chunked cross-entropy already skips the LM head on masked positions).
        _apply_liger_kernel_to_instance(model=model, rope=True, rms_norm=True, swiglu=True,
                                        cross_entropy=False, fused_linear_cross_entropy=False)
    model = chefbot_steps.prepare_model(model, cfg)
    optimizer = chefbot_steps.make_optimizer(model, cfg)
    res.load_s = time.perf_counter() - t0

    batches = micro_batches(data_mode, examples, args.batch_size, args.seq_len)
    per_step = args.grad_accum
    need = (args.steps + args.warmup) * per_step
    if len(batches) < need:
        batches = (batches * math.ceil(need / len(batches)))[:need]
    model.train()
    losses = []
    for step in range(args.steps + args.warmup):
        group = batches[step * per_step : (step + 1) * per_step]
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        loss = chefbot_steps.train_step(model, optimizer, [{k: v.to(device) for k, v in b.items()} for b in group], cfg)
        if cuda:
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
        losses.append(float(loss))
        if step >= args.warmup:  # the first steps pay for kernel selection and allocator growth
            res.step_time_s.append(dt)
            for b in group:
                for k, v in batch_counts(b).items():
                    res.counts[k] = res.counts.get(k, 0) + v
    res.steps = args.steps
    res.loss_first, res.loss_last = losses[0], losses[-1]
    if cuda:
        res.peak_mem_gb = torch.cuda.max_memory_allocated() / 2**30
    else:
        res.peak_mem_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # process-wide
    del model, optimizer
    return res


def summarize(res: VariantResult, arch: dict, args, peak: float | None) -> dict:
    step = common.median(res.step_time_s) if res.step_time_s else float("nan")
    total = sum(res.step_time_s)
    steps = max(len(res.step_time_s), 1)
    examples_per_step = res.counts.get("examples", 0) / steps
    flops = step_flops(arch, res.counts, args.lora_r, args.lora_targets) if res.counts else 0.0
    mfu = (flops / total / (peak * 1e12)) if peak and total else None
    ex_per_s = res.counts.get("examples", 0) / total if total else float("nan")
    ref_examples = REFERENCE_STEPS * REFERENCE_EXAMPLES_PER_STEP
    return {
        "variant": res.name,
        "data_mode": res.data_mode,
        "gradient_checkpointing": res.gradient_checkpointing,
        "liger": res.liger,
        "steps_timed": len(res.step_time_s),
        "step_time_s_median": step,
        "step_time_s_range": common.spread(res.step_time_s) if res.step_time_s else None,
        "tokens_per_s": res.counts.get("real", 0) / total if total else None,
        "target_tokens_per_s": res.counts.get("target", 0) / total if total else None,
        "examples_per_step": examples_per_step,
        "padding_share": 1 - res.counts.get("real", 0) / res.counts["slots"] if res.counts.get("slots") else None,
        "model_tflops_per_step": flops / steps / 1e12,
        "mfu": mfu,
        "peak_mem_gb": res.peak_mem_gb,
        "load_s": res.load_s,
        "reference_300_steps_projected_s": ref_examples / ex_per_s + res.load_s if ex_per_s == ex_per_s and ex_per_s > 0 else None,
        "loss_first": res.loss_first,
        "loss_last": res.loss_last,
        "error": res.error,
    }
