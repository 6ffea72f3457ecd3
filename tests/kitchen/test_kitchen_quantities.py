"""Ingredient quantities: reading, scaling with a cook's rounding and units, writing back."""

from __future__ import annotations

from fractions import Fraction

import pytest

from chefbot.cooking.quantities import (
    factor,
    format_line,
    parse_line,
    scale,
    scale_line,
)


@pytest.mark.parametrize(
    "line, low, high, unit, rest",
    [
        ("2 cups flour", 2, None, "cup", "flour"),
        ("1 1/2 cups sugar", Fraction(3, 2), None, "cup", "sugar"),
        ("½ tsp salt", Fraction(1, 2), None, "tsp", "salt"),
        ("1½ cups water", Fraction(3, 2), None, "cup", "water"),
        ("- 2-3 large eggs, beaten", 2, 3, None, "large eggs, beaten"),
        ("10 to 12 mushrooms", 10, 12, None, "mushrooms"),
        ("500g minced beef", 500, None, "g", "minced beef"),
        ("1.5 l water", Fraction(3, 2), None, "l", "water"),
        ("2 T sugar", 2, None, "tbsp", "sugar"),
        ("2 t baking soda", 2, None, "tsp", "baking soda"),
        ("1 c. flour", 1, None, "cup", "flour"),
        ("3 carrots", 3, None, None, "carrots"),  # the "c" of carrots is no cup
        ("1 (14 oz) can tomatoes", 1, None, "can", "tomatoes"),
        ("3 cloves garlic", 3, None, "clove", "garlic"),
        ("a cup of milk", 1, None, "cup", "of milk"),
        ("two onions", 2, None, None, "onions"),
        ("8 fl oz cream", 8, None, "fl oz", "cream"),
    ],
)
def test_parse(line, low, high, unit, rest):
    p = parse_line(line)
    assert (p.low, p.high, p.unit, p.rest) == (low, high, unit, rest)


@pytest.mark.parametrize(
    "line", ["a pinch of salt", "salt and pepper to taste", "a handful of parsley", "Fresh basil leaves", "3-1 eggs"]
)
def test_text_only_lines_are_kept(line):
    assert not parse_line(line).scalable
    assert scale_line(line, 4, 8) == line


@pytest.mark.parametrize(
    "line, frm, to, expected",
    [
        ("2 cups flour", 4, 8, "4 cups flour"),  # the example
        ("1 1/2 cups sugar", 2, 1, "3/4 cup sugar"),
        ("½ tsp salt", 1, 2, "1 tsp salt"),
        ("2-3 large eggs, beaten", 2, 4, "4-6 large eggs, beaten"),
        ("1 tsp vanilla", 1, 3, "1 tbsp vanilla"),  # 3 tsp -> 1 tbsp
        ("8 tbsp butter", 1, 2, "1 cup butter"),  # 16 tbsp -> 1 cup
        ("2 tbsp oil", 1, 2, "1/4 cup oil"),  # 4 tbsp -> 1/4 cup
        ("5 tbsp oil", 1, 1, "5 tbsp oil"),  # not "1/3 cup" (6% off): stays
        ("1 tbsp butter", 2, 1, "1 1/2 tsp butter"),  # demoted
        ("1/4 cup milk", 2, 1, "2 tbsp milk"),  # 1/8 cup -> 2 tbsp
        ("2 tsp cumin", 1, 2, "4 tsp cumin"),  # not "1 1/3 tbsp"
        ("500 g beef", 1, 2, "1 kg beef"),  # 1000 g -> 1 kg
        ("250 ml milk", 1, 6, "1.5 l milk"),
        ("1 kg potatoes", 2, 1, "500 g potatoes"),
        ("8 oz cheese", 1, 3, "1 1/2 lb cheese"),
        ("1 quart stock", 1, 2, "2 quarts stock"),  # off the ladder, clean: kept
        ("2 large eggs", 2, 1, "1 large egg"),
        ("2 tomatoes, diced", 2, 1, "1 tomato, diced"),
        ("1 egg", 1, 2, "2 eggs"),
        ("1 egg", 2, 3, "1 1/2 eggs"),
        ("3 cloves garlic", 3, 1, "1 clove garlic"),
        ("1 (14 oz) can tomatoes", 1, 2, "2 (14 oz) cans tomatoes"),
        ("1 c. flour", 1, 2, "2 cups flour"),
        ("a cup of milk", 1, 2, "2 cups of milk"),
        ("10 to 12 mushrooms", 2, 1, "5-6 mushrooms"),
        ("1/8 tsp cayenne", 2, 1, "≈ 1/8 tsp cayenne"),  # never below the smallest spoon, and it says so
        # Rounding is never silent (issue 28): the exact amount as a sum down the ladder, or "≈".
        ("1 1/4 cups milk", 2, 5, "3 cups + 2 tbsp milk"),  # 3 1/8 cups, not "3 cups"
        ("1 cup sugar", 6, 7, "1 cup + 2 1/2 tbsp sugar"),  # 1 1/6 cups (2 2/3 tbsp: 0.9% off)
        ("3 eggs", 4, 10, "7 1/2 eggs"),  # exact halves stay, not round(7.5) = 8
        ("3 eggs", 4, 7, "5 1/4 eggs"),
        ("4 eggs", 5, 7, "≈ 6 eggs"),  # 5.6: no cook's fraction from 3 is exact (5 2/3 is 1.2% off)
        ("3 g saffron", 3, 1, "1 g saffron"),
        ("5 g yeast", 3, 2, "≈ 3.5 g yeast"),  # 3 1/3 g on a 0.5 g scale
    ],
)
def test_scale(line, frm, to, expected):
    assert scale_line(line, frm, to) == expected


@pytest.mark.parametrize("text", ["3 cups + 2 tbsp milk", "≈ 1/8 tsp cayenne", "≈ 2-3 cups stock", "7 1/2 eggs"])
def test_what_format_line_writes_reads_back(text):
    line = parse_line(text)
    assert line.scalable and format_line(line) == text
    assert scale_line(text, 2, 2) == text and format_line(scale(line, Fraction(1))) == text


def test_a_sum_scales_as_its_total():
    line = parse_line("3 cups + 2 tbsp milk")  # 3 1/8 cups
    assert line.extra == ((2, "tbsp"),) and not line.approx
    assert scale_line("3 cups + 2 tbsp milk", 5, 2) == "1 1/4 cups milk"
    assert format_line(scale(parse_line("1 lb + 4 oz beef"), Fraction(1))) == "1 1/4 lb beef"
    assert parse_line("2 cups + 2 cloves garlic").extra == ()  # a count is never part of a sum of measures


def test_same_servings_keep_the_line_as_written():
    assert scale_line("3 tsp sugar", 4, 4) == "3 tsp sugar"


def test_units_are_promoted_without_scaling():
    assert format_line(scale(parse_line("3 tsp sugar"), Fraction(1))) == "1 tbsp sugar"
    assert format_line(scale(parse_line("16 tbsp butter"), Fraction(1))) == "1 cup butter"
    assert format_line(scale(parse_line("1000 g flour"), Fraction(1))) == "1 kg flour"


def test_conversion_factors_come_from_pint():
    assert factor("tbsp") == pytest.approx(3 * factor("tsp"))
    assert factor("cup") == pytest.approx(16 * factor("tbsp"))
    assert factor("cup") == pytest.approx(236.588, rel=1e-4)
    assert factor("lb") == pytest.approx(453.592, rel=1e-4)
