"""Benchmarks of base and base + adapter (HellaSwag, ARC-Easy, PIQA, MMLU), retention, and benchmarks.json + .md.

Retention = tuned / base accuracy.  Both runs answer the same questions, so the interval is a
paired bootstrap over questions (``stats.paired_ratio``); an independent binomial bootstrap
(``stats.ratio_interval``) only where per-item results are missing.  Each retention entry also says
whether the base model is above chance there (``base_above_chance``: the Wilson interval of its
accuracy lies above ``benchmark_tasks.CHANCE``); where it is not, the ratio says nothing about forgetting.

A model is loaded once: ``chefbot eval run`` hands the model its generator already holds to
``benchmark_model`` (``loaded_model``); ``chefbot eval benchmarks`` (``evaluate_benchmarks``) loads
each model itself, one at a time, or asks running servers (``benchmark_endpoint``).
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from chefbot.config import save_resolved
from chefbot.errors import ChefbotError
from chefbot.evaluate.benchmark_endpoint import run_benchmarks_endpoint, server_health
from chefbot.evaluate.benchmark_tasks import CHANCE, DEFAULT_TASKS, METRICS, check_tasks, run_benchmarks
from chefbot.evaluate.report import write_benchmarks_report
from chefbot.evaluate.stats import paired_ratio, ratio_interval, wilson_interval
from chefbot.io import atomic_write_json
from chefbot.model import adapter_identity, inference_precision, load_for_inference, load_tokenizer


@dataclass(frozen=True)
class BenchmarkOptions:
    """How the benchmarks run; ``None`` fields take the config's (``resolved``).

    ``limit``: the first N items of each task (MMLU: per subject); ``mmlu_subjects``: only those
    subjects; ``source``: where the data comes from (``benchmark_data.local_datasets``);
    ``resume=False`` deletes a model's cached answers first (``response_cache``)."""

    tasks: Sequence[str] | None = None
    limit: int | None = None
    num_fewshot: int | None = None
    source: str = "auto"
    batch_size: int | None = None
    mmlu_subjects: Sequence[str] | None = None
    resume: bool = True

    def resolved(self, cfg: Any) -> BenchmarkOptions:
        tasks = list(self.tasks or cfg.eval.benchmarks or DEFAULT_TASKS)
        check_tasks(tasks)
        return replace(
            self,
            tasks=tasks,
            limit=self.limit if self.limit is not None else cfg.eval.benchmark_limit,
            batch_size=self.batch_size or cfg.engine.generation.batch_size,
        )


def retention(base: dict, tuned: dict, samples: int = 2000, seed: int = 0) -> dict:
    """Per task and metric: tuned/base with a paired interval (independent binomial bootstrap
    when per-item results are missing)."""
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
            out[t][m].update(above_chance(base[t][m], base[t]["n"], CHANCE[t]))
    return out


def above_chance(accuracy: float, n: int, chance: float) -> dict:
    """The base model's accuracy against guessing: its Wilson 95% interval, and whether all of it lies above
    ``chance`` (only then can tuned/base show forgetting)."""
    w = wilson_interval(accuracy * n, n)
    return {
        "chance": chance,
        "base_accuracy": w,
        "base_above_chance": w["low"] is not None and w["low"] > chance,
    }


def response_cache(out_dir: Path, label: str, cfg: Any, adapter: str | None, precision: Any) -> Path:
    """One lm-eval response cache per model: lm-eval keys a cached answer on the request only, so
    the file name carries everything else that changes an answer (base, quantization, dtype, the
    adapter's weights).  A retrained adapter or another dtype gets a fresh cache, never old answers."""
    key = {
        "model": cfg.model.name_or_path,
        "revision": cfg.model.revision,
        "quant": cfg.quant.mode,
        "precision": str(precision),
        "adapter": adapter_identity(adapter) if adapter else None,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return Path(out_dir) / "cache" / f"{label}-{digest}"


def loaded_model(generator: Any) -> tuple[Any, Any] | None:
    """The transformers model and tokenizer a generator already holds (the hf engine), else None."""
    if getattr(generator, "backend", None) == "hf" and getattr(generator, "model", None) is not None:
        return generator.model, generator.tokenizer
    return None


def benchmark_model(
    cfg: Any, adapter: str | None, out_dir: Path, options: BenchmarkOptions, loaded: tuple[Any, Any] | None = None
) -> dict:
    """The base (``adapter`` None) or base + adapter through the standard tasks, with its own response
    cache; ``loaded`` is (model, tokenizer) already in memory, else they are loaded here, with the
    weights and dtype generation uses."""
    opts = options.resolved(cfg)
    label = "tuned" if adapter else "base"
    precision = inference_precision(cfg.engine.dtype, cfg.train.precision, "exact")
    cache = response_cache(out_dir, label, cfg, adapter, precision)
    if not opts.resume:
        for old in cache.parent.glob(f"{cache.name}_rank*.db"):
            old.unlink()
    if loaded is None:
        loaded = (
            load_for_inference(cfg.model_copy(update={"adapter": None}), adapter=adapter, precision=precision),
            load_tokenizer(cfg.model),
        )
    model, tokenizer = loaded
    return run_benchmarks(
        model,
        tokenizer,
        opts.tasks,
        opts.limit,
        opts.batch_size,
        opts.num_fewshot,
        opts.source,
        cfg.seed,
        opts.mmlu_subjects,
        cache=cache,
    )


def save_benchmarks(
    cfg: Any, runs: dict[str, dict], adapter: str | None, out_dir: Path, endpoints: dict[str, dict] | None = None
) -> dict:
    """Retention when a tuned run is there; benchmarks.json, config.yaml and benchmarks.md in ``out_dir``."""
    result: dict[str, Any] = {
        "model": cfg.model.name_or_path,
        "adapter": adapter,
        # the weights' content, so a results file names what it measured even after the folder changes
        "adapter_identity": adapter_identity(adapter) if adapter and not endpoints else None,
        "endpoints": endpoints,
        "runs": runs,
        "retention": retention(runs["base"], runs["tuned"], seed=cfg.seed) if "tuned" in runs else None,
    }
    save_resolved(cfg, out_dir)
    atomic_write_json(Path(out_dir) / "benchmarks.json", result)
    result["table"] = write_benchmarks_report(result, out_dir)
    return result


def evaluate_benchmarks(
    cfg: Any,
    adapter: str | None = None,
    out_dir: str | Path | None = None,
    options: BenchmarkOptions | None = None,
    endpoint: str | None = None,
    base_endpoint: str | None = None,
) -> dict:
    """Base (and base + adapter when one is given): benchmarks, retention, benchmarks.json + .md.

    In-process runs load each model once, one at a time, and keep lm-eval's response cache under
    ``out_dir/cache`` (one per model), so a killed full-size run (hours on a CPU) resumes where it
    stopped.  With ``endpoint`` the model is the one a running server serves (``cfg.model`` only
    supplies its tokenizer); with ``base_endpoint`` as well, that server is the base and
    ``endpoint`` the tuned model.  Their ``/health`` must show two different served models."""
    if (base_endpoint and not endpoint) or (adapter and endpoint):
        raise ChefbotError(
            "benchmarks: base_endpoint needs endpoint (the tuned model's server), and an adapter "
            "cannot go with an endpoint (a server serves its own model)"
        )
    opts = (options or BenchmarkOptions()).resolved(cfg)
    out_dir = Path(out_dir or Path(cfg.output_dir) / "benchmarks")
    if endpoint:
        servers = [("base", base_endpoint), ("tuned", endpoint)] if base_endpoint else [("base", endpoint)]
        endpoints = server_health(servers)
        tokenizer = load_tokenizer(cfg.model)
        runs = {
            label: run_benchmarks_endpoint(
                info["endpoint"],
                tokenizer,
                opts.tasks,
                opts.limit,
                opts.batch_size,
                opts.num_fewshot,
                opts.source,
                cfg.seed,
                opts.mmlu_subjects,
                health=info["health"],
            )
            for label, info in endpoints.items()
        }
        return save_benchmarks(cfg, runs, None, out_dir, endpoints)
    adapter = adapter or cfg.adapter
    runs = {}
    for ad in [None, adapter] if adapter else [None]:
        runs["tuned" if ad else "base"] = benchmark_model(cfg, ad, out_dir, opts)
        gc.collect()  # the model loaded for that run is gone before the next one loads
    return save_benchmarks(cfg, runs, adapter, out_dir)
