"""How accurately the step reader reads the gold set's sentences (issue 25, item 1).

Reads every item of tests/data/gold_steps/gold_steps.jsonl in its recipe with
``chefbot.cooking.tasks.read_sentences`` (the whole recipe's directions, so the context of
earlier steps counts, as it did for the labellers) and compares each field with the label:

* ``task`` over every item of the split;
* ``action``, ``equipment``, ``vessel``, ``oven_c``, ``attended`` over the items the gold
  labels a task (accents are dropped before comparing actions: "sauté" = "saute");
* ``duration_min`` over the items whose gold label states a duration (exact minutes), and
  ``duration_none`` over the task items whose gold states none (the reader must state none).

Each rate has a Wilson 95% interval (``chefbot.evaluate.stats.wilson_interval``).  Prints the
table and the misread sentences; ``--json PATH`` writes the figures and the misreadings
(docs/results/step_reader_gold.json is this script's output on the test split).

    .venv/bin/python bench/step_reader_accuracy.py --split dev
    .venv/bin/python bench/step_reader_accuracy.py --split test --json docs/results/step_reader_gold.json
    .venv/bin/python bench/step_reader_accuracy.py --holdout --json docs/results/step_reader_gold_holdout.json
    .venv/bin/python bench/step_reader_accuracy.py --all-splits --quiet --json docs/results/step_reader_gold_round2.json
    .venv/bin/python bench/step_reader_accuracy.py --final --json docs/results/step_reader_gold_final.json

``--all-splits`` scores dev, test and the holdout in one run and writes them under ``splits``
(round 2 of issue 25: every split has been seen by then, so none of them is an unseen figure).
``--final`` scores the third draw, which nobody writing the reader saw: its first run, on the
reader of round 2, is the unseen figure (docs/results/step_reader_gold_final.json).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import unicodedata
from pathlib import Path

from chefbot.cooking.tasks import read_sentences
from chefbot.evaluate.stats import wilson_interval

REPO = Path(__file__).resolve().parents[1]
GOLD = REPO / "tests" / "data" / "gold_steps" / "gold_steps.jsonl"
HOLDOUT = GOLD.with_name("gold_steps_holdout.jsonl")  # drawn and labelled after the reader was finished
FINAL = GOLD.with_name("gold_steps_final.jsonl")  # drawn and labelled while round 2 was written, kept from it
TASK_FIELDS = ("action", "equipment", "vessel", "oven_c", "attended")
GOALS = {"equipment": 0.95, "attended": 0.95, "duration_min": 0.90}  # the goals


def load(split: str, path: Path = GOLD) -> list[dict]:
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [i for i in items if split == "all" or i.get("split") == split]


def _plain(word: str | None) -> str | None:
    if word is None:
        return None
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))


def predict(item: dict) -> dict:
    """The reader's reading of the item's sentence, in the gold file's field names."""
    readings = read_sentences(item["directions"], item["ingredients"])
    rd = readings[item["sentence_index"]]
    if rd.text != item["sentence"]:
        raise ValueError(f"gold set: item {item['id']}: sentence {item['sentence_index']} reads {rd.text!r}")
    return {
        "task": rd.task,
        "action": rd.verb,
        "equipment": rd.station,
        "vessel": rd.vessel,
        "oven_c": rd.oven_c,
        "attended": rd.attended,
        "duration_min": rd.minutes,
    }


def score(items: list[dict]) -> dict:
    """Per-field agreement with the gold labels (Wilson 95%) and every misreading."""
    hits: dict[str, list[bool]] = {f: [] for f in ("task", *TASK_FIELDS, "duration_min", "duration_none")}
    misread = []
    for item in items:
        p = predict(item)
        wrong = {}
        checks = [("task", p["task"], item["task"])]
        if item["task"]:
            checks += [(f, p[f], item[f]) for f in TASK_FIELDS]
            if item["duration_min"] is None:
                checks.append(("duration_none", p["duration_min"], None))
        if item["duration_min"] is not None:
            checks.append(("duration_min", p["duration_min"], item["duration_min"]))
        for f, got, want in checks:
            ok = _plain(got) == _plain(want) if f == "action" else got == want
            hits[f].append(ok)
            if not ok:
                wrong[f] = {"read": got, "gold": want}
        if wrong:
            misread.append({"id": item["id"], "sentence": item["sentence"], **wrong})
    fields = {f: {"correct": sum(h), **wilson_interval(sum(h), len(h))} for f, h in hits.items()}
    return {"items": len(items), "fields": fields, "goals": GOALS, "misread": misread}


def table(result: dict) -> str:
    lines = [f"{'field':14s} {'correct':>9s} {'rate':>7s}  95% interval      goal"]
    for f, r in result["fields"].items():
        if not r["n"]:
            continue
        goal = f">= {GOALS[f]:.0%}" if f in GOALS else ""
        lines.append(
            f"{f:14s} {r['correct']:>4d}/{r['n']:<4d} {r['value']:7.1%}  [{r['low']:.1%}, {r['high']:.1%}]  {goal}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    ap.add_argument("--holdout", action="store_true", help="the holdout file (every item; --split is ignored)")
    ap.add_argument("--final", action="store_true", help="the final file (every item; --split is ignored)")
    ap.add_argument("--all-splits", action="store_true", help="dev, test and the holdout in one JSON")
    ap.add_argument("--json", type=Path, help="write the figures and misreadings here")
    ap.add_argument("--quiet", action="store_true", help="the table only, not the misread sentences")
    ap.add_argument(
        "--quick", action="store_true", help="CI size (make bench): every split, tables only, nothing written"
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.all_splits, args.quiet, args.json = True, True, None
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "src"], capture_output=True, text=True
    ).stdout.strip()
    commit = head.strip() + (" + uncommitted changes in src" if dirty else "")
    if args.all_splits:
        runs = [("dev", GOLD, "dev"), ("test", GOLD, "test"), ("holdout", HOLDOUT, "all")]
    else:
        runs = [(args.split, GOLD, args.split)]
        if args.holdout or args.final:
            runs = [("holdout", HOLDOUT, "all")] if args.holdout else [("final", FINAL, "all")]
    results = {}
    for name, path, split in runs:
        result = {
            "split": split,
            "gold": str(path.relative_to(REPO)),
            "reader_commit": commit,
            **score(load(split, path)),
        }
        results[name] = result
        print(f"step reader on {result['gold']}, split {split} ({result['items']} sentences)")
        print(table(result))
        if not args.quiet:
            for m in result["misread"]:
                fields = ", ".join(
                    f"{f}: {v['read']!r} (gold {v['gold']!r})" for f, v in m.items() if isinstance(v, dict)
                )
                print(f"- {m['id']}: {m['sentence'][:100]!r}\n    {fields}")
    if args.all_splits:
        result = {"reader_commit": commit, "seen": "every split was used to write the rules", "splits": results}
    if args.json:
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
