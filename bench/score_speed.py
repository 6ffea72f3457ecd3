"""Scoring speed: ROUGE-1/2/L/Lsum + recipe checks on 10,000 pairs, all cores.

Pairs are the reference project's stored predictions (5 models x 200 recipes, from
../shared) repeated to --pairs. Measured in the same run:

1. Google's rouge-score (``RougeScorer(...).score``, stemmer on) on --sample pairs, per pair;
2. chefbot's scorer, one process, on the same sample (equal numbers, checked);
3. chefbot ``per_item_scores`` on all pairs with every core: whole text + recipe checks
   (the issue's goal), and whole + directions-only + checks (what ``score`` runs by default).

    .venv/bin/python bench/score_speed.py --pairs 10000
    .venv/bin/python bench/score_speed.py --quick       # CI size: 400 pairs, 10 timed with rouge-score

Writes bench/out/score_speed.json and the ``metrics`` section of docs/BENCHMARKS.md (with a
committed copy of the JSON in docs/results/score_speed.json);
``--quick`` writes bench/out/score_speed_quick.json and leaves the docs alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine_line, md_table, replace_section, run_name, write_json  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "qwen-qlora-chef" / "Rouge_Scores"
TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def load_pairs(n: int) -> list[dict]:
    from chefbot.evaluate.predictions import read_predictions

    base = []
    for f in sorted(SHARED.glob("*/*.jsonl")):
        base += read_predictions(f, fmt="reference")
    if not base:
        raise SystemExit(f"no predictions under {SHARED}")
    return [{**base[i % len(base)], "id": f"p{i}"} for i in range(n)]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=10000)
    ap.add_argument("--sample", type=int, default=40, help="pairs timed with rouge-score itself (it is slow)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="CI size: 400 pairs, 10 timed with rouge-score; writes score_speed_quick.json, not the docs",
    )
    ap.add_argument("--out", type=Path, default=None, help="folder for the JSON (default bench/out)")
    ap.add_argument("--no-doc", action="store_true", help="do not rewrite docs/BENCHMARKS.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.pairs, args.sample = min(args.pairs, 400), min(args.sample, 10)
    from rouge_score import rouge_scorer

    from chefbot.evaluate.rouge import lsum_text, rouge_items
    from chefbot.evaluate.score import per_item_scores

    pairs = load_pairs(args.pairs)
    workers = args.workers or os.cpu_count() or 1
    load_before = os.getloadavg()

    sample = pairs[: args.sample]
    refs, preds = [r["reference"] for r in sample], [r["prediction"] for r in sample]
    sc = rouge_scorer.RougeScorer(list(TYPES), use_stemmer=True)
    t = time.perf_counter()
    ref_scores = [sc.score(lsum_text(a), lsum_text(b)) for a, b in zip(refs, preds)]
    t_rs = (time.perf_counter() - t) / len(sample)
    rouge_items(refs, preds, True, TYPES)  # warm the stemmer memo (steady state, as in a long run)
    t = time.perf_counter()
    ours = rouge_items(refs, preds, True, TYPES)
    t_ours = (time.perf_counter() - t) / len(sample)
    # rougeLsum on lsum_text input equals ours; rouge1/2/L on lsum_text input equal the raw text's (same tokens)
    max_diff = max(abs(s[k].fmeasure - ours[k][i]) for i, s in enumerate(ref_scores) for k in TYPES)

    runs = {}
    for name, directions in (("whole+checks", False), ("whole+directions+checks", True)):
        t = time.perf_counter()
        per_item_scores(pairs, stemmer=True, types=TYPES, directions=directions, checks=True, workers=workers)
        runs[name] = time.perf_counter() - t
    load_after = os.getloadavg()

    command = "python bench/score_speed.py " + " ".join(argv if argv is not None else sys.argv[1:])
    payload = {
        "command": command.strip(),
        "quick": args.quick,
        "pairs": args.pairs,
        "workers": workers,
        "sample_pairs": len(sample),
        "rouge_score_ms_per_pair": 1000 * t_rs,
        "chefbot_rouge_ms_per_pair_1proc": 1000 * t_ours,
        "speedup_rouge_1proc": t_rs / t_ours,
        "max_abs_diff_vs_rouge_score": max_diff,
        "rouge_score_extrapolated_s": t_rs * args.pairs,
        "seconds": runs,
        "load_average_before": load_before,
        "load_average_after": load_after,
    }
    out = write_json(run_name("score_speed", args.quick), payload, out_dir=args.out)
    print(json.dumps(payload, indent=2))
    print(f"json: {out}")
    if args.quick or args.no_doc:  # a CI-size run never replaces the real numbers
        return payload
    replace_section("metrics", render_section(json.loads(out.read_text())), results=out, results_name=out.stem)
    return payload


def render_section(payload: dict) -> str:
    """The ``metrics`` section, every figure from ``payload`` (the run's JSON)."""
    pairs, workers, runs = payload["pairs"], payload["workers"], payload["seconds"]
    before, after = payload["load_average_before"], payload["load_average_after"]
    rows = [
        [
            "Google rouge-score, 1 process (R-1/2/L/Lsum, stemmer)",
            f"{payload['rouge_score_ms_per_pair']:.1f} ms",
            f"~{payload['rouge_score_extrapolated_s']:.0f} s (extrapolated)",
        ],
        [
            f"chefbot ROUGE, 1 process (same numbers, max diff {payload['max_abs_diff_vs_rouge_score']:.1e})",
            f"{payload['chefbot_rouge_ms_per_pair_1proc']:.1f} ms",
            f"~{payload['chefbot_rouge_ms_per_pair_1proc'] * pairs / 1000:.0f} s (extrapolated)",
        ],
        [f"chefbot ROUGE + recipe checks, {workers} processes", "", f"{runs['whole+checks']:.1f} s (measured)"],
        [
            f"chefbot ROUGE whole + directions-only + checks, {workers} processes",
            "",
            f"{runs['whole+directions+checks']:.1f} s (measured)",
        ],
    ]
    return f"""## Scoring speed (ROUGE, recipe checks)

{pairs:,} (reference, prediction) pairs: the reference project's stored outputs (5 models x 200
recipes from `../shared`) repeated. ROUGE-1/2/L/Lsum with the Porter stemmer, Lsum on sentence-split text.
Machine: {machine_line(payload["machine"])}; 1-minute load average {before[0]:.1f} before, {after[0]:.1f} after
(compare the same-run ratio, not absolute times across runs).

{md_table(["what", "per pair", f"{pairs:,} pairs"], rows)}

rouge-score is pure Python (its LCS tables, and nltk's stemmer once per token): {payload["rouge_score_ms_per_pair"]:.1f} ms
per pair in this run, timed on {payload["sample_pairs"]} pairs. chefbot keeps rouge-score's tokenizer rule and scoring
functions but memoises the stemmer, uses a bit-parallel LCS for ROUGE-L and numpy-batched LCS tables (with
rouge-score's exact backtracking) for Lsum, then splits the pairs over all cores (`multiprocessing.Pool`, chunks).
Speed-up of the ROUGE part in one process: {payload["speedup_rouge_1proc"]:.0f}x.
`tests/evaluate/test_rouge.py` checks the numbers equal rouge-score's to 1e-12.

Command: `{payload["command"]}`.
"""


if __name__ == "__main__":
    main()
