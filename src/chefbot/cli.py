"""The ``chefbot`` command.

Each pipeline stage registers its own subcommands from ``chefbot/<stage>/cli.py``
(``register(app)``); heavy libraries are imported inside the commands so that
``chefbot --help`` stays instant.  A ``ChefbotError`` becomes one red line and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer

from chefbot import __version__
from chefbot.errors import ChefbotError

app = typer.Typer(
    name="chefbot",
    help="Teach a small language model to cook: prepare data, QLoRA-train, evaluate, serve, plan meals.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Stages that contribute commands; a stage whose module is absent is skipped.
STAGES = ["data", "train", "evaluate", "serve", "plan"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chefbot {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """chefbot command line."""


for _stage in STAGES:
    try:
        _mod = importlib.import_module(f"chefbot.{_stage}.cli")
    except ModuleNotFoundError as e:  # stage not built (yet)
        if e.name != f"chefbot.{_stage}.cli":
            raise
        continue
    _mod.register(app)


def main() -> None:
    try:
        app(standalone_mode=False)
    except ChefbotError as e:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:  # click usage errors come through here in non-standalone mode
        import click

        if isinstance(e, click.exceptions.Exit):
            sys.exit(e.exit_code)
        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
