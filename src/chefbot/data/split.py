"""Deduplication and the deterministic hash split.

Every recipe gets a position ``u`` in [0, 1) from a hash of its dedup key (normalized
title + ingredient-name set) and ``data.seed``.  The split depends on nothing else:
not on file order, not on which other recipes are present.

- test = the ``test_size`` recipes with the smallest ``u``; validation = the next
  ``val_size``.
- The held-out pool is ``u < f`` where ``f = 2**-k`` is the smallest power of two that
  still holds ``val_size + test_size`` recipes.  Pool recipes that are neither test nor
  validation are kept out of training too (the "reserve").
- Training = every other recipe (``u >= f``).

Why this is stable as the data grows: a recipe's ``u`` never changes, and with more
data ``f`` can only shrink, so recipes can move from held-out to training but never
from training to held-out -- a model trained on an older copy of the data has never
seen any recipe of a newer test set.  A fixed fraction would also be stable, but it
cannot give exactly 200 test recipes out of both 4.8k and 2.23M rows.

Streaming: only recipes with ``u`` below the current ``f`` are kept aside (about
``2 * (val_size + test_size)`` of them); all others are final training recipes as
soon as they are read.  What is kept aside goes through ``detach`` first: ``prepare``
copies the example's tokens there, because a slice of a chunk's token array would keep
that whole chunk alive until the end of the pass (held-out recipes come from nearly
every chunk, so at full scale that pinned about 2 GB).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def _same(item: Any) -> Any:
    return item


@dataclass
class HashSplit:
    val_size: int
    test_size: int
    on_train: Callable[[float, Any], None]  # called once for every final training item
    detach: Callable[[Any], Any] = _same  # applied to an item before it is kept aside (see the module docstring)
    f: float = field(init=False)
    aside: list[tuple[float, int, Any]] = field(default_factory=list)
    _seen: int = 0

    def __post_init__(self) -> None:
        self.need = self.val_size + self.test_size
        self.f = 1.0 if self.need > 0 else 0.0

    def add(self, u: float, item: Any) -> None:
        self._seen += 1
        if u >= self.f:
            self.on_train(u, item)
            return
        self.aside.append((u, self._seen, self.detach(item)))
        if len(self.aside) >= 4 * self.need + 256:
            self._shrink()

    def _shrink(self) -> None:
        us = sorted(a[0] for a in self.aside)
        f = self.f
        while len(us) >= self.need and f > 2.0**-60 and sum(1 for x in us if x < f / 2) >= self.need:
            f /= 2
        if f == self.f:
            return
        self.f = f
        keep = []
        for a in self.aside:
            if a[0] < f:
                keep.append(a)
            else:
                self.on_train(a[0], a[2])
        self.aside = keep

    def finish(self) -> dict[str, list]:
        """Settle ``f`` and return the held-out items, each list ordered by ``u``."""
        if self.need:
            self._shrink()
        pool = sorted(self.aside, key=lambda a: (a[0], a[1]))
        items = [a[2] for a in pool]
        return {
            "test": items[: self.test_size],
            "validation": items[self.test_size : self.need],
            "reserve": items[self.need :],
        }


class Deduper:
    """Keeps the first recipe per dedup id (a 64-bit hash; ~100 MB for 2.23M ids)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def first(self, ident: int) -> bool:
        if ident in self.seen:
            return False
        self.seen.add(ident)
        return True
