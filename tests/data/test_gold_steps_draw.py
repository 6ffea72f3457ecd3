"""The step reader's gold set is the draw its sampling script documents (tests/data/gold_steps)."""

import importlib.util
import json
from pathlib import Path

import pytest

GOLD = Path(__file__).resolve().parent / "gold_steps"


def _load_sample_module():
    spec = importlib.util.spec_from_file_location("gold_sample", GOLD / "sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _gold(name: str = "gold_steps.jsonl") -> list[dict]:
    return [json.loads(line) for line in (GOLD / name).read_text(encoding="utf-8").splitlines()]


def test_gold_file_is_the_documented_draw():
    sample = _load_sample_module()
    if not sample.SHARED_CSV.exists():
        pytest.skip("../shared/data/recipenlg/first_1000.csv is missing")
    for drawn, gold in ((sample.draw(), _gold()), (sample.draw_holdout(), _gold("gold_steps_holdout.jsonl"))):
        assert [d["id"] for d in drawn] == [g["id"] for g in gold]
        for d, g in zip(drawn, gold):
            assert {k: g[k] for k in d} == d  # the labelled file keeps every drawn field unchanged
    assert not {g["recipe_id"] for g in _gold()} & {g["recipe_id"] for g in _gold("gold_steps_holdout.jsonl")}


def test_gold_labels_are_well_typed():
    stations = {"oven", "burner", "microwave", "slow_cooker", "grill", "fridge", "freezer", "blender", "mixer"}
    stations |= {"bowl", "none"}
    gold = _gold()
    assert len(gold) >= 400 and sum(g["split"] == "test" for g in gold) >= 400
    holdout = _gold("gold_steps_holdout.jsonl")
    assert len(holdout) == 250 and {g["split"] for g in holdout} == {"holdout"}
    for g in gold + holdout:
        if not g["task"]:
            assert all(g[f] is None for f in ("action", "equipment", "vessel", "oven_c", "attended", "duration_min"))
            continue
        assert g["equipment"] in stations, g["id"]
        assert g["vessel"] in (None, "pot", "pan") and (g["vessel"] is None or g["equipment"] == "burner"), g["id"]
        assert g["oven_c"] is None or (g["equipment"] == "oven" and g["oven_c"] % 5 == 0), g["id"]
        assert isinstance(g["attended"], bool), g["id"]
        assert g["duration_min"] is None or (isinstance(g["duration_min"], int) and g["duration_min"] >= 1), g["id"]


@pytest.mark.parametrize("field", ["task", "equipment", "attended", "duration_min"])
def test_second_labels_mostly_agree(field):
    # The goals are only meaningful if two readers of the rules agree more often than the reader must.
    gold = {g["id"]: g for g in _gold() + _gold("gold_steps_holdout.jsonl")}
    second = [json.loads(line) for line in (GOLD / "double_labels.jsonl").read_text(encoding="utf-8").splitlines()]
    pairs = [
        (gold[s["id"]][field], s[field]) for s in second if field == "task" or (gold[s["id"]]["task"] and s["task"])
    ]
    assert len(pairs) >= 70
    assert sum(a == b for a, b in pairs) / len(pairs) >= 0.95
