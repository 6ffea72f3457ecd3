"""``chefbot plan meal.yaml``: print the timeline and write the chart, HTML page and JSON.

``register`` runs on every ``chefbot`` call, so the solver (OR-Tools) is imported only
when the command runs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from chefbot.config import load_yaml_model
from chefbot.errors import ChefbotError
from chefbot.plan.complete import openai_complete
from chefbot.plan.render import cook_lists_text, html_page, timeline_text, write_outputs
from chefbot.plan.schema import MealSpec


def plan_command(
    meal_file: Path = typer.Argument(
        ..., help="Meal spec YAML (recipes, cooks, kitchen, serve_at); see docs/PLANNER.md."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for plan.png, plan.html, plan.json, timeline.txt [runs/plan/<meal>]."
    ),
    serve_at: str | None = typer.Option(None, "--serve-at", help="Override serve_at: HH:MM or 'YYYY-MM-DD HH:MM'."),
    start_after: str | None = typer.Option(None, "--start-after", help="Override start_after: no task before HH:MM."),
    time_limit: float | None = typer.Option(
        None, "--time-limit", help="Solver time limit in seconds (solver.time_limit_s)."
    ),
    overrides: list[str] = typer.Option([], "--set", help="Override any key, e.g. --set kitchen.ovens=2 (repeatable)."),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="OpenAI-compatible base URL, for ingredient-only recipes or tasks_from: model."
    ),
    api_model: str | None = typer.Option(None, "--api-model", help="Model name at --endpoint."),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="CHEFBOT_API_KEY", help="Key for --endpoint, if it needs one."
    ),
    date: str | None = typer.Option(
        None, "--date", help="The day of the meal, YYYY-MM-DD [the meal's date, else today]; a past time is refused."
    ),
    now: str | None = typer.Option(
        None, "--now", help="Pretend the time is this ('YYYY-MM-DD HH:MM'); for reproducible runs."
    ),
) -> None:
    """Plan a whole meal: who does which step when, on which equipment, so that everything is ready at serving time."""
    from rich.console import Console

    # At the top, `import chefbot.plan.api` would add 0.3 s to every `chefbot` call (0.3 s without it;
    # measured after `import chefbot.cli`, median of 9 runs), nearly all of it OR-Tools.
    from chefbot.plan.api import plan_meal, plan_to_dict  # lazy: OR-Tools, 0.3 s

    extra = list(overrides)
    if serve_at:
        extra.append(f"serve_at='{serve_at}'")
    if start_after:
        extra.append(f"start_after='{start_after}'")
    if date:
        extra.append(f"date='{date}'")
    if time_limit is not None:
        extra.append(f"solver.time_limit_s={time_limit}")
    meal = load_yaml_model(MealSpec, meal_file, extra)
    complete = None
    if endpoint or api_model:
        if not (endpoint and api_model):
            raise ChefbotError(
                "--endpoint and --api-model go together: the server's base URL and the model name it serves"
            )
        complete = openai_complete(endpoint, api_model, api_key)
    when = None
    if now:
        try:
            when = dt.datetime.fromisoformat(now)
        except ValueError:
            raise ChefbotError(f"--now {now!r}: write a date and time, e.g. 2025-06-01 17:00") from None
    if meal.day is None:  # a plan from the command line is for a day: today unless the meal or --date says
        meal = meal.model_copy(update={"date": (when or dt.datetime.now()).date().isoformat()})
    plan, warnings = plan_meal(meal, base_dir=meal_file.parent, now=when, complete=complete)
    result = plan_to_dict(plan, warnings)
    result["html"] = html_page(result)
    folder = out or Path("runs/plan") / meal_file.stem
    paths = write_outputs(result, folder)
    console = Console(highlight=False, soft_wrap=True)
    console.print(timeline_text(result))
    console.print()
    console.print(cook_lists_text(result))
    console.print()
    console.print(f"wrote {paths['png']}, {paths['html']}, {paths['json']}")


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)
