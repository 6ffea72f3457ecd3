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
