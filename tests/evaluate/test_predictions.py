"""Predictions files: validation errors name the line; the writer resumes after a crash."""

from __future__ import annotations

import json

import pytest

from chefbot.errors import ChefbotError
from chefbot.evaluate.predictions import (
    PredictionWriter,
    check_against_references,
    read_predictions,
    write_predictions,
)


def row(i, pred="1. Mix.", **kw):
    return {
        "id": f"t:{i}",
        "inputs": {"ner": ["flour"]},
        "reference": f"ref {i}",
        "prediction": pred,
        "model": "m",
        "settings": {"max_new_tokens": 8},
        **kw,
    }


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_roundtrip_and_order(tmp_path):
    p = write_predictions(tmp_path / "p.jsonl", [row(i) for i in range(3)])
    rows = read_predictions(p)
    assert [r["id"] for r in rows] == ["t:0", "t:1", "t:2"]


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("{not json", "bad JSON"),
        (json.dumps({k: v for k, v in row(1).items() if k != "prediction"}), "missing field(s) prediction"),
        (json.dumps(row(1, pred=None)), "'prediction' must be a string"),
        (json.dumps([1, 2]), "expected a JSON object"),
        (json.dumps(row(0)), "duplicate id"),
        (json.dumps(row(1, finish_reason="eos")), "finish_reason"),
    ],
)
def test_bad_rows_name_the_line(tmp_path, bad_line, message):
    p = write_lines(tmp_path / "p.jsonl", [json.dumps(row(0)), bad_line])
    with pytest.raises(ChefbotError) as e:
        read_predictions(p)
    assert message in str(e.value)
    assert f"{p}:2" in str(e.value)


def test_missing_and_empty_file(tmp_path):
    with pytest.raises(ChefbotError, match="not found"):
        read_predictions(tmp_path / "nope.jsonl")
    (tmp_path / "e.jsonl").write_text("\n")
    with pytest.raises(ChefbotError, match="no predictions"):
        read_predictions(tmp_path / "e.jsonl")


def test_length_mismatch_with_references_names_the_line(tmp_path):
    rows = [row(i) for i in range(3)]
    refs = [{"id": r["id"], "reference": r["reference"]} for r in rows] + [{"id": "t:3", "reference": "ref 3"}]
    with pytest.raises(ChefbotError, match=r"3 predictions but 4 references; they differ from line 4 \(id 't:3'\)"):
        check_against_references(rows, refs)
    refs[1]["id"] = "other"
    with pytest.raises(ChefbotError, match="line 2 has id 't:1'"):
        check_against_references(rows, refs[:3])


def test_reference_layout_is_detected(tmp_path):
    obj = {
        "title": "T",
        "NER": "a, b",
        "ingredients": "- a\n- b",
        "directions": "- x",
        "reference_full": "Certainly! Here's ...",
        "prediction": "p",
    }
    p = write_lines(tmp_path / "ref.jsonl", [json.dumps(obj)] * 2)
    rows = read_predictions(p)
    assert rows[0]["reference"] == obj["reference_full"]
    assert rows[0]["inputs"]["ner"] == ["a", "b"]
    assert rows[0]["model"] == "ref" and rows[1]["id"] == "ref:1"
    bad = write_lines(tmp_path / "bad.jsonl", [json.dumps({"reference_full": "x"})])
    with pytest.raises(ChefbotError, match=r"bad.jsonl:1: missing field\(s\) prediction"):
        read_predictions(bad, fmt="reference")


def test_writer_resumes_after_a_crash(tmp_path):
    p = tmp_path / "run" / "p.jsonl"
    items = [{"id": f"t:{i}"} for i in range(5)]
    settings = {"max_new_tokens": 8}
    with PredictionWriter(p, "m", settings) as w:
        for it in w.pending(items)[:2]:
            w.write({**row(it["id"][2:]), "id": it["id"]})
    with p.open("a") as f:  # a crash in the middle of a line
        f.write('{"id": "t:2", "inpu')
    with PredictionWriter(p, "m", settings) as w:
        todo = w.pending(items)
        assert [it["id"] for it in todo] == ["t:2", "t:3", "t:4"]
        for it in reversed(todo):  # finish out of order
            w.write({**row(it["id"][2:]), "id": it["id"]})
        rows = w.finalize(items)
    assert [r["id"] for r in rows] == [it["id"] for it in items]
    assert [r["id"] for r in read_predictions(p)] == [it["id"] for it in items]
    with pytest.raises(ChefbotError, match="cannot resume"):
        with PredictionWriter(p, "m", {"max_new_tokens": 9}):
            pass
