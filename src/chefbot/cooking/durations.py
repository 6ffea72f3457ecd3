"""Times and oven temperatures read from direction text, and the rule tables of ``durations.yaml``.

``parse_duration`` and ``oven_celsius`` turn phrases ("about 20 minutes", "1 1/2 hours",
"overnight", "5 minutes per side", "350°F", "moderate oven") into minutes and °C; ``rules()``
loads the verb table (default minutes, equipment, skill), synonyms, notes and vague times, and
precomputes ``forms``: every inflected form of every verb -> the canonical verb ("chopped",
"stirring", "fries" -> chop, stir, fry), so the step reader looks a word up once instead of
trying suffixes per word.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml


@dataclass
class Rules:
    verbs: dict
    synonyms: dict
    not_tasks: set
    vague: dict
    preheat_minutes: int
    hands_start_minutes: int
    hands_end_minutes: int
    serving: dict  # baked_goods / hot_dishes word sets, served_warm / room_temperature patterns
    base: dict  # imperative forms (the verbs and their synonyms) -> canonical verb
    forms: dict  # base forms plus every inflection ("chopped", "baking") -> canonical verb


_VOWELS = "aeiou"


def _inflections(verb: str) -> set[str]:
    """English inflections of a regular verb, generated once at load: -s/-es, -ed/-d, -ing, the
    doubled final consonant (chop -> chopped), y -> ied (fry -> fried).  Over-generating a
    form nobody writes costs one dict entry; irregular forms are in the synonyms."""
    out = {verb + "s", verb + "es", verb + "ing", verb + "ed"}
    if verb.endswith("e"):
        out |= {verb + "d", verb[:-1] + "ing"}
    if verb.endswith("y") and len(verb) > 2 and verb[-2] not in _VOWELS:
        out |= {verb[:-1] + "ies", verb[:-1] + "ied"}
    if len(verb) >= 3 and verb[-1] not in _VOWELS + "wxy" and verb[-2] in _VOWELS and verb[-3] not in _VOWELS:
        out |= {verb + verb[-1] + "ed", verb + verb[-1] + "ing"}
    return out


def _serving(data: dict) -> dict:
    """durations.yaml's ``serving`` section: the word lists as sets, the phrases as one pattern each."""
    try:
        sec = data["serving"]
        return {
            "baked_goods": frozenset(sec["baked_goods"]),
            "hot_dishes": frozenset(sec["hot_dishes"]),
            "served_warm": re.compile("|".join(sec["served_warm"]), re.I),
            "room_temperature": re.compile("|".join(sec["room_temperature"]), re.I),
        }
    except (KeyError, TypeError, re.error) as e:
        raise ValueError(f"durations.yaml: serving: {type(e).__name__}: {e}") from e


@lru_cache(maxsize=1)
def rules() -> Rules:
    """The tables of ``durations.yaml``, read once."""
    data = yaml.safe_load(resources.files("chefbot.cooking").joinpath("durations.yaml").read_text(encoding="utf-8"))
    verbs, synonyms = data["verbs"], data["synonyms"]
    unknown = sorted(v for v in synonyms.values() if v not in verbs)
    if unknown:
        raise ValueError(f"durations.yaml: synonyms map onto {unknown[0]!r}, which is not in verbs")
    base = {v: v for v in verbs} | synonyms
    forms: dict[str, str] = {}
    for word, verb in base.items():
        for form in _inflections(word):
            forms.setdefault(form, verb)
    forms |= base  # a base form always means its own verb ("sets" is set, "cooks" is cook)
    return Rules(
        verbs=data["verbs"],
        synonyms=data["synonyms"],
        not_tasks=set(data["not_tasks"]),
        vague=data["vague"],
        preheat_minutes=int(data["preheat_minutes"]),
        hands_start_minutes=int(data["hands_start_minutes"]),
        hands_end_minutes=int(data["hands_end_minutes"]),
        serving=_serving(data),
        base=base,
        forms=forms,
    )


# ---------------------------------------------------------------- durations

_WORD_NUM = {
    "a": 1,
    "an": 1,
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
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "fifty": 50,
    "sixty": 60,
    "ninety": 90,
}
_NUM = r"(?:\d+\s+\d+/\d+|\d+/\d+|\d+(?:\.\d+)?|forty-five|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|ninety|an?|half an?)"
_UNIT = r"(?P<unit>minutes?|mins?\b\.?|min\b\.?|hours?|hrs?\b\.?|hr\b\.?|seconds?|secs?\b\.?|days?)"
# The lookahead names the characters a number can start with (digits and the number words'
# first letters), so the engine skips other positions at once: the same matches, ~6x faster.
_DURATION_RE = re.compile(
    rf"(?=[\dofhtsenahOFHTSENAH])\b(?P<a>{_NUM})(?:\s*(?:to|-|–|or)\s*(?P<b>{_NUM}))?"
    r"(?P<frac>\s+and\s+(?:a\s+|one[- ])?(?:half|quarter))?"
    rf"\s*{_UNIT}(?P<tail>\s+and\s+a\s+(?:half|quarter))?",
    re.I,
)
# Mentions that are not the task's own length: "stirring every 5 minutes", "for the last 10 minutes",
# "10 minutes before serving" (the gold set's rules, tests/data/gold_steps/README.md).
_SKIP_BEFORE_RE = re.compile(r"\b(every|last|up to|within|after|first|each|per)\s+(?:the\s+)?$", re.I)
_SKIP_AFTER_RE = re.compile(r"^\s*(?:before|prior to|ahead of)\b", re.I)
_FOR_BEFORE_RE = re.compile(r"\bfor\s+(?:about\s+|at least\s+|another\s+)?$", re.I)
# "5 minutes per side", "3 minutes on each side": both sides count.
_PER_SIDE_RE = re.compile(r"^\s*(?:per|on each|each|a|on both|for each)\s+side\b", re.I)
_UNIT_HINTS = ("min", "hour", "hr", "sec", "day", "overnight", "several", "few")
_ALT_BEFORE_RE = re.compile(r"\b(?:or|even|up to)\s+(?:for\s+|about\s+)?$", re.I)


def parse_number(text: str) -> float:
    """ "3", "1 1/2", "two", "half a" -> a number."""
    t = text.strip().lower()
    if t.startswith("half"):
        return 0.5
    if t in _WORD_NUM:
        return _WORD_NUM[t]
    total = 0.0
    for part in t.split():
        if "/" in part:
            n, d = part.split("/")
            total += int(n) / max(int(d), 1)
        else:
            total += float(part)
    return total


def _unit_minutes(unit: str) -> float:
    u = unit.lower()
    if u.startswith("h"):
        return 60
    if u.startswith("s"):
        return 1 / 60
    if u.startswith("d"):
        return 1440
    return 1


@lru_cache(maxsize=1)
def _vague_res() -> dict[str, tuple[re.Pattern, int]]:
    """The vague times of durations.yaml as compiled patterns, built once."""
    return {p: (re.compile(rf"\b{re.escape(p)}\b", re.I), int(m)) for p, m in rules().vague.items()}


MAX_TASK_MINUTES = 7 * 24 * 60  # the longest one step can take (a week of curing); the tasks accept nothing longer


def parse_duration(text: str) -> int | None:
    """Minutes named in a direction (the upper end of a range, mentions summed), or None.

    "about 20 minutes" -> 20, "10 to 15 minutes" -> 15, "1 1/2 hours" -> 90,
    "1 hour and 15 minutes" -> 75, "2 hours or overnight" -> 120, "overnight" -> 480.
    More than ``MAX_TASK_MINUTES`` ("rest 99999 hours", a model's slip) is None: read as unstated,
    like an oven figure no oven reaches, so a generated recipe is read, not rejected.
    """
    low = text.lower()
    if not any(h in low for h in _UNIT_HINTS):
        return None  # no unit and no vague time: nothing to read (the common case, checked first)
    spans: list[tuple[int, int, float]] = []
    for m in _DURATION_RE.finditer(text):
        value = parse_number(m.group("b") or m.group("a"))
        if m.group("frac") or m.group("tail"):
            value += 0.25 if "quarter" in (m.group("frac") or m.group("tail")).lower() else 0.5
        spans.append((m.start(), m.end(), value * _unit_minutes(m.group("unit"))))
    if "overnight" in low or "several" in low or "a few" in low or "a day" in low:
        for phrase, (rx, minutes) in _vague_res().items():
            for m in rx.finditer(text):
                if not any(abs(s - m.start()) < 3 for s, _, _ in spans):
                    spans.append((m.start(), m.end(), float(minutes)))
    total = 0.0
    found = False
    for start, end, minutes in sorted(spans):
        before = text[max(0, start - 16) : start]
        after = text[end : end + 16]
        if _SKIP_BEFORE_RE.search(before) or (_SKIP_AFTER_RE.match(after) and not _FOR_BEFORE_RE.search(before)):
            continue
        if _PER_SIDE_RE.match(after):
            minutes *= 2
        if found and _ALT_BEFORE_RE.search(before):
            continue  # "2 hours or overnight": the first is the plan's time
        total += minutes
        found = True
    if not found or total > MAX_TASK_MINUTES:
        return None
    return max(1, math.ceil(total))


# ---------------------------------------------------------------- temperatures

_TEMP_RE = re.compile(
    r"(?=\d)(?:(?P<deg>\d{3})\s*(?:°|º|˚|degrees?\b|deg\b\.?)\s*(?P<unit>[FC](?![a-z])|fahrenheit|celsius|centigrade)?"
    r"|(?P<deg2>\d{3})\s*(?P<unit2>[FC])\b)",
    re.I,
)
# "Bake at 350 for 1 hour": a bare number after at/to, used only when no degree sign is written.
_BARE_TEMP_RE = re.compile(r"(?=[atAT])\b(?:at|to)\s+(?P<deg>[1-5]\d\d)\b(?!\s*(?:g\b|ml|grams|x\b|-inch|inch))", re.I)
_OVEN_WORDS = {
    "slow oven": 150,
    "moderate oven": 175,
    "moderately hot oven": 190,
    "hot oven": 220,
    "very hot oven": 230,
}


OVEN_RANGE_C = (30, 320)  # what a home oven can be set to; the planner's tasks accept nothing else


_TEMP_HINT_RE = re.compile(r"\d\d\d|oven", re.I)


def stated_oven_celsius(text: str) -> int | None:
    """The oven temperature the text states, in °C rounded to 5 (a figure, or "moderate oven"),
    or None: unlike ``oven_celsius`` it never infers one from "broil"."""
    if not _TEMP_HINT_RE.search(text):
        return None
    return _celsius(text, broil=False)


def oven_celsius(text: str) -> int | None:
    """The first plausible oven temperature named, in °C rounded to 5 (bare degrees are °F, as in US
    recipes).  A figure no home oven reaches ("350°C (576°F)", a model's slip) is skipped, so a
    generated recipe is read, not rejected.  "broil" with no figure reads as 290 °C."""
    return _celsius(text, broil=True)


def _celsius(text: str, broil: bool) -> int | None:
    for m in [*_TEMP_RE.finditer(text), *_BARE_TEMP_RE.finditer(text)]:
        deg = int(m.group("deg") or m.group("deg2"))
        groups = m.groupdict()
        unit = (groups.get("unit") or groups.get("unit2") or "F").upper()
        c = int(5 * round((deg if unit.startswith("C") else (deg - 32) * 5 / 9) / 5))
        if OVEN_RANGE_C[0] <= c <= OVEN_RANGE_C[1]:
            return c
    lower = text.lower()
    for words, c in sorted(_OVEN_WORDS.items(), key=lambda kv: -len(kv[0])):
        if words in lower:
            return c
    if broil and "broil" in lower:
        return 290
    return None
