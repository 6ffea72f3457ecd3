"""Recipe checks: is the answer a usable recipe for what was asked?

ROUGE rewards copying the reference's boilerplate; these checks look at the recipe
itself. Per item (``recipe_checks``) they give:

- ``well_formed``: parses into a title, an ingredient list and numbered directions
  (``chefbot.recipe_format.parse_recipe``);
- ``ner_used``: share of the requested ingredients (the prompt's NER list) that the
  directions mention. A request counts as used when any of its distinctive words
  appears in the directions after Porter stemming ("chicken breasts" ~ "chicken";
  descriptive words such as "fresh", "large", "ground" do not count alone);
- ``introduced``: ingredient lines that match no requested ingredient and no pantry
  staple. Staples allowed without being asked for: salt, pepper, water, ice, and
  cooking oil or spray. Butter and sugar are NOT staples: adding them changes a
  dish (and its diet), so they count as introduced;
- ``oven_temp_ok``: every oven temperature is plausible (F 200-550, C 90-290) and,
  where both are given ("375°F (190°C)"), they agree within 10 degrees C. Internal
  or thermometer temperatures are ignored; None when no oven temperature is given;
- ``repeated_4gram_rate`` (share of word 4-grams that repeat an earlier one) and
  ``duplicate_line_rate`` (share of lines, 3+ words, that repeat an earlier line);
  ``degenerate`` when either exceeds 0.5 / 0.3 (looping text);
- ``stopped``: the model ended by itself (``finish_reason == "stop"``) rather than
  being cut by the token limit; without a finish_reason, a text ending mid-sentence
  (last character a letter, digit, comma, colon, ...) counts as cut.

Kitchen sense (``kitchen_sense_item``) is judged apart, by the one checker of
``cooking/kitchen_sense.py`` (the one the server and ``chefbot check`` use): each check's
pass/fail/does-not-apply, ``is_recipe`` and ``safe`` per answer; ``score.score_kitchen_sense``
turns them into pass rates with Wilson intervals.
"""

from __future__ import annotations

import re

from chefbot.cooking.kitchen_sense import check_kitchen_sense
from chefbot.evaluate.rouge import porter_stemmer
from chefbot.recipe_format import parse_recipe

PANTRY_STAPLES = frozenset(
    "salt pepper peppercorn water ice oil spray cooking vegetable canola olive sunflower kosher sea table black".split()
)
# Words that describe or measure an ingredient but do not name it.
_NOT_NAMES = frozenset(
    """a an and or of for to the in with into on at as by about plus
    cup cups c tablespoon tablespoons tbsp tbs tbl teaspoon teaspoons tsp t ounce ounces oz pound pounds lb lbs
    gram grams g kg ml l liter liters litre quart quarts pint pints gallon pinch dash handful bunch
    can cans jar jars package packages pkg packet box bag bottle stick sticks clove cloves slice slices
    piece pieces sprig sprigs head heads large small medium big whole half fresh freshly dried dry ground
    chopped diced minced sliced grated shredded crushed cubed melted softened beaten cooked uncooked raw
    boneless skinless lean frozen thawed canned drained rinsed peeled seeded trimmed finely coarsely thinly
    roughly lightly optional taste needed garnish serving serve more extra about approx approximately each
    hot cold warm room temperature plain low fat free reduced sodium light heavy extra-virgin virgin
    homemade store bought storebought your favorite favourite other any some few several inch inches cut
    white red green yellow brown""".split()
)
_WORD = re.compile(r"[a-z]+")
_TEMP = re.compile(
    r"(\d{2,3})\s*(?:°|º|˚|degrees?|deg\.?)\s*(f|c|fahrenheit|celsius)\b|(\d{3})(f|c)\b",
    re.I,
)
_OVEN_CONTEXT = re.compile(r"oven|bake|baking|preheat|roast|broil", re.I)
_NOT_OVEN = re.compile(r"internal|thermometer|registers|reaches|oil temperature|deep[- ]fry|candy", re.I)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def _stem():
    return porter_stemmer(True).stem


def _words(text: str) -> list[str]:
    stem = _stem()
    return [stem(w) for w in _WORD.findall((text or "").lower())]


def _name_words(text: str) -> set[str]:
    """Stemmed words that can name an ingredient (units, sizes and descriptions removed)."""
    stem = _stem()
    return {
        stem(w)
        for w in _WORD.findall(re.sub(r"\(.*?\)", " ", (text or "").lower()))
        if w not in _NOT_NAMES and len(w) > 1
    }


_STAPLE_STEMS: set[str] | None = None


def _staples() -> set[str]:
    global _STAPLE_STEMS
    if _STAPLE_STEMS is None:
        stem = _stem()
        _STAPLE_STEMS = {stem(w) for w in PANTRY_STAPLES}
    return _STAPLE_STEMS


def ner_list(inputs) -> list[str]:
    """The requested ingredients from a row's ``inputs`` (list or comma-separated string)."""
    ner = (inputs or {}).get("ner") if isinstance(inputs, dict) else None
    if ner is None:
        return []
    if isinstance(ner, str):
        ner = ner.split(",")
    return [str(x).strip() for x in ner if str(x).strip()]


def oven_temperatures(text: str) -> tuple[list[tuple[int, str, int]], bool | None, bool | None]:
    """(temps as (value, 'F'|'C', position), all plausible?, F/C pairs consistent?)."""
    temps = []
    for sent in _SENTENCE.finditer(text or ""):
        s = sent.group(0)
        if not _OVEN_CONTEXT.search(s):
            continue
        for m in _TEMP.finditer(s):
            if _NOT_OVEN.search(s[max(0, m.start() - 60) : m.start()]):
                continue
            value = int(m.group(1) or m.group(3))
            unit = (m.group(2) or m.group(4))[0].upper()
            temps.append((value, unit, sent.start() + m.start()))
    if not temps:
        return temps, None, None
    plausible = all((200 <= v <= 550) if u == "F" else (90 <= v <= 290) for v, u, _ in temps)
    pairs = [
        (a, b)
        for a, b in zip(temps, temps[1:])
        if a[1] != b[1] and b[2] - a[2] < 25  # "375°F (190°C)" or "190C/375F"
    ]
    consistent = None
    if pairs:
        consistent = True
        for a, b in pairs:
            f, c = (a[0], b[0]) if a[1] == "F" else (b[0], a[0])
            if abs((f - 32) * 5 / 9 - c) > 10:
                consistent = False
    return temps, plausible, consistent


def repetition(text: str) -> tuple[float, float]:
    words = _WORD.findall((text or "").lower())
    grams = list(zip(words, words[1:], words[2:], words[3:]))
    rep4 = 1 - len(set(grams)) / len(grams) if grams else 0.0
    lines = [" ".join(_WORD.findall(x.lower())) for x in (text or "").splitlines()]
    lines = [x for x in lines if len(x.split()) >= 3]
    dup = 1 - len(set(lines)) / len(lines) if lines else 0.0
    return rep4, dup


def looks_cut(text: str) -> bool:
    """Heuristic for a missing finish_reason: the text stops mid-sentence."""
    t = (text or "").rstrip()
    if not t:
        return False
    return t[-1].isalnum() and not re.search(r"(enjoy|bon app[ée]tit)\W*$", t, re.I) or t[-1] in ",;:-(&/"


def recipe_checks(prediction: str, ner: list[str], finish_reason: str | None = None) -> dict:
    """All checks for one answer; values are numbers, booleans, or None when not applicable."""
    parsed = parse_recipe(prediction or "")
    out: dict = {
        "well_formed": parsed.well_formed,
        "has_title": bool(parsed.title),
        "has_ingredients": bool(parsed.ingredients),
        "has_directions": bool(parsed.directions),
        "numbered_directions": bool(parsed.directions) and parsed.numbered,
    }
    # Requested ingredients used in the directions.
    dir_words = set(_words(" ".join(parsed.directions)))
    requested = [(n, _name_words(n) or set(_words(n))) for n in ner]
    requested = [(n, w) for n, w in requested if w]
    if requested:
        used = [n for n, w in requested if w & dir_words]
        out["ner_used"] = len(used) / len(requested)
        out["ner_missing"] = [n for n, w in requested if not (w & dir_words)]
    else:
        out["ner_used"] = None
        out["ner_missing"] = []
    # Ingredients introduced that were not asked for.
    if parsed.ingredients:
        asked = set().union(*(w for _, w in requested)) if requested else set()
        staples = _staples()
        introduced = []
        for line in parsed.ingredients:
            names = _name_words(line)
            if names and not (names & asked) and not names <= staples:
                introduced.append(line)
        out["introduced"] = len(introduced)
        out["introduced_any"] = bool(introduced)
        out["introduced_items"] = introduced
    else:
        out["introduced"] = None
        out["introduced_any"] = None
        out["introduced_items"] = []
    temps, plausible, consistent = oven_temperatures(prediction)
    out["oven_temps"] = len(temps)
    out["oven_temp_plausible"] = plausible
    out["oven_temp_consistent"] = consistent
    out["oven_temp_ok"] = None if plausible is None else bool(plausible and consistent is not False)
    rep4, dup = repetition(prediction)
    out["repeated_4gram_rate"] = rep4
    out["duplicate_line_rate"] = dup
    out["degenerate"] = rep4 > 0.5 or dup > 0.3
    if finish_reason in ("stop", "length"):
        out["stopped"] = finish_reason == "stop"
        out["finish_source"] = "reported"
    else:
        out["stopped"] = not looks_cut(prediction)
        out["finish_source"] = "heuristic"
    return out


def kitchen_sense_item(prediction: str) -> dict:
    """One answer's kitchen sense: ``{check name: True/False/None (does not apply), "is_recipe", "safe"}``."""
    report = check_kitchen_sense(parse_recipe(prediction or ""))
    return {**{c.name: c.passed for c in report.checks}, "is_recipe": report.is_recipe, "safe": report.safe}


# Per-item check values that are aggregated (mean with an interval) in the results.
AGGREGATED_CHECKS = (
    "well_formed",
    "has_directions",
    "numbered_directions",
    "ner_used",
    "introduced",
    "introduced_any",
    "oven_temp_ok",
    "oven_temp_consistent",
    "repeated_4gram_rate",
    "duplicate_line_rate",
    "degenerate",
    "stopped",
)
