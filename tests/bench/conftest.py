"""Fixtures for the bench tests: a small RecipeNLG-format CSV and the bench modules."""

from __future__ import annotations

import csv
import importlib
import json
import random
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="session")
def bench_module():
    """Import a script from bench/ by name (bench/ is not a package)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module


@pytest.fixture(scope="session")
def recipes_csv(tmp_path_factory) -> Path:
    """40 RecipeNLG-format rows of varied length, so batches need padding and rows pack."""
    rng = random.Random(0)
    foods = ["flour", "sugar", "butter", "eggs", "milk", "salt", "onion", "garlic", "rice", "beans", "tomato", "cheese"]
    path = tmp_path_factory.mktemp("bench-data") / "recipes.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["", "title", "ingredients", "directions", "link", "source", "NER"])
        for i in range(40):
            ner = rng.sample(foods, rng.randint(2, 6))
            steps = [
                f"Step {j}: combine the {rng.choice(ner)} with the {rng.choice(ner)} and stir well."
                for j in range(rng.randint(2, 9))
            ]
            w.writerow(
                [
                    i,
                    f"Dish number {i}",
                    json.dumps([f"1 c. {n}" for n in ner]),
                    json.dumps(steps),
                    f"example.com/{i}",
                    "Gathered",
                    json.dumps(ner),
                ]
            )
    return path
