"""``chefbot demo``: data -> train -> base vs tuned on held-out recipes -> report.md.

The quickstart's proof that training works: the same held-out requests go to the base
model and to base + adapter through the one generation path (``LocalGenerator``,
greedy), and the report shows format adherence (``parse_recipe(...).well_formed``),
ROUGE-L of the directions (``directions_text``, rouge_score with stemming), the
validation loss before/after, a loss curve and side-by-side samples, each with n
and how it was measured.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from chefbot.config import ExperimentConfig, save_resolved
from chefbot.io import atomic_write_json, atomic_write_text


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (sound for small n, unlike p +- 2se)."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, mid - half), min(1.0, mid + half))


def bootstrap_mean(values: list[float], samples: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """Mean and 95% percentile-bootstrap interval."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return (float("nan"),) * 3
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(samples, len(x)))].mean(axis=1)
    return float(x.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def score(rows: list[dict]) -> dict:
    """Format adherence and directions-only ROUGE-L F1 of predictions against references."""
    from rouge_score import rouge_scorer

    from chefbot.recipe_format import directions_text, parse_recipe

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    well = [parse_recipe(r["prediction"]).well_formed for r in rows]
    rouge = [scorer.score(directions_text(r["reference"]), directions_text(r["prediction"]))["rougeL"].fmeasure for r in rows]
    stopped = sum(r.get("finish_reason") == "stop" for r in rows)
    k = sum(well)
    return {
        "n": len(rows),
        "well_formed": k,
        "well_formed_rate": k / len(rows) if rows else float("nan"),
        "well_formed_ci95": wilson(k, len(rows)),
        "rougeL_directions": bootstrap_mean(rouge),
        "stopped_by_itself": stopped,
        "per_item_rougeL": rouge,
    }


def plot_losses(summary: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    tr = summary["train_loss"]
    ax.plot([r["step"] for r in tr], [r["loss"] for r in tr], label="train (per optimizer step)", alpha=0.8)
    ev = summary["eval_loss"]
    if ev:
        ax.plot([r["step"] for r in ev], [r["loss"] for r in ev], "o-", label="validation")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy per target token")
    ax.set_title("chefbot quickstart: loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _generate(model: Any, tokenizer: Any, cfg: ExperimentConfig, items: list[dict], label: str) -> list[dict]:
    from chefbot.generate import LocalGenerator

    gen = LocalGenerator(model, tokenizer, cfg.eval.generation, fold=cfg.prompt.fold_system, label=label)
    outs = gen.generate([it["messages"] for it in items])
    return [{"id": it["id"], "reference": it["reference"], "prediction": c.text, "finish_reason": c.finish_reason,
             "completion_tokens": c.completion_tokens, "model": label} for it, c in zip(items, outs)]


def _fmt_ci(mean: float, lo: float, hi: float) -> str:
    return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"


def run_demo(cfg: ExperimentConfig) -> Path:
    """The whole quickstart; returns the path of report.md."""
    from peft import PeftModel

    from chefbot.data.prepare import load_eval_items, prepare
    from chefbot.model import load_model, load_tokenizer
    from chefbot.progress import console
    from chefbot.train.loop import train

    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_resolved(cfg, out)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    tokenizer = load_tokenizer(cfg.model)  # first run: dequantizes the GGUF once
    timings["model_resolve"] = time.perf_counter() - t
    t = time.perf_counter()
    prepared = prepare(cfg, tokenizer)
    items = load_eval_items(cfg, cfg.eval.split)[: cfg.eval.limit or None]
    timings["data"] = time.perf_counter() - t

    t = time.perf_counter()
    console.print(f"[bold]training[/] {cfg.train.max_steps} steps on {prepared.stats['split']['train_recipes']} recipes")
    summary = train(cfg, prepared=prepared, tokenizer=tokenizer)
    timings["train"] = time.perf_counter() - t

    t = time.perf_counter()
    console.print(f"[bold]generating[/] {len(items)} held-out recipes with the base and the tuned model")
    model = load_model(cfg)
    model.eval()
    base_rows = _generate(model, tokenizer, cfg, items, "base")
    tuned = PeftModel.from_pretrained(model, summary["adapter_dir"])
    tuned.eval()
    tuned_rows = _generate(tuned, tokenizer, cfg, items, "tuned")
    timings["generate"] = time.perf_counter() - t

    scores = {"base": score(base_rows), "tuned": score(tuned_rows)}
    with open(out / "predictions.jsonl", "w", encoding="utf-8") as f:
        for r in base_rows + tuned_rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    png = plot_losses(summary, out / "loss_curve.png")
    results = {"scores": scores, "train": {k: v for k, v in summary.items() if k not in ("train_loss",)},
               "timings_s": timings, "n_eval_items": len(items), "data_stats": prepared.stats}
    atomic_write_json(out / "results.json", results)
    report = out / "report.md"
    atomic_write_text(report, _report_md(cfg, summary, scores, timings, base_rows, tuned_rows, png.name, prepared.stats))
    return report


def _report_md(cfg, summary, scores, timings, base_rows, tuned_rows, png_name, stats) -> str:
    ev = summary["eval_loss"]
    before, after = (ev[0]["loss"], ev[-1]["loss"]) if ev else (float("nan"), float("nan"))
    b, tu = scores["base"], scores["tuned"]
    n = b["n"]
    g = cfg.eval.generation
    lines = [
        f"# chefbot demo: {cfg.name}",
        "",
        f"Base model `{cfg.model.name_or_path}` + LoRA (r={cfg.lora.r}, alpha={cfg.lora.alpha}, targets {cfg.lora.target_modules}, "
        f"quant={cfg.quant.mode}), trained {summary['steps']} optimizer steps on {stats['split']['train_recipes']} recipes "
        f"from `{cfg.data.source}` (packing={cfg.data.packing}, max_length={cfg.data.max_length}).",
        "",
        "## Results",
        "",
        "| metric | base | tuned | how measured |",
        "|---|---|---|---|",
        f"| validation loss | {before:.3f} | {after:.3f} | mean cross-entropy per target token (assistant answer + end-of-turn) on the first "
        f"{cfg.train.eval_batches or 'all'} validation batches; base = step 0 (LoRA B=0 is the base) |",
        f"| well-formed recipes | {b['well_formed']}/{n} ({b['well_formed_rate']:.0%}, 95% CI {b['well_formed_ci95'][0]:.2f}-{b['well_formed_ci95'][1]:.2f}) "
        f"| {tu['well_formed']}/{n} ({tu['well_formed_rate']:.0%}, 95% CI {tu['well_formed_ci95'][0]:.2f}-{tu['well_formed_ci95'][1]:.2f}) "
        f"| `parse_recipe(text).well_formed` (title, ingredients, numbered directions) on {n} held-out `{cfg.eval.split}` recipes; Wilson interval |",
        f"| ROUGE-L F1, directions only | {_fmt_ci(*b['rougeL_directions'])} | {_fmt_ci(*tu['rougeL_directions'])} "
        f"| rouge_score rougeL (stemmer) of `directions_text(prediction)` vs `directions_text(reference)`, n={n}; mean [95% bootstrap CI, 1000 resamples] |",
        f"| stopped by itself | {b['stopped_by_itself']}/{n} | {tu['stopped_by_itself']}/{n} | generation ended on a stop token before max_new_tokens={g.max_new_tokens} |",
        "",
        f"Generation: greedy (do_sample={g.do_sample}), max_new_tokens={g.max_new_tokens}, batch {g.batch_size}, "
        "through `chefbot.generate.LocalGenerator` (left padding, KV cache, stops on every end-of-turn id); tuned = base + adapter, not merged.",
        "",
        f"![loss curve]({png_name})",
        "",
        "## Training",
        "",
        f"- target tokens/s: {summary['target_tokens_per_s']:.0f} (target tokens of all optimizer steps / time in forward+backward+optimizer; eval and checkpoints excluded)",
        f"- peak memory: {summary['peak_mem_mb']:.0f} MB ({'torch.cuda.max_memory_allocated' if 'cuda' in str(summary.get('device', '')) else 'peak RSS of the process'})",
        f"- train seconds: {summary['train_seconds']:.0f}",
        "",
        "## Wall time",
        "",
        "| phase | seconds |",
        "|---|---|",
        *[f"| {k} | {v:.0f} |" for k, v in timings.items()],
        f"| total | {sum(timings.values()):.0f} |",
        "",
        "## Samples (first 2 held-out recipes)",
        "",
    ]
    for br, tr in list(zip(base_rows, tuned_rows))[:2]:
        lines += [f"### {br['id']}", "", "**Base:**", "", "```", br["prediction"].strip()[:1500], "```", "",
                  "**Tuned:**", "", "```", tr["prediction"].strip()[:1500], "```", ""]
    lines += ["Reproduce: `make demo` (= `chefbot demo configs/quickstart.yaml`).", ""]
    return "\n".join(lines)
