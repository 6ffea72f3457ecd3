"""Shopping lists: scaled, merged across recipes by ingredient and unit, grouped by aisle."""

from __future__ import annotations

import pytest

from chefbot.cooking.aisles import aisle_of, ingredient_name, is_staple
from chefbot.cooking.quantities import parse_line
from chefbot.kitchen.db import NotFound
from chefbot.kitchen.library import save_recipe
from chefbot.kitchen.shopping import shopping_list


def items(result: dict) -> dict[str, dict]:
    out = {i["name"]: {**i, "aisle": a["aisle"]} for a in result["aisles"] for i in a["items"]}
    out.update({i["name"]: {**i, "aisle": "pantry"} for i in result["pantry"]})
    return out


def test_eggs_merge_across_recipes_and_units_convert(kdb):
    a = save_recipe(
        kdb,
        "Pancakes",
        ["2 cups flour", "2 large eggs", "1 1/2 cups milk", "a pinch of salt", "2 tbsp butter, melted"],
        ["Mix.", "Fry."],
        4,
    )["id"]
    b = save_recipe(
        kdb,
        "Omelette",
        [
            "3 eggs, beaten",
            "1/4 cup milk",
            "salt to taste",
            "1 tbsp butter",
            "100 g cheddar cheese, grated",
            "1/2 cup flour",
        ],
        ["Beat.", "Cook."],
        2,
    )["id"]
    got = items(shopping_list(kdb, [(a, 8), (b, None)]))
    assert got["eggs"]["quantity"] == "7"  # 4 (2 doubled) + 3
    assert got["eggs"]["text"] == "7 eggs" and got["eggs"]["recipes"] == [a, b]
    assert got["eggs"]["lines"] == ["4 large eggs", "3 eggs, beaten"]
    assert got["flour"]["quantity"] == "4 1/2 cups"
    assert got["milk"]["quantity"] == "3 1/4 cups"
    assert got["butter"]["quantity"] == "5 tbsp"  # 1/4 cup + 1 tbsp, and 5 tbsp is no clean cup fraction
    assert got["cheddar cheese"]["quantity"] == "100 g"
    assert got["eggs"]["aisle"] == "Dairy & eggs" and got["flour"]["aisle"] == "Baking"
    assert got["salt"]["aisle"] == "pantry"
    assert got["salt"]["text"] == "salt (a pinch; to taste)"


def test_metric_and_us_volumes_add_up_but_mass_and_volume_do_not(kdb):
    a = save_recipe(kdb, "A", ["1 cup milk", "1 cup sugar"], ["Mix."], 2)["id"]
    b = save_recipe(kdb, "B", ["250 ml milk", "200 g sugar"], ["Mix."], 2)["id"]
    got = items(shopping_list(kdb, [(a, 2), (b, 2)]))
    assert got["milk"]["quantity"] == "2 cups"  # 236.6 ml + 250 ml = 2.06 cups
    assert got["sugar"]["quantity"] == "1 cup + 200 g"


def test_halving_uses_smaller_units_and_ranges_buy_the_upper_end(kdb):
    a = save_recipe(kdb, "A", ["1/4 cup oil", "2-3 onions"], ["Fry."], 4)["id"]
    got = items(shopping_list(kdb, [(a, 2)]))
    assert got["oil"]["quantity"] == "2 tbsp" and got["oil"]["aisle"] == "pantry"
    assert got["onions"]["quantity"] == "1 1/2"  # 1-1 1/2 onions: buy 1 1/2


def test_canned_goods_go_to_the_canned_aisle(kdb):
    a = save_recipe(kdb, "A", ["1 (14 oz) can diced tomatoes", "2 tomatoes"], ["Cook."], 2)["id"]
    b = save_recipe(kdb, "B", ["3 tomatoes"], ["Slice."], 2)["id"]
    got = shopping_list(kdb, [(a, 2), (b, 2)])
    aisles = {x["aisle"]: [i["text"] for i in x["items"]] for x in got["aisles"]}
    assert aisles == {"Canned & jars": ["1 can tomatoes"], "Produce": ["5 tomatoes"]}


def test_an_unknown_recipe_names_its_item(kdb):
    a = save_recipe(kdb, "A", ["1 egg"], ["Boil."], 1)["id"]
    with pytest.raises(NotFound) as e:
        shopping_list(kdb, [(a, 1), (a + 10, 2)])
    assert e.value.field == "items.1.recipe_id"


@pytest.mark.parametrize(
    "line, name, aisle",
    [
        ("2 large eggs, beaten", "eggs", "Dairy & eggs"),
        ("1 cup creamy peanut butter", "creamy peanut butter", "Oils, vinegars & sauces"),
        ("2 tbsp butter", "butter", "Dairy & eggs"),
        ("1 red bell pepper, diced", "red bell pepper", "Produce"),
        ("1 (14 oz) can diced tomatoes", "tomatoes", "Produce"),
        ("3 cloves garlic, minced", "garlic", "Produce"),
        ("1 lb boneless chicken breasts", "chicken breasts", "Meat & fish"),
        ("a pinch of cayenne", "cayenne", "Spices"),
        ("1 cup of something odd", "something odd", "Other"),
    ],
)
def test_names_and_aisles(line, name, aisle):
    got = ingredient_name(parse_line(line))
    assert got == name
    assert aisle_of(got) == aisle


def test_staples():
    assert is_staple("salt") and is_staple("black pepper") and is_staple("olive oil")
    assert not is_staple("red bell pepper") and not is_staple("flour")
