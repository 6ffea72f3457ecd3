"""The step reader on the hand-labelled gold set's test split meets the issue's goals (issue 25).

tests/data/gold_steps/gold_steps.jsonl: 500 direction sentences of real recipes labelled by
hand by the rules of its README (400 ``test``, 100 ``dev``).  The figures are computed by
bench/step_reader_accuracy.py (the same scoring prints the table and writes
docs/results/step_reader_gold.json); this test writes nothing.  Goals, on the test items the
gold labels a task: equipment station and attended/hands-off >= 95%; on the items that state
a duration, exact minutes >= 90%.  Each rate is asserted on its point value and reported with
its Wilson 95% interval.  The holdout set, measured once unseen after round 1 (equipment
85.4%, attended 93.8%: below the goals), was then used in round 2 to find general classes of
misreading, like dev and test; every split is seen now, and their round-2 figures
(docs/results/step_reader_gold_round2.json) are floors here, so a change that reads worse fails.
The lead's third, unseen draw is the honest figure (docs/PLANNER.md).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "step_reader_accuracy.py"


@pytest.fixture(scope="module")
def accuracy():
    spec = importlib.util.spec_from_file_location("step_reader_accuracy", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def test_result(accuracy) -> dict:
    return accuracy.score(accuracy.load("test"))


def test_the_test_split_is_the_documented_size(accuracy, test_result):
    assert test_result["items"] == 400
    assert test_result["fields"]["equipment"]["n"] >= 300  # gold task items


@pytest.mark.parametrize("field", ["equipment", "attended", "duration_min"])
def test_goal_met_on_the_test_split(accuracy, test_result, field):
    r = test_result["fields"][field]
    goal = accuracy.GOALS[field]
    assert r["value"] >= goal, (
        f"{field}: {r['correct']}/{r['n']} = {r['value']:.1%} [{r['low']:.1%}, {r['high']:.1%}] < {goal:.0%}; "
        f"misread: {[m for m in test_result['misread'] if field in m][:5]}"
    )
    assert r["low"] <= r["value"] <= r["high"]


# Round 2's figures on every split (all seen: docs/results/step_reader_gold_round2.json) as
# floors.  Round 1 measured the holdout once unseen at equipment 193/226, attended 212/226.
FLOORS = {
    "dev": {"equipment": 88 / 88, "attended": 88 / 88, "duration_min": 12 / 12},
    "test": {"equipment": 349 / 360, "attended": 353 / 360, "duration_min": 69 / 69},
    "holdout": {"equipment": 217 / 226, "attended": 223 / 226, "duration_min": 39 / 39},
}


@pytest.mark.parametrize("split", sorted(FLOORS))
def test_no_split_falls_below_its_round_2_figures(accuracy, split):
    items = accuracy.load("all", accuracy.HOLDOUT) if split == "holdout" else accuracy.load(split)
    fields = accuracy.score(items)["fields"]
    for field, floor in FLOORS[split].items():
        assert fields[field]["value"] >= floor - 1e-9, (split, field, fields[field])


def test_a_misreading_is_counted(accuracy):
    """The scorer compares, not just counts: a wrong label costs its field a point."""
    item = dict(accuracy.load("test")[0])
    right = accuracy.score([item])["fields"]
    item["task"] = not item["task"]
    wrong = accuracy.score([item])["fields"]
    assert wrong["task"]["correct"] == right["task"]["correct"] - 1
