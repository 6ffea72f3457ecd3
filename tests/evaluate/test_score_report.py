"""score_predictions, the report files, and `chefbot eval score` on bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from chefbot.evaluate.predictions import write_predictions
from chefbot.evaluate.report import write_report
from chefbot.evaluate.score import compare_results, score_predictions, template_baseline, template_baseline_rows
from chefbot.recipe_format import render_recipe

REFS = [
    render_recipe(
        "Pancakes", ["1 cup flour", "1 egg", "1 cup milk"], ["Whisk flour, egg and milk.", "Fry in a hot pan."]
    ),
    render_recipe(
        "Tomato Soup", ["4 tomatoes", "1 onion"], ["Chop the onion and tomatoes.", "Simmer for 20 minutes.", "Blend."]
    ),
    render_recipe("Toast", ["2 slices bread", "butter"], ["Toast the bread.", "Spread with butter."]),
]
NER = [["flour", "egg", "milk"], ["tomatoes", "onion"], ["bread", "butter"]]


def rows(model, preds):
    return [
        {
            "id": f"t:{i}",
            "inputs": {"ner": NER[i], "title": REFS[i].split("\n")[0][2:]},
            "reference": REFS[i],
            "prediction": p,
            "model": model,
            "settings": {"temperature": 0},
            "finish_reason": "stop",
        }
        for i, p in enumerate(preds)
    ]


GOOD = [REFS[0], REFS[1].replace("20", "25"), REFS[2]]
WEAK = ["Pancakes are nice.", "", "# Toast\n\n## Directions\n1. Toast bread."]


@pytest.fixture(scope="module")
def scored():
    a = score_predictions(rows("weak", WEAK), bertscore_model=None, bootstrap_samples=200, workers=1)
    b = score_predictions(rows("good", GOOD), bertscore_model=None, bootstrap_samples=200, workers=1)
    return a, b


def test_scores_have_means_intervals_and_n(scored):
    a, b = scored
    for res in (a, b):
        for section in ("whole", "directions"):
            for t in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
                agg = res["rouge"][section][t]
                assert agg["n"] == 3 and agg["low"] <= agg["mean"] <= agg["high"]
    assert b["rouge"]["whole"]["rouge1"]["mean"] > 0.95 > a["rouge"]["whole"]["rouge1"]["mean"]
    assert a["per_item"][1]["rouge"]["rouge1"] == 0.0  # empty prediction: zero, no crash
    assert b["checks"]["well_formed"]["mean"] == 1.0 and a["checks"]["well_formed"]["mean"] == 0.0
    cmp = compare_results(a, b, samples=500)
    assert cmp["metrics"]["rouge.rouge1"]["diff"] > 0


def test_parallel_equals_serial():
    many = rows("m", GOOD) * 30
    for i, r in enumerate(many):
        r = r.copy()
        many[i] = {**r, "id": f"x:{i}", "prediction": WEAK[i % 3] + " " + GOOD[(i + 1) % 3]}
    serial = score_predictions(many, bertscore_model=None, bootstrap_samples=0, workers=1)
    parallel = score_predictions(many, bertscore_model=None, bootstrap_samples=0, workers=2)
    assert serial["per_item"] == parallel["per_item"]


def test_template_baseline_uses_only_what_the_prompt_gave():
    r = rows("m", GOOD)[0]
    text = template_baseline(r)
    assert text == "# Pancakes\n\n## Ingredients\n- flour\n- egg\n- milk\n\n## Directions"
    r2 = {
        **r,
        "inputs": {"ner": ["flour"], "title": "Pancakes", "messages": [{"role": "user", "content": "Use flour."}]},
    }
    assert "Pancakes" not in template_baseline(r2)  # title not in the prompt: not in the baseline
    assert template_baseline_rows([r])[0]["model"] == "template-only baseline"


def test_write_report_with_benchmarks_and_judge(tmp_path, scored):
    a, b = scored
    results = {
        "title": "test report",
        "models": [a, b],
        "baseline": "weak",
        "benchmarks": {
            "models": {
                "weak": [{"task": "mmlu", "metric": "acc", "value": 0.5, "stderr": 0.05, "n": 100}],
                "good": [{"task": "mmlu", "metric": "acc", "value": 0.48, "stderr": 0.05, "n": 100}],
            },
        },
        "judge": {"a": "weak", "b": "good", "judge_model": "j", "n": 3, "wins": 2, "ties": 1, "losses": 0},
    }
    from chefbot.evaluate.report import retention_rows

    results["benchmarks"]["retention"] = retention_rows(results["benchmarks"]["models"], "weak", "good")
    write_report(results, tmp_path)
    for name in (
        "results.json",
        "report.md",
        "report.html",
        "model_comparison.png",
        "improvement.png",
        "checks.png",
        "benchmarks.png",
        "overview.png",
        "directions.png",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    md = (tmp_path / "report.md").read_text()
    assert "ROUGE per model (whole text)" in md and "directions only" in md and "Recipe checks" in md
    assert "Relative improvement over weak" in md and "Benchmark retention" in md and "Pairwise judge" in md
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "<img alt='overview'" in html and "src='overview.png'" not in html
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["judge"]["win_rate"]["value"] == pytest.approx(2.5 / 3)
    assert saved["comparisons"][0]["b"] == "good"


def _run(args):
    from chefbot.cli import app

    return CliRunner().invoke(app, args)


def test_cli_score_end_to_end(tmp_path):
    p = write_predictions(tmp_path / "good.jsonl", rows("good", GOOD))
    q = write_predictions(tmp_path / "weak.jsonl", rows("weak", WEAK))
    out = tmp_path / "out"
    res = _run(
        [
            "eval",
            "score",
            "-p",
            str(q),
            "-p",
            str(p),
            "--bertscore-model",
            "none",
            "--bootstrap",
            "100",
            "--template-baseline",
            "--no-plots",
            "--out",
            str(out),
        ]
    )  # plots: tested above
    assert res.exit_code == 0, res.output
    saved = json.loads((out / "results.json").read_text())
    assert [m["model"] for m in saved["models"]] == ["weak", "good", "template-only baseline"]
    assert (out / "report.html").exists()


def test_cli_score_bad_input_names_the_line(tmp_path):
    from chefbot.errors import ChefbotError

    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps(rows("m", GOOD)[0]) + "\n{oops\n")
    res = _run(["eval", "score", "-p", str(p), "--bertscore-model", "none", "--out", str(tmp_path / "o")])
    assert isinstance(res.exception, ChefbotError) and f"{p}:2: bad JSON" in str(res.exception)
    good = write_predictions(tmp_path / "g.jsonl", rows("m", GOOD))
    refs = tmp_path / "refs.jsonl"
    refs.write_text(
        "".join(json.dumps({"id": r["id"], "reference": r["reference"]}) + "\n" for r in rows("m", GOOD)[:2])
    )
    res = _run(
        [
            "eval",
            "score",
            "-p",
            str(good),
            "--references",
            str(refs),
            "--bertscore-model",
            "none",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert isinstance(res.exception, ChefbotError) and "3 predictions but 2 references" in str(res.exception)
