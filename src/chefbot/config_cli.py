"""``chefbot config show CONFIG [key=value ...]``: the resolved config, every key explained.

Prints what a run of CONFIG would use (overrides applied, defaults filled in) as YAML
with each key's description from ``chefbot/config.py`` as a comment; the output is
itself a valid config file.
"""

from __future__ import annotations

import typer

from chefbot.config import commented_yaml, load_config

config_app = typer.Typer(help="Show the resolved experiment config, every key explained.", no_args_is_help=True)


@config_app.command("show")
def show_cmd(
    config: str = typer.Argument(..., help="Experiment YAML, e.g. configs/quickstart.yaml"),
    overrides: list[str] | None = typer.Argument(None, help="Dotted key=value overrides, e.g. train.lr=1e-4"),
) -> None:
    """Print CONFIG with overrides and defaults as YAML, with a comment per key saying what it does."""
    ov = list(overrides or [])
    cfg = load_config(config, ov)
    header = [
        f"chefbot config show {config}" + "".join(f" {o}" for o in ov),
        "every key resolved (defaults filled in); comments from src/chefbot/config.py",
    ]
    typer.echo(commented_yaml(cfg, header), nl=False)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
