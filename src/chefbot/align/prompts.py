"""The requests ``chefbot align`` samples answers for: training-split recipes only.

The recipes are read with the data stage's own pieces (the reader, the row validation, the dedup key
and ``HashSplit``), so the split is exactly ``chefbot data prepare``'s: test and validation recipes (and
the held-out reserve) are never asked.  Each recipe is asked either for a random subset of its own
labels (``sampled_constraints``: the training prompt's draw) or, for ``align.counterfactual_share`` of
them, for one diet it breaks (``counterfactual_request``: the evaluation's counterfactual request):
the model gets credit for changing the dish, not for copying it.
"""

from __future__ import annotations

import random
from typing import Any

from chefbot.config import ExperimentConfig
from chefbot.cooking.lexicon import DIETS, diets_of
from chefbot.cooking.recipe_constraints import RecipeConstraints
from chefbot.cooking.substitutions import substitute
from chefbot.data import records as R
from chefbot.data.constraint_prompts import counterfactual_request, record_labels, sampled_constraints
from chefbot.data.readers import parse_chunk, raw_chunks
from chefbot.data.retrieval import exclusion_keys, open_index, prompt_uses_title, query_text, references_for
from chefbot.data.sources import resolve_data_source
from chefbot.data.split import Deduper, HashSplit
from chefbot.data.tokenize import messages_for, target_for
from chefbot.errors import DataError
from chefbot.recipe_format import Recipe

OWN = "own labels"
COUNTERFACTUAL = "counterfactual"


def training_recipes(cfg: ExperimentConfig, n: int) -> list[Recipe]:
    """The first ``n`` training-split recipes in split-hash order (smallest ``u`` first: with
    ``data.max_train`` those are the recipes the SFT adapter was trained on)."""
    d = cfg.data
    spec = resolve_data_source(d.source, d.format)
    train: list[tuple[float, int, Recipe]] = []
    split = HashSplit(d.val_size, d.test_size, lambda u, item: train.append((u, item[0], item[1])))
    dedup, seen = Deduper(), 0
    for chunk in raw_chunks(spec, strict=d.strict):
        for _, rec in parse_chunk(chunk):
            # data prepare's rules for a row (records.record_problem, data.sources); bad rows are its to report
            if isinstance(rec, R.BadRow) or R.record_problem(rec, d.max_chars, d.min_steps) is not None:
                continue
            if d.sources is not None and rec.source not in d.sources:
                continue
            ident, u = R.key_hashes(R.dedup_key(rec.title, rec.ner), d.seed)
            if dedup.first(ident):
                seen += 1
                split.add(u, (seen, rec))
    split.finish()  # settles the held-out pool: what stays aside is test, validation or reserve
    if not train:
        raise DataError(
            f"{spec.describe()}: no training-split recipes to ask (data.val_size + data.test_size take all)"
        )
    train.sort(key=lambda x: (x[0], x[1]))
    return [r for _, _, r in train[:n]]


def _request(
    cfg: ExperimentConfig, r: Recipe, index: Any, labels: Any, condition: str, c: RecipeConstraints | None, tag: str
) -> dict:
    """One request dict for ``r`` (see ``align_requests``), grounded through ``index`` when it is open."""
    refs = (
        references_for(
            index,
            cfg.grounding,
            query_text(r.ner, r.title, prompt_uses_title(cfg)),
            exclusion_keys(r.title, r.ner),
            ("train",),
        )
        if index is not None
        else []
    )
    return {
        "id": f"{r.id}#{tag}",
        "recipe_id": r.id,
        "title": r.title,
        "condition": condition,
        "constraints": c.model_dump() if c is not None else {},
        "messages": messages_for(r, cfg.prompt, cfg.data.seed, labels, c, references=refs, grounding=cfg.grounding),
        "ner": list(r.ner),
        "source_steps": len(r.directions),
    }


def align_requests(cfg: ExperimentConfig, recipes: list[Recipe]) -> list[dict]:
    """One request per recipe: ``id``, ``recipe_id``, ``condition``, ``constraints`` (a dict, {} for none),
    ``messages``, ``ner`` and ``source_steps`` (the recipe's step count, for the completeness factor).
    With ``grounding.enabled`` the prompt holds the retrieved training recipes, as training's and the
    evaluation's prompts do (never the recipe itself or a near-duplicate)."""
    index = open_index(cfg) if cfg.grounding.enabled else None
    out = []
    for r in recipes:
        labels = record_labels(r)
        rng = random.Random(f"{cfg.seed}:align:{r.id}")
        c: RecipeConstraints | None = None
        condition = OWN
        if rng.random() < cfg.align.counterfactual_share:
            c = counterfactual_request(labels, rng)
            condition = COUNTERFACTUAL if c is not None else OWN
        if c is None:
            c = sampled_constraints(r, labels, cfg.prompt, cfg.data.seed)
        out.append(_request(cfg, r, index, labels, condition, c, "cf" if condition == COUNTERFACTUAL else "own"))
    return out


def substitution_requests(cfg: ExperimentConfig, recipes: list[Recipe], n: int) -> list[dict]:
    """Up to ``n`` off-policy pair requests (``align.substitution_pairs``): each recipe, in order, asked for the
    first diet it breaks (``DIETS`` order) that ``cooking.substitutions.substitute`` can rewrite it for; the
    request holds ``chosen`` (the rewritten recipe, as training renders a target) and ``rejected`` (the
    recipe as written: what a model that copies its source answers).  Recipes with no rewritable diet are
    skipped; the number skipped is the caller's ``len(recipes) - len(result)`` when ``n`` is not reached."""
    index = open_index(cfg) if cfg.grounding.enabled and n else None
    out: list[dict] = []
    for r in recipes:
        if len(out) >= n:
            break
        met = diets_of(r.ingredients)
        for diet in DIETS:
            if diet in met:
                continue
            s = substitute(r, diet)
            if s.recipe is None:
                continue
            c = RecipeConstraints(diets=[diet])
            req = _request(cfg, r, index, record_labels(r), COUNTERFACTUAL, c, f"sub-{diet}")
            out.append({**req, "chosen": target_for(s.recipe), "rejected": target_for(r), "swaps": list(s.swaps)})
            break
    return out
