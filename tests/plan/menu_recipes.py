"""The menus of tests/plan/test_menus.py: ordinary meals of real recipes, and the script that copied them.

Every recipe is a row of RecipeNLG (``../shared/data/recipenlg/first_1000.csv``, the row's ``Unnamed: 0``
id), picked by hand as a cook would put a meal together (a main, a side, a dessert or bread), from
recipes whose directions are under 700 characters (to keep the test quick), not by whether they plan.
The rows' text is copied into ``menu_recipes.json`` beside this file so the test needs no shared data:

    PYTHONPATH=src .venv/bin/python tests/plan/menu_recipes.py ../shared/data/recipenlg/first_1000.csv
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

FIXTURE = Path(__file__).with_name("menu_recipes.json")

# menu name -> RecipeNLG row ids (first_1000.csv); the first is the cook's menu of issue 25
MENUS: dict[str, list[int]] = {
    "chili, cornbread and pancakes": [969, 203, 100],
    "chicken divan, brown rice, cucumber salad": [47, 83, 120],
    "onion soup, beer bread, apple pie": [133, 46, 134],
    "vegetable soup, banana bread, broccoli salad": [144, 167, 17],
    "sweet-and-sour chicken, fried rice, egg drop soup": [96, 267, 78],
    "tater tot casserole, creole green beans, chess pie": [139, 166, 118],
    "pork roast, patio potatoes, fruit salad": [204, 169, 197],
    "brunswick stew, herb bread, coconut pie": [243, 196, 173],
    "winter soup, bread, brownie pie": [104, 155, 192],
    "chicken stew, pumpkin bread, chocolate pie": [40, 266, 138],
    "pizza casserole, squash casserole, pound cake": [177, 88, 91],
    "spanish hamburgers, german potato salad, peanut butter cookies": [77, 172, 98],
    "chicken pot pie, broccoli casserole, sweet potato pie": [156, 179, 162],
    "baked spaghetti, pistachio salad, banana cream pie": [234, 123, 210],
}


def load() -> dict[int, dict]:
    """Row id -> {title, ingredients, directions, source, link}."""
    return {int(k): v for k, v in json.loads(FIXTURE.read_text()).items()}


def copy_rows(csv_path: Path) -> None:
    """Copy the menus' rows out of the RecipeNLG CSV into the fixture (a temp file, then renamed)."""
    wanted = {i for ids in MENUS.values() for i in ids}
    out = {}
    with csv_path.open(newline="") as f:
        for row in csv.DictReader(f):
            i = int(row["Unnamed: 0"])
            if i in wanted:
                out[str(i)] = {
                    "title": row["title"].strip(),
                    "ingredients": json.loads(row["ingredients"]),
                    "directions": json.loads(row["directions"]),
                    "source": f"RecipeNLG first_1000.csv row {i}",
                    "link": row["link"],
                }
    missing = sorted(wanted - {int(k) for k in out})
    if missing:
        raise SystemExit(f"{csv_path}: no rows {missing}")
    tmp = FIXTURE.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(dict(sorted(out.items(), key=lambda kv: int(kv[0]))), indent=1, ensure_ascii=False) + "\n"
    )
    tmp.replace(FIXTURE)


if __name__ == "__main__":
    copy_rows(Path(sys.argv[1]))
