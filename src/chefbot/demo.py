"""``chefbot demo``: the quickstart as a short composition of the real stages.

    data prepare -> train (resumes; a finished run is reused) -> ``evaluate_model``
    (base and base + adapter through ``make_generator``, scored, intervals from
    ``evaluate/stats.py``) -> one report by ``evaluate/report.py``, with the training
    run read back from its own log.

With ``--align`` (or ``align.enabled``) the chain goes on: ``chefbot align`` on the tuned adapter
(``chefbot.align.run.align``: it resumes too) -> ``evaluate_model`` of base and base + aligned adapter
on the same held-out items -> OUTPUT_DIR/align/eval/report.md.

Nothing here measures or formats a number itself: the demo is what ``chefbot data
prepare``, ``chefbot train`` and ``chefbot eval run`` would do one after the other, so
the three cannot drift apart.  Run it twice and the second run says that it reuses the
finished run (``--fresh`` trains in a new run folder instead); interrupt it during
training and the next run resumes from the newest checkpoint.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from chefbot.align.run import align as run_align
from chefbot.config import ExperimentConfig
from chefbot.data.prepare import prepare
from chefbot.evaluate.run import evaluate_model
from chefbot.io import atomic_write_json
from chefbot.model import load_tokenizer
from chefbot.progress import console
from chefbot.train.checkpoint import latest_checkpoint
from chefbot.train.history import read_history
from chefbot.train.loop import train


def fresh_output_dir(cfg: ExperimentConfig, now: dt.datetime | None = None) -> ExperimentConfig:
    """``cfg`` with a new, unused run folder beside the configured one (``runs/quickstart-20261125-101500``)."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    out = Path(f"{cfg.output_dir.rstrip('/')}-{stamp}")
    k = 1
    while out.exists():
        k += 1
        out = Path(f"{cfg.output_dir.rstrip('/')}-{stamp}-{k}")
    return cfg.model_copy(update={"output_dir": str(out)})


def describe_start(cfg: ExperimentConfig) -> str:
    """What training is about to do in ``cfg.output_dir``: start, resume, or reuse."""
    ckpt = latest_checkpoint(cfg.output_dir)
    if ckpt is None:
        return f"training from scratch in {cfg.output_dir}"
    return (
        f"found {ckpt}: continuing that run (a finished run is reused as it is; "
        f"`chefbot demo --fresh` trains in a new run folder)"
    )


def run_demo(cfg: ExperimentConfig, fresh: bool = False, align: bool = False) -> Path:
    """The whole quickstart; returns the path of the report (``OUTPUT_DIR/report.md``; with ``align`` or
    ``align.enabled``: the aligned adapter's, ``OUTPUT_DIR/align/eval/report.md``)."""
    if fresh:
        cfg = fresh_output_dir(cfg)
    out = Path(cfg.output_dir)
    timings: dict[str, float] = {}
    load_start = os.getloadavg()

    t = time.perf_counter()
    tokenizer = load_tokenizer(cfg.model)  # first run: dequantizes the packaged GGUF once (cached)
    prepared = prepare(cfg, tokenizer)
    timings["data"] = time.perf_counter() - t

    console.print(f"[bold]train[/] {describe_start(cfg)}")
    t = time.perf_counter()
    summary = train(cfg, prepared=prepared, tokenizer=tokenizer)
    timings["train"] = time.perf_counter() - t
    reused = summary["resumed_from"] is not None and not summary["train_loss"]
    if reused:
        console.print(f"[bold]train[/] the run in {out} had already finished ({summary['steps']} steps): reusing it")

    history = read_history(out)
    history["note"] = "Read back from the run's own log: " + (
        "this demo reused the finished run."
        if reused
        else f"this demo trained {len(summary['train_loss'])} of its {history['steps']} steps"
        + (f" (resumed from {summary['resumed_from']})." if summary["resumed_from"] else ".")
    )
    history["extra"] = {"device": summary["device"]}

    t = time.perf_counter()
    console.print(
        f"[bold]evaluate[/] base and base + adapter on {cfg.eval.limit or 'all'} held-out {cfg.eval.split} recipes"
    )
    evaluate_model(cfg, adapter=summary["adapter_dir"], out_dir=out, extra={"training": history})
    timings["evaluate"] = time.perf_counter() - t
    report = out / "report.md"
    if align or cfg.align.enabled:
        report = _align_and_evaluate(cfg, summary["adapter_dir"], timings)
    console.print("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    # the record a quoted demo time points at; the load averages say whether the machine was shared
    atomic_write_json(
        out / "demo_timings.json",
        {
            "stages_s": {k: round(v, 1) for k, v in timings.items()},
            "align": align or cfg.align.enabled,
            "total_s": round(sum(timings.values()), 1),
            "trained_steps": 0 if reused else len(summary["train_loss"]),
            "reused_finished_run": reused,
            "resumed_from": summary["resumed_from"],
            "device": summary["device"],
            "cpu_count": os.cpu_count(),
            "load_average_1_5_15": {
                "start": [round(x, 2) for x in load_start],
                "end": [round(x, 2) for x in os.getloadavg()],
            },
            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
    )
    return report


def _align_and_evaluate(cfg: ExperimentConfig, sft_adapter: str, timings: dict[str, float]) -> Path:
    """``chefbot align`` on the tuned adapter, then base vs aligned on the same held-out items."""
    t = time.perf_counter()
    console.print(f"[bold]align[/] DPO toward the checks on top of {sft_adapter}")
    summary = run_align(cfg, sft_adapter)
    timings["align"] = time.perf_counter() - t
    t = time.perf_counter()
    out = Path(cfg.output_dir) / "align" / "eval"
    console.print(f"[bold]evaluate[/] base and base + aligned adapter on {cfg.eval.limit or 'all'} held-out recipes")
    evaluate_model(cfg, adapter=summary["adapter_dir"], out_dir=out, extra={"align": summary})
    timings["evaluate_aligned"] = time.perf_counter() - t
    return out / "report.md"
