"""Scaling a range scales both ends ("2-3 cups" doubled is "4-6 cups", never "4-3 cups"), in one unit."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chefbot.cooking.quantities import UNITS, factor, parse_line, scale, scale_line


@pytest.mark.parametrize("line,servings,expected", [
    ("2-3 cups flour", (4, 8), "4-6 cups flour"),
    ("2-3 cups flour", (4, 2), "1-1 1/2 cups flour"),
    ("2-3 large eggs", (2, 4), "4-6 large eggs"),  # a count: no unit to convert
    ("1-2 tbsp butter", (1, 8), "1/2-1 cup butter"),  # both ends move to cups together
    ("2 to 3 tsp salt", (1, 3), "2-3 tbsp salt"),
    ("100-150 g sugar", (2, 4), "200-300 g sugar"),
    ("1-2 (14 oz) cans tomatoes", (2, 4), "2-4 (14 oz) cans tomatoes"),
])
def test_both_ends_of_a_range_are_scaled(line: str, servings: tuple[int, int], expected: str):
    assert scale_line(line, *servings) == expected


@settings(max_examples=150, deadline=None)
@given(low=st.integers(1, 12), extra=st.integers(1, 6), unit=st.sampled_from(["cups", "tbsp", "tsp", "g", "oz", "ml"]),
       by=st.sampled_from([Fraction(1, 2), Fraction(2), Fraction(3), Fraction(4), Fraction(3, 2)]))
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
