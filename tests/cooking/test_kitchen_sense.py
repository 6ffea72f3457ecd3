"""Kitchen sense, check by check, on real-looking recipes (the issue's cases first)."""

from __future__ import annotations

import pytest

from chefbot.cooking.kitchen_sense import CHECKS, check_kitchen_sense
from chefbot.recipe_format import Recipe


def _result(recipe: Recipe, name: str):
    return next(c for c in check_kitchen_sense(recipe).checks if c.name == name)


def _recipe(title, ingredients, directions) -> Recipe:
    return Recipe(title=title, ingredients=list(ingredients), directions=list(directions))


CHICKEN_BAKE = _recipe(
    "Baked Chicken Thighs",
    ["4 chicken thighs", "1 tsp. salt", "1/2 tsp. pepper", "2 Tbsp. olive oil"],
    [
        "Preheat oven to 400°F (200°C).",
        "Rub chicken thighs with olive oil, salt and pepper.",
        "Bake for 40 minutes until the internal temperature reaches 165°F.",
        "Serve hot.",
    ],
)


def test_every_check_reported_in_order_and_a_sound_recipe_passes():
    report = check_kitchen_sense(CHICKEN_BAKE)
    assert [c.name for c in report.checks] == [n for n, _ in CHECKS]
    assert report.failures == [] and report.safe and report.is_recipe
    d = report.to_dict()
    assert d["safe"] is True and {c["name"] for c in d["checks"]} == {n for n, _ in CHECKS}


def test_raw_egg_salad_is_unsafe():
    # the tuned model's answer in issue 25: 200 g eggs whisked raw with feta, chilled
    salad = _recipe(
        "Egg and Feta Salad",
        ["200 g eggs", "100 g feta", "1 cucumber", "2 tbsp olive oil"],
        ["Whisk the eggs with the feta in a bowl.", "Add the cucumber and olive oil.", "Chill for 1 hour and serve."],
    )
    report = check_kitchen_sense(salad)
    raw = _result(salad, "raw_food")
    assert raw.passed is False and "egg" in raw.reason and "FSIS" in raw.source
    assert not report.safe
    assert _result(salad, "egg_units").passed is True  # a weighed recipe may weigh its eggs


def test_sixty_lines_of_ten_grams_is_not_a_recipe():
    junk = _recipe("Dish", ["10 g"] * 60, ["Mix everything.", "Serve."])
    report = check_kitchen_sense(junk)
    assert report.is_recipe is False
    assert "name" in _result(junk, "is_recipe").reason
    assert check_kitchen_sense(_recipe("Dish", ["1 cup flour"], [])).is_recipe is False


def test_a_400_c_oven_is_implausible_and_both_halves_of_the_mistake_are_caught():
    hot = _recipe(
        "Bread",
        ["500 g flour", "300 ml water", "7 g yeast", "10 g salt"],
        ["Mix and knead.", "Bake at 400°C for 30 minutes."],
    )
    assert _result(hot, "oven_temperature").passed is False
    cool = _recipe(
        "Cookies", ["2 cups flour", "1 cup sugar", "1 cup butter"], ["Mix.", "Bake at 175°F for 10 minutes."]
    )
    assert _result(cool, "oven_temperature").passed is False
    pair = _recipe("Cake", ["2 cups flour", "1 cup sugar"], ["Mix.", "Bake at 350°F (230°C) for 30 minutes."])
    assert "disagree" in _result(pair, "oven_temperature").reason
    slow = _recipe("Ribs", ["2 lb. pork ribs", "1 cup barbecue sauce"], ["Bake at 225°F for 3 hours."])
    assert _result(slow, "oven_temperature").passed is True
    assert _result(_recipe("Salad", ["1 lettuce"], ["Toss."]), "oven_temperature").passed is None


def test_100_g_salt_in_a_small_recipe_is_too_salty_but_normal_salt_and_brines_pass():
    salty = _recipe(
        "Omelette",
        ["3 eggs", "100 g salt", "30 g butter", "50 ml milk"],
        ["Beat eggs with milk and salt.", "Fry in butter for 3 minutes."],
    )
    check = _result(salty, "salt_amount")
    assert check.passed is False and "salt" in check.reason
    normal = _recipe(
        "Omelette", ["3 eggs", "1/2 tsp salt", "30 g butter"], ["Beat eggs with salt.", "Fry in butter for 3 minutes."]
    )
    assert _result(normal, "salt_amount").passed is True
    brine = _recipe(
        "Dill Pickles",
        ["7 c. water", "1 c. salt", "3 c. vinegar"],
        ["Boil water, salt and vinegar.", "Pour over cucumbers."],
    )
    assert _result(brine, "salt_amount").passed is True  # about 9% salt: a brine, held to a brine's limit
    ten_times = _recipe("Dill Pickles", ["7 c. water", "10 c. salt", "3 c. vinegar"], brine.directions)
    assert _result(ten_times, "salt_amount").passed is False
    play_dough = _recipe("Play Doh", ["2 c. flour", "1 c. salt", "1 c. water"], ["Mix and knead."])
    assert _result(play_dough, "salt_amount").passed is None  # no food


def test_salt_for_pasta_water_that_is_poured_off_is_no_share_of_the_dish():
    pasta = _recipe(
        "Pasta with Butter",
        ["100 g Pasta", "10 g Salt", "10 g Butter"],
        ["Boil 1 liter of water in a pot, adding 10 g of salt.", "Cook the pasta 10 minutes; drain.", "Add butter."],
    )
    assert _result(pasta, "salt_amount").passed is None
    kept = _recipe("Pasta with Butter", pasta.ingredients, ["Cook the pasta.", "Add salt and butter."])
    assert _result(kept, "salt_amount").passed is False
    mixed_in = _recipe("Rolls", ["6 c. plain flour with 1 tsp. salt mixed in", "2 c. water"], ["Mix.", "Bake."])
    assert _result(mixed_in, "salt_amount").passed is None  # the flour line is no salt line


def test_raw_chicken_without_cooking_fails_and_cooked_or_canned_meat_passes():
    raw = _recipe(
        "Chicken Salad",
        ["2 chicken breasts", "1/2 c. mayonnaise", "1 stalk celery"],
        ["Dice chicken and celery.", "Mix with mayonnaise and chill."],
    )
    assert _result(raw, "raw_food").passed is False
    cooked = _recipe(
        "Chicken Salad",
        ["2 c. cooked chicken", "1/2 c. mayonnaise", "1 can tuna"],
        ["Dice chicken.", "Mix with mayonnaise and chill."],
    )
    assert _result(cooked, "raw_food").passed is None  # nothing raw to cook
    said = _recipe(
        "Okroshka",
        ["150 g Chicken breast", "200 ml kefir"],
        ["Cut 150 g of boiled chicken breast into cubes.", "Add kefir."],
    )
    assert _result(said, "raw_food").passed is None


def test_raw_flour_eaten_unbaked_is_unsafe():
    dough = _recipe(
        "Edible Dough Bites",
        ["1 c. flour", "1/2 c. butter", "1/2 c. sugar"],
        ["Mix flour, butter and sugar.", "Roll into balls and chill."],
    )
    check = _result(dough, "raw_food")
    assert check.passed is False and "flour" in check.reason and "FDA" in check.source


def test_stated_internal_temperature_below_the_safe_minimum_fails():
    under = _recipe(
        "Roast Chicken",
        ["1 whole chicken", "1 tsp salt"],
        ["Roast at 425°F until a thermometer registers 150°F in the thigh."],
    )
    check = _result(under, "internal_temperature")
    assert check.passed is False and "165" in check.reason
    pork = _recipe(
        "Pork Loin",
        ["2 lb. pork loin", "1 tsp salt"],
        ["Roast at 400°F until the internal temperature is 145°F; rest 3 minutes."],
    )
    assert _result(pork, "internal_temperature").passed is True


def test_cooked_rice_left_out_overnight_fails():
    rice = _recipe(
        "Fried Rice",
        ["2 c. rice", "2 eggs", "2 Tbsp. soy sauce"],
        [
            "Cook rice.",
            "Leave the cooked rice at room temperature overnight.",
            "Fry with eggs and soy sauce for 5 minutes.",
        ],
    )
    assert _result(rice, "food_left_out").passed is False
    fridge = _recipe(
        "Fried Rice", ["2 c. rice", "2 eggs"], ["Cook rice.", "Refrigerate overnight.", "Fry with eggs for 5 minutes."]
    )
    assert _result(fridge, "food_left_out").passed is True


def test_eggs_weighed_in_a_cups_recipe_fail_and_counted_eggs_pass():
    cake = ["2 cups flour", "1 cup sugar", "1 tsp baking powder", "1 cup milk"]
    weighed = _recipe("Cake", [*cake, "150 g eggs"], ["Mix all.", "Bake at 350°F for 30 minutes."])
    assert _result(weighed, "egg_units").passed is False
    counted = _recipe("Cake", [*cake, "3 eggs"], ["Mix all.", "Bake at 350°F for 30 minutes."])
    assert _result(counted, "egg_units").passed is True
    assert _result(_recipe("Cake", [*cake, "1 cup eggs"], ["Mix all."]), "egg_units").passed is False


def test_leavening_far_beyond_a_teaspoon_a_cup_fails():
    muffins = ["2 cups flour", "1/2 cup sugar", "1 cup milk", "1 egg"]
    ok = _recipe("Muffins", [*muffins, "2 tsp baking powder"], ["Mix.", "Bake at 400°F for 20 minutes."])
    assert _result(ok, "leavening_amount").passed is True
    bad = _recipe("Muffins", [*muffins, "1/2 cup baking powder"], ["Mix.", "Bake at 400°F for 20 minutes."])
    assert _result(bad, "leavening_amount").passed is False


def test_unlisted_ingredient_in_the_directions_fails():
    base = ["2 cups flour", "1 cup sugar", "1/2 cup butter", "2 eggs"]
    steps = [
        "Cream butter and sugar.",
        "Beat in eggs, then flour.",
        "Stir in 1 cup chopped walnuts.",
        "Bake at 350°F for 12 minutes.",
    ]
    check = _result(_recipe("Cookies", base, steps), "ingredients_listed")
    assert check.passed is False and "walnut" in check.reason
    assert _result(_recipe("Cookies", [*base, "1 cup walnuts"], steps), "ingredients_listed").passed is True
    optional = [*steps[:2], "Garnish with walnuts if desired.", steps[3]]
    assert _result(_recipe("Cookies", base, optional), "ingredients_listed").passed is True


def test_directions_of_another_dish_fail_but_terse_directions_pass():
    listed = ["1 c. sugar", "1/2 c. evaporated milk", "1/2 c. broken pecans", "2 Tbsp. cocoa"]
    other = ["Brown the ground beef with onion.", "Add tomato sauce and simmer 20 minutes."]
    assert _result(_recipe("Fudge", listed, other), "ingredients_used").passed is False
    assert (
        _result(
            _recipe("Fudge", listed, ["Mix together and boil 5 minutes.", "Pour into pan."]), "ingredients_used"
        ).passed
        is True
    )


def test_serving_before_cooking_and_impossible_times_fail():
    order = _recipe("Stew", ["1 lb. beef", "2 carrots"], ["Serve in bowls.", "Simmer beef and carrots for 2 hours."])
    assert _result(order, "step_order").passed is False
    eggs = _recipe("Boiled Eggs", ["4 eggs"], ["Boil the eggs for 3 hours.", "Peel and serve."])
    assert _result(eggs, "step_times").passed is False
    cookies = _recipe("Sugar Cookies", ["2 cups flour", "1 cup sugar", "1 egg"], ["Mix.", "Bake at 350°F for 4 hours."])
    assert _result(cookies, "step_times").passed is False
    beat = _recipe(
        "Cake", ["2 cups flour", "1 cup sugar", "2 eggs"], ["Beat for 2 minutes.", "Bake at 350°F for 35 minutes."]
    )
    assert _result(beat, "step_times").passed is True


@pytest.mark.parametrize("name", [n for n, _ in CHECKS])
def test_every_failure_says_why_and_cites_a_source(name):
    cases = {
        "is_recipe": _recipe("X", ["10 g"], ["Mix."]),
        "raw_food": _recipe("Tartare", ["200 g ground beef"], ["Mix and serve."]),
        "internal_temperature": _recipe("Burgers", ["1 lb. ground beef"], ["Grill until the thermometer reads 130°F."]),
        "food_left_out": _recipe("Stew", ["1 lb. beef"], ["Simmer 2 hours.", "Leave on the counter overnight."]),
        "oven_temperature": _recipe("Pie", ["1 crust"], ["Bake at 700°F for 30 minutes."]),
        "salt_amount": _recipe("Soup", ["500 ml water", "100 g salt"], ["Boil water with salt for 10 minutes."]),
        "leavening_amount": _recipe(
            "Cake", ["1 cup flour", "3 tbsp baking soda"], ["Mix.", "Bake at 350°F for 30 minutes."]
        ),
        "egg_units": _recipe("Cake", ["1 cup flour", "200 ml eggs"], ["Mix.", "Bake at 350°F for 30 minutes."]),
        "ingredients_used": _recipe(
            "Fudge", ["1 c. sugar", "1 c. milk", "1 c. cocoa"], ["Brown the ground beef with onions.", "Simmer."]
        ),
        "ingredients_listed": _recipe("Rice", ["1 c. rice", "2 c. water"], ["Boil rice.", "Stir in the shrimp."]),
        "step_order": _recipe("Stew", ["1 lb. beef"], ["Serve.", "Simmer the beef 2 hours."]),
        "step_times": _recipe("Eggs", ["2 eggs"], ["Boil the eggs for 5 hours."]),
    }
    check = _result(cases[name], name)
    assert check.passed is False, name
    assert check.reason and check.source


def test_blank_ingredient_lines_do_not_shift_lines_against_their_names():
    # a blank line before raw chicken: the chicken line is still the one reported
    recipe = _recipe(
        "Chicken Salad", ["", "2 chicken breasts", "1 stalk celery"], ["Dice chicken and celery.", "Chill."]
    )
    check = _result(recipe, "raw_food")
    assert check.passed is False and "2 chicken breasts" in check.reason


def test_a_broken_rules_file_names_the_section():
    import copy

    from chefbot.cooking.kitchen_sense import build_rules, rules
    from chefbot.errors import ConfigError

    good = rules().data
    no_heat = {k: v for k, v in good.items() if k != "heat_words"}
    with pytest.raises(ConfigError, match="heat_words"):
        build_rules(no_heat)
    bad = copy.deepcopy(good)
    bad["raw_foods"]["poultry"] = "chicken"
    with pytest.raises(ConfigError, match="raw_foods.poultry"):
        build_rules(bad)
    bad = copy.deepcopy(good)
    bad["raw_foods"]["insects"] = ["cricket"]
    with pytest.raises(ConfigError, match="insects"):
        build_rules(bad)


# ---------------------------------------------------------------- round 2: wrong flags of round 1 on real recipes


@pytest.mark.parametrize(
    "remark",
    [
        "Serve with Cheddar cheese, sour cream, crushed corn chips and chopped avocado.",
        "Also great with vanilla ice cream.",
        "Can add cooked bacon (approximately 8 slices, chopped).",
        "Cream Cheese Icing is best but you may use white icing.",
        "Top with nuts if desired.",
        "I frosted mine with cream cheese frosting.",
        "It will make its own gravy.",
    ],
)
def test_foods_named_only_in_remarks_or_serving_suggestions_are_not_missing_ingredients(remark):
    recipe = _recipe(
        "Apple Cake",
        ["2 c. flour", "1 c. sugar", "2 eggs", "3 apples, sliced"],
        ["Mix flour, sugar and eggs.", "Fold in apples.", "Bake at 350° for 40 minutes.", remark],
    )
    assert _result(recipe, "ingredients_listed").passed is True


def test_a_food_put_in_during_a_step_but_missing_from_the_list_still_fails():
    recipe = _recipe(
        "Shepherd's Pie",
        ["1 lb. ground beef", "1 c. mashed potatoes"],
        ["Fry beef until brown.", "Place potatoes on top.", "Put butter and paprika over potatoes.", "Bake 15 min."],
    )
    check = _result(recipe, "ingredients_listed")
    assert check.passed is False and "butter" in check.reason


def test_nut_meats_salmon_roe_and_egg_substitutes_are_no_raw_food():
    cookies = _recipe("Bonbon Cookies", ["1/2 c. butter", "1/2 c. nut meats (optional)"], ["Mix.", "Chill."])
    roe = _recipe(
        "Roe Snack", ["100 g Salmon Roe", "50 g Cream cheese"], ["Spread cheese on crackers.", "Top with roe."]
    )
    scramblers = _recipe("Ice Cream", ["1 box Egg Scramblers", "2 c. sugar", "1 qt. milk"], ["Mix.", "Freeze."])
    for recipe in (cookies, roe, scramblers):
        assert _result(recipe, "raw_food").passed in (None, True), recipe.title
    raw_salmon = _recipe("Salmon Rolls", ["200 g Salmon", "150 g Cucumber"], ["Slice the salmon.", "Roll up."])
    assert _result(raw_salmon, "raw_food").passed is False


def test_weighed_eggs_must_match_how_the_rest_is_measured():
    ounces = _recipe("Coffee Cake", ["100 g eggs", "1 (8 oz.) pkg. cream cheese", "1 lb. sugar"], ["Mix.", "Bake."])
    assert _result(ounces, "egg_units").passed is False  # grams of egg among ounces and pounds
    grams = _recipe("Cake", ["100 g Eggs", "200 g Flour", "150 g Sugar"], ["Mix.", "Bake."])
    assert _result(grams, "egg_units").passed is True
    alone = _recipe("Boiled Egg", ["50 g Egg"], ["Boil the egg 9 minutes."])
    assert _result(alone, "egg_units").passed is True  # nothing else measured: nothing to disagree with


def test_a_serving_plate_or_a_gratin_after_serving_is_no_step_out_of_order():
    plate = _recipe(
        "Poached Chicken",
        ["4 chicken breasts", "1 c. wine"],
        ["Pound the chicken flat", "Remove chicken to", "serving", "plate", "Simmer in wine 15 minutes"],
    )
    assert _result(plate, "step_order").passed is None  # no serve step at all
    gratin = _recipe(
        "Onion Soup",
        ["4 onions", "1 qt. broth", "4 slices bread", "1 c. cheese"],
        [
            "Simmer onions in broth 30 minutes.",
            "Serve soup with toast on top.",
            "Sprinkle with cheese.",
            "Bake 15 min.",
        ],
    )
    assert _result(gratin, "step_order").passed is True


def test_gravy_made_from_listed_stock_is_no_missing_ingredient_but_gravy_from_nowhere_is():
    made = _recipe(
        "Poutine",
        ["2 lb. potatoes", "2 c. beef stock", "2 Tbsp. flour", "1 c. cheese curds"],
        ["Bake the fries 40 minutes.", "Whisk flour into the stock and simmer until the gravy thickens.", "Top."],
    )
    assert _result(made, "ingredients_listed").passed is True
    nowhere = _recipe("Fries", ["2 lb. potatoes", "1 c. cheese curds"], ["Bake the fries.", "Ladle on hot gravy."])
    assert _result(nowhere, "ingredients_listed").passed is False


def test_degrees_celsius_in_words_are_celsius():
    recipe = _recipe(
        "Muffins", ["200 g Flour", "100 g Sugar", "2 pcs Egg"], ["Mix.", "Preheat the oven to 360 degrees Celsius."]
    )
    check = _result(recipe, "oven_temperature")
    assert check.passed is False and "360" in check.reason


def test_a_time_in_the_fridge_is_no_frying_time():
    duck = _recipe(
        "Duck Confit",
        ["4 duck legs", "1/4 c. salt"],
        ["Rub the duck with salt.", "After the duck has been in the fridge for 24 hours, rub off the salt."],
    )
    assert _result(duck, "step_times").passed is not False
