"""Score a predictions file: ROUGE (whole text and directions only), BERTScore,
recipe checks; per-item values, means with bootstrap 95% intervals, and n.

    result = score_predictions(rows, stemmer=True, bertscore_model="auto")

``result`` layout (every aggregate is ``{"mean", "low", "high", "n"}``)::

    {"model", "n", "settings", "method": {...},
     "rouge": {"whole": {"rouge1": agg, ...}, "directions": {...}},
     "bertscore": {"model", "num_layers", "rescaled", "note", "precision": agg, "recall": agg, "f1": agg} | None,
     "checks": {"well_formed": agg, "ner_used": agg, ...},
     "kitchen_sense": {"safe": rate, "is_recipe": rate, <every kitchen_sense.CHECKS name>: rate},
     "per_item": [{"id", "rouge": {...}, "rouge_directions": {...}, "bertscore": {...}, "checks": {...},
                   "kitchen_sense": {...}}]}

A kitchen-sense ``rate`` is ``{"mean", "low", "high", "n", "passed", "kind", "interval": "wilson"}``:
the share of answers that pass, over the ``n`` answers where the check applies (``safe``: no safety
check failed, over every answer), with a Wilson 95% interval.

ROUGE and the checks run in a process pool over chunks (rouge-score is pure Python).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys

from chefbot.cooking.kitchen_sense import CHECKS
from chefbot.errors import DataError
from chefbot.evaluate.bertscore import bertscore_items
from chefbot.evaluate.checks import AGGREGATED_CHECKS, kitchen_sense_item, ner_list, recipe_checks
from chefbot.evaluate.rouge import ROUGE_TYPES, rouge_items
from chefbot.evaluate.stats import bootstrap_mean, paired_bootstrap, wilson_interval  # noqa: F401  (re-exported, contract)
from chefbot.recipe_format import directions_text, render_recipe

REFERENCE_PREAMBLE = "Certainly! Here's a delicious recipe for:"
TEMPLATE_BASELINE = "template-only baseline"


def _score_chunk(args: tuple) -> list[dict]:
    """Worker: ROUGE (whole + directions) and checks for a slice of rows."""
    rows, stemmer, types, directions, checks = args
    refs = [r["reference"] for r in rows]
    preds = [r["prediction"] for r in rows]
    whole = rouge_items(refs, preds, stemmer, types)
    out = [{"id": r["id"], "rouge": {t: whole[t][i] for t in types}} for i, r in enumerate(rows)]
    if directions:
        d = rouge_items(
            [directions_text(x) for x in refs], [directions_text(x) if x.strip() else "" for x in preds], stemmer, types
        )
        for i, item in enumerate(out):
            item["rouge_directions"] = {t: d[t][i] for t in types}
    if checks:
        for item, r in zip(out, rows):
            item["checks"] = recipe_checks(r["prediction"], ner_list(r.get("inputs")), r.get("finish_reason"))
            item["kitchen_sense"] = kitchen_sense_item(r["prediction"])
    return out


def _pool_context():
    # fork is fastest, but forking a process that already runs torch threads can hang.
    return mp.get_context("spawn" if "torch" in sys.modules else "fork")


def per_item_scores(
    rows: list[dict],
    stemmer: bool = True,
    types=ROUGE_TYPES,
    directions: bool = True,
    checks: bool = True,
    workers: int | None = None,
) -> list[dict]:
    """Per-item ROUGE/checks, in row order, using up to ``workers`` processes (default: all cores)."""
    workers = workers or os.cpu_count() or 1
    n = len(rows)
    if workers <= 1 or n < 64:
        return _score_chunk((rows, stemmer, types, directions, checks))
    size = max(16, -(-n // (workers * 4)))  # a few chunks per worker for balance
    chunks = [(rows[i : i + size], stemmer, types, directions, checks) for i in range(0, n, size)]
    with _pool_context().Pool(min(workers, len(chunks))) as pool:
        parts = pool.map(_score_chunk, chunks)
    return [item for part in parts for item in part]


def _agg(values, samples: int, seed: int) -> dict:
    """Mean with a 95% interval: Wilson for yes/no checks (a bootstrap of 0/12 would claim
    [0, 0]), percentile bootstrap for everything else."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        w = wilson_interval(sum(present), len(present))
        return {"mean": w["value"], "low": w["low"], "high": w["high"], "n": w["n"], "interval": "wilson"}
    return bootstrap_mean([float(v) for v in present], samples=samples, seed=seed)


def score_kitchen_sense(items: list[dict]) -> dict:
    """Kitchen-sense pass rates over answers (per-item ``kitchen_sense``): ``safe`` first (no safety check
    failed, over every answer), then every check of ``kitchen_sense.CHECKS`` (``is_recipe`` among them)
    over the answers where it applies; each with a Wilson 95% interval."""
    kinds = {"safe": "overall", **dict(CHECKS)}
    out = {}
    for name, kind in kinds.items():
        applies = [v for v in (i["kitchen_sense"].get(name) for i in items) if v is not None]
        w = wilson_interval(sum(applies), len(applies))
        out[name] = {
            "mean": w["value"],
            "low": w["low"],
            "high": w["high"],
            "n": w["n"],
            "passed": sum(applies),
            "kind": kind,
            "interval": "wilson",
        }
    return out


def score_predictions(
    rows: list[dict],
    *,
    stemmer: bool = True,
    bertscore_model: str | None = "auto",
    bootstrap_samples: int = 1000,
    seed: int = 0,
    rouge_types=ROUGE_TYPES,
    directions: bool = True,
    checks: bool = True,
    workers: int | None = None,
) -> dict:
    """Score validated predictions rows (see ``predictions.read_predictions``)."""
    items = per_item_scores(rows, stemmer, rouge_types, directions, checks, workers)
    models = sorted({str(r.get("model")) for r in rows})
    result: dict = {
        "model": models[0] if len(models) == 1 else "mixed: " + ", ".join(models),
        "n": len(rows),
        "settings": rows[0].get("settings", {}) if rows else {},
        "method": {
            "rouge": "Google rouge-score tokenizer and scoring (exact; fast LCS), F-measure per item, mean over items",
            "stemmer": stemmer,
            "rougeLsum_sentences": "one sentence per line: lines kept, and split after . ! ? (evaluate#501)",
            "directions": "directions section only (chefbot.recipe_format.directions_text) of prediction and reference",
            "interval": f"percentile bootstrap 95% over items, {bootstrap_samples} resamples, seed {seed}",
        },
        "rouge": {"whole": {t: _agg([i["rouge"][t] for i in items], bootstrap_samples, seed) for t in rouge_types}},
    }
    if directions:
        result["rouge"]["directions"] = {
            t: _agg([i["rouge_directions"][t] for i in items], bootstrap_samples, seed) for t in rouge_types
        }
    result["bertscore"] = None
    if bertscore_model:
        bs = bertscore_items([r["reference"] for r in rows], [r["prediction"] for r in rows], bertscore_model)
        for k, item in enumerate(items):
            item["bertscore"] = {m: bs[m][k] for m in ("precision", "recall", "f1")}
        result["bertscore"] = {
            **{k: bs[k] for k in ("model", "num_layers", "rescaled", "note")},
            **{m: _agg(bs[m], bootstrap_samples, seed) for m in ("precision", "recall", "f1")},
        }
    if checks:
        result["checks"] = {
            c: _agg([i["checks"].get(c) for i in items], bootstrap_samples, seed) for c in AGGREGATED_CHECKS
        }
        result["kitchen_sense"] = score_kitchen_sense(items)
    result["per_item"] = items
    return result


def item_values(result: dict, metric: str) -> list[float | None]:
    """Per-item values of a dotted metric: "rouge.rouge2", "rouge_directions.rougeL",
    "bertscore.f1", "checks.ner_used"."""
    group, name = metric.split(".", 1)
    out = []
    for item in result["per_item"]:
        v = item.get(group, {}).get(name)
        out.append(None if v is None else float(v))
    return out


def compare_results(a: dict, b: dict, metrics: list[str] | None = None, samples: int = 10000, seed: int = 0) -> dict:
    """Paired bootstrap of B minus A for each metric, over items both scored (same ids, same order)."""
    ids_a = [i["id"] for i in a["per_item"]]
    ids_b = [i["id"] for i in b["per_item"]]
    if ids_a != ids_b:
        first = next((k for k, (x, y) in enumerate(zip(ids_a, ids_b)) if x != y), min(len(ids_a), len(ids_b)))
        raise DataError(
            f"cannot compare {a.get('model')!r} with {b.get('model')!r}: different items "
            f"({len(ids_a)} vs {len(ids_b)}; first difference at item {first + 1})"
        )
    if metrics is None:
        metrics = [f"rouge.{t}" for t in a["per_item"][0]["rouge"]]
        if "rouge_directions" in a["per_item"][0] and "rouge_directions" in b["per_item"][0]:
            metrics += [f"rouge_directions.{t}" for t in a["per_item"][0]["rouge_directions"]]
        if "bertscore" in a["per_item"][0] and "bertscore" in b["per_item"][0]:
            metrics += ["bertscore.f1"]
    out = {}
    for m in metrics:
        va, vb = item_values(a, m), item_values(b, m)
        pairs = [(x, y) for x, y in zip(va, vb) if x is not None and y is not None]
        out[m] = paired_bootstrap([x for x, _ in pairs], [y for _, y in pairs], samples=samples, seed=seed)
    return {"a": a.get("model"), "b": b.get("model"), "metrics": out}


def _title_in_prompt(inputs: dict) -> str:
    """The title, if the model was given it (an explicit ``title`` input, or in its messages)."""
    title = (inputs.get("title") or "").strip() if isinstance(inputs, dict) else ""
    messages = inputs.get("messages") if isinstance(inputs, dict) else None
    if title and messages and not any(title in str(m.get("content", "")) for m in messages):
        return ""
    return title


def template_baseline(row: dict) -> str:
    """The trivial answer a model could give without cooking anything: the target's
    boilerplate, the title (only when the prompt contains it) and the requested
    ingredients as bullets, and an empty directions section. In the reference layout
    this is their target's text before the directions, minus the title they never
    gave the model."""
    inputs = row.get("inputs") or {}
    ner = ner_list(inputs)
    title = _title_in_prompt(inputs)
    if row["reference"].startswith(REFERENCE_PREAMBLE):
        bullets = "\n".join(f"- {x}" for x in ner)
        head = f"{REFERENCE_PREAMBLE}\n[ {title} ]\n\n" if title else f"{REFERENCE_PREAMBLE}\n\n"
        return f"{head}[ INGREDIENTS ]\n{bullets}\n\n[ DIRECTIONS ]"

    return render_recipe(title, ner, []) if title else "\n".join(render_recipe("x", ner, []).split("\n")[2:])


def template_baseline_rows(rows: list[dict]) -> list[dict]:
    """Rows whose prediction is the template-only baseline (same ids and references)."""
    return [
        {**r, "prediction": template_baseline(r), "model": TEMPLATE_BASELINE, "settings": {}, "finish_reason": "stop"}
        for r in rows
    ]
