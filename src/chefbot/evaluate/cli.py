"""``chefbot eval`` and ``chefbot compare``.

``chefbot eval CONFIG`` is short for ``chefbot eval run CONFIG``; the other
subcommands (``score``, ``audit``, ``benchmarks``, ``judge``, ``requests build``, ``sets-compare``) are named
explicitly.  Commands live in ``cli_run.py`` (generation, the request sets, compare, benchmarks, judge) and
``cli_score.py`` (scoring, audit), ``tastings.py`` (blind tasting win rates), ``cli_check.py``
(``chefbot check FILE``: kitchen sense on one recipe file); each defines
``register(eval_app, app)``.
"""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from chefbot.evaluate import cli_check, cli_run, cli_score, tastings


class DefaultRunGroup(TyperGroup):
    """A group whose first argument falls through to ``run`` when it is not a subcommand."""

    def parse_args(self, ctx, args):  # type: ignore[override]
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=DefaultRunGroup,
    no_args_is_help=True,
    help="Evaluate a model (chefbot eval CONFIG), score predictions, audit the reference, run MMLU/HellaSwag.",
)


def register(app: typer.Typer) -> None:
    for mod in (cli_run, cli_score, tastings, cli_check):
        mod.register(eval_app, app)
    app.add_typer(eval_app, name="eval")
