"""What an ingredient line is called on a shopping list, and where it is found (``aisles.yaml``).

``ingredient_name`` drops what does not change what you buy ("2 large eggs, beaten" ->
"eggs", "a pinch of salt" -> "salt"); ``ingredient_key`` compares names by their Porter
stems (NLTK's stemmer: "eggs" and "egg", "tomatoes" and "tomato" are one item);
``aisle_of`` and ``is_staple`` look the name up in the table of ``aisles.yaml`` (the
longest entry found in the name as whole words wins, so "peanut butter" is not dairy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from chefbot.cooking.quantities import Line

# Words about size, state or preparation: they do not change the item to buy.
DESCRIPTORS = frozenset(
    """
large medium small big extra fresh freshly chopped minced diced sliced grated shredded beaten softened melted
whole ripe boneless skinless finely coarsely thinly thickly roughly peeled crushed cubed halved quartered
trimmed rinsed drained packed loosely firmly lightly cooked uncooked raw room temperature cold warm hot
optional divided about approximately heaping level scant good quality organic plain unsalted salted
""".split()
)
TEXT_AMOUNT_RE = re.compile(
    r"^(?:a|an|some|few|several)?\s*(?:pinch|dash|handful|splash|sprinkle|drizzle|few|little)"
    r"(?:es|s)?\s+(?:of\s+)?|^(?:some|a few|a little)\s+",
    re.I,
)
TEXT_TAIL_RE = re.compile(
    r"\b(?:to taste|for (?:serving|garnish|frying|greasing|dusting)|as needed|if desired|"
    r"or more|or to taste|optional)\b.*$",
    re.I,
)


@dataclass(frozen=True)
class Table:
    aisles: dict[str, tuple[str, ...]]  # entry (stemmed words) -> aisle
    staples: frozenset[str]  # stemmed names
    other: str


@lru_cache(maxsize=1)
def _stemmer():
    from nltk.stem.porter import (
        PorterStemmer,  # 1-3 s to import NLTK: only when a list is made
    )

    return PorterStemmer()


def ingredient_key(name: str) -> str:
    """The name's words, lower case, each by its Porter stem: equal keys are one shopping item."""
    stem = _stemmer().stem
    return " ".join(stem(w) for w in re.findall(r"[a-z]+(?:-[a-z]+)*", name.lower()))


@lru_cache(maxsize=1)
def table() -> Table:
    """The tables of ``aisles.yaml``, read once, with every entry as a stemmed key."""
    data = yaml.safe_load(resources.files("chefbot.cooking").joinpath("aisles.yaml").read_text(encoding="utf-8"))
    aisles: dict[str, tuple[str, ...]] = {}
    for aisle, words in data["aisles"].items():
        for w in words:
            aisles[ingredient_key(str(w))] = aisle
    return Table(aisles, frozenset(ingredient_key(str(w)) for w in data["staples"]), str(data["other_aisle"]))


def ingredient_name(line: Line) -> str:
    """The item a line asks for: the words after the amount and unit, without sizes, preparation,
    brackets, "of" and what follows a comma; a line without an amount loses "a pinch of", "to taste"."""
    text = line.rest if line.scalable else line.text
    text = re.sub(r"\([^)]*\)", " ", text)
    text = text.split(",")[0].split(";")[0]
    if not line.scalable:
        text = TEXT_TAIL_RE.sub("", TEXT_AMOUNT_RE.sub("", text.strip()))
    text = re.sub(r"^\s*of\s+", "", text.strip(), flags=re.I)
    words = [w for w in re.split(r"\s+", text.strip()) if w and w.lower().strip(".") not in DESCRIPTORS]
    name = " ".join(words).strip(" .-*").lower()
    return name or line.text.strip().lower()


def aisle_of(name: str) -> str:
    """The aisle of the longest ``aisles.yaml`` entry found in ``name`` as whole words (``other_aisle`` if none)."""
    key = f" {ingredient_key(name)} "
    t = table()
    hits = [entry for entry in t.aisles if f" {entry} " in key]
    return t.aisles[max(hits, key=len)] if hits else t.other


def is_staple(name: str) -> bool:
    """A pantry staple (salt, pepper, oil, water, ...): the whole name is one of ``staples``."""
    return ingredient_key(name) in table().staples


def amount_words(text: str) -> str:
    """The words that stand for an amount in a line without a number: "a pinch", "to taste" ("" if none)."""
    parts = []
    head = TEXT_AMOUNT_RE.match(text.strip())
    if head:
        parts.append(re.sub(r"\s+of\s*$", "", head.group(0).strip()))
    tail = TEXT_TAIL_RE.search(text)
    if tail:
        parts.append(tail.group(0).strip())
    return "; ".join(parts)
