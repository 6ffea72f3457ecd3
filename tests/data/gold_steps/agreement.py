"""Agreement between two people's labels on the gold set's doubly-labelled items.

``double_labels.jsonl`` holds a second, independent labelling of 80 gold items (15 from each
labeller's neighbouring share of the first draw, 10 of the holdout draw's; see README.md); this prints and writes ``agreement.json``: per
field, the share of items where both labels are equal (over items both call a task, for the
fields that only tasks have), with a Wilson 95% interval.

    .venv/bin/python tests/data/gold_steps/agreement.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from chefbot.evaluate.stats import wilson_interval

HERE = Path(__file__).resolve().parent
FIELDS = ("task", "action", "equipment", "vessel", "oven_c", "attended", "duration_min")


def load(path: Path) -> dict[str, dict]:
    return {d["id"]: d for d in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def agreement(gold: dict[str, dict], second: dict[str, dict]) -> dict:
    out = {}
    for f in FIELDS:
        pairs = [(gold[i][f], s[f]) for i, s in second.items() if f == "task" or (gold[i]["task"] and s["task"])]
        agree = sum(a == b for a, b in pairs)
        out[f] = {"agree": agree, **wilson_interval(agree, len(pairs))}
    out["disagreements"] = [
        {"id": i, **{f: [gold[i][f], s[f]] for f in FIELDS if gold[i][f] != s[f]}}
        for i, s in second.items()
        if any(gold[i][f] != s[f] for f in FIELDS)
    ]
    return out


def main() -> int:
    gold = load(HERE / "gold_steps.jsonl") | load(HERE / "gold_steps_holdout.jsonl")
    result = agreement(gold, load(HERE / "double_labels.jsonl"))
    for f in FIELDS:
        r = result[f]
        print(f"{f:13s} {r['agree']}/{r['n']} = {r['value']:.1%}  [{r['low']:.1%}, {r['high']:.1%}]")
    out = HERE / "agreement.json"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
