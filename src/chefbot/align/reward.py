"""The reward of one sampled answer, from the project's own checkers, and the preference pairs.

Components, each in [0, 1]:

* ``constraints``: the share of the requested constraints the one checker
  (``cooking.recipe_constraints.check_recipe``) confirms; "unknown" counts against, as in
  ``chefbot eval``.  A request that asks for nothing scores 1.
* ``sense``: kitchen sense (``cooking.kitchen_sense.check_kitchen_sense``): 0 when the text is not a
  recipe or a safety check fails (raw eggs or chicken never heated, food left out); otherwise 1 minus
  ``PLAUSIBILITY_COST`` per failed plausibility check (oven temperature, salt, step times ...).
* ``form``: ``recipe_format.parse_recipe(...).well_formed`` (title, ingredients, numbered steps).
* ``completeness``, the length control: min(1, ingredient lines / ingredients requested) x
  min(1, steps / steps needed), where the steps needed are min(``MIN_STEPS``, the source recipe's).

``reward = completeness x weighted mean(constraints, sense, form)`` (``WEIGHTS``).  Why a factor and
not "pairs only between answers of similar length": a two-line answer names no forbidden ingredient
and trips no safety check, so on the checkers alone it would often win; pairing only similar lengths
would keep such answers out of the pairs but also never teach the model that they are worse.  The
factor makes a short answer lose to a complete one directly, and cannot be gamed by length either:
past the request's own needs it is 1, and an answer cut by ``max_new_tokens`` mid-step usually loses
its form or a step-order check.
"""

from __future__ import annotations

import math

from chefbot.cooking.kitchen_sense import check_kitchen_sense
from chefbot.cooking.recipe_constraints import RecipeConstraints, check_recipe
from chefbot.recipe_format import parse_recipe

WEIGHTS = {"constraints": 2.0, "sense": 1.0, "form": 1.0}  # the request first, then any cook's checks
PLAUSIBILITY_COST = 0.25
MIN_STEPS = 3
INGREDIENT_SHARE = 0.75  # an answer may merge or substitute a few of the requested ingredients


def reward_components(text: str, request: dict) -> dict:
    """The reward of ``text`` as an answer to ``request`` (``prompts.align_requests``), with every part."""
    r = parse_recipe(text)
    constraints = RecipeConstraints(**request.get("constraints") or {})
    checks = check_recipe(r.title or "", r.ingredients, r.directions, constraints)
    c_score = sum(k.satisfied is True for k in checks) / len(checks) if checks else 1.0
    report = check_kitchen_sense(r)
    failed = [k.name for k in report.failures]
    if not report.is_recipe or not report.safe:
        sense = 0.0
    else:
        sense = max(0.0, 1.0 - PLAUSIBILITY_COST * len(failed))
    need_ingredients = max(1, math.ceil(INGREDIENT_SHARE * len(request.get("ner") or [])))
    need_steps = max(1, min(MIN_STEPS, int(request.get("source_steps") or MIN_STEPS)))
    completeness = min(1.0, len(r.ingredients) / need_ingredients) * min(1.0, len(r.directions) / need_steps)
    parts = {"constraints": c_score, "sense": sense, "form": float(r.well_formed)}
    weighted = sum(WEIGHTS[k] * v for k, v in parts.items()) / sum(WEIGHTS.values())
    return {
        **parts,
        "completeness": completeness,
        "reward": completeness * weighted,
        "failed_constraints": [k.name for k in checks if k.satisfied is not True],
        "failed_sense": failed,
    }


def _pair(request: dict, chosen: str, rejected: str, chosen_reward: float, rejected_reward: float) -> dict:
    """One preference pair as pairs.jsonl and DPO take it."""
    return {
        "id": request["id"],
        "prompt": request["messages"],
        "chosen": chosen,
        "rejected": rejected,
        "chosen_reward": chosen_reward,
        "rejected_reward": rejected_reward,
    }


def build_pairs(rows: list[dict], min_margin: float) -> tuple[list[dict], dict]:
    """Per request (a samples.jsonl row with scored ``answers``): chosen = the highest reward, rejected = the
    lowest (ties: the earlier sample), kept when they differ by at least ``min_margin``.  Returns the pairs
    (``prompt`` messages, ``chosen`` and ``rejected`` texts, their rewards) and the counts."""
    pairs, counts = [], {"requests": len(rows), "pairs": 0, "below_margin": 0}
    for row in rows:
        scored = [(a["score"]["reward"], i, a) for i, a in enumerate(row["answers"])]
        best = max(scored, key=lambda x: (x[0], -x[1]))
        worst = min(scored, key=lambda x: (x[0], x[1]))
        if best[0] - worst[0] < min_margin or best[1] == worst[1]:
            counts["below_margin"] += 1
            continue
        pairs.append(_pair(row, best[2]["text"], worst[2]["text"], best[0], worst[0]))
    counts["pairs"] = len(pairs)
    return pairs, counts


def substitution_pairs(requests: list[dict], min_margin: float) -> tuple[list[dict], int]:
    """The off-policy pairs of ``prompts.substitution_requests``: the rewritten recipe chosen, the recipe as
    written rejected, both scored like a sampled answer and kept when the rewrite wins by ``min_margin``
    (the rewrite passed the diet check and kitchen sense when built, so it nearly always does).  Returns
    the pairs and how many were dropped."""
    pairs, dropped = [], 0
    for q in requests:
        chosen, rejected = reward_components(q["chosen"], q), reward_components(q["rejected"], q)
        if chosen["reward"] - rejected["reward"] < min_margin:
            dropped += 1
            continue
        pairs.append(
            {**_pair(q, q["chosen"], q["rejected"], chosen["reward"], rejected["reward"]), "source": "substitution"}
        )
    return pairs, dropped
