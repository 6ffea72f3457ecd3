"""Constraint satisfaction: does a model write the recipe the request asks for?

``chefbot eval`` (``eval.constraints: true``) asks every model two kinds of requests on
held-out recipes and judges each answer with the one checker
(``chefbot.cooking.recipe_constraints.check_recipe``, the one ``/v1/recipes`` and the
web page use):

* **own labels**: the evaluated items (the first ``eval.limit`` of the split), each asked
  for the random subset of the labels its source recipe really has that training would ask
  (``own_request``: the data stage's draw, each label with ``prompt.constraint_prob``), so
  the requested recipe exists.  That is the main evaluation's own prompt, so its answers
  are reused (no second generation); an item whose draw asks for nothing is left out;
* **counterfactual**: the first ``eval.counterfactual_items`` items of the split whose
  source recipe breaks at least one diet, each asked for one diet it breaks (vegetarian
  for a chicken recipe), chosen by ``random.Random(f"{seed}:{id}")``: the model must
  change the dish, not copy it.

The request is the training prompt's constraints line (``chat.request_messages`` with
``prompt.constraints``); the answer is read with ``recipe_format.parse_recipe`` and
checked.  A constraint counts as **satisfied only when the checker confirms it**: a
violation and an answer the checker cannot judge ("unknown": no ingredient list, no
directions to time, no cuisine in the title) both count against it, and the unknowns are
reported beside the rate.  Per constraint and kind of request: the share satisfied with a
Wilson 95% interval and n (the items that asked for it), and every other model against
the baseline paired on the same items (``stats.paired_proportions``: the difference of the
shares with Newcombe's paired score interval and the exact McNemar p; a bootstrap of a
dozen 0/1 pairs would claim [+1, +1] when every item improves).
"""

from __future__ import annotations

import random
from typing import Any

from chefbot.chat import request_messages
from chefbot.config import ExperimentConfig
from chefbot.cooking.labels import RecipeLabels, label_recipe
from chefbot.cooking.recipe_constraints import DIETS, RecipeConstraints, check_recipe
from chefbot.data.constraint_prompts import counterfactual_request, sampled_constraints
from chefbot.data.retrieval import item_references
from chefbot.errors import ChefbotError
from chefbot.evaluate.stats import paired_proportions, wilson_interval
from chefbot.recipe_format import Recipe, parse_recipe

OWN = "own labels"
COUNTERFACTUAL = "counterfactual"
CONDITIONS = (OWN, COUNTERFACTUAL)
ALL_DIETS = "all requested diets"
ALL = "all requested constraints"
OTHER = ("max_minutes", "difficulty", "cuisine", "servings")


def source_labels(item: dict) -> RecipeLabels:
    """The labels of the held-out recipe behind ``item``: the data stage's (``item["labels"]``), else
    its reference text parsed back and labelled."""
    if item.get("labels"):
        d = item["labels"]
        return RecipeLabels(
            diets=tuple(d["diets"]),
            total_minutes=d["total_minutes"],
            hands_on_minutes=d["hands_on_minutes"],
            difficulty=d["difficulty"],
            cuisine=d["cuisine"],
            servings=d["servings"],
        )
    src = parse_recipe(item["reference"])
    return label_recipe(src.title or item.get("title") or "", src.ingredients, src.directions)


def own_request(cfg: ExperimentConfig, item: dict, labels: RecipeLabels) -> RecipeConstraints | None:
    """The subset of its own labels the training prompts would ask of this recipe
    (``data.constraint_prompts.sampled_constraints``: the same draw, by recipe and data.seed), or
    None when that draw asks for nothing."""
    # The draw reads only the title and ingredient names (the recipe's dedup key).
    recipe = Recipe(id=str(item["id"]), title=item.get("title") or "", ner=list(item.get("ner") or []))
    return sampled_constraints(recipe, labels, cfg.prompt, cfg.data.seed)


def constraint_items(cfg: ExperimentConfig, split_items: list[dict], evaluated: list[dict]) -> list[dict]:
    """The constraint requests, in a fixed order: own labels for the evaluated items (those whose draw
    asks for something), then counterfactual requests from the split's items in order.  Each is an
    eval item (``id``, ``title``, ``ner``, ``messages``) plus ``constraints``, ``condition`` and
    ``source_id``; an own-label request whose prompt is the evaluated item's own (the data stage asks
    the same) keeps the item's id and ``reuse: true``: its answer is the main evaluation's."""
    if cfg.prompt.constraints is None:
        raise ChefbotError(
            "eval.constraints=true needs a constraints line in the prompts: set prompt.constraints "
            "(configs/quickstart.yaml has one), or eval.constraints=false"
        )
    out = []
    for it in evaluated:
        c = own_request(cfg, it, source_labels(it))
        if c is not None:
            out.append(_request_item(cfg, it, c, OWN))
    want = cfg.eval.counterfactual_items
    for it in split_items:
        if sum(x["condition"] == COUNTERFACTUAL for x in out) >= want:
            break
        c = counterfactual_request(source_labels(it), random.Random(f"{cfg.seed}:{it['id']}"))
        if c is not None:
            out.append(_request_item(cfg, it, c, COUNTERFACTUAL))
    return out


def _request_item(cfg: ExperimentConfig, it: dict, c: RecipeConstraints, condition: str) -> dict:
    messages = request_messages(
        it.get("ner") or [],
        cfg.prompt,
        title=it.get("title") or "",
        constraints=c,
        references=item_references(it),  # grounding: the recipes the item's own prompt was given (data/retrieval.py)
        grounding=cfg.grounding,
    )
    reuse = condition == OWN and messages == it["messages"]
    tag = "own" if condition == OWN else "cf"
    return {
        "id": it["id"] if reuse else f"{it['id']}#{tag}",
        "source_id": it["id"],
        "title": it.get("title"),
        "ner": it.get("ner"),
        "condition": condition,
        "constraints": c.model_dump(),
        "messages": messages,
        "reference": it["reference"],
        "reuse": reuse,
    }


def judge(prediction: str, constraints: dict) -> list[dict]:
    """The checker's verdict on one answer, one dict per requested constraint."""
    r = parse_recipe(prediction)
    return [
        k.to_dict() for k in check_recipe(r.title or "", r.ingredients, r.directions, RecipeConstraints(**constraints))
    ]


def _pool(values: list[bool | None]) -> bool | None:
    """Several outcomes as one: satisfied when all are, violated when any is, else unknown."""
    return True if all(v is True for v in values) else False if any(v is False for v in values) else None


def outcomes(checks: list[dict]) -> dict[str, bool | None]:
    """Per constraint name: satisfied / violated / unknown, plus the pooled rows."""
    out: dict[str, bool | None] = {k["name"]: k["satisfied"] for k in checks}
    diets = [k["satisfied"] for k in checks if k["name"] in DIETS]
    if diets:
        out[ALL_DIETS] = _pool(diets)
    if checks:
        out[ALL] = _pool([k["satisfied"] for k in checks])
    return out


def _row_names(present: set[str]) -> list[str]:
    order = [*DIETS, ALL_DIETS, *OTHER, ALL]
    return [n for n in order if n in present]


def score_constraints(items: list[dict], rows_by_model: dict[str, list[dict]], baseline: str) -> dict:
    """Per model, kind of request and constraint: satisfied share (Wilson 95%), violated and unknown
    counts, n; every other model against ``baseline`` paired over the same items."""
    if baseline not in rows_by_model:
        raise ChefbotError(f"constraint scores: no predictions for the baseline model {baseline!r}")
    per_item: dict[str, list[dict]] = {}
    for name, rows in rows_by_model.items():
        if [r["id"] for r in rows] != [it["id"] for it in items]:
            raise ChefbotError(f"constraint scores: {name}'s predictions are not the constraint items in order")
        per_item[name] = []
        for it, r in zip(items, rows):
            checks = judge(r["prediction"], it["constraints"])
            per_item[name].append(
                {
                    "id": it["id"],
                    "condition": it["condition"],
                    "constraints": it["constraints"],
                    "checks": checks,
                    "outcomes": outcomes(checks),
                }
            )
    table = []
    for cond in CONDITIONS:
        idx = [k for k, it in enumerate(items) if it["condition"] == cond]
        present = {n for k in idx for n in per_item[baseline][k]["outcomes"]}
        for cname in _row_names(present):
            asked = [k for k in idx if cname in per_item[baseline][k]["outcomes"]]
            cell: dict[str, Any] = {"condition": cond, "constraint": cname, "n": len(asked), "models": {}, "paired": {}}
            wins: dict[str, list[float]] = {}
            for name in rows_by_model:
                vals = [per_item[name][k]["outcomes"][cname] for k in asked]
                ok = sum(v is True for v in vals)
                w = wilson_interval(ok, len(vals))
                cell["models"][name] = {
                    "satisfied": ok,
                    "violated": sum(v is False for v in vals),
                    "unknown": sum(v is None for v in vals),
                    "value": w["value"],
                    "low": w["low"],
                    "high": w["high"],
                    "n": len(vals),
                }
                wins[name] = [1.0 if v is True else 0.0 for v in vals]
            for name in rows_by_model:
                if name != baseline:
                    cell["paired"][name] = paired_proportions(wins[baseline], wins[name])
            table.append(cell)
    return {
        "baseline": baseline,
        "models": list(rows_by_model),
        "n": {cond: sum(it["condition"] == cond for it in items) for cond in CONDITIONS},
        "method": (
            "one checker (chefbot.cooking.recipe_constraints.check_recipe) on the parsed answer; satisfied = "
            "the checker confirms it (violated and unknown count against); Wilson 95% per model; "
            f"vs {baseline} paired over the same requests: difference of the shares with Newcombe's paired "
            "score interval (95%) and the exact McNemar p"
        ),
        "rows": table,
        "per_item": per_item,
    }
