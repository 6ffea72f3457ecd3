"""``align``: requests -> sampled answers -> rewards -> pairs -> DPO, everything under OUTPUT_DIR/align/.

Files: ``requests.jsonl`` (what was asked), ``samples_settings.json`` and ``samples.jsonl`` (the answers
and their reward parts, resumable), ``pairs.jsonl``, ``rewards.json`` (the reward components averaged
per condition, and the pair counts), ``trainer/checkpoint-N`` (DPO checkpoints; ``trainer/run.json``: what
they were trained on), ``train_log.jsonl`` (every DPO step's loss and reward margins), ``adapter/`` (the aligned adapter, a PEFT folder) and
``align_summary.json``.  Run it again and it resumes where it stopped: sampling skips the requests
already answered, DPO continues from its newest complete checkpoint.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from statistics import mean

from chefbot.align.dpo import train_dpo
from chefbot.align.prompts import align_requests, substitution_requests, training_recipes
from chefbot.align.reward import build_pairs, substitution_pairs
from chefbot.align.samples import check_settings, sample_answers
from chefbot.config import ExperimentConfig, save_resolved
from chefbot.errors import ChefbotError
from chefbot.generate import make_generator
from chefbot.io import atomic_write_json, atomic_write_text
from chefbot.model import adapter_identity
from chefbot.progress import console

PARTS = ("reward", "constraints", "sense", "form", "completeness")
# training recipes read per substitution pair asked: 0.178 of drawn recipes get a target for their one drawn diet
# (docs/DATA.md), more when every diet a recipe breaks is tried; ten per pair filled 32 of 32 in the ablation
SUBSTITUTION_POOL = 10


def sft_adapter_dir(cfg: ExperimentConfig, adapter: str | None = None) -> Path:
    """The SFT adapter to align: ``adapter``, else OUTPUT_DIR/adapter; an error naming the path when absent."""
    path = Path(adapter) if adapter else Path(cfg.output_dir) / "adapter"
    if not (path / "adapter_config.json").exists():
        hint = "" if adapter else " (run `chefbot train` first, or give --adapter SFT_DIR)"
        raise ChefbotError(f"align: no SFT adapter at {path} (no adapter_config.json there){hint}")
    return path


def sampling_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """``cfg`` with the engine's decoding set to align's sampling (temperature, top_p, max_new_tokens)."""
    a = cfg.align
    gen = cfg.engine.generation.model_copy(
        update={"do_sample": True, "temperature": a.temperature, "top_p": a.top_p, "max_new_tokens": a.max_new_tokens}
    )
    return cfg.model_copy(update={"engine": cfg.engine.model_copy(update={"generation": gen})})


def reward_table(rows: list[dict]) -> dict:
    """Mean reward parts per condition over every sampled answer (n answers), for rewards.json."""
    out = {}
    for cond in sorted({r["condition"] for r in rows}) + ["all"]:
        answers = [a["score"] for r in rows if cond in ("all", r["condition"]) for a in r["answers"]]
        out[cond] = {"n_answers": len(answers), **{p: round(mean(a[p] for a in answers), 4) for p in PARTS}}
    return out


def align(cfg: ExperimentConfig, adapter: str | None = None) -> dict:
    """The whole stage; returns the summary written to OUTPUT_DIR/align/align_summary.json."""
    sft = sft_adapter_dir(cfg, adapter)
    out = Path(cfg.output_dir) / "align"
    out.mkdir(parents=True, exist_ok=True)
    save_resolved(cfg, out)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    a = cfg.align
    # the sampled requests' recipes first; the substitution pairs come from the ones after them
    recipes = training_recipes(cfg, a.prompts + SUBSTITUTION_POOL * a.substitution_pairs)
    requests = align_requests(cfg, recipes[: a.prompts])
    sub_requests = substitution_requests(cfg, recipes[a.prompts :], a.substitution_pairs)
    atomic_write_text(
        out / "requests.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests + sub_requests)
    )
    check_settings(
        out / "samples_settings.json",
        {
            "adapter": adapter_identity(sft),
            "engine": cfg.engine.model_dump(mode="json", exclude={"generation"}),
            "samples_per_prompt": a.samples_per_prompt,
            "temperature": a.temperature,
            "top_p": a.top_p,
            "max_new_tokens": a.max_new_tokens,
            "seed": cfg.seed,
            "requests": [r["id"] for r in requests],
        },
    )
    timings["requests"] = time.perf_counter() - t
    t = time.perf_counter()
    console.print(f"[bold]align[/] {a.samples_per_prompt} answers for each of {len(requests)} requests")
    rows, engine = sample_answers(
        lambda: make_generator(sampling_config(cfg), adapter=str(sft), purpose="serving"),
        requests,
        out / "samples.jsonl",
        k=a.samples_per_prompt,
        seed=cfg.seed,
    )
    timings["sampling"] = time.perf_counter() - t
    pairs, counts = build_pairs(rows, a.min_margin)
    sub_pairs, sub_dropped = substitution_pairs(sub_requests, a.min_margin)
    pairs += sub_pairs
    counts.update(
        substitution_pairs=len(sub_pairs),
        substitution_below_margin=sub_dropped,
        substitution_asked=a.substitution_pairs,
    )
    atomic_write_text(out / "pairs.jsonl", "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs))
    rewards = {"answers": reward_table(rows), "pairs": counts}
    atomic_write_json(out / "rewards.json", rewards)
    console.print(
        f"[bold]align[/] mean reward {rewards['answers']['all']['reward']:.3f} over "
        f"{rewards['answers']['all']['n_answers']} answers; {counts['pairs']} pairs from {counts['requests']} "
        f"requests ({counts['below_margin']} below the margin {a.min_margin})"
        + (f"; {len(sub_pairs)} substitution pairs" if a.substitution_pairs else "")
    )
    t = time.perf_counter()
    result = train_dpo(cfg, sft, pairs, out)
    timings["dpo"] = time.perf_counter() - t
    losses = [r["loss"] for r in result["log"] if "loss" in r]
    summary = {
        "sft_adapter": str(sft),
        "adapter_dir": result["adapter_dir"],
        "resumed_from": result["resumed_from"],
        "engine": engine,
        "requests": len(requests),
        "rewards": rewards,
        "dpo_steps": a.max_steps,
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "stages_s": {k: round(v, 1) for k, v in timings.items()},
    }
    atomic_write_json(out / "align_summary.json", summary)
    return summary
