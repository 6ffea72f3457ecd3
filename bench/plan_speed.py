"""Meal planner speed: a three-course dinner (5 s target) and a ten-dish buffet (30 s target).

    .venv/bin/python bench/plan_speed.py [--repeats 3]
    .venv/bin/python bench/plan_speed.py --quick      # CI size: 1 repeat, time limits capped (~5 s)

Each meal is analysed once and solved ``--repeats`` times from scratch with its own
solver settings (time limit, 8 workers, seed 0).  Reported: median seconds until the
makespan (the first objective) is settled, median total seconds including the
hot-food-waiting stage, the makespan status (OPTIMAL = proven) and its gap to the
solver's bound, and the longest time a hot dish sits off the heat (limit
``hot_hold_max_min``).  Writes bench/out/plan_speed.json (with the last plan of each
meal, for checking), its committed copy docs/results/plan_speed.json (without the plans)
and the planner section of docs/BENCHMARKS.md; ``--quick`` writes
bench/out/plan_speed_quick.json and leaves the docs alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from common import _cpu_model as cpu_name  # noqa: E402
from common import replace_section, run_name, write_json  # noqa: E402

from chefbot.config import load_yaml_model  # noqa: E402
from chefbot.plan.api import analyse_meal, plan_to_dict  # noqa: E402
from chefbot.plan.problem import build_problem  # noqa: E402
from chefbot.plan.schema import MealSpec  # noqa: E402
from chefbot.plan.solve import solve  # noqa: E402

MEALS = [("examples/dinner-for-six.yaml", 5.0), ("examples/buffet-ten-dishes.yaml", 30.0)]
QUICK_TIME_LIMIT_S = 8.0  # --quick: the buffet's stage 1 takes ~1 s, stage 2 gets a quarter (2 s)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"CI size: 1 repeat, time limits capped at {QUICK_TIME_LIMIT_S:.0f} s; writes plan_speed_quick.json, not the docs",
    )
    ap.add_argument("--out", type=Path, default=None, help="folder for the JSON (default bench/out)")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/BENCHMARKS.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats = 1
    rows = []
    for path, target in MEALS:
        meal = load_yaml_model(MealSpec, REPO / path)
        if args.quick:
            meal.solver.time_limit_s = min(meal.solver.time_limit_s, QUICK_TIME_LIMIT_S)
        analysis = analyse_meal(meal, (REPO / path).parent)
        runs = []
        for _ in range(args.repeats):
            plan = solve(build_problem(meal, analysis.dishes, analysis.kinds))
            runs.append(plan)
            print(
                f"{path}: makespan {plan.makespan} min {plan.status} in {plan.stage1_s:.2f} s, total {plan.wall_s:.2f} s",
                flush=True,
            )
        rows.append(
            {
                "meal": path,
                "dishes": len(analysis.dishes),
                "tasks": sum(len(d.tasks) for d in analysis.dishes),
                "cooks": len(meal.cooks),
                "ovens": meal.kitchen.ovens,
                "burners": meal.kitchen.burners,
                "time_limit_s": meal.solver.time_limit_s,
                "workers": meal.solver.workers,
                "target_s": target,
                "makespan_min": [p.makespan for p in runs],
                "status": [p.status for p in runs],
                "gap": [round(p.gap, 4) for p in runs],
                "wait_status": [p.wait_status for p in runs],
                # the largest hot dish's limit: the meal's, or each dish's default by how it ends (HOLD_DEFAULT_MIN)
                "hot_hold_limit_min": max(
                    (d.hold_max for d in plan.problem.dishes if d.hold_max is not None), default=None
                ),
                "hot_hold_max_min": [max(p.holds.values(), default=0) for p in runs],
                "oven_preheats": [len(p.oven_segments) for p in runs],
                "makespan_s": [round(p.stage1_s, 3) for p in runs],
                "total_s": [round(p.wall_s, 3) for p in runs],
                "makespan_s_median": round(statistics.median(p.stage1_s for p in runs), 2),
                "total_s_median": round(statistics.median(p.wall_s for p in runs), 2),
                "repeats": args.repeats,
                "plan": plan_to_dict(runs[-1]),  # the last plan in full, so it can be checked independently
            }
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    machine = (
        f"{cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, load average {load:.1f} at the end"
    )
    command = "python bench/plan_speed.py " + " ".join(argv if argv is not None else sys.argv[1:])
    payload = {"command": command.strip(), "quick": args.quick, "machine_line": machine, "rows": rows}
    out = write_json(run_name("plan_speed", args.quick), payload, out_dir=args.out)
    lines = [
        "## Meal planner (CP-SAT)",
        "",
        f"Command: `.venv/bin/python bench/plan_speed.py --repeats {args.repeats}` (machine: {machine}).",
        "Each meal is solved from scratch, median of the repeats. *Makespan s*: until the first objective (first task to",
        "serving) is settled; *total s*: including the second stage (least hot-food waiting), which gets at most a quarter",
        "of the time limit. *Status* and *gap* are the makespan's (OPTIMAL = proven by the solver's bound). *Hot hold*: the",
        "longest time any hot dish sits off the heat before serving, a hard limit per dish (`hot_hold_max_min`, the meal's or",
        "by default 60 min for a dish that ends in the oven, 15 for the others; the largest shown); *preheats*: oven",
        "preheats in the plan (one per cold start or temperature change).",
        "",
        "| meal | dishes | tasks | cooks | ovens/burners | target | makespan s | total s | makespan | status | gap | waiting stage | hot hold | preheats |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['meal']}` | {r['dishes']} | {r['tasks']} | {r['cooks']} | {r['ovens']}/{r['burners']} | ≤{r['target_s']:.0f} s "
            f"| {r['makespan_s_median']} | {r['total_s_median']} | {statistics.median(r['makespan_min'])} min "
            f"| {', '.join(sorted(set(r['status'])))} | {max(r['gap']):.1%} | {', '.join(sorted(set(r['wait_status'])))} "
            f"| ≤{max(r['hot_hold_max_min'])} min (limit {r['hot_hold_limit_min']}) | {max(r['oven_preheats'])} |"
        )
    section = "\n".join(lines)
    if not (args.quick or args.no_doc):  # a CI-size run never replaces the real numbers
        # the committed copy leaves out the full plans (about 100 KB a meal; bench/out keeps them)
        saved = json.loads(out.read_text())
        saved["rows"] = [{k: v for k, v in r.items() if k != "plan"} for r in saved["rows"]]
        replace_section("planner", section, results=saved, results_name=out.stem)
    print(section)
    print(f"json: {out}")
    return payload


if __name__ == "__main__":
    main()
