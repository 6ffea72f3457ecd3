"""``chefbot align CONFIG [--adapter SFT_DIR]``: preference training toward the checks after ``train``.

The stage modules are imported inside the command (torch, transformers, TRL: seconds), so that
``chefbot --help`` stays fast.
"""

from __future__ import annotations

import typer

from chefbot.config import load_config
from chefbot.progress import console


def align_cmd(
    config: str = typer.Argument(..., help="Experiment YAML, e.g. configs/quickstart.yaml"),
    overrides: list[str] | None = typer.Argument(None, help="Dotted key=value overrides, e.g. align.max_steps=10"),
    adapter: str | None = typer.Option(
        None, "--adapter", help="The SFT adapter to align (default: OUTPUT_DIR/adapter, what `chefbot train` wrote)."
    ),
) -> None:
    """Sample answers from the SFT model, score them with the checkers, and DPO-train toward the better ones."""
    cfg = load_config(config, overrides)
    from chefbot.align.run import align, sft_adapter_dir  # lazy: torch and TRL (module docstring)

    sft_adapter_dir(cfg, adapter)  # the clear error before anything loads
    s = align(cfg, adapter)
    r = s["rewards"]
    console.print(
        f"aligned {s['dpo_steps']} DPO steps on {r['pairs']['pairs']} pairs; loss {s['first_loss']:.4f} -> "
        f"{s['last_loss']:.4f}; adapter: {s['adapter_dir']}"
    )


def register(app: typer.Typer) -> None:
    app.command("align")(align_cmd)
