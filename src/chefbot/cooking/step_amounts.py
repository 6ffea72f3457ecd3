"""Which ingredient lines a step uses: "Add the beef" -> ["1.25 kg ground beef"] (cook mode's amounts).

``step_amounts`` names the lines a sentence of the directions mentions, as written (so a plan's
lines, already scaled by ``quantities.scale_line``, come out at the plan's servings). Each line's
item is ``aisles.ingredient_name`` (amount, unit, sizes and preparation dropped: "2 large eggs,
beaten" -> "eggs"; "salt and pepper to taste" names two items), compared with the step by Porter
stems (``aisles.ingredient_key``: "tomatoes" is "tomato"). A line is used when:

* its whole item of two or more words is in the step ("brown sugar" in "stir in the brown sugar"); or
* the last words of its item are ("ground beef" for "add the beef", "green bell pepper" for "chop
  the bell pepper"; a one-word item is its own last word), and no other line's item, a different
  one, ends in those words ("olive oil" and "vegetable oil" for "heat the oil": neither; "sugar"
  beside "brown sugar" for "stir in the sugar": neither; "salt and pepper" beside "bell pepper"
  for "chop the pepper": neither);

and that place in the step is not part of a longer item another line was found by ("sugar" inside
"stir in the brown sugar", "beef" inside "add the beef broth").

Everything else is left out rather than guessed: "add the remaining ingredients", "season it"
and an ambiguous head noun show no amounts. Hand-written because no kept library links recipe
steps to ingredient lines (``ingredient-parser-nlp`` reads lines, not steps, and needs NLTK data
downloaded at run time; quantities.py says why it is not used). A step that uses part of a line
("half the butter") shows the whole line: the text does not say which part in a form worth parsing.
"""

from __future__ import annotations

import re

from chefbot.cooking.aisles import ingredient_key, ingredient_name
from chefbot.cooking.quantities import parse_line

_ITEM_SPLIT_RE = re.compile(r"\s*(?:\band\b|\bor\b|&|/|,)\s*", re.I)


def line_items(line: str) -> list[tuple[str, ...]]:
    """The items a line names, each as its stemmed words: "salt and pepper to taste" -> [("salt",), ("pepper",)]."""
    items = []
    for part in _ITEM_SPLIT_RE.split(ingredient_name(parse_line(line))):
        key = tuple(ingredient_key(part).split())
        if key:
            items.append(key)
    return items


def _places(words: tuple[str, ...], phrase: tuple[str, ...]) -> list[tuple[int, int]]:
    n = len(phrase)
    return [(i, i + n) for i in range(len(words) - n + 1) if words[i : i + n] == phrase]


def _covers(outer: tuple[int, int], inner: tuple[int, int]) -> bool:
    """``inner`` lies within ``outer`` and is shorter: a part of a longer item."""
    return outer[0] <= inner[0] and inner[1] <= outer[1] and outer[1] - outer[0] > inner[1] - inner[0]


def step_amounts(step: str, lines: list[str]) -> list[str]:
    """The lines of ``lines`` that ``step`` uses (the rules in the module docstring), in the recipe's order."""
    words = tuple(ingredient_key(step).split())
    if not words or not lines:
        return []
    items = [line_items(x) for x in lines]

    def shared(i: int, item: tuple[str, ...], k: int) -> bool:  # another line's different item ends in these words
        tail = item[-k:]
        return any(j != i and other != item and other[-k:] == tail for j, its in enumerate(items) for other in its)

    places = []  # (line, span of step words) for every item, or tail of one, found in the step
    for i, its in enumerate(items):
        for item in its:
            for k in range(len(item), 0, -1):
                if (k == len(item) > 1) or not shared(i, item, k):
                    places += [(i, p) for p in _places(words, item[-k:])]
    used = {i for i, p in places if not any(j != i and _covers(q, p) for j, q in places)}
    return [x for i, x in enumerate(lines) if i in used]


__all__ = ["line_items", "step_amounts"]
