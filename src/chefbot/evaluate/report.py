"""The evaluation report: results.json, report.md, a self-contained report.html and PNG plots.

``write_report(results, out_dir)`` takes::

    {
      "title": str,                                   # optional
      "models": [score_predictions(...) result, ...],  # required, same items for every model
      "baseline": "model name",                       # optional: relative improvement is vs this
      "comparisons": [compare_results(...), ...],     # optional: computed vs "baseline" when absent
      "benchmarks": {                                 # optional (MMLU/HellaSwag via lm-eval)
        "models": {model: [{"task", "metric", "value", "stderr", "n"}, ...]},
        "retention": [{"task", "metric", "base_model", "tuned_model", "value", "low", "high", "method"}],
      },
      "judge": {"a", "b", "judge_model", "n", "wins", "ties", "losses",   # optional pairwise judge
                "win_rate": {"value", "low", "high"}},  # win_rate computed (Wilson) when absent
      "notes": [str, ...],                              # optional, printed under the title
    }

Every number in the tables carries n and a 95% interval; the method is stated beside it.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from chefbot.io import atomic_write_json, atomic_write_text

ROUGE_LABELS = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "rougeLsum": "ROUGE-Lsum"}
CHECK_LABELS = {
    "well_formed": "well formed (title, ingredients, numbered steps)",
    "has_directions": "has directions",
    "numbered_directions": "numbered directions",
    "ner_used": "requested ingredients used in directions",
    "introduced": "ingredients introduced (count)",
    "introduced_any": "introduces an unrequested ingredient",
    "oven_temp_ok": "oven temperatures plausible and consistent",
    "oven_temp_consistent": "°F/°C pairs consistent",
    "repeated_4gram_rate": "repeated 4-gram rate",
    "duplicate_line_rate": "duplicate line rate",
    "degenerate": "degenerate (looping)",
    "stopped": "stopped by itself",
}


def _ci(a: dict | None, digits: int = 3) -> str:
    if not a or a.get("mean") is None and a.get("value") is None:
        return "–"
    v = a.get("mean", a.get("value"))
    if a.get("low") is None:
        return f"{v:.{digits}f}"
    return f"{v:.{digits}f} [{a['low']:.{digits}f}, {a['high']:.{digits}f}]"


def _pct(d: dict) -> str:
    if d.get("relative") is None:
        return "–"
    return f"{100 * d['relative']:+.0f}% [{100 * d['relative_low']:+.0f}%, {100 * d['relative_high']:+.0f}%]"


class _Table:
    def __init__(self, title: str, header: list[str], note: str = ""):
        self.title, self.header, self.note, self.rows = title, header, note, []

    def add(self, *cells) -> None:
        self.rows.append([str(c) for c in cells])

    def md(self) -> str:
        out = [f"### {self.title}", ""]
        if self.note:
            out += [self.note, ""]
        out.append("| " + " | ".join(self.header) + " |")
        out.append("|" + "|".join("---" for _ in self.header) + "|")
        out += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(out) + "\n"

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self.rows)
        note = f"<p class='note'>{html.escape(self.note)}</p>" if self.note else ""
        return f"<h3>{html.escape(self.title)}</h3>{note}<table><tr>{head}</tr>{body}</table>"


def _comparisons(results: dict) -> list[dict]:
    if results.get("comparisons") is not None:
        return results["comparisons"]
    base = results.get("baseline")
    models = results["models"]
    if not base or len(models) < 2:
        return []
    from chefbot.evaluate.score import compare_results

    a = next((m for m in models if m["model"] == base), None)
    if a is None:
        return []
    return [compare_results(a, b) for b in models if b is not a and "per_item" in b and "per_item" in a]


def judge_win_rate(judge: dict) -> dict:
    """Win rate counting a tie as half a win, with a Wilson interval."""
    from chefbot.evaluate.stats import wilson_interval

    n = judge.get("n") or (judge["wins"] + judge["ties"] + judge["losses"])
    return wilson_interval(judge["wins"] + 0.5 * judge["ties"], n)


def build_tables(results: dict) -> list[_Table]:
    models = results["models"]
    tables: list[_Table] = []
    types = list(models[0]["rouge"]["whole"].keys()) if models else []
    for section, title in (("whole", "ROUGE per model (whole text)"), ("directions", "ROUGE per model (directions only)")):
        if not any(section in m["rouge"] for m in models):
            continue
        m0 = models[0]["method"]
        t = _Table(
            title,
            ["model", "n", *[ROUGE_LABELS.get(x, x) for x in types]],
            f"Mean F-measure over items [95% {m0.get('interval', 'bootstrap')}]; stemmer {'on' if m0.get('stemmer') else 'off'}.",
        )
        for m in models:
            if section in m["rouge"]:
                t.add(m["model"], m["n"], *[_ci(m["rouge"][section].get(x)) for x in types])
        tables.append(t)
    comps = _comparisons(results)
    if comps:
        metrics = list(comps[0]["metrics"].keys())
        t = _Table(
            f"Relative improvement over {comps[0]['a']}",
            ["model", "n", *metrics],
            "Paired bootstrap over the same items: mean difference / baseline mean, 95% interval; p = two-sided bootstrap share.",
        )
        for c in comps:
            t.add(c["b"], next(iter(c["metrics"].values()))["n"],
                  *[f"{_pct(d)} (p={d['p_value']:.3f})" for d in c["metrics"].values()])
        tables.append(t)
    bs = [m for m in models if m.get("bertscore")]
    if bs:
        b0 = bs[0]["bertscore"]
        t = _Table(
            "BERTScore",
            ["model", "n", "encoder (layer)", "rescaled", "precision", "recall", "F1"],
            b0.get("note", ""),
        )
        for m in bs:
            b = m["bertscore"]
            t.add(m["model"], m["n"], f"{b['model']} ({b['num_layers']})", "yes" if b["rescaled"] else "no",
                  _ci(b["precision"]), _ci(b["recall"]), _ci(b["f1"]))
        tables.append(t)
    ck = [m for m in models if m.get("checks")]
    if ck:
        names = [c for c in CHECK_LABELS if c in ck[0]["checks"]]
        t = _Table("Recipe checks", ["check", *[m["model"] for m in ck]],
                   "Share of items (or mean) [95% bootstrap interval] (n = items where the check applies).")
        for c in names:
            t.add(CHECK_LABELS[c], *[f"{_ci(m['checks'][c], 2)} (n={m['checks'][c]['n']})" for m in ck])
        tables.append(t)
    bench = results.get("benchmarks") or {}
    if bench.get("models"):
        t = _Table("Benchmarks (lm-evaluation-harness)", ["model", "task", "metric", "n", "value [95% CI]", "stderr"],
                   "Interval = value ± 1.96 × the harness's standard error.")
        for model, rows in bench["models"].items():
            for r in rows:
                se = r.get("stderr")
                ci = {"value": r["value"], "low": r["value"] - 1.96 * se, "high": r["value"] + 1.96 * se} if se is not None else {"value": r["value"]}
                t.add(model, r["task"], r["metric"], r.get("n", "?"), _ci(ci), f"{se:.4f}" if se is not None else "–")
        tables.append(t)
    if bench.get("retention"):
        t = _Table("Benchmark retention (tuned / base)", ["task", "metric", "base → tuned", "retention [95% CI]", "method"])
        for r in bench["retention"]:
            t.add(r["task"], r["metric"], f"{r.get('base_model', 'base')} → {r.get('tuned_model', 'tuned')}", _ci(r), r.get("method", ""))
        tables.append(t)
    judge = results.get("judge")
    if judge:
        wr = judge.get("win_rate") or judge_win_rate(judge)
        t = _Table("Pairwise judge", ["A", "B", "judge", "n", "B wins", "ties", "B losses", "B win rate [95% CI]"],
                   "Both orders asked for every item to cancel position bias; a tie counts as half a win; Wilson interval.")
        t.add(judge["a"], judge["b"], judge.get("judge_model", "?"), judge.get("n", "?"), judge["wins"], judge["ties"], judge["losses"], _ci(wr))
        tables.append(t)
    return tables


# ----------------------------------------------------------------------------- plots


def _bar_ci(ax, labels, groups: dict[str, list[dict | None]], ylabel: str, title: str) -> None:
    import numpy as np

    n_groups = len(groups)
    x = np.arange(len(labels))
    width = 0.8 / max(n_groups, 1)
    for k, (name, vals) in enumerate(groups.items()):
        means = [(v or {}).get("mean", (v or {}).get("value")) or 0 for v in vals]
        lo = [max(0.0, m - (v or {}).get("low", m)) if v and v.get("low") is not None else 0 for m, v in zip(means, vals)]
        hi = [max(0.0, (v or {}).get("high", m) - m) if v and v.get("high") is not None else 0 for m, v in zip(means, vals)]
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
    _bar_ci(ax, [m["model"] for m in bs], groups, "BERTScore", f"BERTScore ({enc}{'' if bs[0]['bertscore']['rescaled'] else ', not rescaled'})")


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
    names = [c for c in ("well_formed", "has_directions", "ner_used", "introduced_any", "oven_temp_ok", "degenerate", "stopped") if c in ck[0]["checks"]]
    groups = {m["model"]: [m["checks"][c] for c in names] for m in ck}
    _bar_ci(ax, names, groups, "share of items", "Recipe checks, 95% CI")


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def write_plots(results: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = results["models"]
    comps = _comparisons(results)
    bench = results.get("benchmarks") or {}
    panels = [("model_comparison.png", lambda ax: _plot_rouge(ax, models))]
    if any("directions" in m["rouge"] for m in models):
        panels.append(("directions.png", lambda ax: _plot_rouge(ax, [m for m in models if "directions" in m["rouge"]], "directions")))
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
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(results.get("title", "chefbot evaluation"))
    paths.append(_save(fig, out_dir / "overview.png"))
    return paths


# ----------------------------------------------------------------------------- report


def _methods(results: dict) -> list[str]:
    m = results["models"][0]["method"] if results["models"] else {}
    out = [f"- ROUGE: {m.get('rouge', '')}; stemmer {'on' if m.get('stemmer') else 'off'}; "
           f"ROUGE-Lsum sentences: {m.get('rougeLsum_sentences', '')}."]
    if "directions" in m:
        out.append(f"- Directions only: {m['directions']}.")
    out.append(f"- Intervals: {m.get('interval', '')}.")
    for mod in results["models"]:
        if mod.get("settings"):
            out.append(f"- Generation settings of {mod['model']}: `{json.dumps(mod['settings'], sort_keys=True)}`")
    return out


def write_report(results: dict, out_dir, plots: bool = True) -> None:
    """Write results.json, report.md, report.html and (unless ``plots=False``) the PNG plots into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if results.get("judge") and not results["judge"].get("win_rate"):
        results = {**results, "judge": {**results["judge"], "win_rate": judge_win_rate(results["judge"])}}
    comps = _comparisons(results)
    if comps and results.get("comparisons") is None:
        results = {**results, "comparisons": comps}
    atomic_write_json(out_dir / "results.json", results)
    tables = build_tables(results)
    plots = write_plots(results, out_dir) if results["models"] and plots else []
    title = results.get("title", "chefbot evaluation")
    notes = results.get("notes", [])
    md = [f"# {title}", ""] + [f"> {n}" for n in notes] + ([""] if notes else [])
    md += ["## Method", ""] + _methods(results) + ["", "## Results", ""]
    md += [t.md() for t in tables]
    md += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    atomic_write_text(out_dir / "report.md", "\n".join(md))
    imgs = "".join(
        f"<figure><img alt='{p.stem}' src='data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}'/>"
        f"<figcaption>{p.stem}</figcaption></figure>"
        for p in plots
    )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}td,th{border:1px solid #ccc;padding:.3em .6em}"
        "th{background:#f3f3f3}.note{color:#555;font-size:.9em}img{max-width:100%}figure{margin:1em 0}"
        "blockquote{border-left:4px solid #e0a030;margin:0;padding:.2em 1em;background:#fff8e8}"
    )
    body = f"<h1>{html.escape(title)}</h1>"
    body += "".join(f"<blockquote>{html.escape(n)}</blockquote>" for n in notes)
    body += "<h2>Method</h2><ul>" + "".join(f"<li>{html.escape(x[2:])}</li>" for x in _methods(results)) + "</ul>"
    body += "<h2>Results</h2>" + "".join(t.html() for t in tables) + "<h2>Plots</h2>" + imgs
    atomic_write_text(
        out_dir / "report.html",
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style></head><body>{body}</body></html>\n",
    )


def retention_rows(bench_models: dict, base: str, tuned: str) -> list[dict]:
    """Retention = tuned / base for every (task, metric) both models have, with a 95% interval
    from independent binomial resampling of both accuracies (conservative when the two
    runs share their questions; see ``stats.ratio_interval``)."""
    from chefbot.evaluate.stats import ratio_interval

    by_base = {(r["task"], r["metric"]): r for r in bench_models.get(base, [])}
    out = []
    for r in bench_models.get(tuned, []):
        b = by_base.get((r["task"], r["metric"]))
        if b is None or not b["value"]:
            continue
        ri = ratio_interval(r["value"], int(r["n"]), b["value"], int(b["n"]))
        out.append({"task": r["task"], "metric": r["metric"], "base_model": base, "tuned_model": tuned,
                    "value": ri["value"], "low": ri["low"], "high": ri["high"], "n_base": b["n"], "n_tuned": r["n"],
                    "method": "tuned/base; parametric binomial bootstrap of both accuracies, 95%"})
    return out
