"""Constraint satisfaction in ``chefbot eval``: requests built from held-out recipes' own labels and
counterfactual diets, judged by the one checker, Wilson per model, paired base vs tuned, in the report."""

from __future__ import annotations

import json
import random

import pytest

from chefbot.config import ExperimentConfig
from chefbot.cooking.recipe_constraints import RecipeConstraints
from chefbot.errors import ChefbotError
from chefbot.evaluate.constraint_eval import (
    ALL_DIETS,
    COUNTERFACTUAL,
    OWN,
    constraint_items,
    counterfactual_request,
    judge,
    own_request,
    score_constraints,
    source_labels,
)
from chefbot.recipe_format import render_recipe

RECIPES = [
    (
        "Lemon Chicken",
        ["2 chicken breasts", "1 lemon", "2 tbsp butter"],
        ["Brown the chicken in the butter for 10 minutes.", "Squeeze the lemon over and simmer 15 minutes."],
    ),
    (
        "Tomato Salad",
        ["3 tomatoes", "1 tbsp olive oil", "1 pinch salt"],
        ["Slice the tomatoes.", "Dress with the oil and salt."],
    ),
    (
        "Pancakes",
        ["1 cup wheat flour", "1 cup milk", "1 egg"],
        ["Whisk the flour, milk and egg.", "Fry ladlefuls in a pan for 3 minutes a side."],
    ),
    (
        "Salmon Rice",
        ["1 salmon fillet", "1 cup rice", "1 tbsp soy sauce"],
        ["Boil the rice for 15 minutes.", "Bake the salmon for 12 minutes and serve with soy sauce."],
    ),
    (
        "Walnut Oats",
        ["1 cup rolled oats", "2 tbsp walnuts", "1 cup water"],
        ["Simmer the oats in the water for 5 minutes.", "Top with the walnuts."],
    ),
]
ITEMS = [
    {
        "id": f"r:{k}",
        "title": t,
        "ner": [i.split(" ", 2)[-1] for i in ing],
        "messages": [{"role": "user", "content": "Include ingredients: " + ", ".join(ing)}],
        "reference": render_recipe(t, ing, d),
    }
    for k, (t, ing, d) in enumerate(RECIPES)
]

MEATY = render_recipe(
    "Beef Pie",
    ["1 lb beef", "2 cups wheat flour", "1 cup butter", "1 cup walnuts"],
    ["Brown the beef for 10 minutes.", "Bake the pie for 45 minutes."],
)
PLANTY = render_recipe(
    "Bean Bowl",
    ["1 can black beans", "1 cup rice", "1 lime"],
    ["Simmer the rice for 15 minutes.", "Warm the beans and squeeze the lime over."],
)


def cfg_for(tmp_path, **eval_) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "name": "t",
            "output_dir": str(tmp_path / "run"),
            "seed": 3,
            "prompt": {"constraints": "The recipe must be: {constraints}."},
            "eval": {"bertscore_model": "", "bootstrap_samples": 100, "constraints": True, **eval_},
        }
    )


def test_own_label_requests_hold_for_their_source_recipe(tmp_path):
    """The training draw of a recipe's own labels: the source recipe meets every constraint asked of
    it, so a model that wrote the reference would score 1.0 (the checker and the labels agree)."""
    asked = 0
    for seed in range(20):
        cfg = cfg_for(tmp_path).model_copy(update={"data": ExperimentConfig().data.model_copy(update={"seed": seed})})
        for it in ITEMS:
            c = own_request(cfg, it, source_labels(it))
            if c is None:  # the draw asked for nothing (each label has probability 1/2)
                continue
            checks = judge(it["reference"], c.model_dump())
            assert checks and all(k["satisfied"] is True for k in checks), (it["title"], checks)
            asked += len(checks)
    assert asked > 150


def test_counterfactual_asks_for_a_diet_the_source_breaks_deterministically_by_seed():
    chicken = source_labels(ITEMS[0])
    picks = {counterfactual_request(chicken, random.Random(f"{s}:r:0")).diets[0] for s in range(30)}
    assert picks <= {"vegetarian", "vegan", "pescatarian", "dairy-free"} and len(picks) > 1
    assert counterfactual_request(chicken, random.Random("1:r:0")) == counterfactual_request(
        chicken, random.Random("1:r:0")
    )
    for it in ITEMS:
        c = counterfactual_request(source_labels(it), random.Random(f"7:{it['id']}"))
        if c is not None:
            assert judge(it["reference"], c.model_dump())[0]["satisfied"] is False  # the reference itself fails it
    salad = source_labels(ITEMS[1])  # tomatoes, oil, salt: meets every diet, no counterfactual
    assert counterfactual_request(salad, random.Random("0")) is None


def test_items_use_the_training_prompt_line_and_the_configured_counts(tmp_path):
    from chefbot.chat import request_messages

    cfg = cfg_for(tmp_path, counterfactual_items=2)
    items = constraint_items(cfg, ITEMS, ITEMS[:3])
    own = [x for x in items if x["condition"] == OWN]
    cf = [x for x in items if x["condition"] == COUNTERFACTUAL]
    assert {x["source_id"] for x in own} <= {"r:0", "r:1", "r:2"} and own and len(cf) == 2
    assert len({x["id"] for x in items}) == len(items)
    user = cf[0]["messages"][-1]["content"]
    wanted = RecipeConstraints(**cf[0]["constraints"])
    assert user.startswith("Include ingredients: ") and f"The recipe must be: {', '.join(wanted.phrases())}." in user
    assert items == constraint_items(cfg, ITEMS, ITEMS[:3])  # the same requests every run
    # these items' prompts carry no constraints line: own-label requests are generated anew ...
    assert all(not x["reuse"] and x["id"].endswith("#own") for x in own)
    # ... but an item prepared with the training prompt is asked exactly that, and its answer reused
    first = own[0]
    src = next(it for it in ITEMS if it["id"] == first["source_id"])
    prepared = {
        **src,
        "messages": request_messages(
            src["ner"], cfg.prompt, title=src["title"], constraints=RecipeConstraints(**first["constraints"])
        ),
    }
    again = constraint_items(cfg, [], [prepared])
    assert again[0]["reuse"] and again[0]["id"] == src["id"] and again[0]["messages"] == prepared["messages"]
    with pytest.raises(ChefbotError, match="prompt.constraints"):
        constraint_items(
            cfg.model_copy(update={"prompt": cfg.prompt.model_copy(update={"constraints": None})}), ITEMS, ITEMS
        )


def test_scores_count_unknown_against_and_pair_the_models():
    items = [{"id": f"i{k}", "condition": COUNTERFACTUAL, "constraints": {"diets": ["vegetarian"]}} for k in range(10)]
    base = [{"id": f"i{k}", "prediction": MEATY if k < 9 else PLANTY} for k in range(10)]
    # tuned: 7 plant recipes, 2 meaty, 1 answer without an ingredient list (unknown: counts against)
    tuned = [{"id": f"i{k}", "prediction": PLANTY if k < 7 else MEATY if k < 9 else "Just cook it."} for k in range(10)]
    res = score_constraints(items, {"base": base, "tuned": tuned}, baseline="base")
    row = next(r for r in res["rows"] if r["constraint"] == "vegetarian")
    assert row["n"] == 10
    b, t = row["models"]["base"], row["models"]["tuned"]
    assert (b["satisfied"], b["violated"], b["unknown"]) == (1, 9, 0)
    assert (t["satisfied"], t["violated"], t["unknown"]) == (7, 2, 1)
    assert t["value"] == 0.7 and 0.39 < t["low"] < 0.7 < t["high"] < 0.92  # Wilson, not a bootstrap
    d = row["paired"]["tuned"]
    assert d["diff"] == pytest.approx(0.6) and (d["b_only"], d["a_only"]) == (7, 1)  # +1 x 7, 0 x 2, -1 x 1
    assert 0 < d["low"] < 0.6 < d["high"] < 1  # Newcombe's paired interval excludes 0 ...
    assert d["p_value"] == pytest.approx(18 / 256)  # ... while the exact McNemar p (1 of 8 discordant) is 0.07
    pooled = next(r for r in res["rows"] if r["constraint"] == ALL_DIETS)
    assert pooled["models"]["tuned"]["satisfied"] == 7
    with pytest.raises(ChefbotError, match="not the constraint items"):
        score_constraints(items, {"base": base[::-1]}, baseline="base")


def test_implausible_figures_a_model_writes_are_read_not_a_crash():
    """A tuned model once wrote "Preheat the oven to 350°C (576°F)", which the planner's task model
    refused (500 on /v1/recipes); "rest 99999 hours" did the same to the task's duration.  Both
    are now read (the °F figure, 300 °C; the rest as unstated) and the answer is judged."""
    text = render_recipe(
        "Toast",
        ["2 slices bread", "1 avocado"],
        ["Preheat the oven to 350°C (576°F).", "Bake the bread 10 minutes.", "Rest 99999 hours."],
    )
    checks = judge(text, {"diets": ["vegan"], "max_minutes": 25, "difficulty": "easy"})
    assert [k["name"] for k in checks] == ["vegan", "max_minutes", "difficulty"]
    assert all(k["satisfied"] is not None for k in checks)
    assert checks[1]["minutes"] < 24 * 60  # the impossible rest is not in the total


class Scripted:
    """An eval generator double: a fixed answer, or a plant recipe whenever a diet is asked for."""

    backend = "scripted"

    def __init__(self, name: str, obliging: bool) -> None:
        self.name, self.obliging = name, obliging

    def describe(self, settings_override=None) -> dict:
        return {"backend": self.backend, "model": self.name, "max_new_tokens": 64}

    def generate(self, batch, settings_override=None, on_result=None):
        from chefbot.generate import Completion

        out = []
        for i, m in enumerate(batch):
            asked = "must be" in m[-1]["content"]
            c = Completion(PLANTY if self.obliging and asked else MEATY, "stop", 10, 40)
            out.append(c)
            if on_result:
                on_result(i, c)
        return out


def test_eval_run_reports_constraint_satisfaction_base_vs_tuned(tmp_path, monkeypatch):
    import chefbot.evaluate.run as run

    cfg = cfg_for(tmp_path, counterfactual_items=3, limit=4)
    items = [dict(x) for x in ITEMS]
    first_own = next(a for a in constraint_items(cfg, items, items[:4]) if a["condition"] == OWN)
    prepared = next(x for x in items if x["id"] == first_own["source_id"])
    prepared["messages"] = first_own["messages"]  # as the data stage writes it: the training prompt
    monkeypatch.setattr(run, "load_eval_items", lambda cfg, split="test": [dict(x) for x in items])
    gens = {"base": Scripted("base", False), "base+adapter": Scripted("tuned", True)}
    monkeypatch.setattr(run, "model_label", lambda cfg, adapter=None: "base+adapter" if adapter else "base")
    res = run.evaluate_model(cfg, adapter=str(tmp_path / "adapter"), out_dir=tmp_path / "eval", generators=gens)
    cons = res["constraints"]
    n_own = sum(x["condition"] == OWN for x in constraint_items(cfg, items, items[:4]))
    assert cons["n"] == {OWN: n_own, COUNTERFACTUAL: 3} and n_own >= 2 and cons["baseline"] == "base"
    diets = next(r for r in cons["rows"] if r["condition"] == COUNTERFACTUAL and r["constraint"] == ALL_DIETS)
    assert diets["n"] == 3 and diets["models"]["base+adapter"]["satisfied"] >= 2
    assert diets["models"]["base"]["satisfied"] == 0 and diets["paired"]["base+adapter"]["diff"] > 0
    rows = [
        json.loads(x)
        for x in (tmp_path / "eval" / "predictions" / "constraints-base+adapter.jsonl").read_text().splitlines()
    ]
    # the prepared item's own-label answer is the main evaluation's (not generated twice); the rest are new
    assert len(rows) == n_own - 1 + 3 and all("constraints" in r["inputs"] for r in rows)
    assert prepared["id"] not in {r["id"] for r in rows} and rows[0]["id"].endswith("#own")
    reused = next(x for x in cons["per_item"]["base+adapter"] if x["id"] == prepared["id"])
    assert reused["condition"] == OWN and reused["checks"] == judge(PLANTY, reused["constraints"])  # the tuned answer
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "### Constraint satisfaction" in report
    line = next(x for x in report.splitlines() if x.startswith(f"| {COUNTERFACTUAL} | {ALL_DIETS} |"))
    assert "0.00 [0.00, 0.56] (0/3)" in line  # the base model: Wilson interval and the count beside it
    saved = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert saved["constraints"]["per_item"]["base"][0]["checks"]
