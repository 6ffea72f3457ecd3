"""A small corpus for the grounding tests (tests/data/test_retrieval.py, tests/serve/test_grounding_api.py)."""

from __future__ import annotations

import json
from pathlib import Path

DISHES = [
    ("Chicken Fried Rice", ["chicken", "rice", "egg", "soy sauce"]),
    ("Spinach Feta Omelette", ["eggs", "spinach", "feta", "onion"]),
    ("Omelette Feta Spinach", ["eggs", "spinach", "feta"]),  # the title's words reordered: a near-duplicate
    ("Greek Egg Bake", ["eggs", "spinach", "feta", "onion"]),  # same ingredient set, another title
    ("Tomato Soup", ["tomato", "onion", "garlic", "stock"]),
    ("Banana Bread", ["banana", "flour", "sugar", "butter", "egg"]),
    ("Lentil Curry", ["lentils", "onion", "curry powder", "coconut milk"]),
    ("Pancakes", ["flour", "milk", "egg", "butter"]),
    ("Guacamole", ["avocado", "lime", "onion", "cilantro"]),
    ("Beef Stew", ["beef", "potato", "carrot", "onion", "stock"]),
    ("Caesar Salad", ["romaine", "parmesan", "croutons", "anchovy"]),
    ("Mushroom Risotto", ["rice", "mushroom", "parmesan", "stock"]),
]


def write_corpus(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i, (title, ner) in enumerate(DISHES):
            rec = {
                "id": f"t:{i}",
                "title": title,
                "ingredients": [f"1 cup {n}" for n in ner],
                "ner": ner,
                "directions": [f"Cook the {ner[0]} for 10 minutes.", "Serve it hot."],
                "source": "test",
                "link": None,
            }
            f.write(json.dumps(rec) + "\n")
    return path


def grounded_cfg(tmp_path: Path):
    """A test server's config (serve_support.serve_cfg) grounded in this corpus and a kitchen library in tmp_path."""
    from serve_support import serve_cfg

    cfg = serve_cfg(tmp_path)
    cfg.data.source = str(write_corpus(tmp_path / "corpus.jsonl"))
    cfg.data.format = "auto"
    cfg.data.cache_dir = str(tmp_path / "cache")
    cfg.data.val_size = cfg.data.test_size = 2
    cfg.kitchen.db_path = str(tmp_path / "kitchen.sqlite")
    cfg.grounding.enabled = True
    cfg.grounding.k = 2
    return cfg
