"""``chefbot train`` and ``chefbot merge``.

The training and merge modules are imported inside the commands: they import torch,
transformers and peft (``import chefbot.train.loop`` takes 1.5 s on the 2-core CI
machine, ``chefbot --help`` 0.2 s), and every ``chefbot`` command loads this module.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from chefbot.config import load_config
from chefbot.progress import console
from chefbot.train.history import read_history
from chefbot.train.hub import check_hub_access
from chefbot.train.hub import push as push_to_hub


def _eval_results(output_dir: Path) -> dict | None:
    for p in (output_dir / "eval" / "results.json", output_dir / "results.json"):
        if p.exists():
            return json.loads(p.read_text())
    return None


def train_cmd(
    config: str = typer.Argument(..., help="Experiment YAML, e.g. configs/qwen2.5-1.5b-qlora.yaml"),
    overrides: list[str] | None = typer.Argument(None, help="Dotted key=value overrides, e.g. train.max_steps=50"),
    push: bool = typer.Option(
        False, "--push", help="After training, merge and upload adapter + merged model to train.push_to_hub."
    ),
) -> None:
    """Train a LoRA/QLoRA adapter (resumes from the newest complete checkpoint in output_dir)."""
    cfg = load_config(config, overrides)
    is_main = int(os.environ.get("RANK", "0")) == 0
    if push and is_main:
        check_hub_access(cfg.train.push_to_hub)  # before any work that could be lost
    from chefbot.train.loop import train  # lazy: torch, 1.5 s (module docstring)

    summary = train(cfg)
    if not is_main:
        return
    history = read_history(cfg.output_dir)  # the whole run, also when this call resumed or trained nothing
    last = history["train_loss"][-1]["loss"] if history["train_loss"] else float("nan")
    rate = history["target_tokens_per_s"]
    now = len(summary["train_loss"])
    what = (
        f"trained {now} steps"
        if now == history["steps"]
        else (
            f"trained {now} more steps ({history['steps']} in all)"
            if now
            else f"already finished: {history['steps']} steps"
        )
    )
    console.print(
        f"{what}; last loss {last:.4f}; {f'{rate:.0f}' if rate else '–'} target tok/s; "
        f"peak {summary['peak_mem_mb']:.0f} MB; adapter: {summary['adapter_dir']}"
    )
    if push:
        from chefbot.train.merge import (
            merge_adapter,  # lazy: torch, 1.5 s (module docstring)
        )

        out = Path(cfg.output_dir)
        merged = out / "merged"
        merge_adapter(cfg, summary["adapter_dir"], merged)
        urls = push_to_hub(
            cfg, cfg.train.push_to_hub, Path(summary["adapter_dir"]), merged, summary, _eval_results(out)
        )
        console.print("pushed: " + ", ".join(urls))


def merge_cmd(
    config: str = typer.Argument(..., help="The experiment YAML the adapter was trained with."),
    adapter: str = typer.Option(..., "--adapter", help="Adapter folder, e.g. runs/quickstart/adapter"),
    out: str = typer.Option(..., "--out", help="Where to write the merged model."),
    dtype: str = typer.Option("bf16", "--dtype", help="bf16, fp16 or fp32 (never 4-bit)."),
    check_prompts: int = typer.Option(
        3, "--check-prompts", help="Prompts on which merged and adapter logits are compared."
    ),
    overrides: list[str] | None = typer.Argument(None, help="Dotted key=value overrides."),
) -> None:
    """Merge an adapter into an unquantized copy of the base and verify the logits."""
    from chefbot.train.merge import (
        merge_adapter,  # lazy: torch, 1.5 s (module docstring)
    )

    cfg = load_config(config, overrides)
    r = merge_adapter(cfg, adapter, out, check_prompts=check_prompts, dtype=dtype)
    console.print(
        f"merged into {out} ({r['dtype']}); max |merged - adapter| logit diff {r['max_abs_logit_diff']:.4g} "
        f"(tolerance {r['tolerance']}), |adapter - base| {r['adapter_vs_base_max_abs_logit_diff']:.4g} on {r['prompts']} prompts"
    )


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("merge")(merge_cmd)
