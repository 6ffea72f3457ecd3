"""``chefbot check FILE``: kitchen sense on a recipe file, from the command line.

FILE is a recipe in chefbot's text format (what ``recipe_format.parse_recipe`` reads: a title,
an ingredient list, numbered directions; markdown and plain headings too) or, for a ``.json``
file or one whose text starts with ``{``, a ``Recipe`` as JSON (``Recipe.validate``: title,
servings, ingredients, directions).  Every check of ``cooking.kitchen_sense.check_kitchen_sense``
is printed, one line each, with its reason and source.

Exit status: 1 when a safety check fails (following the recipe could make someone ill), 0
otherwise (a failed plausibility check is printed, not an error), 2 when the file cannot be
read as a recipe (the message names the file and, for JSON, the field).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from chefbot.cooking.kitchen_sense import SenseReport, check_kitchen_sense
from chefbot.errors import ChefbotError, DataError
from chefbot.recipe_format import Recipe, parse_recipe

MARKS = {True: "pass", False: "FAIL", None: "n/a"}


def read_recipe_file(path: Path) -> Recipe:
    """The recipe in ``path`` (text or JSON); ``ChefbotError`` (exit 2) naming the file and field otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ChefbotError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ChefbotError(f"{path}: is a folder, not a recipe file") from None
    except UnicodeDecodeError as e:
        raise ChefbotError(f"{path}: not UTF-8 text (byte {e.start}); give a recipe as text or JSON") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ChefbotError(f"{path}: not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
        if not isinstance(data, dict):
            raise ChefbotError(f"{path}: a recipe in JSON is an object with title, ingredients and directions")
        try:
            return Recipe.validate(data, str(path))
        except DataError as e:  # a user's file: exit 2 like any unreadable input, not 1 (a failed check)
            raise ChefbotError(str(e)) from None
    if not text.strip():
        raise ChefbotError(f"{path}: the file is empty")
    return parse_recipe(text)


def report_lines(report: SenseReport) -> list[str]:
    """One line per check (``FAIL  safety  name: reason  [source]``), then the verdict."""
    lines = []
    for c in report.checks:
        line = f"{MARKS[c.passed]:<4}  {c.kind:<12}  {c.name}"
        if c.reason:
            line += f": {c.reason}"
        if c.source:
            line += f"  [source: {c.source}]"
        lines.append(line)
    failed = report.failures
    verdict = "not a recipe" if not report.is_recipe else "a recipe"
    verdict += ", UNSAFE" if not report.safe else ", safe as far as the checks can tell"
    lines.append(f"{verdict}: {len(failed)} of {len(report.checks)} checks failed")
    return lines


def register(eval_app: typer.Typer, app: typer.Typer) -> None:  # noqa: ARG001 (signature shared with cli_run)
    @app.command("check")
    def check_cmd(
        file: Path = typer.Argument(
            ..., help="A recipe: text (title, ingredients, numbered steps) or JSON (a Recipe)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON instead of lines."),
    ) -> None:
        """Kitchen sense on a recipe file: every check with its reason; exit 1 when a safety check fails."""
        report = check_kitchen_sense(read_recipe_file(file))
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        else:
            typer.echo(f"{file}: {len(report.checks)} kitchen-sense checks")
            for line in report_lines(report):
                typer.echo("  " + line)
        if not report.safe:
            raise typer.Exit(1)
