"""The recipe library: saving from fields, chefbot text, RecipeNLG rows and files; search; backups."""

from __future__ import annotations

import json

import pytest

from chefbot.kitchen.backup import export_db, import_file, snapshot
from chefbot.kitchen.db import KitchenDB, KitchenError
from chefbot.kitchen.library import (
    RecipeError,
    check_recipe,
    delete_recipe,
    get_recipe,
    insert_recipe,
    read_recipes,
    recipes_from_file,
    save_recipe,
    search_recipes,
)
from chefbot.kitchen.tastings import save_pair, vote
from chefbot.recipe_format import Recipe

STEW_RECIPE = Recipe(
    title="Bean Stew",
    servings=4,
    ingredients=["1 can beans", "2 carrots, diced"],
    directions=["Dice the carrots.", "Simmer everything for 20 minutes."],
)
CHEFBOT_TEXT = """# Lemon Chicken

## Ingredients
- 2 chicken thighs
- 1 lemon

## Directions
1. Brown the chicken in a pan for 10 minutes.
2. Squeeze the lemon over and serve."""
NLG_ROW = {
    "title": "No-Bake Nut Cookies",
    "ingredients": '["1 c. firmly packed brown sugar", "1/2 c. evaporated milk"]',
    "directions": '["In a heavy saucepan, mix brown sugar and milk.", "Boil 5 minutes."]',
    "NER": '["brown sugar", "milk"]',
}
NLG_CSV = (
    ",title,ingredients,directions,link,source,NER\n"
    '0,No-Bake Nut Cookies,"[""1 c. firmly packed brown sugar"", ""1/2 c. evaporated milk""]",'
    '"[""In a heavy saucepan, mix brown sugar and milk."", ""Boil 5 minutes.""]",www.cookbooks.com/x,Gathered,'
    '"[""brown sugar"", ""milk""]"\n'
)


def test_chefbot_text_is_read_with_the_recipe_format_parser():
    [r] = read_recipes(CHEFBOT_TEXT)
    assert r.title == "Lemon Chicken"
    assert r.ingredients == ["2 chicken thighs", "1 lemon"]
    assert r.directions[1] == "Squeeze the lemon over and serve."


@pytest.mark.parametrize("text", [json.dumps(NLG_ROW), NLG_CSV, NLG_CSV.split("\n", 1)[1]])
def test_a_recipenlg_row_as_json_or_csv_with_or_without_header(text):
    [r] = read_recipes(text)
    assert r.title == "No-Bake Nut Cookies"
    assert r.ingredients == ["1 c. firmly packed brown sugar", "1/2 c. evaporated milk"]
    assert r.directions == ["In a heavy saucepan, mix brown sugar and milk.", "Boil 5 minutes."]
    assert r.ner == ["brown sugar", "milk"]


@pytest.mark.parametrize(
    "text, field",
    [
        ('{"title": "X", "ingredients": "not json", "directions": "[]"}', "ingredients"),
        ('{"title": "X", "directions": "[]"}', "ingredients"),
        ("", "text"),
    ],
)
def test_bad_rows_name_the_field(text, field):
    with pytest.raises(RecipeError) as e:
        read_recipes(text)
    assert e.value.field == field


def test_files(tmp_path):
    (tmp_path / "a.md").write_text(CHEFBOT_TEXT)
    (tmp_path / "b.csv").write_text(NLG_CSV)
    (tmp_path / "c.jsonl").write_text(json.dumps(NLG_ROW) + "\n" + json.dumps({**NLG_ROW, "title": "Two"}) + "\n")
    assert [r.title for r in recipes_from_file(tmp_path / "a.md")] == ["Lemon Chicken"]
    assert [r.title for r in recipes_from_file(tmp_path / "b.csv")] == ["No-Bake Nut Cookies"]
    assert [r.title for r in recipes_from_file(tmp_path / "c.jsonl")] == ["No-Bake Nut Cookies", "Two"]


def test_save_get_scaled_search_delete(kdb):
    a = save_recipe(
        kdb,
        "Pancakes",
        ["2 cups flour", "2 eggs", "a pinch of salt"],
        ["Mix.", "Fry."],
        4,
        {"kind": "generated", "model": "chefbot", "adapter": "runs/x/adapter", "settings": {"temperature": 0}},
    )
    b = save_recipe(kdb, "Egg fried rice", ["1 cup rice", "3 eggs"], ["Fry."], 2)
    assert get_recipe(kdb, a["id"])["source"]["adapter"] == "runs/x/adapter"
    scaled = get_recipe(kdb, a["id"], servings=8)
    assert scaled["ingredients"] == ["4 cups flour", "4 eggs", "a pinch of salt"]
    assert (scaled["servings"], scaled["base_servings"]) == (8, 4)
    assert get_recipe(kdb, a["id"])["ingredients"][0] == "2 cups flour"  # stored as written
    assert {r["id"] for r in search_recipes(kdb, "EGG")["data"]} == {a["id"], b["id"]}  # title or ingredient
    assert [r["id"] for r in search_recipes(kdb, "egg flour")["data"]] == [a["id"]]  # every word
    assert search_recipes(kdb, "pancake")["data"][0]["title"] == "Pancakes"
    assert search_recipes(kdb, "100%")["total"] == 0  # LIKE's wildcards are escaped
    assert search_recipes(kdb)["total"] == 2
    assert delete_recipe(kdb, a["id"]) and not delete_recipe(kdb, a["id"])
    assert get_recipe(kdb, a["id"]) is None


@pytest.mark.parametrize(
    "title, ingredients, directions, servings, field",
    [
        ("  ", ["1 egg"], ["Fry."], 2, "title"),
        ("Egg", [" ", ""], ["Fry."], 2, "ingredients"),
        ("Egg", ["1 egg"], [], 2, "directions"),
        ("Egg", ["1 egg"], ["Fry."], 0, "servings"),
    ],
)
def test_incomplete_recipes_are_refused(kdb, title, ingredients, directions, servings, field):
    with pytest.raises(RecipeError) as e:
        save_recipe(kdb, title, ingredients, directions, servings)
    assert e.value.field == field
    assert search_recipes(kdb)["total"] == 0


def small_plan(title: str = "Dinner", cook: str = "Kim") -> dict:
    """The least a saved plan holds for its live schedule (``rows.PlanData``): one task, one cook."""
    return {
        "title": title,
        "serve_at": "2026-11-25T19:30",
        "horizon_min": 60,
        "tasks": [
            {
                "id": "soup.1",
                "dish": "soup",
                "cook": cook,
                "start_min": 30,
                "end_min": 50,
                "start": "19:00",
                "end": "19:20",
                "after": [],
                "vessel": None,
                "oven": None,
            }
        ],
        "cooks": [{"name": cook}],
        "oven_segments": [],
    }


def fill(db: KitchenDB) -> None:
    save_recipe(db, "Pancakes", ["2 cups flour", "½ tsp salt"], ["Mix.", "Fry."], 4, {"kind": "manual"})
    save_recipe(db, "Soup", ["1 onion"], ["Simmer 20 minutes."], 2, {"kind": "file", "file": "soup.md"})
    pair = save_pair(db, ["rice"], {"model": "served"}, {"model": "base", "temperature": 0.7}, "# A", "# B")
    vote(db, pair, "A", "Kim", "crispier")
    vote(db, pair, "tie", "Lou")
    with db.write() as c:
        pid = c.execute(
            "INSERT INTO plans (title, serve_at, request, plan, created_at) VALUES "
            "('Dinner', '2026-11-25T19:30', '{}', ?, '2026-11-25T10:00:00')",
            (json.dumps(small_plan()),),
        ).lastrowid
        c.execute(
            "INSERT INTO plan_progress (plan_id, task_id, cook, status, at) VALUES (?, 'soup.1', 'Kim', 'done', "
            "'2026-11-25T18:00:00')",
            (pid,),
        )


def comparable(data: dict) -> dict:
    """A snapshot without ids and the export time (a restore gives new ids)."""
    drop = {"id", "pair_id", "plan_id", "exported_at"}

    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in drop}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    return strip(data)


def test_export_then_import_round_trip(tmp_path):
    with KitchenDB(tmp_path / "a.db") as a:
        fill(a)
        counts = export_db(a, tmp_path / "backup.json")
        before = snapshot(a)
    assert counts == {"people": 0, "recipes": 2, "plans": 1, "tasting_pairs": 1, "shopping_lists": 0, "calendar": 0}
    assert not list(tmp_path.glob(".backup.json.*"))  # the temporary file was renamed away
    with KitchenDB(tmp_path / "b.db") as b:
        save_recipe(b, "Already here", ["1 egg"], ["Boil."], 1)
        assert import_file(b, tmp_path / "backup.json") == {
            "people": 0,
            "recipes": 2,
            "plans": 1,
            "tasting_pairs": 1,
            "shopping_lists": 0,
            "calendar": 0,
            "skipped": 0,
            "bad": 0,
            "bad_rows": [],
        }
        again = import_file(b, tmp_path / "backup.json")
        assert again == {
            "people": 0,
            "recipes": 0,
            "plans": 0,
            "tasting_pairs": 0,
            "shopping_lists": 0,
            "calendar": 0,
            "skipped": 4,
            "bad": 0,
            "bad_rows": [],
        }
        after = snapshot(b)
    after["recipes"] = [r for r in after["recipes"] if r["title"] != "Already here"]
    assert comparable(after) == comparable(before)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(format="other"), "not a chefbot kitchen backup"),
        (lambda d: d.update(version=99), "format version 99"),
        (lambda d: d["recipes"][1].pop("title"), r"recipes\[1\]: no 'title'"),
        (lambda d: d["recipes"][0].update(ingredients=[]), r"recipes\[0\]\.ingredients: List should have at least 1"),
        (lambda d: d["tasting_pairs"][0]["votes"][0].update(choice="C"), r"tasting_pairs\[0\]\.votes\.0\.choice"),
    ],
)
def test_a_bad_backup_is_refused_whole(tmp_path, mutate, message):
    with KitchenDB(tmp_path / "a.db") as a:
        fill(a)
        data = snapshot(a)
    mutate(data)
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with KitchenDB(tmp_path / "b.db") as b:
        with pytest.raises(KitchenError, match=message):
            import_file(b, tmp_path / "bad.json")
        assert search_recipes(b)["total"] == 0  # nothing was added


def test_kitchen_checks_into_a_recipe_and_stores_it_unchanged(kdb):
    recipe = check_recipe("  Bean Stew\u200b", [" 1 can beans ", "", "2 carrots, diced"], STEW_RECIPE.directions, 4)
    assert recipe == STEW_RECIPE  # normalized: ends stripped, empty lines dropped
    [pasted] = read_recipes(json.dumps({"title": "Toast", "ingredients": '["bread"]', "directions": '["Toast."]'}))
    assert pasted == Recipe(title="Toast", ingredients=["bread"], directions=["Toast."])
    with kdb.write() as c:
        rid = insert_recipe(c, recipe, {"kind": "manual"})
    stored = get_recipe(kdb, rid)
    assert (stored["title"], stored["servings"], stored["ingredients"], stored["directions"]) == (
        STEW_RECIPE.title,
        STEW_RECIPE.servings,
        STEW_RECIPE.ingredients,
        STEW_RECIPE.directions,
    )
