"""The evaluation report's PNG plots (matplotlib, imported only when plots are drawn).

Every bar carries its 95% interval; ``overview.png`` puts all panels on one page.
"""

from __future__ import annotations

from pathlib import Path

from chefbot.evaluate.rouge import ROUGE_LABELS


def _bar_ci(ax, labels, groups: dict[str, list[dict | None]], ylabel: str, title: str) -> None:
    import numpy as np

    n_groups = len(groups)
    x = np.arange(len(labels))
    width = 0.8 / max(n_groups, 1)
    for k, (name, vals) in enumerate(groups.items()):
        means = [(v or {}).get("mean", (v or {}).get("value")) or 0 for v in vals]
        lo = [
            max(0.0, m - (v or {}).get("low", m)) if v and v.get("low") is not None else 0 for m, v in zip(means, vals)
        ]
        hi = [
            max(0.0, (v or {}).get("high", m) - m) if v and v.get("high") is not None else 0
            for m, v in zip(means, vals)
        ]
        ax.bar(x + (k - (n_groups - 1) / 2) * width, means, width, yerr=[lo, hi], capsize=2, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if n_groups > 1:
        ax.legend(fontsize=7)


def _plot_rouge(ax, models, section="whole"):
    types = list(models[0]["rouge"]["whole"].keys())
    groups = {ROUGE_LABELS.get(t, t): [m["rouge"].get(section, {}).get(t) for m in models] for t in types}
    _bar_ci(ax, [m["model"] for m in models], groups, "F-measure", f"ROUGE ({section}), 95% CI")


def _plot_improvement(ax, comps):
    import numpy as np

    metrics = list(comps[0]["metrics"].keys())
    x = np.arange(len(metrics))
    width = 0.8 / len(comps)
    for k, c in enumerate(comps):
        vals = [c["metrics"][m] for m in metrics]
        rel = [100 * (v["relative"] or 0) for v in vals]
        lo = [100 * ((v["relative"] or 0) - (v["relative_low"] or 0)) for v in vals]
        hi = [100 * ((v["relative_high"] or 0) - (v["relative"] or 0)) for v in vals]
        ax.bar(x + (k - (len(comps) - 1) / 2) * width, rel, width, yerr=[lo, hi], capsize=2, label=c["b"])
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels(metrics, rotation=20, ha="right", fontsize=7)
    ax.set_ylabel("% vs baseline")
    ax.set_title(f"Relative change vs {comps[0]['a']} (paired bootstrap 95% CI)", fontsize=10)
    ax.legend(fontsize=7)


def _plot_bertscore(ax, models):
    bs = [m for m in models if m.get("bertscore")]
    groups = {k: [m["bertscore"][k] for m in bs] for k in ("precision", "recall", "f1")}
    enc = bs[0]["bertscore"]["model"]
    _bar_ci(
        ax,
        [m["model"] for m in bs],
        groups,
        "BERTScore",
        f"BERTScore ({enc}{'' if bs[0]['bertscore']['rescaled'] else ', not rescaled'})",
    )


def _plot_benchmarks(ax, bench):
    labels, groups = [], {}
    models = list(bench["models"].keys())
    keys = []
    for model, rows in bench["models"].items():
        for r in rows:
            key = f"{r['task']} {r['metric']}"
            if key not in keys:
                keys.append(key)
    for model in models:
        by = {f"{r['task']} {r['metric']}": r for r in bench["models"][model]}
        vals = []
        for key in keys:
            r = by.get(key)
            if r is None:
                vals.append(None)
            else:
                se = r.get("stderr") or 0
                vals.append({"value": r["value"], "low": r["value"] - 1.96 * se, "high": r["value"] + 1.96 * se})
        groups[model] = vals
    labels = keys
    _bar_ci(ax, labels, groups, "accuracy", "Benchmarks (±1.96 stderr)")


def _plot_checks(ax, models):
    ck = [m for m in models if m.get("checks")]
    names = [
        c
        for c in (
            "well_formed",
            "has_directions",
            "ner_used",
            "introduced_any",
            "oven_temp_ok",
            "degenerate",
            "stopped",
        )
        if c in ck[0]["checks"]
    ]
    groups = {m["model"]: [m["checks"][c] for c in names] for m in ck}
    _bar_ci(ax, names, groups, "share of items", "Recipe checks, 95% CI")


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def _plot_losses(ax, training: dict) -> None:
    tr = training["train_loss"]
    ax.plot([r["step"] for r in tr], [r["loss"] for r in tr], label="train (per optimizer step)", alpha=0.8)
    ev = training.get("eval_loss") or []
    if ev:
        ax.plot([r["step"] for r in ev], [r["loss"] for r in ev], "o-", label="validation")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy per target token")
    ax.set_title("Training loss")
    ax.grid(alpha=0.3)
    ax.legend()


def write_plots(results: dict, comps: list[dict], out_dir: Path) -> list[Path]:
    """One PNG per panel plus overview.png; ``comps`` are the paired comparisons to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = results["models"]
    bench = results.get("benchmarks") or {}
    panels = []
    if (results.get("training") or {}).get("train_loss"):
        panels.append(("loss_curve.png", lambda ax: _plot_losses(ax, results["training"])))
    panels.append(("model_comparison.png", lambda ax: _plot_rouge(ax, models)))
    if any("directions" in m["rouge"] for m in models):
        panels.append(
            (
                "directions.png",
                lambda ax: _plot_rouge(ax, [m for m in models if "directions" in m["rouge"]], "directions"),
            )
        )
    if comps:
        panels.append(("improvement.png", lambda ax: _plot_improvement(ax, comps)))
    if any(m.get("bertscore") for m in models):
        panels.append(("bertscore.png", lambda ax: _plot_bertscore(ax, models)))
    if any(m.get("checks") for m in models):
        panels.append(("checks.png", lambda ax: _plot_checks(ax, models)))
    if bench.get("models"):
        panels.append(("benchmarks.png", lambda ax: _plot_benchmarks(ax, bench)))
    paths = []
    for name, draw in panels:
        fig, ax = plt.subplots(figsize=(7, 4))
        draw(ax)
        paths.append(_save(fig, out_dir / name))
    cols = 2
    rows = (len(panels) + 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(13, 4.2 * rows), squeeze=False)
    for ax, (_, draw) in zip(axes.flat, panels):
        draw(ax)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(results.get("title", "chefbot evaluation"))
    paths.append(_save(fig, out_dir / "overview.png"))
    return paths
