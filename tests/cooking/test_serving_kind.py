"""DishTasks.kind_guess: a baked good whose last heat step is baking is served at room
temperature (the planner's "cold") unless the recipe says to eat it warm; hot dishes stay hot.

Titles and directions are RecipeNLG's (../shared/data/recipenlg/first_1000.csv, row numbers given).
"""

from __future__ import annotations

import csv
import json

import pytest

from chefbot.cooking.tasks import tasks_from_directions


def _kind(title: str, *directions: str) -> str:
    return tasks_from_directions("d", title, list(directions)).kind_guess


@pytest.mark.parametrize(
    "title,directions",
    [
        # row 223: a cookie recipe that ends with its bake
        ("Snickerdoodles", ["Roll into balls the size of walnuts.", "Bake at 400° for 8 to 10 minutes."]),
        ("Apple Pie", ["Pour into an unbaked pie shell.", "Bake at 425° for 40 to 50 minutes."]),
        ("Pound Cake", ["Pour into a greased tube pan.", "Bake at 325° for 1 hour and 15 minutes."]),
        ("Plum Muffins", ["Fill muffin tins 2/3 full.", "Bake at 400° for 20 minutes."]),
        ("Beer Bread", ["Pour into a greased loaf pan.", "Bake at 350° for 1 hour."]),
        # no baked-good word in the title: the bake step names the cookies
        ("Grandma's Favorite", ["Drop by teaspoonfuls.", "Bake the cookies at 350° for 10 minutes."]),
        # "while still hot" is work on the cake, not how it is served (row 145)
        (
            "Chocolate Peanut Butter Cake",
            ["Bake in 9 x 13-inch pan for 30 minutes at 350°.", "While still hot, punch holes in cake."],
        ),
        ("Brownies", ["Bake at 350° for 25 minutes.", "Serve warm or at room temperature."]),
    ],
)
def test_baked_goods_are_served_at_room_temperature(title, directions):
    assert _kind(title, *directions) == "cold"


@pytest.mark.parametrize(
    "title,directions",
    [
        # the recipe says to eat it warm (rows 124, 192)
        ("Good Sweet Muffins", ["Fill muffin cups 2/3 full.", "Bake 20 to 25 minutes.", "Serve warm."]),
        (
            "Brownie Pie",
            ["Pour into a greased 8-inch pie pan and bake at 325° for 30 minutes.", "Serve slightly warm."],
        ),
        ("Buttermilk Biscuits", ["Bake at 450° for 12 minutes.", "Best eaten hot from the oven."]),
        # hot dishes: the title's hot word wins over a baked-good word (rows 156, 229, 63, 44)
        ("Chicken Pot Pie", ["Cover with the top crust.", "Bake the pie at 400° for 30 minutes."]),
        ("Cheeseburger Loaf", ["Shape into a loaf.", "Bake at 350° for 1 hour."]),
        ("Chicken Casserole", ["Pour into a casserole dish.", "Bake at 350° for 45 minutes."]),
        ("Fruit Pizza", ["Press the dough into a pizza pan.", "Bake at 375° for 12 minutes."]),
        ("Bread Pudding", ["Pour over the bread cubes.", "Bake at 350° for 45 minutes."]),
        # a baked good whose last heat is not baking (fried) stays hot
        ("Cake Doughnuts", ["Fry in hot oil at 375° for 2 minutes per side."]),
    ],
)
def test_hot_dishes_and_warm_baked_goods_stay_hot(title, directions):
    assert _kind(title, *directions) == "hot"


def test_cooling_after_the_bake_is_still_cold():
    assert _kind("Banana Bread", "Bake at 350° for 1 hour.", "Cool in the pan for 10 minutes.") == "cold"


@pytest.mark.shared
def test_real_baked_goods_and_casseroles(shared_dir):
    """First_1000 rows read as a whole recipe: cakes, pies, cookies cold; casseroles, pot pie hot."""
    path = shared_dir / "data" / "recipenlg" / "first_1000.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))

    def kind(i: int) -> str:
        r = rows[i]
        return tasks_from_directions(
            f"r{i}", r["title"], json.loads(r["directions"]), json.loads(r["ingredients"])
        ).kind_guess

    assert [rows[i]["title"].strip() for i in (91, 134, 223, 160)] == [
        "Pound Cake",
        "Apple Pie",
        "Snickerdoodles",
        "Plum Muffins",
    ]
    assert {kind(i) for i in (91, 134, 223, 160)} == {"cold"}
    assert [rows[i]["title"].strip() for i in (63, 156, 171)] == ["Chicken Casserole", "Chicken Pot Pie", "Lasagne"]
    assert {kind(i) for i in (63, 156, 171)} == {"hot"}
    assert kind(124) == "hot"  # Good Sweet Muffins: "Serve warm"
