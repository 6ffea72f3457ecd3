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
      "training": train.history.read_history(...),     # optional: the tuned model's run (the demo)
      "constraints": constraint_eval.score_constraints(...),  # optional: constraint satisfaction, base vs tuned
      "samples": [{"id", "title", "reference", "predictions": {model: text}}],  # optional
    }

Every number in the tables carries n and a 95% interval; the method is stated beside it.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from chefbot.evaluate.benchmark_tasks import METRICS
from chefbot.evaluate.report_plots import write_plots
from chefbot.evaluate.report_tables import (  # noqa: F401  (re-exported: audit.py, contract)
    Table,
    benchmark_tables,
    build_tables,
    comparisons,
    fmt_interval,
    fmt_relative,
    judge_win_rate,
)
from chefbot.evaluate.stats import ratio_interval
from chefbot.io import atomic_write_json, atomic_write_text


def _methods(results: dict) -> list[str]:
    m = results["models"][0]["method"] if results["models"] else {}
    out = [
        f"- ROUGE: {m.get('rouge', '')}; stemmer {'on' if m.get('stemmer') else 'off'}; "
        f"ROUGE-Lsum sentences: {m.get('rougeLsum_sentences', '')}."
    ]
    if "directions" in m:
        out.append(f"- Directions only: {m['directions']}.")
    out.append(f"- Intervals: {m.get('interval', '')}.")
    for mod in results["models"]:
        if mod.get("settings"):
            out.append(f"- Generation settings of {mod['model']}: `{json.dumps(mod['settings'], sort_keys=True)}`")
    return out


def _samples_md(samples: list[dict], chars: int = 1500) -> list[str]:
    if not samples:
        return []
    out = [f"## Samples (the first {len(samples)} items)", ""]
    for sm in samples:
        out += [f"### {sm.get('title') or sm['id']}", ""]
        for who, text in [*sm["predictions"].items(), ("reference", sm["reference"])]:
            out += [f"**{who}:**", "", "```", (text or "").strip()[:chars], "```", ""]
    return out


def _samples_html(samples: list[dict], chars: int = 1500) -> str:
    if not samples:
        return ""
    body = f"<h2>Samples (the first {len(samples)} items)</h2>"
    for sm in samples:
        body += f"<h3>{html.escape(str(sm.get('title') or sm['id']))}</h3>"
        for who, text in [*sm["predictions"].items(), ("reference", sm["reference"])]:
            body += f"<p><b>{html.escape(who)}:</b></p><pre>{html.escape((text or '').strip()[:chars])}</pre>"
    return body


def write_report(results: dict, out_dir, plots: bool = True) -> None:
    """Write results.json, report.md, report.html and (unless ``plots=False``) the PNG plots into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if results.get("judge") and not results["judge"].get("win_rate"):
        results = {**results, "judge": {**results["judge"], "win_rate": judge_win_rate(results["judge"])}}
    comps = comparisons(results)
    if comps and results.get("comparisons") is None:
        results = {**results, "comparisons": comps}
    atomic_write_json(out_dir / "results.json", results)
    tables = build_tables(results)
    plots = write_plots(results, comps, out_dir) if results["models"] and plots else []
    title = results.get("title", "chefbot evaluation")
    notes = results.get("notes", [])
    md = [f"# {title}", ""] + [f"> {n}" for n in notes] + ([""] if notes else [])
    md += ["## Method", ""] + _methods(results) + ["", "## Results", ""]
    md += [t.md() for t in tables]
    md += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    md += _samples_md(results.get("samples") or [])
    atomic_write_text(out_dir / "report.md", "\n".join(md))
    imgs = "".join(
        f"<figure><img alt='{p.stem}' src='data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}'/>"
        f"<figcaption>{p.stem}</figcaption></figure>"
        for p in plots
    )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}td,th{border:1px solid #ccc;padding:.3em .6em}"
        "th{background:#f3f3f3}pre{white-space:pre-wrap;background:#f7f7f7;padding:.5em}.note{color:#555;font-size:.9em}img{max-width:100%}figure{margin:1em 0}"
        "blockquote{border-left:4px solid #e0a030;margin:0;padding:.2em 1em;background:#fff8e8}"
    )
    body = f"<h1>{html.escape(title)}</h1>"
    body += "".join(f"<blockquote>{html.escape(n)}</blockquote>" for n in notes)
    body += "<h2>Method</h2><ul>" + "".join(f"<li>{html.escape(x[2:])}</li>" for x in _methods(results)) + "</ul>"
    body += "<h2>Results</h2>" + "".join(t.html() for t in tables) + "<h2>Plots</h2>" + imgs
    body += _samples_html(results.get("samples") or [])
    atomic_write_text(
        out_dir / "report.html",
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style></head><body>{body}</body></html>\n",
    )


def retention_rows(bench_models: dict, base: str, tuned: str) -> list[dict]:
    """Retention = tuned / base for every (task, metric) both models have, with a 95% interval
    from independent binomial resampling of both accuracies (conservative when the two
    runs share their questions; see ``stats.ratio_interval``)."""
    by_base = {(r["task"], r["metric"]): r for r in bench_models.get(base, [])}
    out = []
    for r in bench_models.get(tuned, []):
        b = by_base.get((r["task"], r["metric"]))
        if b is None or not b["value"]:
            continue
        ri = ratio_interval(r["value"], int(r["n"]), b["value"], int(b["n"]))
        out.append(
            {
                "task": r["task"],
                "metric": r["metric"],
                "base_model": base,
                "tuned_model": tuned,
                "value": ri["value"],
                "low": ri["low"],
                "high": ri["high"],
                "n_base": b["n"],
                "n_tuned": r["n"],
                "method": "tuned/base; parametric binomial bootstrap of both accuracies, 95%",
            }
        )
    return out


def report_benchmarks(bench: dict, names: dict[str, str]) -> dict:
    """``benchmarks.save_benchmarks`` output in the report's layout; ``names`` maps base/tuned to model names."""
    models = {}
    for run, res in bench["runs"].items():
        models[names.get(run, run)] = [
            {"task": t, "metric": m, "value": res[t][m], "stderr": res[t].get(f"{m}_stderr"), "n": res[t]["n"]}
            for t, ms in METRICS.items()
            if t in res
            for m in ms
        ]
    retention = [
        {
            "task": t,
            "metric": m,
            "base_model": names.get("base", "base"),
            "tuned_model": names.get("tuned", "tuned"),
            **r,
        }
        for t, ms in (bench.get("retention") or {}).items()
        for m, r in ms.items()
    ]
    return {"models": models, "retention": retention, "settings": bench["runs"]["base"]["settings"]}


def benchmarks_markdown(bench: dict) -> str:
    """benchmarks.json as markdown: the report's benchmark tables, then how they were measured."""
    settings = bench["runs"]["base"]["settings"]
    tables: list[Table] = benchmark_tables(report_benchmarks(bench, {}))
    served = [
        f"{label}: {info['endpoint']} serves {info['health'].get('base_model')} + adapter "
        f"{info['health'].get('adapter')} ({info['health'].get('dtype')}), through lm-eval's local-completions."
        for label, info in (bench.get("endpoints") or {}).items()
    ]
    method = (
        f"Method: {settings['harness']}, standard task definitions, num_fewshot {settings['num_fewshot']}, "
        f"limit per task {settings['limit_per_task']}; data: {settings['data_sources']}."
    )
    return "\n".join(t.md() for t in tables) + "\n" + "\n".join([method, *served]) + "\n"


def write_benchmarks_report(bench: dict, out_dir: str | Path) -> str:
    """benchmarks.md beside benchmarks.json; returns its markdown."""
    text = "# Benchmarks (forgetting check)\n\n" + benchmarks_markdown(bench)
    atomic_write_text(Path(out_dir) / "benchmarks.md", text)
    return text
