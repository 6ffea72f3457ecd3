"""Recipe checks on hand-made answers."""

from __future__ import annotations

from chefbot.evaluate.checks import looks_cut, oven_temperatures, recipe_checks, repetition

GOOD = """# Lemon Chicken

## Ingredients
- 2 chicken breasts
- 1 lemon
- salt and pepper
- 1 cup heavy cream

## Directions
1. Preheat the oven to 375°F (190°C).
2. Season the chicken with salt, pepper and lemon juice.
3. Bake for 25 minutes until the internal temperature reaches 165°F.
"""


def test_good_recipe():
    c = recipe_checks(GOOD, ["chicken breasts", "lemons", "garlic"], "stop")
    assert c["well_formed"] and c["numbered_directions"]
    assert c["ner_used"] == 2 / 3 and c["ner_missing"] == ["garlic"]
    assert c["introduced"] == 1 and c["introduced_items"] == ["1 cup heavy cream"]  # salt/pepper are staples
    assert c["oven_temp_ok"] is True and c["oven_temp_consistent"] is True  # 165°F internal is ignored
    assert c["stopped"] and c["finish_source"] == "reported" and not c["degenerate"]


def test_temperatures():
    assert oven_temperatures("Preheat oven to 350 degrees F (180 degrees C).")[1:] == (True, True)
    assert oven_temperatures("Bake at 350°F (230°C).")[2] is False  # inconsistent pair
    assert oven_temperatures("Bake at 900°F.")[1] is False
    assert oven_temperatures("Bake at 200C for an hour.")[1] is True
    assert oven_temperatures("Add 2 C flour.")[0] == []  # cups, not Celsius
    assert oven_temperatures("Fry until the thermometer reads 350°F. Bake the rest.")[0] == []


def test_repetition_and_cut():
    loop = "\n".join(["1. Stir the sauce until thick."] * 10)
    rep4, dup = repetition(loop)
    assert rep4 > 0.5 and dup == 0.9
    assert recipe_checks(loop, ["sauce"])["degenerate"]
    assert looks_cut("3. Bake for 20 minutes and then")
    assert not looks_cut("3. Bake for 20 minutes.")
    assert recipe_checks("1. Bake the", [], "length")["stopped"] is False


def test_empty_prediction_scores_zero_without_crashing():
    c = recipe_checks("", ["flour"])
    assert c["well_formed"] is False and c["ner_used"] == 0.0
    assert c["introduced"] is None and c["oven_temp_ok"] is None and c["stopped"] is True
