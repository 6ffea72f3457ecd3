"""Scaling a range scales both ends ("2-3 cups" doubled is "4-6 cups", never "4-3 cups"), in one unit."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chefbot.cooking.quantities import UNITS, factor, parse_line, scale, scale_line


@pytest.mark.parametrize(
    "line,servings,expected",
    [
        ("2-3 cups flour", (4, 8), "4-6 cups flour"),
        ("2-3 cups flour", (4, 2), "1-1 1/2 cups flour"),
        ("2-3 large eggs", (2, 4), "4-6 large eggs"),  # a count: no unit to convert
        ("1-2 tbsp butter", (1, 8), "1/2-1 cup butter"),  # both ends move to cups together
        ("2 to 3 tsp salt", (1, 3), "2-3 tbsp salt"),
        ("100-150 g sugar", (2, 4), "200-300 g sugar"),
        ("1-2 (14 oz) cans tomatoes", (2, 4), "2-4 (14 oz) cans tomatoes"),
    ],
)
def test_both_ends_of_a_range_are_scaled(line: str, servings: tuple[int, int], expected: str):
    assert scale_line(line, *servings) == expected


@settings(max_examples=150, deadline=None)
@given(
    low=st.integers(1, 12),
    extra=st.integers(1, 6),
    unit=st.sampled_from(["cups", "tbsp", "tsp", "g", "oz", "ml"]),
    by=st.sampled_from([Fraction(1, 2), Fraction(2), Fraction(3), Fraction(4), Fraction(3, 2)]),
)
def test_a_scaled_range_keeps_its_order_unit_and_ratio(low: int, extra: int, unit: str, by: Fraction):
    line = parse_line(f"{low}-{low + extra} {unit} flour")
    out = scale(line, by)
    assert out.high is not None and out.low <= out.high  # one unit for both ends, still in order
    assert out.unit in UNITS
    # each end is the scaled amount, up to the cook's rounding (5% or one smallest step of the unit)
    for before, after in ((line.low, out.low), (line.high, out.high)):
        wanted = float(before * by) * factor(line.unit)
        got = float(after) * factor(out.unit)
        assert got == pytest.approx(wanted, rel=0.2, abs=factor(out.unit) / 8 + 0.5), (line, by, out)


@pytest.mark.parametrize(
    "base,unit,shown",
    [
        # metric on a scale or a jug: 0.5 steps below 10 (never 0), whole numbers to 250, then 5s; l and kg to 0.01
        (0.2, "g", Fraction(1, 2)),
        (3.3, "g", Fraction(7, 2)),
        (9.8, "g", Fraction(10)),
        (10.4, "g", Fraction(10)),
        (249.4, "g", Fraction(249)),
        (251, "g", Fraction(250)),
        (253, "g", Fraction(255)),
        (1234.5, "kg", Fraction(123, 100)),
        (1, "kg", Fraction(1, 100)),
        (2, "l", Fraction(1, 100)),
        (1500, "l", Fraction(3, 2)),
        (0.1, "ml", Fraction(1, 2)),
    ],
)
def test_metric_rounding(base: float, unit: str, shown: Fraction):
    from chefbot.cooking.quantities import in_unit

    assert in_unit(base, unit) == shown


def test_us_rounding_and_counts():
    from chefbot.cooking.quantities import in_unit, round_count, to_fraction

    tsp = factor("tsp")
    assert in_unit(10.4 * tsp, "tsp") == 10 and in_unit(9.9 * tsp, "tsp") == Fraction(79, 8)  # eighths below 10
    assert in_unit(0.01 * tsp, "tsp") == Fraction(1, 8)  # never less than the smallest measure
    assert in_unit(1.2 * factor("tbsp"), "tbsp") == 1 and in_unit(0.1 * factor("cup"), "cup") == Fraction(1, 4)
    assert round_count(Fraction(17, 5)) == 3 and round_count(Fraction(3)) == 3
    assert round_count(Fraction(1, 10)) == Fraction(1, 4)
    assert round_count(Fraction(29, 10)) == 3 and round_count(Fraction(5, 2)) == Fraction(5, 2)
    assert to_fraction("0,75") == Fraction(3, 4) and to_fraction("1 1/2") == Fraction(3, 2)


@pytest.mark.parametrize(
    "rest,plural,said",
    [
        ("egg", True, "eggs"),
        ("cherry", True, "cherries"),
        ("tomato", True, "tomatoes"),
        ("peach", True, "peaches"),
        ("dish", True, "dishes"),
        ("day", True, "days"),
        ("glass", False, "glass"),
        ("cherries", False, "cherry"),
        ("tomatoes", False, "tomato"),
        ("peaches", False, "peach"),
        ("Large Eggs, beaten", False, "Large Egg, beaten"),
        ("onion (chopped)", True, "onions (chopped)"),
        ("eggs", True, "eggs"),
    ],
)
def test_the_noun_agrees_with_the_new_count(rest: str, plural: bool, said: str):
    from chefbot.cooking.quantities import agree

    assert agree(rest, plural) == said


@pytest.mark.parametrize(
    "line,servings,expected",
    [
        ("1 egg", (4, 1), "1/4 egg"),
        ("2 potatoes", (2, 1), "1 potato"),
        ("1 cherry", (1, 2), "2 cherries"),
        ("3 g salt", (10, 1), "≈ 0.5 g salt"),  # 0.3 g: the smallest step, and it says so
        ("500 g beef", (1, 400), "200 kg beef"),
        ("0,5 l cream", (1, 2), "1 l cream"),
        ("a cup of milk", (1, 2), "2 cups of milk"),
        ("an egg", (1, 3), "an egg"),
        ("a pinch of salt", (1, 2), "a pinch of salt"),
        ("a dash of pepper", (1, 2), "a dash of pepper"),
        ("3-2 cups flour", (1, 2), "3-2 cups flour"),
        ("1⁄2 cup sugar", (1, 2), "1 cup sugar"),
        ("2 ½ cups flour", (1, 2), "5 cups flour"),
    ],
)
def test_scaled_lines(line: str, servings: tuple[int, int], expected: str):
    assert scale_line(line, *servings) == expected
