"""Ingredient lines -> food classes (meat, dairy, gluten grains, ...), and the diets they break.

The tables live in ``ingredients.yaml`` (its header documents the matching rules); this
module only reads them and matches.  Matching works on words, not characters: a line
becomes singular words (``words``), and at each word the longest known phrase starting
there wins and consumes its words (``PhraseTable.find``).  That gives word boundaries,
plurals and "longest phrase wins" ("peanut butter" before "butter") in one pass of dict
look-ups, fast enough to label millions of RecipeNLG rows.

No library fits: ingredient parsers (ingredient-parser, CRF taggers) split quantity from
name but know nothing of diets, and spaCy's matcher would cost a model load and ~100x the
time per line for the same longest-match rule.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Generic, TypeVar

import yaml

from chefbot.errors import ConfigError

DIETS = ("vegetarian", "vegan", "pescatarian", "gluten-free", "dairy-free", "nut-free")
CLASSES = (
    "meat",
    "poultry",
    "fish_seafood",
    "dairy",
    "egg",
    "gluten_grains",
    "tree_nuts",
    "peanuts",
    "soy",
    "alcohol",
    "honey",
    "other_animal",
)
LEXICON_FILE = "ingredients.yaml"

_NOT_LETTER = re.compile(r"[^a-z]+")
V = TypeVar("V")


def singular(word: str) -> str:
    """A canonical singular ("anchovies", "anchovy" -> "anchovy"; "cookies" -> "cooky"): the same
    rule is applied to the lexicon's phrases and to the lines, so only consistency matters."""
    if len(word) > 3 and not word.endswith(("ss", "us", "is")):
        if word.endswith(("ches", "shes", "sses", "xes", "zes", "oes")):
            word = word[:-2]
        elif word.endswith("s"):
            word = word[:-1]
    if len(word) > 4 and word.endswith("ie"):
        word = word[:-2] + "y"
    return word


def words(text: str) -> list[str]:
    """Lower-case singular words; accents dropped, every non-letter a separator."""
    text = text.lower()
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return [singular(w) for w in _NOT_LETTER.split(text) if w]


class PhraseTable(Generic[V]):
    """Phrases (as word tuples) -> values; ``find`` scans words, longest phrase first."""

    def __init__(self, entries: Iterable[tuple[str, V]]) -> None:
        self.table: dict[tuple[str, ...], V] = {}
        for phrase, value in entries:
            key = tuple(words(phrase))
            if not key:
                raise ConfigError(f"{LEXICON_FILE}: the phrase {phrase!r} has no letters")
            self.table[key] = value
        self.longest = max((len(k) for k in self.table), default=1)

    def find(self, ws: list[str]) -> list[tuple[str, V]]:
        """(phrase text, value) of every match, left to right, matches never overlapping."""
        out = []
        i, n = 0, len(ws)
        while i < n:
            for size in range(min(self.longest, n - i), 0, -1):
                key = tuple(ws[i : i + size])
                if key in self.table:
                    out.append((" ".join(key), self.table[key]))
                    i += size
                    break
            else:
                i += 1
        return out


@dataclass(frozen=True)
class _Modifier:
    removes: frozenset[str]


@dataclass(frozen=True)
class Lexicon:
    table: PhraseTable  # phrase -> frozenset of classes, or a _Modifier
    diets: dict[str, frozenset[str]]  # diet -> forbidden classes


def _class_list(where: str, value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{LEXICON_FILE}: {where}: expected a list of class names, got {value!r}")
    unknown = sorted(set(value) - set(CLASSES))
    if unknown:
        raise ConfigError(f"{LEXICON_FILE}: {where}: unknown class {unknown[0]!r}; classes are {', '.join(CLASSES)}")
    return frozenset(value)


def build_lexicon(data: dict) -> Lexicon:
    """Validate the YAML tables and index them; every mistake names its section and key."""
    for section in ("diets", "modifiers", "classes", "phrases"):
        if not isinstance(data.get(section), dict):
            raise ConfigError(f"{LEXICON_FILE}: the section {section!r} is missing or not a mapping")
    if tuple(data["diets"]) != DIETS:
        raise ConfigError(f"{LEXICON_FILE}: diets must be exactly {', '.join(DIETS)} in that order")
    if set(data["classes"]) != set(CLASSES):
        raise ConfigError(f"{LEXICON_FILE}: classes must be exactly {', '.join(CLASSES)}")
    entries: dict[str, object] = {}
    for cls, phrases in data["classes"].items():
        for phrase in phrases or []:
            entries[phrase] = frozenset(entries.get(phrase, frozenset())) | {cls}
    for phrase, classes in data["phrases"].items():
        entries[phrase] = _class_list(f"phrases: {phrase}", classes)
    for phrase, classes in data["modifiers"].items():
        entries[phrase] = _Modifier(_class_list(f"modifiers: {phrase}", classes))
    diets = {d: _class_list(f"diets: {d}", v) for d, v in data["diets"].items()}
    return Lexicon(PhraseTable(entries.items()), diets)


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The packaged lexicon, read once."""
    text = resources.files("chefbot.cooking").joinpath(LEXICON_FILE).read_text(encoding="utf-8")
    return build_lexicon(yaml.safe_load(text))


def matches(line: str) -> list[tuple[str, frozenset[str]]]:
    """(phrase, classes) for each phrase of the line, after the line's modifiers took their part."""
    removed: frozenset[str] = frozenset()
    out = []
    for phrase, value in lexicon().table.find(words(line)):
        if isinstance(value, _Modifier):
            removed |= value.removes
        else:
            out.append((phrase, value - removed))
    return out


@lru_cache(maxsize=65536)
def classify(line: str) -> frozenset[str]:
    """The food classes an ingredient line names: "1 c. chicken broth" -> {"poultry"}.

    Cached: RecipeNLG repeats the same lines ("1 c. sugar") across millions of recipes."""
    return frozenset().union(*(classes for _, classes in matches(line)))


def diet_offenders(lines: list[str], diet: str) -> list[tuple[str, frozenset[str]]]:
    """(line, the forbidden classes it names) for every line that breaks ``diet``."""
    try:
        forbidden = lexicon().diets[diet]
    except KeyError:
        raise ValueError(f"unknown diet {diet!r}; diets are {', '.join(DIETS)}") from None
    out = []
    for line in lines:
        bad = classify(line) & forbidden
        if bad:
            out.append((line, bad))
    return out


def diets_of(lines: list[str]) -> tuple[str, ...]:
    """The diets no line breaks (in ``DIETS`` order); () for no lines: nothing to tell."""
    if not lines:
        return ()
    classes = frozenset().union(*(classify(line) for line in lines))
    return tuple(d for d, forbidden in lexicon().diets.items() if not classes & forbidden)
