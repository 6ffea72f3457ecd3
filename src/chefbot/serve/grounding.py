"""Grounding at serving time: the recipes a ``/v1/recipes`` prompt is given, and the sources its answer names.

With ``grounding.enabled`` the request's ingredient names are searched (``data.retrieval``) in the corpus
index (every recipe of ``data.source``, built once on disk) and, with ``grounding.library``, in the kitchen
library (an in-memory index of its recipes, per request); ``retrieval.merge_hits`` keeps the k that cover
most of the request's words, the library's first on a tie.  The answer's ``sources`` are exactly the
recipes put in the prompt: what the model was given, not a claim about what it used.
"""

from __future__ import annotations

import threading

from chefbot.config import ExperimentConfig
from chefbot.data.retrieval import CorpusIndex, Hit, bm25_search, memory_index, merge_hits, open_index
from chefbot.kitchen.db import KitchenDB
from chefbot.kitchen.library import library_recipes


class ServingGrounding:
    """The corpus index of this server (opened, and built if needed, on the first grounded request)."""

    def __init__(self, cfg: ExperimentConfig) -> None:
        self.cfg = cfg
        self.enabled = cfg.grounding.enabled
        self._index: CorpusIndex | None = None
        self._lock = threading.Lock()  # one SQLite connection, shared by the server's threads

    def hits(self, ingredients: list[str], library: KitchenDB | None) -> list[Hit]:
        """The k recipes for a request with these ingredients (none when grounding is off)."""
        if not self.enabled:
            return []
        k, query = self.cfg.grounding.k, ", ".join(ingredients)
        mine: list[Hit] = []
        if library is not None and self.cfg.grounding.library:
            db = memory_index(library_recipes(library))
            try:
                mine = bm25_search(db, query, k)
            finally:
                db.close()
        with self._lock:
            if self._index is None:
                self._index = open_index(self.cfg, progress=False)
            corpus = self._index.search(query, k)
        return merge_hits(query, k, mine, corpus)

    def close(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None
