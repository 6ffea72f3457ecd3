"""One recipe type (``recipe_format.Recipe``): its text round trip, its validation of user input, and the
planner's readers returning it (the kitchen's: tests/kitchen/test_kitchen_library.py)."""

from __future__ import annotations

import pytest

from chefbot.errors import DataError
from chefbot.plan.recipes import load_recipe
from chefbot.plan.schema import RecipeSpec
from chefbot.recipe_format import ParsedRecipe, Recipe, parse_recipe

STEW = Recipe(
    title="Bean Stew",
    servings=4,
    ingredients=["1 can beans", "2 carrots, diced"],
    directions=["Dice the carrots.", "Simmer everything for 20 minutes."],
)


def test_render_then_parse_gives_the_same_recipe_parts():
    parsed = parse_recipe(STEW.render())
    assert isinstance(parsed, ParsedRecipe) and isinstance(parsed, Recipe)
    assert (parsed.title, parsed.ingredients, parsed.directions) == (STEW.title, STEW.ingredients, STEW.directions)
    assert parsed.numbered and parsed.well_formed
    assert parsed.servings is None  # the text format does not carry servings


def test_validate_accepts_a_mapping_and_keeps_provenance():
    r = Recipe.validate(
        {
            "title": "Toast",
            "ingredients": ["bread"],
            "directions": ["Toast it."],
            "servings": 2,
            "source": "my-file.yaml",
            "ner": ["bread"],
        },
        "my-file.yaml",
    )
    assert r == Recipe(
        title="Toast", ingredients=["bread"], directions=["Toast it."], servings=2, source="my-file.yaml", ner=["bread"]
    )


@pytest.mark.parametrize(
    "data, message",
    [
        ({"title": "Toast", "ingredients": "bread"}, "f.yaml: ingredients: Input should be a valid list"),
        ({"title": "Toast", "directions": ["Toast.", 3]}, "f.yaml: directions.1: Input should be a valid string"),
        ({"title": "Toast", "servings": 0}, "f.yaml: servings: Input should be greater than or equal to 1"),
        ({"title": "Toast", "direction": ["Toast."]}, "f.yaml: direction: unknown key"),
        (["Toast"], "f.yaml: Input should be a dictionary"),
    ],
)
def test_validate_names_the_field_that_is_wrong(data, message):
    with pytest.raises(DataError) as e:
        Recipe.validate(data, "f.yaml")
    assert str(e.value).startswith(message)


def test_planner_recipe_files_become_recipes_and_bad_fields_are_named(tmp_path):
    (tmp_path / "stew.md").write_text(STEW.render(), encoding="utf-8")
    (tmp_path / "toast.yaml").write_text("title: Toast\ningredients: [bread]\ndirections: Toast the bread.\n")
    (tmp_path / "bad.yaml").write_text("title: Toast\ningredients: bread\ndirections: [Toast.]\n")
    stew = load_recipe(RecipeSpec(file="stew.md"), tmp_path, "recipes[0]")
    assert stew == Recipe(
        title=STEW.title, ingredients=STEW.ingredients, directions=STEW.directions, source=str(tmp_path / "stew.md")
    )
    toast = load_recipe(RecipeSpec(file="toast.yaml"), tmp_path, "recipes[1]")
    assert toast.directions == ["Toast the bread."] and toast.source == str(tmp_path / "toast.yaml")
    with pytest.raises(DataError, match="bad.yaml: ingredients: Input should be a valid list"):
        load_recipe(RecipeSpec(file="bad.yaml"), tmp_path, "recipes[2]")
    inline = load_recipe(
        RecipeSpec(title="Salad", ingredients=["lettuce"], directions="Wash.\nToss."), None, "recipes[3]"
    )
    assert inline == Recipe(title="Salad", ingredients=["lettuce"], directions=["Wash.", "Toss."], source="recipes[3]")
