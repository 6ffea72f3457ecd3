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
    assert got["milk"]["quantity"] == "2 cups + 1 tbsp"  # 236.6 ml + 250 ml = 2.06 cups, not "2 cups"
    # two amounts of one item, each written whole: never "1 cup + 200 g sugar"
    assert [a["text"] for a in got["sugar"]["amounts"]] == ["1 cup sugar", "200 g sugar"]


def test_halving_uses_smaller_units_and_ranges_buy_the_upper_end(kdb):
    a = save_recipe(kdb, "A", ["1/4 cup oil", "2-3 onions"], ["Fry."], 4)["id"]
    got = items(shopping_list(kdb, [(a, 2)]))
    assert got["oil"]["quantity"] == "2 tbsp" and got["oil"]["aisle"] == "pantry"
    assert got["onions"]["quantity"] == "2"  # 1-1 1/2 onions: buy the upper end, whole
    assert got["onions"]["text"] == "2 onions (need 1 1/2)"


def test_canned_goods_go_to_the_canned_aisle(kdb):
    a = save_recipe(kdb, "A", ["1 (14 oz) can diced tomatoes", "2 tomatoes"], ["Cook."], 2)["id"]
    b = save_recipe(kdb, "B", ["3 tomatoes"], ["Slice."], 2)["id"]
    got = shopping_list(kdb, [(a, 2), (b, 2)])
    aisles = {x["aisle"]: [i["text"] for i in x["items"]] for x in got["aisles"]}
    assert aisles == {"Canned & jars": ["1 (14 oz) can diced tomatoes"], "Produce": ["5 tomatoes"]}


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


# -- the issue-28 story, line by line ------------------------------------------------------------
def one_list(kdb, *recipes: tuple[list[str], int, int]) -> dict[str, dict]:
    """The list for recipes given as (lines, written for, wanted servings)."""
    wanted = []
    for i, (lines, written, servings) in enumerate(recipes):
        wanted.append((save_recipe(kdb, f"R{i}", lines, ["Cook."], written)["id"], servings))
    return items(shopping_list(kdb, wanted))


def test_whole_things_are_rounded_up_and_the_need_is_shown(kdb):
    got = one_list(kdb, (["5 eggs"], 4, 2), (["4 large eggs, beaten"], 2, 2))  # 2 1/2 + 4
    assert got["eggs"]["quantity"] == "7" and got["eggs"]["text"] == "7 eggs (need 6 1/2)"
    assert got["eggs"]["amounts"] == [{"quantity": "7", "text": "7 eggs (need 6 1/2)", "need": "6 1/2"}]
    assert got["eggs"]["lines"] == ["2 1/2 eggs", "4 large eggs, beaten"]
    exact = one_list(kdb, (["3 eggs"], 2, 4))
    assert exact["eggs"]["text"] == "6 eggs" and exact["eggs"]["amounts"][0]["need"] is None


def test_cans_keep_their_size_and_product(kdb):
    got = one_list(kdb, (["5 (14 oz) cans diced tomatoes, drained"], 4, 2))
    cans = got["diced tomatoes"]
    assert cans["aisle"] == "Canned & jars"
    assert cans["text"] == "3 (14 oz) cans diced tomatoes (need 2 1/2 cans)"
    assert cans["lines"] == ["2 1/2 (14 oz) cans diced tomatoes, drained"]  # the preparation note is kept


def test_cans_of_another_size_or_product_are_not_added_up(kdb):
    got = one_list(
        kdb,
        (["1 (14 oz) can diced tomatoes", "1 (28 ounce) can diced tomatoes", "1 can crushed tomatoes"], 2, 2),
        (["1 (14 ounce) can diced tomatoes"], 2, 2),
    )
    assert [a["text"] for a in got["diced tomatoes"]["amounts"]] == [
        "2 (14 oz) cans diced tomatoes",
        "1 (28 ounce) can diced tomatoes",
    ]
    assert got["crushed tomatoes"]["text"] == "1 can crushed tomatoes"


def test_salt_appears_once(kdb):
    result = shopping_list(
        kdb,
        [
            (save_recipe(kdb, "A", ["1 tsp salt", "2 cups flour"], ["Mix."], 4)["id"], 4),
            (save_recipe(kdb, "B", ["salt and pepper to taste", "Salt", "2 eggs"], ["Mix."], 4)["id"], 4),
        ],
    )
    names = [i["name"] for a in result["aisles"] for i in a["items"]] + [i["name"] for i in result["pantry"]]
    assert names.count("salt") == 1 and "salt and pepper" not in names
    salt = items(result)["salt"]
    assert salt["text"] == "1 tsp salt (to taste)" and salt["aisle"] == "pantry"
    assert salt["lines"] == ["1 tsp salt", "salt and pepper to taste", "Salt"]
    assert items(result)["pepper"]["text"] == "pepper (to taste)"
    # only a line that is nothing but staples is split: "mac and cheese" is one thing
    assert "mac and cheese" in one_list(kdb, (["mac and cheese to taste"], 1, 1))


def test_mass_and_count_of_one_item_are_separate_lines_never_200_g_plus_6_egg(kdb):
    got = one_list(kdb, (["200 g eggs"], 2, 2), (["6 eggs"], 2, 2))
    eggs = got["eggs"]
    assert [a["text"] for a in eggs["amounts"]] == ["200 g eggs", "6 eggs"]
    assert "+" not in eggs["text"] and eggs["text"] == "200 g eggs; 6 eggs"


@pytest.mark.parametrize(
    "recipes, quantity, text",
    [
        # 1 1/4 cups for 2, wanted for 5: 3 1/8 cups, never "3 cups"
        ([(["1 1/4 cups milk"], 2, 5)], "3 cups + 2 tbsp", "3 cups + 2 tbsp milk"),
        ([(["3 cups milk"], 4, 4), (["2 tbsp milk"], 4, 4)], "3 cups + 2 tbsp", "3 cups + 2 tbsp milk"),
        # 1/16 tsp: below the smallest spoon, said so with the exact need
        ([(["1/8 tsp cayenne"], 2, 1)], "≈ 1/8 tsp", "≈ 1/8 tsp cayenne (need 0.06 tsp)"),
    ],
)
def test_rounding_is_shown_to_the_cook(kdb, recipes, quantity, text):
    got = one_list(kdb, *recipes)
    name = next(iter(got))
    assert got[name]["quantity"] == quantity and got[name]["text"] == text


def test_list_for_recipes_takes_recipes_at_servings():
    from chefbot.kitchen.shopping import list_for_recipes
    from chefbot.recipe_format import Recipe

    week = [
        (Recipe(title="Mon", servings=2, ingredients=["1 egg", "1 cup milk"], id="library:3"), 4),
        (Recipe(title="Tue", servings=4, ingredients=["2 1/2 eggs"]), None),  # not from the library
    ]
    out = list_for_recipes(week)
    assert out["recipes"] == [{"id": 3, "title": "Mon", "servings": 4}, {"id": None, "title": "Tue", "servings": 4}]
    got = items(out)
    assert got["eggs"]["text"] == "5 eggs (need 4 1/2)" and got["eggs"]["recipes"] == [3]
    assert got["milk"]["text"] == "2 cups milk"
