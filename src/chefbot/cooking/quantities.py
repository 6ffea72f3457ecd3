"""Ingredient quantities: read "1 1/2 cups flour", scale it to other servings, write it back.

``parse_line`` splits a line into an amount (a number or a range, as exact fractions),
a unit and the rest ("2-3 large eggs, beaten" -> 2..3, no unit, "large eggs, beaten");
lines without a leading amount ("a pinch of salt", "salt to taste") keep their text and
are never scaled. ``scale_line`` multiplies the amount and writes it in the unit a cook
would use: rounded to measuring-cup fractions (1/4, 1/3, 1/2, ...), promoted or demoted
along the unit's ladder (3 tsp -> 1 tbsp, 16 tbsp -> 1 cup, 1/8 cup -> 2 tbsp, 1000 g ->
1 kg) only when the new unit gives a clean number. ``Amount`` values convert between
units of one dimension (volume, mass) so the shopping list can add them up.

Rounding is never silent: an amount written more than 1% (``EXACT``) away from the exact one is
written as a sum down the unit's ladder when that is exact ("3 1/8 cups" -> "3 cups + 2 tbsp",
``Line.extra``), else marked approximate ("≈ 1/8 tsp", ``Line.approx``); ``measure`` decides.

Libraries: the conversion factors come from ``pint`` (its US customary and SI definitions:
1 cup = 236.588 ml, 1 oz = 28.3495 g). Its parser is not used: it reads physics notation,
not "1 1/2 c." or "½"; and ``ingredient-parser-nlp``, which does read ingredient lines,
needs NLTK's tagger downloaded at run time, which chefbot's offline installs cannot do.
So the reading and the cooks' rounding rules are written here, tested line by line in
``tests/kitchen/test_kitchen_quantities.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cache

# canonical unit -> (dimension, pint unit or None for a count, singular, plural, aliases)
# A count unit ("clove", "can") scales but never converts.  Aliases are matched case-insensitively
# except the one-letter ones, where "T" is a tablespoon and "t" a teaspoon.
UNITS: dict[str, tuple[str, str | None, str, str, tuple[str, ...]]] = {
    "tsp": ("volume", "teaspoon", "tsp", "tsp", ("tsp", "tsps", "teaspoon", "teaspoons", "tspn")),
    "tbsp": (
        "volume",
        "tablespoon",
        "tbsp",
        "tbsp",
        ("tbsp", "tbsps", "tbs", "tbl", "tbls", "tablespoon", "tablespoons"),
    ),
    "cup": ("volume", "cup", "cup", "cups", ("cup", "cups", "c")),
    "fl oz": ("volume", "fluid_ounce", "fl oz", "fl oz", ("fl oz", "fl. oz", "fluid ounce", "fluid ounces", "fl.oz")),
    "pint": ("volume", "pint", "pint", "pints", ("pint", "pints", "pt")),
    "quart": ("volume", "quart", "quart", "quarts", ("quart", "quarts", "qt", "qts")),
    "gallon": ("volume", "gallon", "gallon", "gallons", ("gallon", "gallons", "gal")),
    "ml": ("volume", "milliliter", "ml", "ml", ("ml", "milliliter", "milliliters", "millilitre", "millilitres")),
    "dl": ("volume", "deciliter", "dl", "dl", ("dl", "deciliter", "deciliters", "decilitre", "decilitres")),
    "l": ("volume", "liter", "l", "l", ("l", "liter", "liters", "litre", "litres")),
    "g": ("mass", "gram", "g", "g", ("g", "gr", "gram", "grams", "gramme", "grammes")),
    "kg": ("mass", "kilogram", "kg", "kg", ("kg", "kilo", "kilos", "kilogram", "kilograms")),
    "oz": ("mass", "ounce", "oz", "oz", ("oz", "ounce", "ounces")),
    "lb": ("mass", "pound", "lb", "lb", ("lb", "lbs", "pound", "pounds")),
}
COUNT_UNITS = {  # singular -> plural
    "clove": "cloves",
    "can": "cans",
    "package": "packages",
    "pkg": "pkg",
    "slice": "slices",
    "stick": "sticks",
    "piece": "pieces",
    "bunch": "bunches",
    "sprig": "sprigs",
    "head": "heads",
    "jar": "jars",
    "bottle": "bottles",
    "box": "boxes",
    "bag": "bags",
    "packet": "packets",
    "envelope": "envelopes",
    "pinch": "pinches",
    "dash": "dashes",
    "handful": "handfuls",
    "stalk": "stalks",
    "fillet": "fillets",
    "loaf": "loaves",
    "sheet": "sheets",
    "cube": "cubes",
    "drop": "drops",
    "container": "containers",
    "carton": "cartons",
    "ear": "ears",
}
FOR_UNITS = {"T": "tbsp", "t": "tsp"}  # case-sensitive one-letter aliases
# Ladders a scaled amount may move along, smallest first: (unit, smallest value shown in it, fractions allowed).
EIGHTHS = tuple(Fraction(n, 8) for n in range(8)) + (Fraction(1, 3), Fraction(2, 3))
CUPS = (Fraction(0), Fraction(1, 4), Fraction(1, 3), Fraction(1, 2), Fraction(2, 3), Fraction(3, 4))
HALVES = (Fraction(0), Fraction(1, 2))
LADDERS = {
    "us_volume": (("tsp", Fraction(0), EIGHTHS), ("tbsp", Fraction(1), HALVES), ("cup", Fraction(1, 4), CUPS)),
    "us_mass": (("oz", Fraction(0), CUPS), ("lb", Fraction(1), CUPS)),
    "metric_volume": (("ml", Fraction(0), ()), ("l", Fraction(1), ())),
    "metric_mass": (("g", Fraction(0), ()), ("kg", Fraction(1), ())),
}
LADDER_OF = {
    "tsp": "us_volume",
    "tbsp": "us_volume",
    "cup": "us_volume",
    "fl oz": "us_volume",
    "pint": "us_volume",
    "quart": "us_volume",
    "gallon": "us_volume",
    "oz": "us_mass",
    "lb": "us_mass",
    "ml": "metric_volume",
    "dl": "metric_volume",
    "l": "metric_volume",
    "g": "metric_mass",
    "kg": "metric_mass",
}
TOLERANCE = 0.05  # a value within 5% of a cooking fraction is written in that unit (with the rest added, see EXACT)
EXACT = 0.01  # an amount written within 1% of the exact one is written plainly; further off, the cook is told
APPROX = "≈"

VULGAR = {
    "½": "1/2",
    "⅓": "1/3",
    "⅔": "2/3",
    "¼": "1/4",
    "¾": "3/4",
    "⅕": "1/5",
    "⅖": "2/5",
    "⅗": "3/5",
    "⅘": "4/5",
    "⅙": "1/6",
    "⅚": "5/6",
    "⅛": "1/8",
    "⅜": "3/8",
    "⅝": "5/8",
    "⅞": "7/8",
}
WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "half": Fraction(1, 2),
    "a": 1,
    "an": 1,
}
_NUM = r"(?:\d+\s+\d+/\d+|\d+/\d+|\d+(?:[.,]\d+)?)"
_AMOUNT_RE = re.compile(rf"^\s*(?P<low>{_NUM})(?:\s*(?:-|–|—|to|or)\s*(?P<high>{_NUM}))?(?![\d/])", re.I)
_WORD_RE = re.compile(r"^\s*(?P<word>[A-Za-z]+)\b", re.I)
_BULLET_RE = re.compile(r"^\s*(?:[-*•+]\s+)")
_SIZE_RE = re.compile(r"^\s*(\([^)]*\))")  # "1 (14 oz) can"
_APPROX_RE = re.compile(rf"^\s*[{APPROX}~]\s*")  # "≈ 3 cups", as format_line writes a rounded amount
_EXTRA_RE = re.compile(rf"^\s*\+\s*(?P<n>{_NUM})\s*")  # "+ 2 tbsp", as format_line writes a sum


@dataclass(frozen=True)
class Line:
    """One ingredient line: ``low`` (and ``high`` for a range) in ``unit``, then ``rest``; ``low`` None: text only."""

    text: str  # the line as given (without a list bullet)
    low: Fraction | None = None
    high: Fraction | None = None
    unit: str | None = None  # a key of UNITS or COUNT_UNITS, None for a plain count ("2 eggs")
    size: str = ""  # "(14 oz)" between the amount and the unit
    rest: str = ""  # "flour", "large eggs, beaten"
    extra: tuple[tuple[Fraction, str], ...] = ()  # more of a smaller unit: "3 cups + 2 tbsp" is 3 cup + ((2, tbsp),)
    approx: bool = False  # the amount is rounded by more than EXACT: written "≈ 3 cups"

    @property
    def scalable(self) -> bool:
        return self.low is not None


def to_fraction(text: str) -> Fraction:
    """ "1 1/2" -> 3/2, "0.75" and "0,75" -> 3/4, "3" -> 3."""
    text = text.strip().replace(",", ".")
    parts = text.split()
    if len(parts) == 2:
        return Fraction(parts[0]) + Fraction(parts[1])
    return Fraction(text).limit_denominator(1000)


def normalize_text(line: str) -> str:
    """Unicode fractions as ASCII ("1½" -> "1 1/2"), the fraction slash as "/", no list bullet."""
    line = _BULLET_RE.sub("", line.replace("\u2044", "/"))
    for v, a in VULGAR.items():
        line = re.sub(rf"(\d){v}", rf"\1 {a}", line).replace(v, a)
    return line.strip()


def _unit_at(text: str) -> tuple[str | None, str]:
    """The unit at the start of ``text`` (with an optional "." and "of") and what follows it."""
    m = re.match(r"^\s*([A-Za-z]+(?:\.?\s?[A-Za-z]+)?)", text)
    if not m:
        return None, text
    for candidate in (m.group(1), m.group(1).split()[0].rstrip(".")):  # two words ("fl oz"), then one
        word = candidate.rstrip(".")
        key = FOR_UNITS.get(word)
        if key is None:
            low = word.lower()
            key = next((k for k, spec in UNITS.items() if low in spec[4]), None)
            if key is None:
                key = next((k for k, p in COUNT_UNITS.items() if low in (k, p)), None)
        if key is not None:
            after = text[m.start(1) + len(candidate) :]
            after = re.sub(r"^\.", "", after)
            if re.match(r"^[A-Za-z]", after):  # "cups" must end the word: "c" of "carrots" is no unit
                continue
            return key, after.strip()
    return None, text


def parse_line(line: str) -> Line:
    """Read one ingredient line; a line whose amount cannot be read keeps its text (``low`` None).  What
    ``format_line`` writes reads back the same: "≈ 3 cups milk" (approx), "3 cups + 2 tbsp milk" (extra)."""
    text = normalize_text(line)
    approx = _APPROX_RE.match(text)
    if approx:
        line_read = parse_line(text[approx.end() :])
        return replace(line_read, text=text, approx=line_read.scalable)
    m = _AMOUNT_RE.match(text)
    low = high = None
    if m:
        try:
            low = to_fraction(m.group("low"))
            high = to_fraction(m.group("high")) if m.group("high") else None
        except (ValueError, ZeroDivisionError):
            return Line(text)
        after = text[m.end() :]
    else:
        w = _WORD_RE.match(text)
        if not w or w.group("word").lower() not in WORDS:
            return Line(text)
        after = text[w.end() :]
        low = Fraction(WORDS[w.group("word").lower()])
        if w.group("word").lower() in ("a", "an"):
            unit, _rest = _unit_at(after)
            # "a cup of milk" is one cup; "a pinch of salt", "a few leaves" stay text.
            if unit is None or unit in ("pinch", "dash", "handful"):
                return Line(text)
    if high is not None and high < low:
        return Line(text)
    size = ""
    sm = _SIZE_RE.match(after)
    if sm:
        size, after = sm.group(1), after[sm.end() :]
    unit, rest = _unit_at(after)
    extra: list[tuple[Fraction, str]] = []
    while unit in UNITS and high is None and (more := _EXTRA_RE.match(rest)):
        more_unit, more_rest = _unit_at(rest[more.end() :])
        if more_unit not in UNITS or UNITS[more_unit][0] != UNITS[unit][0]:
            break
        extra.append((to_fraction(more.group("n")), more_unit))
        rest = more_rest
    return Line(text, low, high, unit, size, rest.strip(), tuple(extra))


# -- conversions -----------------------------------------------------------------------------------
@cache
def _registry():
    import pint  # 0.3 s: only when a unit is converted

    return pint.UnitRegistry()


@cache
def factor(unit: str) -> float:
    """How many base units (ml for volume, g for mass) one ``unit`` is."""
    dim, pint_name, *_ = UNITS[unit]
    reg = _registry()
    return float(reg.Quantity(1, pint_name).to("milliliter" if dim == "volume" else "gram").magnitude)


def nearest_fraction(value: float, fractions: tuple[Fraction, ...]) -> Fraction:
    """``value`` as a whole number plus one of ``fractions`` (the nearest such number)."""
    whole = int(value)
    return min((Fraction(whole + d) + f for d in (0, 1) for f in fractions), key=lambda c: abs(float(c) - value))


def fractions_for(unit: str) -> tuple[Fraction, ...]:
    """The fractions a unit is written with: eighths of a tsp, halves of a tbsp, cup fractions otherwise."""
    for u, _threshold, fractions in LADDERS.get(LADDER_OF.get(unit, ""), ()):
        if u == unit:
            return fractions
    return CUPS


def in_unit(base: float, unit: str) -> Fraction:
    """``base`` (ml or g) in ``unit``, rounded as that unit is measured: metric on a scale or jug (0.5 steps
    below 10, whole to 250, then 5s; l and kg to 0.01), the others to their fractions (whole from 10)."""
    v = base / factor(unit)
    if LADDER_OF.get(unit, "").startswith("metric"):
        if unit in ("l", "kg"):
            return Fraction(round(v * 100), 100) or Fraction(1, 100)
        if v < 10:
            return Fraction(round(v * 2), 2) or Fraction(1, 2)
        return Fraction(round(v)) if v < 250 else Fraction(round(v / 5) * 5)
    fractions = fractions_for(unit)
    smallest = min(f for f in fractions if f > 0)
    return Fraction(round(v)) if v >= 10 else max(nearest_fraction(v, fractions), smallest)


def _clean(base: float, unit: str) -> Fraction | None:
    """``base`` in ``unit`` when the rounded number is within TOLERANCE of the exact one, else None."""
    exact = base / factor(unit)
    r = in_unit(base, unit)
    return r if abs(float(r) - exact) <= TOLERANCE * exact else None


def best_unit(base: float, unit: str) -> tuple[Fraction, str]:
    """``base`` (ml or g) in the unit of ``unit``'s ladder that gives a clean number, largest first (3 tsp ->
    1 tbsp, 5 tbsp stays 5 tbsp, not 1/3 cup); a unit off the ladder (fl oz, quart, dl) is kept when its
    number is clean.  Metric: kg and l from 1, g and ml below."""
    ladder = LADDERS[LADDER_OF[unit]]
    if all(unit != u for u, *_ in ladder):
        clean = _clean(base, unit)
        if clean is not None:
            return clean, unit
    for u, threshold, _fractions in reversed(ladder):
        if base / factor(u) >= threshold:
            clean = in_unit(base, u) if LADDER_OF[u].startswith("metric") else _clean(base, u)
            if clean is not None:
                return clean, u
    return in_unit(base, ladder[0][0]), ladder[0][0]


def rounded(shown: Fraction | float, exact: Fraction | float) -> bool:
    """Whether ``shown`` is more than EXACT (1%) away from ``exact``: the cook must be told."""
    return abs(float(shown) - float(exact)) > EXACT * abs(float(exact))


def round_count(value: Fraction) -> Fraction:
    """Eggs, cloves, cans: quarters, thirds and halves below 3; from 3 such a fraction only when it is exact
    (7 1/2 eggs), else the nearest whole number (halves up)."""
    near = max(nearest_fraction(float(value), CUPS), Fraction(1, 4))
    if value < 3 or not rounded(near, value):
        return near
    return Fraction(int(value + Fraction(1, 2)))


def measure(base: float, unit: str) -> tuple[tuple[tuple[Fraction, str], ...], bool]:
    """``base`` (ml or g) as a cook writes it from ``unit``: its parts (one, or a sum down the ladder:
    3 1/8 cups -> 3 cup + 2 tbsp) and whether it is still more than EXACT off (then written "≈")."""
    value, best = best_unit(base, unit)
    if not rounded(float(value) * factor(best), base):
        return ((value, best),), False
    ladder = [u for u, *_ in LADDERS[LADDER_OF[best]]]
    for i in range(len(ladder) - 1, 0, -1):  # the largest unit first: whole measures of it, the rest smaller
        big = ladder[i]
        whole = Fraction(int(base / factor(big)))
        whole = max((whole + f for f in fractions_for(big) if (whole + f) * factor(big) <= base), default=whole)
        rest = base - float(whole) * factor(big)
        if whole <= 0 or rest <= 0:
            continue
        for small in reversed(ladder[:i]):
            more = in_unit(rest, small)
            if not rounded(float(whole) * factor(big) + float(more) * factor(small), base):
                return ((whole, big), (more, small)), False
    return ((value, best),), True


_ES_RE = re.compile(r"(?:[^aeiou]o|ch|sh|x|s|z)$")


def agree(rest: str, plural: bool) -> str:
    """The head noun of ``rest`` (the last word before a comma or bracket) in the singular or plural, so
    that "2 large eggs" halves to "1 large egg" (English rules for the common endings)."""
    m = re.match(r"^([^,(]*?)([A-Za-z]+)(\s*(?:[,(].*)?)$", rest)
    if not m:
        return rest
    head, word, tail = m.group(1), m.group(2), m.group(3)
    low = word.lower()
    if plural and not low.endswith("s"):
        if re.search(r"[^aeiou]y$", low):
            word = word[:-1] + "ies"
        else:
            word += "es" if _ES_RE.search(low) else "s"
    elif not plural and low.endswith("s") and not low.endswith("ss"):
        if low.endswith("ies"):
            word = word[:-3] + "y"
        elif re.search(r"(?:[^aeiou]oes|ches|shes|xes)$", low):
            word = word[:-2]
        else:
            word = word[:-1]
    return head + word + tail


def scale(line: Line, by: Fraction) -> Line:
    """The line with its amount multiplied by ``by`` and written in a cook's unit (text-only lines as they are);
    rounded by more than EXACT, it says so: a sum ("3 cups + 2 tbsp") or ``approx`` ("≈ 3 cups")."""
    if not line.scalable:
        return line
    low = line.low * by
    high = line.high * by if line.high is not None else None
    if line.unit in UNITS:
        base = float(low) * factor(line.unit) + sum(float(n * by) * factor(u) for n, u in line.extra)
        if high is None:
            parts, approx = measure(base, line.unit)
            return replace(line, low=parts[0][0], unit=parts[0][1], extra=parts[1:], approx=approx or line.approx)
        new_low, unit = best_unit(base, line.unit)
        high_base = float(high) * factor(line.unit)
        new_high = in_unit(high_base, unit)
        approx = rounded(float(new_low) * factor(unit), base) or rounded(float(new_high) * factor(unit), high_base)
        return replace(line, low=new_low, high=new_high, unit=unit, approx=approx or line.approx)
    new_low, new_high = round_count(low), round_count(high) if high is not None else None
    approx = rounded(new_low, low) or (high is not None and rounded(new_high, high))
    line = replace(line, approx=approx or line.approx)
    rest = line.rest
    if line.unit is None:  # "2 eggs" -> "1 egg": the noun follows the number
        was, now = (line.high or line.low) > 1, (new_high or new_low) > 1
        if was != now:
            rest = agree(rest, now)
    return replace(line, low=new_low, high=new_high, rest=rest)


def format_amount(value: Fraction, unit: str | None = None) -> str:
    """3/2 -> "1 1/2" (US and counts); metric units in decimals: 1.5 -> "1.5"."""
    if LADDER_OF.get(unit or "", "").startswith("metric") or value.denominator not in (1, 2, 3, 4, 8):
        return f"{float(value):.2f}".rstrip("0").rstrip(".")
    whole, frac = divmod(value, 1)
    if frac == 0:
        return str(int(whole))
    f = f"{frac.numerator}/{frac.denominator}"
    return f"{int(whole)} {f}" if whole else f


def unit_name(unit: str | None, amount: Fraction) -> str:
    if unit is None:
        return ""
    if unit in UNITS:
        return UNITS[unit][3] if amount > 1 else UNITS[unit][2]
    return COUNT_UNITS[unit] if amount > 1 else unit


def format_line(line: Line) -> str:
    """The line written back: amount (or range), size, unit, rest; text-only lines as given."""
    if not line.scalable:
        return line.text
    top = line.high if line.high is not None else line.low
    amount = format_amount(line.low, line.unit)
    if line.high is not None:
        amount += "-" + format_amount(line.high, line.unit)
    more = [f"+ {format_amount(n, u)} {unit_name(u, n)}" for n, u in line.extra]
    parts = [APPROX if line.approx else "", amount, line.size, unit_name(line.unit, top), *more, line.rest]
    return " ".join(p for p in parts if p)


def scale_line(text: str, servings_from: int | Fraction, servings_to: int | Fraction) -> str:
    """One ingredient line for ``servings_to`` instead of ``servings_from`` (the line itself when unchanged)."""
    if servings_from == servings_to:
        return text
    line = parse_line(text)
    if not line.scalable:
        return line.text
    return format_line(scale(line, Fraction(servings_to) / Fraction(servings_from)))
