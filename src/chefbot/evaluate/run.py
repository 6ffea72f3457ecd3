"""``chefbot eval CONFIG``: generate on the held-out test items, score, write the report.

The same items in the same order for every model (``load_eval_items``); predictions
are appended one line per finished item, so a crashed or interrupted run picks up
where it stopped; every generation setting is written into each row and the results.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from chefbot.config import ExperimentConfig, save_resolved
from chefbot.data.prepare import load_eval_items
from chefbot.errors import ChefbotError
from chefbot.evaluate.benchmarks import BenchmarkOptions, benchmark_model, loaded_model, save_benchmarks
from chefbot.evaluate.constraint_eval import constraint_items, score_constraints
from chefbot.evaluate.predictions import PredictionWriter
from chefbot.evaluate.report import report_benchmarks, write_report
from chefbot.evaluate.score import (
    compare_results,
    score_predictions,
    template_baseline_rows,
)
from chefbot.generate import make_generator, resolve_engine
from chefbot.progress import make_progress
from chefbot.train.history import read_history

SAMPLES = 2  # items shown side by side at the end of every report


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_")[:80] or "model"


def model_label(cfg: ExperimentConfig, adapter: str | None = None) -> str:
    name = cfg.engine.api_model if cfg.engine.kind == "openai" and cfg.engine.api_model else cfg.model.name_or_path
    short = Path(name.removeprefix("pkg:")).name.removesuffix(".gguf")
    return f"{short}+{Path(adapter).name}" if adapter else short


def eval_items(cfg: ExperimentConfig, limit: int | None = None) -> list[dict]:
    items = load_eval_items(cfg, cfg.eval.split)
    limit = limit if limit is not None else cfg.eval.limit
    items = items[:limit] if limit else items
    if not items:
        raise ChefbotError(f"eval: the {cfg.eval.split} split has no items (data.test_size / data.val_size is 0?)")
    return items


def generate_predictions(generator: Any, items: list[dict], path: Path, label: str) -> tuple[list[dict], dict]:
    """Predictions for ``items`` into ``path`` (resuming a partial file); rows in item order, and timing."""
    settings = json.loads(json.dumps(generator.describe(), default=str))  # as it reads back from JSON
    t0 = time.perf_counter()
    with PredictionWriter(path, label, settings) as writer:
        todo = writer.pending(items)
        resumed = len(items) - len(todo)
        with make_progress() as progress:
            task = progress.add_task(f"generate {label}", total=len(items), completed=resumed, info="")

            def on_result(i: int, c: Any) -> None:
                it = todo[i]
                writer.write(
                    {
                        "id": it["id"],
                        "inputs": {
                            "title": it.get("title"),
                            "ner": it.get("ner"),
                            "messages": it["messages"],
                            **({"constraints": it["constraints"]} if "constraints" in it else {}),
                        },
                        "reference": it["reference"],
                        "prediction": c.text,
                        "finish_reason": c.finish_reason if c.finish_reason in ("stop", "length") else "stop",
                        "prompt_tokens": c.prompt_tokens,
                        "completion_tokens": c.completion_tokens,
                    }
                )
                progress.advance(task)

            if todo:
                generator.generate([it["messages"] for it in todo], on_result=on_result)
        rows = writer.finalize(items)
    seconds = time.perf_counter() - t0
    timing = {
        "generated": len(todo),
        "resumed_from_file": resumed,
        "seconds": round(seconds, 2),
        "recipes_per_s": round(len(todo) / seconds, 4) if todo and seconds > 0 else None,
        "hit_token_limit": sum(r.get("finish_reason") == "length" for r in rows),
    }
    return rows, timing


def score_rows(cfg: ExperimentConfig, rows: list[dict]) -> dict:
    e = cfg.eval
    bert = None if e.bertscore_model.lower() in ("", "none") else e.bertscore_model
    return score_predictions(
        rows, stemmer=e.rouge_stemmer, bertscore_model=bert, bootstrap_samples=e.bootstrap_samples, seed=cfg.seed
    )


def write_results(results: dict, out_dir: Path) -> None:
    """results.json always; the report pages/plots through the eval-metrics report writer."""
    write_report(results, out_dir)


def run_one(cfg: ExperimentConfig, gen: Any, items: list[dict], out: Path, name: str) -> tuple[dict, list[dict]]:
    """Generate (resuming), score, and attach settings, timing and the predictions file.

    Returns the scores and the prediction rows (the template baseline and the samples need them).
    """
    path = out / "predictions" / f"{slug(name)}.jsonl"
    rows, timing = generate_predictions(gen, items, path, name)
    scored = score_rows(cfg, rows)
    scored["generation"] = {"settings": scored.get("settings", {}), "timing": timing}
    scored["predictions_file"] = str(path)
    return scored, rows


def samples(rows_by_model: dict[str, list[dict]], n: int = SAMPLES) -> list[dict]:
    """The first ``n`` items with every model's answer beside the reference, for the report."""
    first = next(iter(rows_by_model.values()), [])
    out = []
    for k, row in enumerate(first[:n]):
        out.append(
            {
                "id": row["id"],
                "title": (row.get("inputs") or {}).get("title"),
                "reference": row["reference"],
                "predictions": {m: rows[k]["prediction"] for m, rows in rows_by_model.items() if k < len(rows)},
            }
        )
    return out


def assemble_results(
    cfg: ExperimentConfig,
    models: dict[str, dict],
    baseline: str,
    rows: dict[str, list[dict]],
    n: int,
    title: str,
    skipped: dict[str, str] | None = None,
) -> dict:
    """The results dict in the layout ``report.write_report`` takes (models and comparisons as lists)."""
    first_rows = next(iter(rows.values()))
    comparisons = [compare_results(models[baseline], models[b], seed=cfg.seed) for b in models if b != baseline]
    # What a model scores by echoing the boilerplate and the requested ingredients (the audit's point).
    template = score_predictions(
        template_baseline_rows(first_rows),
        stemmer=cfg.eval.rouge_stemmer,
        bertscore_model=None,
        bootstrap_samples=cfg.eval.bootstrap_samples,
        seed=cfg.seed,
    )
    notes = [f"{n} held-out {cfg.eval.split} items, the same items in the same order for every model."]
    for name, m in models.items():
        t = m["generation"]["timing"]
        notes.append(
            f"{name}: {t['hit_token_limit']} of {m['n']} outputs hit max_new_tokens "
            f"({m['generation']['settings'].get('max_new_tokens')}); generated {t['generated']} "
            f"(resumed {t['resumed_from_file']}) in {t['seconds']} s."
        )
    for name, reason in (skipped or {}).items():
        notes.append(f"{name}: skipped: {reason}")
    return {
        "title": title,
        "split": cfg.eval.split,
        "n": n,
        "models": [*models.values(), template],
        "baseline": baseline,
        "comparisons": comparisons,
        "skipped": skipped or {},
        "notes": notes,
        "samples": samples(rows),
    }


def training_section(run_dir: str | Path) -> dict:
    """The report's Training table for the run in ``run_dir``, read back from its own log (as ``chefbot
    demo`` writes it), for a report rescored from that run's stored predictions."""
    history = read_history(run_dir)
    history["note"] = f"Read back from the run's own log ({history['log']})."
    summary = Path(run_dir) / "train_summary.json"
    if summary.exists():
        history["extra"] = {"device": json.loads(summary.read_text(encoding="utf-8")).get("device", "?")}
    return history


def check_adapter_is_evaluated(cfg: ExperimentConfig, adapter: str | None) -> None:
    """An endpoint serves one model: an adapter cannot be applied to it from here.

    Without this, "base" and "base + adapter" would both be answered by the same endpoint
    and the report would call a model compared with itself "base vs tuned".
    """
    if adapter and resolve_engine(cfg.engine, "exact") == "openai":
        where = cfg.engine.endpoint or "api.openai.com"
        raise ChefbotError(
            f"--adapter {adapter} with engine.endpoint={where}: the endpoint serves one model, so the adapter would "
            "not be evaluated. Either drop engine.endpoint to run base and base + adapter here, or serve each "
            "(chefbot serve CONFIG, and chefbot serve CONFIG --adapter DIR on another port) and compare them: "
            "chefbot compare --config CONFIG --model base=openai:chefbot@URL1 --model tuned=openai:chefbot@URL2"
        )


def evaluate_model(
    cfg: ExperimentConfig,
    adapter: str | None = None,
    out_dir: str | Path | None = None,
    label: str | None = None,
    limit: int | None = None,
    with_base: bool = True,
    generators: dict[str, Any] | None = None,
    extra: dict | None = None,
) -> dict:
    """Evaluate one model (and, with an adapter, the base beside it on the same items).

    Returns the results dict written to ``out_dir/results.json``: per-model scores,
    generation settings and timing, the paired base-vs-tuned comparison, and benchmark
    retention when ``cfg.eval.benchmarks`` is set.  ``generators`` injects ready
    generators by label (tests, or a caller that already holds the model); ``extra``
    adds sections to the results before the report is written (the demo's training run).
    """
    adapter = adapter or cfg.adapter
    check_adapter_is_evaluated(cfg, adapter)
    out = Path(out_dir or Path(cfg.output_dir) / "eval")
    items = eval_items(cfg, limit)
    save_resolved(cfg, out)
    runs: list[tuple[str, str | None]] = []
    if adapter and with_base:
        runs.append((model_label(cfg), None))
    runs.append((label or model_label(cfg, adapter), adapter))

    # eval.constraints: the same models asked for constraints (constraint_eval.py), scored by the one checker
    asks = constraint_items(cfg, load_eval_items(cfg, cfg.eval.split), items) if cfg.eval.constraints else []
    models: dict[str, dict] = {}
    rows: dict[str, list[dict]] = {}
    asked: dict[str, list[dict]] = {}
    bench_runs: dict[str, dict] = {}  # eval.benchmarks: on each model while generation holds it (loaded once)
    for name, ad in runs:
        gen = (generators or {}).get(name) or make_generator(
            cfg.model_copy(update={"adapter": None}), adapter=ad, purpose="exact"
        )
        models[name], rows[name] = run_one(cfg, gen, items, out, name)
        if asks:  # own-label requests the main prompts already asked reuse their answers
            fresh = [a for a in asks if not a["reuse"]]
            made = (
                generate_predictions(
                    gen, fresh, out / "predictions" / f"constraints-{slug(name)}.jsonl", f"{name} (constraints)"
                )[0]
                if fresh
                else []
            )
            answers = {r["id"]: r for r in [*rows[name], *made]}
            asked[name] = [answers[a["id"]] for a in asks]
        if cfg.eval.benchmarks:
            bench_runs["tuned" if ad else "base"] = benchmark_model(
                cfg, ad, out / "benchmarks", BenchmarkOptions(), loaded=loaded_model(gen)
            )
        del gen
    results = assemble_results(
        cfg, models, baseline=next(iter(models)), rows=rows, n=len(items), title=f"chefbot evaluation: {cfg.name}"
    )
    if asks:
        results["constraints"] = score_constraints(asks, asked, baseline=next(iter(models)))
    results.update(extra or {})
    if cfg.eval.benchmarks:
        if "base" not in bench_runs:  # --no-base: retention still needs the base, loaded for the benchmarks alone
            bench_runs["base"] = benchmark_model(cfg, None, out / "benchmarks", BenchmarkOptions())
        bench = save_benchmarks(cfg, bench_runs, adapter, out / "benchmarks")
        results["benchmarks"] = report_benchmarks(bench, {"base": model_label(cfg), "tuned": runs[-1][0]})
    write_results(results, out)
    return results
