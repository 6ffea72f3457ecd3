"""GPU training benchmark: the reference QLoRA run on the Qwen2.5-1.5B architecture.

    python bench/gpu_train.py --steps 30            # on a GPU: every variant
    python bench/gpu_train.py --tiny                # CPU, tiny model: what CI runs
    python bench/gpu_train.py --quick               # 10 steps on a GPU, --tiny without one; docs untouched

A run writes bench/out/gpu_train.json (gpu_train_tiny.json with --tiny) and the ``gpu``
section of docs/BENCHMARKS.md, with a committed copy of a GPU run's JSON in
docs/results/gpu_train.json; ``--quick`` writes gpu_train[_tiny]_quick.json and leaves
the docs alone.

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
import json
import math
import resource
import shutil
import statistics
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
TINY = dict(
    QWEN25_1P5B,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=1024,
    bos_token_id=1,
    eos_token_id=2,
)

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
    """``{"input_ids", "labels"}`` rows with RecipeNLG-like prompt/answer lengths
    (scaled down with ``max_length`` below 512, so the tiny run packs alike)."""
    import random

    rng = random.Random(seed)
    scale = min(1.0, max_length / 512)
    out = []
    for _ in range(n):
        p = max(2, round(scale * _quantile(LENGTH_PCTS, PROMPT_LEN, rng.random())))
        a = round(scale * _quantile(LENGTH_PCTS, ANSWER_LEN, rng.random()))
        a = max(1, min(a, max_length - p))  # cut the answer's tail, never the prompt
        ids = [rng.randrange(3, vocab) for _ in range(p + a)]
        out.append({"input_ids": ids, "labels": [-100] * p + ids[p:]})
    return out


def micro_batches(mode: str, examples: list[dict], batch_size: int, max_length: int) -> list[dict]:
    """Collate the examples into micro-batches for one data mode.

    packed:       chefbot packing (best-fit rows of ``max_length``, position ids restart per example)
    padding_free: chefbot with packing off (a batch's examples concatenated into one row)
    padded:       the reference layout: one example per row, right padding to the longest
                  in the batch (chefbot's loss takes no attention_mask, so the tail padding
                  gets restarting position ids; the compute is the reference's)
    """
    from chefbot.data.collate import collate_packed, collate_padding_free, pack_lengths, packed_row

    if mode == "packed":
        rows = [
            packed_row([examples[i] for i in idx])
            for idx in pack_lengths([len(e["input_ids"]) for e in examples], max_length)
        ]
        return [collate_packed(rows[i : i + batch_size]) for i in range(0, len(rows), batch_size)]
    groups = [examples[i : i + batch_size] for i in range(0, len(examples), batch_size)]
    if mode == "padding_free":
        return [collate_padding_free(g) for g in groups]
    if mode == "padded":
        return [collate_packed(g) for g in groups]
    raise ValueError(f"unknown data mode {mode!r}")


def batch_counts(batch: dict) -> dict[str, int]:
    """Examples, real tokens, target tokens, row slots and causal attention pairs of one micro-batch.

    Examples start where position_ids restart at 0; a segment without any label is
    padding (tail padding restarts its positions too) and counts as no example.
    """
    labels, positions = batch["labels"], batch["position_ids"]
    examples = real = pairs = 0
    for row_pos, row_lab in zip(positions, labels):
        starts = (row_pos == 0).nonzero().flatten().tolist() + [len(row_pos)]
        for s, e in zip(starts[:-1], starts[1:]):
            if bool((row_lab[s:e] != -100).any()):
                n = e - s
                examples += 1
                real += n
                pairs += n * (n + 1) // 2
    target = int((labels[:, 1:] != -100).sum())  # what the loss predicts (labels are unshifted)
    return {"examples": examples, "real": real, "target": target, "pairs": pairs, "slots": int(labels.numel())}


# ------------------------------------------------------------------ FLOPs


def step_flops(arch: dict, counts: dict[str, int], lora_r: int, lora_targets: list[str]) -> float:
    """Model FLOPs for the tokens in ``counts`` (see the module docstring)."""
    h = arch["hidden_size"]
    heads, kv = arch["num_attention_heads"], arch["num_key_value_heads"]
    hd = h // heads
    kv_dim = kv * hd
    inter, layers, vocab = arch["intermediate_size"], arch["num_hidden_layers"], arch["vocab_size"]
    shapes = {  # (d_in, d_out) of every linear in a layer
        "q_proj": (h, h),
        "k_proj": (h, kv_dim),
        "v_proj": (h, kv_dim),
        "o_proj": (h, h),
        "gate_proj": (h, inter),
        "up_proj": (h, inter),
        "down_proj": (inter, h),
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
        f"lora.r={args.lora_r}",
        f"lora.target_modules=[{','.join(args.lora_targets)}]",
        f"train.gradient_checkpointing={str(gc).lower()}",
        f"train.batch_size={args.batch_size}",
        f"train.grad_accum={args.grad_accum}",
        f"data.max_length={args.seq_len}",
        f"train.max_steps={args.steps}",
        f"train.precision={args.precision}",
        f"train.optimizer={args.optimizer}",
        "train.report_to=[]",
        f"output_dir={args.work_dir / 'run'}",
    ]
    if args.tiny:  # bf16 matmuls and bf16 NF4 dequantization are slow on most CPUs
        overrides += ["quant.compute_dtype=fp32", "train.precision=fp32"]
    return load_config(repo / "configs" / "qwen2.5-1.5b-qlora.yaml", overrides)


@dataclass
class VariantResult:
    name: str
    data_mode: str
    gradient_checkpointing: bool
    liger: bool
    step_time_s: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    load_s: float = 0.0
    peak_mem_gb: float | None = None
    losses: list[float] = field(default_factory=list)
    largest_batch: dict[str, int] = field(default_factory=dict)  # counts of the micro-batch with the most row slots


def run_variant(args, arch, ckpt, examples, data_mode: str, gc: bool, liger: bool) -> VariantResult:
    """``args.steps`` timed optimizer steps (after ``args.warmup`` untimed ones) through
    chefbot's own step: ``chefbot.train.loop.accumulate_gradients`` over
    ``TargetTokenLoss``, then clipping, optimizer and zero_grad as in ``loop.fit``."""
    import torch

    from chefbot.model import load_model, resolve_dtype
    from chefbot.train import setup as S
    from chefbot.train.loop import accumulate_gradients
    from chefbot.train.loss import TargetTokenLoss

    name = f"{data_mode}{'+gc' if gc else ''}{'+liger' if liger else ''}"
    res = VariantResult(name, data_mode, gc, liger)
    cfg = experiment_config(args, ckpt, gc)
    dtype = resolve_dtype(cfg.train.precision)
    cuda = torch.cuda.is_available() and not args.tiny
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    accelerator = S.make_accelerator(cfg, dtype)
    torch.manual_seed(cfg.seed)
    model = load_model(cfg, device_map=S.device_map_for(accelerator) if cuda else None, dtype=dtype)
    if liger:
        from liger_kernel.transformers import _apply_liger_kernel_to_instance

        # RoPE, RMSNorm and SwiGLU kernels; the loss stays chefbot's (its LM head only
        # sees target positions, so Liger's fused linear cross-entropy has nothing to add).
        _apply_liger_kernel_to_instance(
            model=model, rope=True, rms_norm=True, swiglu=True, cross_entropy=False, fused_linear_cross_entropy=False
        )
    model = S.attach_adapter(model, cfg)
    loss_module = TargetTokenLoss(model)
    optimizer = S.make_optimizer(S.trainable_parameters(model), cfg)
    loss_module, optimizer = accelerator.prepare(loss_module, optimizer, device_placement=[False, None])
    res.load_s = time.perf_counter() - t0

    batches = micro_batches(data_mode, examples, args.batch_size, args.seq_len)
    per_step = args.grad_accum
    need = (args.steps + args.warmup) * per_step
    if len(batches) < need:  # cycle the synthetic data when a run wants more steps than it holds
        batches = (batches * math.ceil(need / len(batches)))[:need]
    loss_module.train()
    device = accelerator.device
    for step in range(args.steps + args.warmup):
        group = batches[step * per_step : (step + 1) * per_step]
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        on_device = [{k: v.to(device, non_blocking=True) for k, v in b.items()} for b in group]
        loss, _ = accumulate_gradients(loss_module, on_device, accelerator)
        if cfg.train.max_grad_norm:
            accelerator.clip_grad_norm_(loss_module.parameters(), cfg.train.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
        res.losses.append(float(loss))
        if step >= args.warmup:  # the first steps pay for kernel selection and allocator growth
            res.step_time_s.append(dt)
            for b in group:
                c = batch_counts(b)
                for k, v in c.items():
                    res.counts[k] = res.counts.get(k, 0) + v
                if c["slots"] > res.largest_batch.get("slots", -1):
                    res.largest_batch = {**c, "rows": int(b["labels"].shape[0])}
    if cuda:
        res.peak_mem_gb = torch.cuda.max_memory_allocated() / 2**30
    else:
        res.peak_mem_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # process-wide peak RSS
    del model, loss_module, optimizer, accelerator
    if cuda:
        torch.cuda.empty_cache()
    return res


def summarize(res: VariantResult, arch: dict, args, peak: float | None) -> dict:
    total = sum(res.step_time_s)
    steps = max(len(res.step_time_s), 1)
    flops = step_flops(arch, res.counts, args.lora_r, args.lora_targets) if res.counts else 0.0
    mfu = flops / total / (peak * 1e12) if peak and total else None
    ex_per_s = res.counts.get("examples", 0) / total if total else 0.0
    ref_examples = REFERENCE_STEPS * REFERENCE_EXAMPLES_PER_STEP
    return {
        "variant": res.name,
        "data_mode": res.data_mode,
        "gradient_checkpointing": res.gradient_checkpointing,
        "liger": res.liger,
        "steps_timed": len(res.step_time_s),
        "step_time_s_median": common.median(res.step_time_s),
        "step_time_s_range": common.spread(res.step_time_s),
        "tokens_per_s": res.counts.get("real", 0) / total if total else None,
        "target_tokens_per_s": res.counts.get("target", 0) / total if total else None,
        "examples_per_step": res.counts.get("examples", 0) / steps,
        "padding_share": 1 - res.counts.get("real", 0) / res.counts["slots"] if res.counts.get("slots") else None,
        "model_tflops_per_step": flops / steps / 1e12,
        "achieved_tflops": flops / total / 1e12 if total else None,
        "mfu": mfu,
        "peak_mem_gb": res.peak_mem_gb,
        "load_s": res.load_s,
        # The reference's 300 steps are 4,800 examples; packed steps hold more examples,
        # so the fair projection is by examples, plus the one-off model load.
        "reference_300_steps_projected_s": ref_examples / ex_per_s + res.load_s if ex_per_s > 0 else None,
        "loss_first": res.losses[0] if res.losses else None,
        "loss_last": res.losses[-1] if res.losses else None,
        "memory_model_gb": memory_model_gb(res, arch, args),
    }


def memory_model_gb(res: VariantResult, arch: dict, args) -> float | None:
    """chefbot.train.memory's estimate of this variant's peak (GiB), for its largest micro-batch.

    On a GPU it is the number to hold against ``peak_mem_gb`` (both count allocated tensors);
    Liger's kernels are not in the model, and a CPU run's peak is the process RSS, not comparable.
    """
    from chefbot.train import memory

    big = res.largest_batch
    if not big or res.liger:
        return None
    rows = big["rows"]
    run = memory.RunSettings(
        quant=args.quant,
        double_quant=True,
        compute="fp32" if args.tiny else "bf16",
        lora_r=args.lora_r,
        lora_targets=tuple(args.lora_targets),
        lora_dropout=0.1,
        optimizer=args.optimizer,
        batch_size=rows,
        seq_len=big["slots"] // rows,
        target_fraction=big["target"] / big["slots"],
        gradient_checkpointing=res.gradient_checkpointing,
        device="cpu" if args.tiny else "cuda",
    )
    return memory.estimate(memory.Architecture.from_config(dict(arch, model_type="qwen2")), run).peak / 2**30


def liger_available() -> bool:
    try:
        import liger_kernel.transformers  # noqa: F401
    except Exception:  # not installed, or no triton/GPU
        return False
    return True


def default_variants(tiny: bool) -> list[str]:
    """Packing on/off and gradient checkpointing on/off; Liger where installed.

    ``padded+gc`` is the reference's layout and setting (right padding, no packing,
    gradient checkpointing as prepare_model_for_kbit_training turns it on)."""
    if tiny:
        return ["packed", "padded+gc"]
    v = ["packed", "packed+gc", "padding_free", "padding_free+gc", "padded+gc"]
    if not tiny and liger_available():
        v += ["packed+liger", "packed+gc+liger"]
    return v


def parse_variant(v: str) -> tuple[str, bool, bool]:
    parts = v.split("+")
    mode, flags = parts[0], set(parts[1:])
    if mode not in ("packed", "padding_free", "padded") or not flags <= {"gc", "liger"}:
        raise SystemExit(f"--variants: {v!r} is not MODE[+gc][+liger] with MODE in packed, padding_free, padded")
    return mode, "gc" in flags, "liger" in flags


def render_section(result: dict | None) -> str:
    """The gpu section of docs/BENCHMARKS.md: how to run it, and the numbers of a GPU run if any.

    Every figure comes from ``result`` or from the script's own settings (defaults, goals,
    the data-sheet peaks in ``PEAK_TFLOPS``); nothing is estimated."""
    d = {a.dest: a.default for a in _parser()._actions}
    peaks = ", ".join(f"{name} {value:.0f}" for name, value in PEAK_TFLOPS)
    lines = [
        "## GPU training benchmark",
        "",
        "`bench/gpu_train.py` builds the Qwen2.5-1.5B architecture from its published config (random weights, "
        "nothing downloaded), loads it through `chefbot.model.load_model` with NF4 (double quant, bf16 compute), "
        f"attaches LoRA r{d['lora_r']} on {'/'.join(d['lora_targets'])} with `chefbot.train.setup.attach_adapter`, and "
        "runs chefbot's own training step (`chefbot.train.loop.accumulate_gradients` over `TargetTokenLoss`, clipping, "
        f"paged 8-bit AdamW) in the reference configuration: sequence {d['seq_len']}, batch {d['batch_size']}, "
        f"accumulation {d['grad_accum']}. Data: synthetic token ids whose prompt/answer lengths follow the percentile "
        "table of Qwen2.5 token lengths of the RecipeNLG sample in the script (`PROMPT_LEN`, `ANSWER_LEN`).",
        "",
        "Run it on a GPU machine (it rewrites this section and keeps its JSON as `docs/results/gpu_train.json`):",
        "",
        "```",
        "python bench/gpu_train.py --steps 30",
        "```",
        "",
        "Per variant — `packed` / `padding_free` / `padded` (the reference's right padding), `+gc` gradient "
        "checkpointing, `+liger` Liger RoPE/RMSNorm/SwiGLU kernels when `liger-kernel` is installed — it reports the "
        f"median optimizer-step time (after {d['warmup']} warm-up steps), real and target tokens/s, examples per step, "
        "padding share, model FLOPs utilisation, peak GPU memory (`torch.cuda.max_memory_allocated`) and the projected "
        f"wall time of the reference's {REFERENCE_STEPS} steps ({REFERENCE_STEPS * REFERENCE_EXAMPLES_PER_STEP:,} "
        f"examples, by examples/s, plus model load). Goal: ≤ {GOAL_SECONDS:.0f} s and ≤ {GOAL_PEAK_GB:.0f} GB on one H100.",
        "",
        "MFU counts the FLOPs the maths needs on real (non-padding) tokens: frozen base linears 4·N·T (forward + "
        "input gradient, no weight gradient), LM head 4·V·h only on target positions, LoRA 6·r·(d_in+d_out)·T per "
        "adapter, attention 12·h·P per layer with P the causal query-key pairs inside each example; recomputation by "
        f"gradient checkpointing is not counted. Divided by the dense bf16 peak (TFLOP/s, data sheets): {peaks}.",
        "",
    ]
    if not result or result.get("tiny") or not result.get("machine", {}).get("gpu"):
        lines.append(
            "_Not measured yet: no GPU run is recorded (`docs/results/gpu_train.json`). CI runs the same script "
            "at tiny size on CPU (`python bench/gpu_train.py --tiny`, tests/bench/test_gpu_train.py)._"
        )
        return "\n".join(lines)
    m = result["machine"]
    rows = []
    for r in result["variants"]:
        rows.append(
            [
                r["variant"],
                f"{r['step_time_s_median']:.3f}",
                f"{r['tokens_per_s']:.0f}",
                f"{r['target_tokens_per_s']:.0f}",
                f"{r['examples_per_step']:.1f}",
                f"{100 * (r['padding_share'] or 0):.0f}%",
                f"{100 * r['mfu']:.1f}%" if r.get("mfu") is not None else "n/a",
                f"{r['peak_mem_gb']:.2f}",
                f"{r['memory_model_gb']:.2f}" if r.get("memory_model_gb") is not None else "n/a",
                f"{r['reference_300_steps_projected_s']:.0f}",
            ]
        )
    lines += [
        f"Measured on **{m.get('gpu')}** ({result['written_at']}), command `{result['command']}`, "
        f"{result['steps']} timed steps per variant; {common.machine_line(m)}."
        + (
            f" Synthetic examples: {result['data']['examples']}, median {result['data']['median_tokens']:.0f} tokens."
            if result.get("data")
            else ""
        )
        + (f" The whole run took {result['wall_s'] / 60:.1f} min." if result.get("wall_s") else ""),
        "",
        common.md_table(
            [
                "variant",
                "step s (median)",
                "tokens/s",
                "target tok/s",
                "examples/step",
                "padding",
                "MFU",
                "peak GB",
                "memory model GB",
                f"reference {REFERENCE_STEPS} steps, s",
            ],
            rows,
        ),
        "",
        "`memory model GB`: the peak `chefbot.train.memory` predicts for the variant's largest micro-batch "
        "(GiB, docs/TRAINING.md; n/a with Liger, whose kernels it does not model).",
        "",
        f"Best variant: `{result['best']['variant']}` — reference's {REFERENCE_STEPS} steps in "
        f"{result['best']['reference_300_steps_projected_s']:.0f} s at {result['best']['peak_mem_gb']:.2f} GB peak "
        f"(goal ≤ {GOAL_SECONDS:.0f} s and ≤ {GOAL_PEAK_GB:.0f} GB: {'met' if result['goal_met'] else '**not met**'}).",
    ]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="GPU QLoRA training benchmark on the Qwen2.5-1.5B architecture (random weights)"
    )
    p.add_argument("--steps", type=int, default=30, help="timed optimizer steps per variant")
    p.add_argument("--warmup", type=int, default=3, help="untimed optimizer steps before timing")
    p.add_argument(
        "--variants",
        type=lambda s: s.split(","),
        default=None,
        help="comma list of MODE[+gc][+liger], MODE in packed, padding_free, padded (default: all)",
    )
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--grad-accum", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--quant", default="nf4", choices=["nf4", "fp4", "int8", "none"])
    p.add_argument("--optimizer", default="paged_adamw_8bit")
    p.add_argument("--precision", default="bf16")
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--lora-targets", type=lambda s: s.split(","), default=["q_proj", "v_proj"])
    p.add_argument("--examples", type=int, default=2000, help="synthetic examples (cycled if a variant needs more)")
    p.add_argument("--peak-tflops", type=float, default=None, help="override the GPU's dense bf16 peak for MFU")
    p.add_argument(
        "--tiny", action="store_true", help="tiny architecture on CPU, 2 steps of length 128: the CI smoke test"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="10 steps on a GPU, --tiny where there is none (make bench); writes *_quick.json, not the docs",
    )
    p.add_argument("--work-dir", type=Path, default=None)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--no-docs", action="store_true")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    if args.quick:
        import torch

        args.steps = min(args.steps, 10)
        args.tiny = args.tiny or not torch.cuda.is_available()
    if args.tiny:
        args.steps = min(args.steps, 2)
        args.warmup = min(args.warmup, 1)
        args.seq_len = min(args.seq_len, 128)
        args.examples = min(args.examples, 32)
        args.batch_size, args.grad_accum = min(args.batch_size, 2), min(args.grad_accum, 2)
    return args


def main(argv: list[str] | None = None) -> dict:
    import torch

    args = parse_args(argv)
    arch = TINY if args.tiny else QWEN25_1P5B
    cuda = torch.cuda.is_available() and not args.tiny
    if not cuda and not args.tiny:
        raise SystemExit(
            "bench/gpu_train.py: no CUDA GPU visible; run it on a GPU machine, or use --tiny for the CPU smoke test"
        )
    gpu = torch.cuda.get_device_name(0) if cuda else None
    peak = args.peak_tflops or peak_tflops(gpu)
    variants = args.variants or default_variants(args.tiny)
    own_tmp = args.work_dir is None
    args.work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="chefbot-gpu-bench-"))
    results = []
    started = time.perf_counter()
    try:
        ckpt = build_checkpoint(arch, args.work_dir / "random-qwen2.5-1.5b", "cuda" if cuda else "cpu")
        examples = synthetic_examples(args.examples, arch["vocab_size"], args.seq_len)
        for v in variants:
            mode, gc, liger = parse_variant(v)
            if liger and not liger_available():
                print(f"skipping {v}: liger-kernel is not installed", flush=True)
                continue
            res = run_variant(args, arch, ckpt, examples, mode, gc, liger)
            row = summarize(res, arch, args, peak)
            results.append(row)
            mfu = f"{100 * row['mfu']:.1f}%" if row["mfu"] is not None else "n/a"
            print(
                f"{row['variant']:>22}: step {row['step_time_s_median']:.3f} s, {row['tokens_per_s']:.0f} tok/s, "
                f"MFU {mfu}, peak {row['peak_mem_gb']:.2f} GB, reference 300 steps ≈ {row['reference_300_steps_projected_s']:.0f} s",
                flush=True,
            )
    finally:
        if own_tmp:
            shutil.rmtree(args.work_dir, ignore_errors=True)
    best = min(results, key=lambda r: r["reference_300_steps_projected_s"])
    out = {
        "tiny": args.tiny,
        "steps": args.steps,
        "command": "python bench/gpu_train.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "architecture": arch,
        "peak_bf16_tflops": peak,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "variants": results,
        "best": best,
        "goal": {"seconds": GOAL_SECONDS, "peak_gb": GOAL_PEAK_GB},
        "goal_met": best["reference_300_steps_projected_s"] <= GOAL_SECONDS and best["peak_mem_gb"] <= GOAL_PEAK_GB,
        "data": {"examples": len(examples), "median_tokens": statistics.median(len(e["input_ids"]) for e in examples)},
        "wall_s": time.perf_counter() - started,
    }
    out["quick"] = args.quick
    path = common.write_json(
        common.run_name("gpu_train_tiny" if args.tiny else "gpu_train", args.quick), out, out_dir=args.out
    )
    out = json.loads(path.read_text())
    if not (args.quick or args.no_docs):  # a CI-size run never replaces the real numbers
        # A tiny CPU run never puts its numbers in the doc: it keeps the last GPU run's
        # table (bench/out/gpu_train.json, else its committed copy) or the instructions.
        src = (
            path
            if not args.tiny
            else next(
                (f for f in (common.OUT_DIR / "gpu_train.json", common.RESULTS_DIR / "gpu_train.json") if f.exists()),
                None,
            )
        )
        shown = json.loads(src.read_text()) if src else None
        measured = bool(shown and not shown.get("tiny") and shown.get("machine", {}).get("gpu"))
        common.replace_section(
            "gpu", render_section(shown), results=src if measured else None, results_name="gpu_train"
        )
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
