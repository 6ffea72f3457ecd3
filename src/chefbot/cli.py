"""The ``chefbot`` command.

Each pipeline stage registers its own subcommands from ``chefbot/<stage>/cli.py``
(``register(app)``); ``chefbot demo`` (the quickstart, ``chefbot/demo.py``) and
``chefbot config show`` are registered here.  Modules that import torch are imported
inside the commands so that ``chefbot --help`` stays fast (0.2 s; ``import
chefbot.demo`` alone takes 1.5 s).  A ``ChefbotError`` becomes one red line and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from chefbot import __version__, config_cli
from chefbot.align import cli as align_cli
from chefbot.config import load_config
from chefbot.data import cli as data_cli
from chefbot.errors import ChefbotError
from chefbot.evaluate import cli as evaluate_cli
from chefbot.kitchen import cli as kitchen_cli
from chefbot.plan import cli as plan_cli
from chefbot.progress import console
from chefbot.serve import cli as serve_cli
from chefbot.train import cli as train_cli

app = typer.Typer(
    name="chefbot",
    help="Teach a small language model to cook: prepare data, QLoRA-train, evaluate, serve, plan meals.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# The stages that contribute commands, in pipeline order (each module's ``register(app)``).
STAGES = [data_cli, train_cli, align_cli, evaluate_cli, serve_cli, plan_cli, kitchen_cli, config_cli]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chefbot {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """chefbot command line."""


@app.command("demo")
def demo_cmd(
    config: str = typer.Argument("configs/quickstart.yaml", help="Experiment YAML (the quickstart by default)."),
    overrides: list[str] | None = typer.Argument(None, help="Dotted key=value overrides."),
    fresh: bool = typer.Option(
        False,
        "--fresh",
        help="Train in a new run folder (OUTPUT_DIR-<time>) instead of continuing or reusing the run in OUTPUT_DIR.",
    ),
    align: bool = typer.Option(
        False,
        "--align",
        help="Then chefbot align (DPO toward the checks) and base vs aligned evaluation: OUTPUT_DIR/align/eval/report.md.",
    ),
) -> None:
    """Data -> train -> base vs tuned evaluation -> OUTPUT_DIR/report.md (the quickstart); --align: -> align -> eval."""
    from chefbot.demo import run_demo  # lazy: torch, 1.5 s (module docstring)

    cfg = load_config(config, overrides)
    report = run_demo(cfg, fresh=fresh, align=align)
    console.print(f"report: {report}")


for _stage in STAGES:
    _stage.register(app)


def main() -> None:
    try:
        # standalone_mode=False: click returns a command's typer.Exit(code) instead of exiting with it
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except ChefbotError as e:
        from rich.console import Console
        from rich.markup import escape

        # escaped: a message quotes paths, titles and server text, where "[/x]" or "[bold]" is just text
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as e:  # usage errors (typer >= 0.29 raises its own click's exceptions)
        e.show()
        sys.exit(e.exit_code)
    except Exception as e:  # usage errors of typer versions built on the click package
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
