"""``chefbot eval tastings``: win rates of the blind tastings, with 95% Wilson intervals.

The votes and their counts come from the kitchen DB (``chefbot.kitchen.tastings.tally``:
per comparison of two sides, overall and per rater); this adds the intervals
(``stats.wilson_interval``: right at the small counts a household produces) and prints
them.  A side's win rate is its wins over all votes of the comparison, ties and "both
bad" included, so the two sides' rates and the tie and both-bad shares add up to one.
"""

from __future__ import annotations

import json

import typer
from rich.table import Table

from chefbot.evaluate.stats import wilson_interval
from chefbot.kitchen.cli import ConfigOption, DbOption, open_db
from chefbot.kitchen.tastings import tally, votes
from chefbot.progress import console


def with_intervals(counts: dict) -> dict:
    """One count block of ``tally`` (n, wins, tie, both_bad) with each side's rate and Wilson interval."""
    n = counts["n"]
    rates = {side: wilson_interval(w, n) for side, w in counts["wins"].items()}
    return {
        **counts,
        "win_rate": {side: {"rate": r["value"], "low": r["low"], "high": r["high"]} for side, r in rates.items()},
        "tie_rate": counts["tie"] / n if n else None,
        "both_bad_rate": counts["both_bad"] / n if n else None,
    }


def tasting_report(summary: dict) -> dict:
    """``tally``'s summary with intervals everywhere: per comparison, overall and per rater."""
    return {
        **summary,
        "comparisons": [
            {
                **c,
                "overall": with_intervals(c["overall"]),
                "per_rater": {r: with_intervals(v) for r, v in c["per_rater"].items()},
            }
            for c in summary["comparisons"]
        ],
    }


def _fmt(r: dict) -> str:
    if r["rate"] is None:
        return "-"
    return f"{r['rate']:.2f} [{r['low']:.2f}, {r['high']:.2f}]"


def print_report(report: dict) -> None:
    if not report["comparisons"]:
        console.print("no tasting votes yet (the web page's tasting tab, or POST /api/tastings)")
        return
    for c in report["comparisons"]:
        sides = c["sides"]
        table = Table(title=f"{' vs '.join(sides)}: {c['n']} votes", title_justify="left")
        table.add_column("rater")
        table.add_column("n", justify="right")
        for s in sides:
            table.add_column(f"{s} wins (95% CI)")
        table.add_column("tie", justify="right")
        table.add_column("both bad", justify="right")
        rows = [("overall", c["overall"]), *sorted(c["per_rater"].items())]
        for name, block in rows:
            table.add_row(
                name,
                str(block["n"]),
                *[f"{block['wins'][s]}: {_fmt(block['win_rate'][s])}" for s in sides],
                str(block["tie"]),
                str(block["both_bad"]),
            )
        console.print(table)


def register(eval_app: typer.Typer, _app: typer.Typer) -> None:
    @eval_app.command("tastings")
    def tastings_cmd(
        db: DbOption = None,
        config: ConfigOption = None,
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Blind tasting win rates with 95% Wilson intervals, per rater and overall."""
        with open_db(db, config) as kdb:
            report = tasting_report(tally(votes(kdb)))
        if as_json:
            typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            print_report(report)
