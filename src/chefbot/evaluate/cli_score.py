"""``chefbot eval score`` (score predictions files) and ``chefbot eval audit`` (audit the reference).

The evaluation modules are imported inside the commands (``# lazy:``): importing
``chefbot.evaluate.report`` or ``score`` pulls numpy, nltk and torch, 1.5-2.5 s on the
2-core CI machine, while ``chefbot --help`` takes 0.2 s.
"""

from __future__ import annotations

from pathlib import Path

import typer

from chefbot.errors import ChefbotError
from chefbot.evaluate.predictions import (
    check_against_references,
    check_same_items,
    read_predictions,
    read_references,
)
from chefbot.io import atomic_write_text


def _print_summary(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from chefbot.evaluate.report import (
        fmt_interval,  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
    )
    from chefbot.evaluate.rouge import (
        ROUGE_LABELS,  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
    )

    models = results["models"]
    types = list(models[0]["rouge"]["whole"].keys())
    t = Table(title="ROUGE (whole text), mean F [95% CI]")
    for h in ["model", "n", *[ROUGE_LABELS.get(x, x) for x in types]]:
        t.add_column(h)
    for m in models:
        t.add_row(m["model"], str(m["n"]), *[fmt_interval(m["rouge"]["whole"][x], 4) for x in types])
    Console().print(t)


def register(eval_app: typer.Typer, app: typer.Typer) -> None:  # noqa: ARG001 (signature shared with cli_run)
    @eval_app.command("score")
    def score_cmd(
        predictions: list[Path] = typer.Option(
            ..., "--predictions", "-p", help="Predictions JSONL; repeat to compare models (the first is the baseline)."
        ),
        fmt: str = typer.Option(
            "auto",
            "--format",
            help="auto | chefbot | reference (the reference project's reference_full/prediction layout).",
        ),
        reference_format: bool = typer.Option(False, "--reference-format", help="Same as --format reference."),
        references: Path | None = typer.Option(
            None,
            "--references",
            help="JSONL of {id, reference}: check the predictions cover exactly these items, in order.",
        ),
        stemmer: bool = typer.Option(True, "--stemmer/--no-stemmer", help="Porter stemmer in ROUGE."),
        reference_settings: bool = typer.Option(
            False,
            "--reference-settings",
            help="The reference project's settings: no stemmer (whole-text scores are always reported).",
        ),
        rouge_types: str = typer.Option(
            "rouge1,rouge2,rougeL,rougeLsum", "--rouge-types", help="Comma-separated ROUGE types."
        ),
        directions: bool = typer.Option(
            True, "--directions/--no-directions", help="Also score the directions section alone."
        ),
        checks: bool = typer.Option(True, "--checks/--no-checks", help="Recipe checks."),
        bertscore_model: str = typer.Option(
            "auto", "--bertscore-model", help="auto | minilm | roberta-large | a local folder | none."
        ),
        template_baseline: bool = typer.Option(
            False,
            "--template-baseline",
            help="Also score the template-only trivial baseline built from the first file.",
        ),
        bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the 95% intervals."),
        seed: int = typer.Option(0, "--seed"),
        workers: int | None = typer.Option(
            None, "--workers", help="Processes for ROUGE and checks (default: all cores)."
        ),
        out: Path | None = typer.Option(None, "--out", help="Report folder (default runs/score/<first file's name>)."),
        plots: bool = typer.Option(
            True, "--plots/--no-plots", help="Write the PNG plots (and embed them in report.html)."
        ),
    ) -> None:
        """Score existing predictions files: ROUGE, BERTScore, recipe checks, report with plots."""
        from chefbot.evaluate.report import (
            write_report,  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
        )
        from chefbot.evaluate.rouge import (
            ROUGE_TYPES,  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
        )
        from chefbot.evaluate.score import (  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
            score_predictions,
            template_baseline_rows,
        )

        if reference_format:
            fmt = "reference"
        if fmt not in ("auto", "chefbot", "reference"):
            raise ChefbotError(f"--format must be auto, chefbot or reference, got {fmt!r}")
        types = tuple(x.strip() for x in rouge_types.split(",") if x.strip())
        bad = [x for x in types if x not in ROUGE_TYPES]
        if bad or not types:
            raise ChefbotError(f"--rouge-types: unknown {', '.join(bad) or '(empty)'}; use {', '.join(ROUGE_TYPES)}")
        if reference_settings:
            stemmer = False
        bs_model = None if bertscore_model.lower() in ("none", "off", "") else bertscore_model
        sets = [read_predictions(p, fmt=fmt) for p in predictions]
        if references is not None:
            refs = read_references(references)
            for p, rows in zip(predictions, sets):
                check_against_references(rows, refs, str(p))
        for p, rows in zip(predictions[1:], sets[1:]):
            check_same_items(rows, sets[0], str(p), str(predictions[0]))
        names = [rows[0]["model"] for rows in sets]
        if len(set(names)) != len(names):  # two files from the same model: tell them apart by file name
            for p, rows in zip(predictions, sets):
                for r in rows:
                    r["model"] = f"{r['model']} ({p.stem})"
        if template_baseline:
            sets.append(template_baseline_rows(sets[0]))
        kw = dict(
            stemmer=stemmer,
            bertscore_model=bs_model,
            bootstrap_samples=bootstrap,
            seed=seed,
            rouge_types=types,
            directions=directions,
            checks=checks,
            workers=workers,
        )
        models = [score_predictions(rows, **kw) for rows in sets]
        results = {"title": "chefbot evaluation: " + ", ".join(m["model"] for m in models), "models": models}
        if len(models) > 1:
            results["baseline"] = models[0]["model"]
        out = out or Path("runs") / "score" / predictions[0].stem
        write_report(results, out, plots=plots)
        _print_summary(results)
        typer.echo(f"report: {out / 'report.md'} (also results.json, report.html, plots)")

    @eval_app.command("audit")
    def audit_cmd(
        shared: Path = typer.Option(Path("../shared"), "--shared", help="Folder holding data/qwen-qlora-chef/."),
        bertscore_model: str = typer.Option("auto", "--bertscore-model", help="auto | minilm | roberta-large | none."),
        bootstrap: int = typer.Option(1000, "--bootstrap"),
        workers: int | None = typer.Option(None, "--workers"),
        out: Path = typer.Option(Path("runs/audit"), "--out", help="Report folder."),
    ) -> None:
        """Audit the reference project from its stored outputs (see docs/REFERENCE_AUDIT.md)."""
        from chefbot.evaluate.audit import (
            audit_markdown,  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
            run_audit,  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
        )
        from chefbot.evaluate.report import (
            write_report,  # lazy: numpy/torch/nltk, 1.5-2.5 s (module docstring)
        )

        bs_model = None if bertscore_model.lower() in ("none", "off", "") else bertscore_model
        results = run_audit(shared, bertscore_model=bs_model, bootstrap_samples=bootstrap, workers=workers)
        write_report(results, out)

        atomic_write_text(out / "audit.md", audit_markdown(results))
        typer.echo("ROUGE reproduction (reference settings: no stemmer, whole text, mean F):")
        for r in results["audit"]["reproduction"]:
            ok = "ok" if r["max_abs_diff"] <= 0.001 else "MISMATCH"
            typer.echo(f"  {r['model']:<40} max |ours - stored| = {r['max_abs_diff']:.5f}  {ok}")
        typer.echo(f"report: {out / 'report.md'}, tables for the audit doc: {out / 'audit.md'}")
