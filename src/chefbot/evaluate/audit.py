"""Audit of the reference project (Qwen-QLoRA-Chef) from its stored outputs.

Rescores the stored predictions of its five models on the same 200 recipes with the
reference settings (no stemmer, whole text, mean F-measure) and checks that the
stored ROUGE-1/2/L are reproduced within 0.001; then adds what the reference did not
report: intervals, directions-only ROUGE, a template-only trivial baseline, BERTScore
with a named encoder, the recipe checks, paired base-vs-tuned tests, and binomial
intervals for its 99-question MMLU / 100-item HellaSwag retention claim.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from chefbot.errors import ChefbotError
from chefbot.evaluate.predictions import read_predictions
from chefbot.evaluate.report import fmt_interval, fmt_relative, retention_rows
from chefbot.evaluate.score import (
    REFERENCE_PREAMBLE,
    TEMPLATE_BASELINE,
    compare_results,
    score_predictions,
    template_baseline_rows,
)
from chefbot.evaluate.stats import wilson_interval

REF_DIR = Path("data/qwen-qlora-chef")
BASE = "Qwen2.5-1.5B-Instruct"
TUNED = "Qwen2.5-1.5B QLoRA (reference)"
# label, predictions file, stored scores file, stored ROUGE-1/2/L as quoted in issue 4
MODELS = [
    (
        BASE,
        "Rouge_Scores/Base_Model_Rouge_Results/predictions_qwen.jsonl",
        "Rouge_Scores/Base_Model_Rouge_Results/eval_results_qwen.json",
        (0.3053, 0.0706, 0.1677),
    ),
    (
        TUNED,
        "Rouge_Scores/Fine_Tune_Rouge_Results/predictions_Fine_Tuned.jsonl",
        "Rouge_Scores/Fine_Tune_Rouge_Results/eval_results_FineTuned.json",
        (0.4848, 0.2830, 0.3918),
    ),
    (
        "Llama-3.2-1B-Instruct",
        "Rouge_Scores/Base_Model_Rouge_Results/Llama-3.2-1B-Instruct_predictions.jsonl",
        "Rouge_Scores/Base_Model_Rouge_Results/Llama-3.2-1B-Instruct_eval_results.json",
        (0.2720, 0.0804, 0.1726),
    ),
    (
        "Gemma-2-2B-it",
        "Rouge_Scores/Base_Model_Rouge_Results/predictions_gemma.jsonl",
        "Rouge_Scores/Base_Model_Rouge_Results/eval_results_gemma.json",
        (0.3008, 0.0799, 0.1725),
    ),
    (
        "GPT-4o-mini",
        "Rouge_Scores/Base_Model_Rouge_Results/predictions_GPT-4o-mini.jsonl",
        "Rouge_Scores/Base_Model_Rouge_Results/eval_results_GPT-4o-mini.json",
        (0.2929, 0.0827, 0.1802),
    ),
]
MERGED = (
    "Qwen2.5 QLoRA merged (reference BERT run)",
    "BERT_Scores/Fine_Tune_BERT_Results/predictions_finetuned_bert.jsonl",
    "BERT_Scores/Fine_Tune_BERT_Results/eval_results_finetuned_bert.json",
)
BASE_BERT = (
    f"{BASE} (reference BERT run)",
    "BERT_Scores/Base_Model_BERT_Results/base_model_predictions_bert.jsonl",
    "BERT_Scores/Base_Model_BERT_Results/base_model_results_bert.json",
)
BENCH = ("Benchmark_Scores/eval_benchmarks_base_model.json", "Benchmark_Scores/eval_benchmarks_finetuned_model.json")


def reference_dir(shared: str | Path) -> Path:
    d = Path(shared) / REF_DIR
    if not d.is_dir():
        raise ChefbotError(f"reference outputs not found: {d} (expected ../shared/{REF_DIR} beside the repo)")
    return d


def reproduce_rouge(shared: str | Path, workers: int | None = None) -> list[dict]:
    """Stored vs recomputed ROUGE-1/2/L with the reference settings."""
    d = reference_dir(shared)
    out = []
    for label, pred, stored_file, quoted in MODELS:
        rows = read_predictions(d / pred, fmt="reference", model=label)
        res = score_predictions(
            rows,
            stemmer=False,
            bertscore_model=None,
            bootstrap_samples=0,
            rouge_types=("rouge1", "rouge2", "rougeL"),
            directions=False,
            checks=False,
            workers=workers,
        )
        stored = json.loads((d / stored_file).read_text())
        ours = {t: res["rouge"]["whole"][t]["mean"] for t in ("rouge1", "rouge2", "rougeL")}
        out.append(
            {
                "model": label,
                "n": res["n"],
                "stored": {t: stored[t] for t in ours},
                "quoted": dict(zip(ours, quoted)),
                "ours": ours,
                "max_abs_diff": max(abs(ours[t] - stored[t]) for t in ours),
            }
        )
    return out


def aggregator_spread(shared: str | Path, seeds: int = 20) -> dict:
    """The reference's numbers look like rouge-score's BootstrapAggregator "mid" (what the
    ``evaluate`` library returns by default): the median of 1,000 resampled means, drawn
    without a fixed seed. Its spread over seeds shows why the mean matches to ~0.0005, not exactly."""
    import numpy as np
    from rouge_score import rouge_scorer, scoring

    d = reference_dir(shared)
    label, pred, stored_file, _ = MODELS[1]
    rows = read_predictions(d / pred, fmt="reference")
    sc = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    scores = [sc.score(r["reference"], r["prediction"]) for r in rows]
    mids = {t: [] for t in ("rouge1", "rouge2", "rougeL")}
    for seed in range(seeds):
        np.random.seed(seed)
        agg = scoring.BootstrapAggregator()
        for s in scores:
            agg.add_scores(s)
        res = agg.aggregate()
        for t in mids:
            mids[t].append(res[t].mid.fmeasure)
    stored = json.loads((d / stored_file).read_text())
    return {
        "model": label,
        "seeds": seeds,
        "stored": {t: stored[t] for t in mids},
        "mean_over_items": {t: float(np.mean([s[t].fmeasure for s in scores])) for t in mids},
        "aggregator_mid_range": {t: [min(v), max(v)] for t, v in mids.items()},
    }


def _bench(shared: str | Path) -> dict:
    """Their MMLU (99 questions, 3 subjects) and HellaSwag (100 items) numbers with
    Wilson intervals, and the retention ratio with an interval."""
    d = reference_dir(shared)
    base, tuned = (json.loads((d / f).read_text())["benchmarks"] for f in BENCH)
    models = {}
    for name, b in ((BASE, base), (TUNED + " merged", tuned)):
        rows = []
        for task, metric, key in (("mmlu (3 subjects)", "acc", "accuracy"), ("hellaswag", "acc_norm", "accuracy_norm")):
            p, n = b[task.split()[0]][key], b[task.split()[0]]["samples"]
            w = wilson_interval(round(p * n), n)
            rows.append(
                {
                    "task": task,
                    "metric": metric,
                    "value": p,
                    "n": n,
                    "stderr": math.sqrt(p * (1 - p) / n),
                    "wilson_low": w["low"],
                    "wilson_high": w["high"],
                }
            )
        models[name] = rows
    return {"models": models, "retention": retention_rows(models, BASE, TUNED + " merged")}


def run_audit(
    shared: str | Path, bertscore_model: str | None = "auto", bootstrap_samples: int = 1000, workers: int | None = None
) -> dict:
    """Everything in docs/REFERENCE_AUDIT.md, as a ``write_report`` results dict plus an ``audit`` block."""
    d = reference_dir(shared)
    kw = dict(stemmer=False, bertscore_model=bertscore_model, bootstrap_samples=bootstrap_samples, workers=workers)
    rows = {
        label: read_predictions(d / pred, fmt="reference", model=label)
        for label, pred, *_ in (*MODELS, BASE_BERT, MERGED)
    }
    models = [score_predictions(rows[label], **kw) for label, *_ in MODELS]
    base_rows = rows[BASE]
    models.append(score_predictions(template_baseline_rows(base_rows), **kw))
    models += [score_predictions(rows[BASE_BERT[0]], **kw), score_predictions(rows[MERGED[0]], **kw)]
    # The human reference scored as if it were an answer: what the checks give a real recipe.
    ref_rows = [
        {**r, "prediction": r["reference"], "model": "reference text (checks only)", "finish_reason": "stop"}
        for r in base_rows
    ]
    reference_checks = score_predictions(
        ref_rows,
        stemmer=False,
        bertscore_model=None,
        bootstrap_samples=bootstrap_samples,
        rouge_types=("rouge1",),
        directions=False,
        workers=workers,
    )
    by = {m["model"]: m for m in models}
    comparisons = [
        compare_results(by[BASE], by[TUNED]),
        compare_results(by[BASE], by[TEMPLATE_BASELINE]),
        compare_results(by[TUNED], by[TEMPLATE_BASELINE]),
        compare_results(by[BASE_BERT[0]], by[MERGED[0]]),
    ]
    stored_bert = {lab: json.loads((d / f).read_text()) for lab, _, f in (BASE_BERT, MERGED)}
    return {
        "title": "Audit of the reference project (Qwen-QLoRA-Chef) from its stored outputs",
        "notes": [
            "Reference settings: rouge-score without stemmer, whole text, mean F-measure per item; 200 validation recipes.",
            f"'{TEMPLATE_BASELINE}' answers only the target's boilerplate and the requested ingredients as bullets, no directions.",
        ],
        "models": models,
        "baseline": BASE,
        "comparisons": comparisons,
        "benchmarks": _bench(shared),
        "audit": {
            "reproduction": reproduce_rouge(shared, workers=workers),
            "aggregator_spread": aggregator_spread(shared),
            "reference_checks": {k: v for k, v in reference_checks["checks"].items()},
            "stored_bertscore": stored_bert,
            # whether an answer learned the target's boilerplate opening (headline 3: the merge lost it)
            "opens_with_preamble": {
                label: {"n": len(r), "count": sum(x["prediction"].lstrip().startswith(REFERENCE_PREAMBLE) for x in r)}
                for label, r in rows.items()
            },
        },
    }


def audit_markdown(results: dict) -> str:
    """The audit's tables (markdown) for docs/REFERENCE_AUDIT.md."""
    a = results["audit"]
    out = [
        "### Reproduction of the stored ROUGE (no stemmer, whole text, mean F over 200 items)",
        "",
        "| model | stored R-1 / R-2 / R-L | chefbot R-1 / R-2 / R-L | max abs. difference |",
        "|---|---|---|---|",
    ]
    for r in a["reproduction"]:
        s, o = r["stored"], r["ours"]
        out.append(
            f"| {r['model']} | {s['rouge1']:.4f} / {s['rouge2']:.4f} / {s['rougeL']:.4f} | "
            f"{o['rouge1']:.4f} / {o['rouge2']:.4f} / {o['rougeL']:.4f} | {r['max_abs_diff']:.4f} |"
        )
    sp = a["aggregator_spread"]
    out += [
        "",
        f"BootstrapAggregator 'mid' for {sp['model']} over {sp['seeds']} seeds: "
        + ", ".join(
            f"{t} {lo:.4f}–{hi:.4f} (stored {sp['stored'][t]:.4f}, item mean {sp['mean_over_items'][t]:.4f})"
            for t, (lo, hi) in sp["aggregator_mid_range"].items()
        ),
        "",
    ]
    models = results["models"]
    bs = any(m.get("bertscore") for m in models)
    out += [
        "### Side by side (n = 200 each; mean [95% bootstrap interval])",
        "",
        "| model | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-2 directions | ROUGE-L directions |"
        + (" BERTScore F1 |" if bs else ""),
        "|---|---|---|---|---|---|" + ("---|" if bs else ""),
    ]
    for m in models:
        w, d = m["rouge"]["whole"], m["rouge"].get("directions", {})
        row = f"| {m['model']} | {fmt_interval(w['rouge1'])} | {fmt_interval(w['rouge2'])} | {fmt_interval(w['rougeL'])} | {fmt_interval(d.get('rouge2'))} | {fmt_interval(d.get('rougeL'))} |"
        if bs:
            row += f" {fmt_interval(m['bertscore']['f1']) if m.get('bertscore') else '–'} |"
        out.append(row)
    if bs:
        b = next(m["bertscore"] for m in models if m.get("bertscore"))
        out += [
            "",
            f"BERTScore encoder: {b['model']}, layer {b['num_layers']}, rescaled: {'yes' if b['rescaled'] else 'no'} ({b['note']}).",
        ]
    names = ["well_formed", "has_directions", "ner_used", "introduced_any", "oven_temp_ok", "degenerate", "stopped"]
    out += [
        "",
        "### Recipe checks (share of items [95% interval], n where the check applies)",
        "",
        "| model | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for m in models:
        out.append(
            f"| {m['model']} | "
            + " | ".join(f"{fmt_interval(m['checks'][c], 2)} (n={m['checks'][c]['n']})" for c in names)
            + " |"
        )
    rc = a["reference_checks"]
    out.append(
        "| reference text itself | " + " | ".join(f"{fmt_interval(rc[c], 2)} (n={rc[c]['n']})" for c in names) + " |"
    )
    out += [
        "",
        f'### Answers that open with the target\'s boilerplate ("{REFERENCE_PREAMBLE}")',
        "",
        "| model | n | opens with it |",
        "|---|---|---|",
    ]
    out += [f"| {label} | {c['n']} | {c['count']} |" for label, c in a["opens_with_preamble"].items()]
    out += [
        "",
        "### Paired comparisons (B − A on the same 200 items; relative to A; paired bootstrap, 10,000 resamples)",
        "",
        "| A | B | metric | A mean | B mean | difference [95% CI] | relative [95% CI] | p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in results["comparisons"]:
        for metric, d in c["metrics"].items():
            if metric.endswith("rougeLsum") or metric.endswith("rouge1"):
                continue
            out.append(
                f"| {c['a']} | {c['b']} | {metric} | {d['mean_a']:.4f} | {d['mean_b']:.4f} | "
                f"{d['diff']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}] | {fmt_relative(d)} | {d['p_value']:.4f} |"
            )
    bench = results["benchmarks"]
    out += [
        "",
        "### Their benchmark numbers with intervals",
        "",
        "| model | task | metric | n | value | Wilson 95% | ±1.96·SE |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, rows in bench["models"].items():
        for r in rows:
            out.append(
                f"| {model} | {r['task']} | {r['metric']} | {r['n']} | {r['value']:.3f} | "
                f"[{r['wilson_low']:.3f}, {r['wilson_high']:.3f}] | ±{1.96 * r['stderr']:.3f} |"
            )
    out += ["", "| task | retention (tuned / base) | 95% interval | method |", "|---|---|---|---|"]
    for r in bench["retention"]:
        out.append(f"| {r['task']} | {r['value']:.3f} | [{r['low']:.3f}, {r['high']:.3f}] | {r['method']} |")
    out += [
        "",
        "### Their stored BERTScore (their means as stored; no per-item values, so no interval)",
        "",
        "| run | model | n | precision | recall | F1 |",
        "|---|---|---|---|---|---|",
    ]
    for run, b in a["stored_bertscore"].items():
        out.append(
            f"| {run} | {b.get('finetuned_model_id') or b.get('model_name')} | {b['num_samples']} | "
            f"{b['bert_precision']:.3f} | {b['bert_recall']:.3f} | {b['bert_f1']:.3f} |"
        )
    return "\n".join(out) + "\n"
