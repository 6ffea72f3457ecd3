"""Align's requests: training-split recipes only, asked for their own labels or for a diet they break."""

from __future__ import annotations

from conftest import align_cfg

from chefbot.align.prompts import COUNTERFACTUAL, OWN, align_requests, training_recipes
from chefbot.cooking.recipe_constraints import RecipeConstraints, check_recipe
from chefbot.data.prepare import load_eval_items

PROMPT = ("prompt.constraints=The recipe must be: {constraints}.", "prompt.constraint_prob=0.5")


def test_requests_come_from_the_training_split_only(tiny_model_dir, recipes_jsonl, tmp_path):
    cfg = align_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "run", *PROMPT)
    recipes = training_recipes(cfg, 1000)
    held = {it["id"] for split in ("test", "validation") for it in load_eval_items(cfg, split)}
    assert len(held) == 12
    ids = [r.id for r in recipes]
    assert len(ids) == len(set(ids)) and not set(ids) & held
    assert 50 <= len(ids) <= 80 - 12  # the held-out reserve stays out too
    assert [r.id for r in training_recipes(cfg, 5)] == ids[:5]  # the first n, in split-hash order


def test_counterfactual_requests_ask_a_diet_the_recipe_breaks(tiny_model_dir, recipes_jsonl, tmp_path):
    cfg = align_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "run", *PROMPT, "align.counterfactual_share=0.5")
    recipes = {r.id: r for r in training_recipes(cfg, 40)}
    reqs = align_requests(cfg, list(recipes.values()))
    assert len(reqs) == 40
    cf = [q for q in reqs if q["condition"] == COUNTERFACTUAL]
    assert 8 <= len(cf) <= 32
    for q in reqs:
        r = recipes[q["recipe_id"]]
        checks = check_recipe(r.title, r.ingredients, r.directions, RecipeConstraints(**q["constraints"]))
        if q["condition"] == COUNTERFACTUAL:
            assert len(q["constraints"]["diets"]) == 1 and checks[0].satisfied is False
        else:
            assert q["condition"] == OWN and all(k.satisfied is not False for k in checks)
        assert q["messages"][-1]["role"] == "user" and ", ".join(r.ner) in q["messages"][-1]["content"]
    asked = [q for q in cf if q["constraints"]["diets"][0] in q["messages"][-1]["content"]]
    assert asked == cf  # the diet is in the prompt's constraints line
    none = align_requests(
        cfg.model_copy(update={"align": cfg.align.model_copy(update={"counterfactual_share": 0.0})}),
        list(recipes.values()),
    )
    assert all(q["condition"] == OWN for q in none)


def test_grounded_requests_hold_training_recipes_never_their_own(tiny_model_dir, recipes_jsonl, tmp_path):
    cfg = align_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "run", *PROMPT, "grounding.enabled=true", "grounding.k=2")
    recipes = {r.id: r for r in training_recipes(cfg, 10)}
    held = {it["title"] for split in ("test", "validation") for it in load_eval_items(cfg, split)}
    for q in align_requests(cfg, list(recipes.values())):
        user = q["messages"][-1]["content"]
        assert cfg.grounding.intro in user  # the prompt shape training and evaluation use
        shown = [line for line in user.splitlines() if line[:2] in ("1.", "2.")]
        assert len(shown) == 2
        assert not any(line.startswith(f"{i}. {recipes[q['recipe_id']].title}:") for i, line in enumerate(shown, 1))
        assert not any(line.split(": ", 1)[0][3:] in held for line in shown)


def test_substitution_requests_pair_a_rewrite_that_meets_the_diet_with_the_recipe_that_breaks_it(
    tiny_model_dir, recipes_jsonl, tmp_path
):
    from chefbot.align.prompts import substitution_requests
    from chefbot.align.reward import substitution_pairs
    from chefbot.recipe_format import parse_recipe

    cfg = align_cfg(tiny_model_dir, recipes_jsonl, tmp_path / "run", *PROMPT)
    recipes = training_recipes(cfg, 1000)
    held = {it["id"] for split in ("test", "validation") for it in load_eval_items(cfg, split)}
    reqs = substitution_requests(cfg, recipes, 5)
    assert len(reqs) == 5 and len({q["recipe_id"] for q in reqs}) == 5 and not {q["recipe_id"] for q in reqs} & held
    for q in reqs:
        diet = q["constraints"]["diets"]
        assert q["condition"] == COUNTERFACTUAL and len(diet) == 1 and diet[0] in q["messages"][-1]["content"]
        chosen, rejected = parse_recipe(q["chosen"]), parse_recipe(q["rejected"])
        c = RecipeConstraints(diets=diet)
        assert check_recipe(chosen.title, chosen.ingredients, chosen.directions, c)[0].satisfied is True
        assert check_recipe(rejected.title, rejected.ingredients, rejected.directions, c)[0].satisfied is False
        assert q["swaps"] and chosen.ingredients != rejected.ingredients
    # every recipe is tried in order; one that cannot be rewritten is skipped, never asked
    assert len(substitution_requests(cfg, recipes, 1000)) < len(recipes)
    assert substitution_requests(cfg, recipes, 0) == []
    pairs, dropped = substitution_pairs(reqs, min_margin=0.2)
    assert dropped == 0 and len(pairs) == 5
    assert all(p["source"] == "substitution" and p["chosen_reward"] - p["rejected_reward"] >= 0.2 for p in pairs)
    # a margin no pair can clear drops them all, counted
    assert substitution_pairs(reqs, min_margin=1.0) == ([], 5)
