"""Kitchen-sense pass rates in the evaluation: per answer (``checks.kitchen_sense_item``), per model with
Wilson intervals (``score.score_kitchen_sense`` in ``score_predictions``), for the template baseline too,
and the report's "Kitchen sense" table.  Tests that stub ``check_kitchen_sense`` (named so) test the
aggregation's own rules (n counts only answers where a check applies; safe counts safety failures only);
the raw chicken salad runs the real checker."""

from __future__ import annotations

import json

from chefbot.cooking.kitchen_sense import CHECKS, SenseCheck, SenseReport
from chefbot.evaluate.report import write_report
from chefbot.evaluate.score import score_predictions, template_baseline_rows
from chefbot.evaluate.stats import wilson_interval
from chefbot.recipe_format import render_recipe

SOUP = render_recipe(
    "Tomato Soup",
    ["4 tomatoes", "1 onion", "2 cups water"],
    ["Chop the onion and tomatoes.", "Simmer them in the water for 20 minutes.", "Blend and serve."],
)
TEN_GRAMS = "# Salad\n\n## Ingredients\n" + "- 10 g\n" * 60 + "\n## Directions\n1. Mix everything and serve."
RAW_CHICKEN_SALAD = render_recipe(
    "Chicken Salad",
    ["1 lb raw chicken breast", "200 g eggs", "100 g feta"],
    ["Dice the raw chicken breast.", "Whisk the eggs with the feta and toss with the chicken.", "Chill and serve."],
)


def rows(model: str, preds: list[str]) -> list[dict]:
    return [
        {
            "id": f"k:{i}",
            "inputs": {"ner": ["tomatoes", "onion"], "title": "Tomato Soup"},
            "reference": SOUP,
            "prediction": p,
            "model": model,
            "settings": {},
            "finish_reason": "stop",
        }
        for i, p in enumerate(preds)
    ]


def score(model: str, preds: list[str]) -> dict:
    return score_predictions(rows(model, preds), bertscore_model=None, bootstrap_samples=50, workers=1)


def test_every_model_gets_a_pass_rate_per_check_with_a_wilson_interval():
    res = score("mixed", [SOUP, TEN_GRAMS, "Soup is nice.", SOUP])
    ks = res["kitchen_sense"]
    assert list(ks) == ["safe", *[name for name, _ in CHECKS]]
    assert ks["safe"]["kind"] == "overall" and {ks[n]["kind"] for n, _ in CHECKS} <= {"safety", "plausibility"}
    # two of four answers are recipes: the soup twice; sixty "- 10 g" lines and one sentence are not
    rate = ks["is_recipe"]
    assert (rate["passed"], rate["n"]) == (2, 4)
    w = wilson_interval(2, 4)
    assert (rate["mean"], rate["low"], rate["high"]) == (w["value"], w["low"], w["high"])
    assert [i["kitchen_sense"]["is_recipe"] for i in res["per_item"]] == [True, False, False, True]


def test_the_template_baseline_is_not_a_recipe():
    """The evaluator's template baseline (boilerplate + requested ingredients, no directions) is scored too."""
    base = template_baseline_rows(rows("m", [SOUP, SOUP]))
    res = score_predictions(base, bertscore_model=None, bootstrap_samples=50, workers=1)
    assert res["kitchen_sense"]["is_recipe"]["passed"] == 0 and res["kitchen_sense"]["is_recipe"]["n"] == 2


def _stub(recipe) -> SenseReport:
    """Soup: every check passes; "Salad": the safety check fails; anything else: it does not apply."""
    title = recipe.title or ""
    safety = True if "Soup" in title else False if "Salad" in title else None
    return SenseReport(
        checks=(
            SenseCheck("stub_cooked", "safety", safety, "" if safety is not False else "never cooked"),
            SenseCheck("stub_amounts", "plausibility", "Salad" not in title, ""),
        ),
        is_recipe=True,
    )


def test_n_counts_only_the_answers_where_a_check_applies_stubbed_checker(monkeypatch):
    monkeypatch.setattr("chefbot.evaluate.checks.check_kitchen_sense", _stub)
    monkeypatch.setattr("chefbot.evaluate.score.CHECKS", (("stub_cooked", "safety"), ("stub_amounts", "plausibility")))
    ks = score("m", [SOUP, SOUP.replace("Soup", "Salad"), "# Toast\n1. Toast it."])["kitchen_sense"]
    assert (ks["stub_cooked"]["passed"], ks["stub_cooked"]["n"]) == (1, 2)  # the toast: does not apply
    assert (ks["stub_amounts"]["passed"], ks["stub_amounts"]["n"]) == (2, 3)
    assert (ks["safe"]["passed"], ks["safe"]["n"]) == (2, 3)  # only the salad failed a safety check


def test_results_json_and_the_report_have_the_kitchen_sense_table(tmp_path):
    tuned = score("tuned", [SOUP, SOUP, TEN_GRAMS])
    base = score("base", ["Soup is nice.", SOUP, TEN_GRAMS])
    template = score_predictions(
        template_baseline_rows(rows("tuned", [SOUP, SOUP, TEN_GRAMS])), bertscore_model=None, workers=1
    )
    write_report({"title": "t", "models": [base, tuned, template], "baseline": "base"}, tmp_path, plots=False)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [m["kitchen_sense"]["is_recipe"]["passed"] for m in saved["models"]] == [1, 2, 0]
    md = (tmp_path / "report.md").read_text()
    table = md.split("### Kitchen sense", 1)[1].split("###", 1)[0]
    header = next(line for line in table.splitlines() if line.startswith("| check"))
    assert header == "| check | kind | base | tuned | template-only baseline |"
    is_recipe = next(line for line in table.splitlines() if line.startswith("| is_recipe |"))
    assert "(1/3)" in is_recipe and "(2/3)" in is_recipe and "(0/3)" in is_recipe
    assert next(line for line in table.splitlines() if line.startswith("| safe | overall |"))
    assert "Wilson" in table and "Kitchen sense" in (tmp_path / "report.html").read_text()


def test_a_raw_chicken_salad_counts_as_unsafe():
    ks = score("m", [RAW_CHICKEN_SALAD, SOUP])["kitchen_sense"]
    assert (ks["safe"]["passed"], ks["safe"]["n"]) == (1, 2)


def test_the_eval_command_summary_names_safe_and_is_recipe_per_model():
    from chefbot.evaluate.cli_run import _summary

    tuned = score("tuned", [SOUP, TEN_GRAMS])
    text = _summary({"n": 2, "models": [tuned]})
    assert "kitchen sense: safe 2/2, is_recipe 1/2" in text
