"""``"enforce": true`` on ``/v1/recipes``: generate again until the checker passes.

An answer **passes** when none of its constraint checks is violated (``satisfied`` is
false) and no kitchen-sense **safety** check failed (``kitchen_sense.safe``: raw chicken
served without a cooking step, ``cooking/kitchen_sense.py``).  A check the recipe cannot
answer ("unknown": no cuisine in the title, no stated servings; a safety check that does not
apply) does not cause another attempt: generating again cannot make the checker read what
the recipe does not say.  A failed *plausibility* check (an odd amount) is shown to the cook
but does not cause another attempt either: only what could make someone ill does.
``Attempts`` hands out the settings of each attempt and keeps the best answer so far:

* attempt 1 is the request as sent (greedy unless it asks for a temperature);
* attempts 2 … ``serve.enforce_attempts`` are sampled, at the request's temperature when it
  gave one above 0, else ``ENFORCE_TEMPERATURE``, with the seed (the request's, else the
  model's ``engine.generation.seed``) plus the attempt number minus one, so the same request
  gets the same answers;
* the first passing answer ends the attempts; if none passes, the **best** one is returned
  (fewest failed safety checks, then fewest violated constraints, then fewest unknown, then a
  well-formed recipe, then the earliest), marked ``constraints_met: false`` or
  ``kitchen_sense.safe: false``;
* ``retries`` says why each further attempt was made: the previous answer's broken constraints
  and failed safety checks (``rejected``).

With ``enforce`` every request is enforced on safety; without constraints nothing else is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ENFORCE_TEMPERATURE = 0.7


def violated(checked: dict) -> list[dict]:
    """The requested constraints the answer breaks (unknowns do not)."""
    return [c for c in checked["checks"] if c["satisfied"] is False]


def unsafe(checked: dict) -> list[dict]:
    """The kitchen-sense safety checks the answer failed (``SenseCheck.to_dict()`` each)."""
    return [c for c in checked["kitchen_sense"]["checks"] if c["kind"] == "safety" and c["passed"] is False]


def passes(checked: dict) -> bool:
    """No requested constraint violated and no safety check failed (unknowns do not fail an answer)."""
    return not violated(checked) and not unsafe(checked)


def constraints_met(checked: dict) -> bool:
    return not violated(checked)


def rejected(attempt_number: int, checked: dict) -> dict:
    """Why an attempt was not kept: its number, the constraints it broke and the safety checks it failed."""
    return {"attempt": attempt_number, "violated": violated(checked), "unsafe": unsafe(checked)}


def rank(checked: dict) -> tuple[int, int, int, int]:
    """Lower is better: failed safety checks, violated checks, unknown checks, not well formed."""
    checks = checked["checks"]
    return (
        len(unsafe(checked)),
        len(violated(checked)),
        sum(c["satisfied"] is None for c in checks),
        0 if checked.get("well_formed") else 1,
    )


@dataclass
class Attempt:
    number: int
    completion: Any  # chefbot.generate.Completion
    checked: dict  # recipes.check_constraints(...)


class Attempts:
    """The attempts of one request: ``next_settings()`` until it returns None, ``record()`` after each."""

    def __init__(self, limit: int, first: dict, temperature: float | None, seed: int | None, default_seed: int) -> None:
        self.limit, self.first = max(1, limit), first
        self.temperature = temperature if temperature else ENFORCE_TEMPERATURE
        self.seed = seed if seed is not None else default_seed
        self.made: list[Attempt] = []
        self.best: Attempt | None = None

    @property
    def count(self) -> int:
        return len(self.made)

    @property
    def done(self) -> bool:
        return self.count >= self.limit or (self.best is not None and passes(self.best.checked))

    def next_settings(self) -> dict | None:
        """The settings of the next attempt, or None when the attempts are over."""
        if self.done:
            return None
        if not self.made:
            return dict(self.first)
        return {**self.first, "do_sample": True, "temperature": self.temperature, "seed": self.seed + self.count}

    def record(self, completion: Any, checked: dict) -> Attempt:
        a = Attempt(self.count + 1, completion, checked)
        self.made.append(a)
        if self.best is None or rank(checked) < rank(self.best.checked):
            self.best = a
        return a

    def summary(self) -> dict:
        """The response fields that describe the attempts."""
        assert self.best is not None, "no attempt was made"
        return {
            "constraints_met": constraints_met(self.best.checked),
            "attempts": self.count,
            "attempt": self.best.number,
            # every attempt but the last failed (a pass ends the attempts): each is why another one followed
            "retries": [rejected(a.number, a.checked) for a in self.made[:-1]],
        }
