"""The issue-26 ablation on the request sets (a skeleton: the integrator runs it).

Each step is a model: the base, then one adapter per step (SFT, + substitutions, + grounding, + align),
each evaluated on the same request sets with its own config (grounding changes the prompt), then all
scored together, each against the one before it and against the base (docs/EVALUATION.md, section 12):

    python tools/ablation.py --out runs/ablation \\
        --step base=configs/quickstart.yaml \\
        --step sft=configs/quickstart.yaml@runs/sft/adapter \\
        --step align=configs/quickstart-align.yaml@runs/align/adapter

A step is NAME=CONFIG[@ADAPTER]; its predictions go to OUT/NAME (resumable: rerun after a kill), the
comparison to OUT/compare (results.json, report.md).  ``--limit N`` takes the first N requests of each
set (a quick look).  The scoring settings (BERTScore encoder, bootstrap) are the first step's config's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chefbot.config import load_config
from chefbot.evaluate.request_sets import compare_set_runs, evaluate_sets, predictions_path
from chefbot.evaluate.run import model_label


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--step", action="append", required=True, help="NAME=CONFIG[@ADAPTER], in order (base first)")
    ap.add_argument("--out", type=Path, default=Path("runs/ablation"))
    ap.add_argument("--sets", default="all", help="free, own, counterfactual, or all")
    ap.add_argument("--limit", type=int, default=None, help="first N requests of each set")
    args = ap.parse_args(argv)
    extra = [f"eval.sets={args.sets}"] + ([f"eval.set_limit={args.limit}"] if args.limit else [])
    runs: dict[str, Path] = {}
    first = None
    for step in args.step:
        name, _, spec = step.partition("=")
        config, _, adapter = spec.partition("@")
        cfg = load_config(config, extra)
        first = first or cfg
        evaluate_sets(cfg, adapter=adapter or None, out_dir=args.out / name, with_base=False)
        runs[name] = predictions_path(args.out / name, model_label(cfg, adapter or None), "x").parent
    res = compare_set_runs(first, runs, args.out / "compare")
    print(f"{args.out / 'compare' / 'report.md'}: {', '.join(res['models'])} on {', '.join(res['sets'])}")


if __name__ == "__main__":
    main()
