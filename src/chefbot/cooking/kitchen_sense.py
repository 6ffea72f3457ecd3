"""Kitchen sense: is a recipe safe to follow and plausible as food?  One checker, beside
``recipe_constraints.check_recipe`` (which judges what was *asked for*); this one judges what
any cook would ask of any recipe.

Contract (what the server, the page, ``chefbot check`` and the evaluation rely on):

* ``check_kitchen_sense(recipe) -> SenseReport``: every check, in ``CHECKS`` order;
* a ``SenseCheck`` is ``passed`` True/False, or None when it does not apply (no oven, no
  eggs); ``reason`` is the sentence shown to the cook when it fails; ``source`` cites where
  the rule's cooking fact comes from;
* ``SenseReport.is_recipe`` is False when the text is not a recipe at all (no directions, or
  no ingredient names): such a text is never offered for saving;
* ``SenseReport.safe`` is False when a ``safety`` check failed (``enforce`` retries on it and
  ``chefbot check`` exits 1).

Every threshold and word list is in ``kitchen_sense.yaml`` with its source; the thresholds no
authority gives were calibrated on the dev half of real recipes by
``tools/kitchen_sense_calibration.py`` (docs/EVALUATION.md, "Kitchen sense").

How the directions are read: by the simple word rules below, not by ``tasks.tasks_from_directions``.
"Is there a cooking step" is any heat word in the directions ("bake", "simmer", "skillet",
"oven"; "baking powder" and "cooking spray" are not); the step reader answers a different
question (how long, on which equipment) and costs more per recipe.  Ingredient lines are read
by ``quantities.parse_line``, words and phrases by ``lexicon.words`` / ``PhraseTable``, stated
times by ``durations.parse_duration``: one home each, no new parsers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from importlib import resources
from typing import Literal

import yaml

from chefbot.cooking.durations import parse_duration
from chefbot.cooking.lexicon import PhraseTable, matches, words
from chefbot.cooking.quantities import UNITS, Line, factor, parse_line
from chefbot.cooking.tasks import split_sentences
from chefbot.errors import ConfigError
from chefbot.recipe_format import Recipe

Kind = Literal["safety", "plausibility"]
SENSE_FILE = "kitchen_sense.yaml"


@dataclass(frozen=True)
class SenseCheck:
    name: str
    kind: Kind
    passed: bool | None  # None: the check does not apply to this recipe
    reason: str = ""  # why it failed, in a cook's words ("" when it passed or does not apply)
    source: str = ""  # where the cooking fact behind the rule comes from

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "reason": self.reason,
            "source": self.source,
        }


@dataclass(frozen=True)
class SenseReport:
    checks: tuple[SenseCheck, ...]
    is_recipe: bool

    @property
    def failures(self) -> list[SenseCheck]:
        return [c for c in self.checks if c.passed is False]

    @property
    def safe(self) -> bool:
        return not any(c.kind == "safety" for c in self.failures)

    def to_dict(self) -> dict:
        return {
            "is_recipe": self.is_recipe,
            "safe": self.safe,
            "checks": [c.to_dict() for c in self.checks],
        }


# (name, kind) of every check, in report order; evaluation tables have one row per name.
CHECKS: tuple[tuple[str, Kind], ...] = (
    ("is_recipe", "plausibility"),
    ("raw_food", "safety"),
    ("internal_temperature", "safety"),
    ("food_left_out", "safety"),
    ("oven_temperature", "plausibility"),
    ("salt_amount", "plausibility"),
    ("leavening_amount", "plausibility"),
    ("egg_units", "plausibility"),
    ("ingredients_used", "plausibility"),
    ("ingredients_listed", "plausibility"),
    ("step_order", "plausibility"),
    ("step_times", "plausibility"),
)
KIND_OF = dict(CHECKS)


# ---------------------------------------------------------------- the rules file


@dataclass(frozen=True)
class Rules:
    data: dict
    raw: PhraseTable  # phrase -> raw category, or "ready"
    heat: PhraseTable  # phrase -> True (a heat step) or False (a noun: "baking powder")

    def source(self, key: str) -> str:
        return " ".join(self.data["sources"][key].split())


def _phrase_list(data: dict, *path: str) -> list[str]:
    node = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(f"{SENSE_FILE}: {'.'.join(path)} is missing")
        node = node[key]
    if not isinstance(node, list) or not all(isinstance(p, str) for p in node):
        raise ConfigError(f"{SENSE_FILE}: {'.'.join(path)}: expected a list of phrases")
    return node


def build_rules(data: dict) -> Rules:
    """Index the YAML's phrase lists; a missing or malformed section is named in the error."""
    sections = ("sources", "safe_minimum_f", "raw_foods", "ready_foods", "ready_words", "heat_words", "heat_not")
    sections += ("holding", "oven", "amounts", "eggs", "used", "listed", "order", "times")
    if not isinstance(data, dict):
        raise ConfigError(f"{SENSE_FILE}: expected a mapping of sections, got {type(data).__name__}")
    missing = [k for k in sections if k not in data]
    if missing:
        raise ConfigError(f"{SENSE_FILE}: the section {missing[0]!r} is missing")
    if not isinstance(data["raw_foods"], dict):
        raise ConfigError(f"{SENSE_FILE}: raw_foods: expected a mapping of category -> phrases")
    raw_entries = [(p, cat) for cat in data["raw_foods"] for p in _phrase_list(data, "raw_foods", cat)]
    raw_entries += [(p, "ready") for p in _phrase_list(data, "ready_foods")]
    heat_entries = [(p, True) for p in _phrase_list(data, "heat_words")]
    heat_entries += [(p, False) for p in _phrase_list(data, "heat_not")]
    unknown = set(data["raw_foods"]) - set(data["safe_minimum_f"]) - {"flour"}
    if unknown:
        raise ConfigError(f"{SENSE_FILE}: raw_foods: {sorted(unknown)} have no safe_minimum_f")
    return Rules(data, PhraseTable(raw_entries), PhraseTable(heat_entries))


@lru_cache(maxsize=1)
def rules() -> Rules:
    text = resources.files("chefbot.cooking").joinpath(SENSE_FILE).read_text(encoding="utf-8")
    return build_rules(yaml.safe_load(text))


@cache
def _words_set(*path: str) -> frozenset[str]:
    return frozenset(w for p in _phrase_list(rules().data, *path) for w in words(p))


@cache
def _phrase_re(*path: str) -> re.Pattern:
    """Any phrase of the list, as whole words at the start (stems like "refrigerat" match longer words)."""
    alts = sorted(_phrase_list(rules().data, *path), key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(a) for a in alts) + ")", re.I)


# ---------------------------------------------------------------- what is read once per recipe

_PAREN = re.compile(r"\([^)]*\)")
_LETTERS = re.compile(r"[a-z]{2,}")


@dataclass
class _Read:
    recipe: Recipe

    @cached_property
    def ingredients(self) -> list[str]:
        """The ingredient lines that say something (blank lines dropped), aligned with ``lines`` and ``names``."""
        return [x.strip() for x in self.recipe.ingredients if x.strip()]

    @cached_property
    def lines(self) -> list[Line]:
        return [parse_line(x) for x in self.ingredients]

    @cached_property
    def names(self) -> list[str]:
        """Each line's name part, lower case, brackets dropped ("2 (14 oz) cans tomatoes" -> "tomatoes")."""
        return [_PAREN.sub(" ", (ln.rest if ln.scalable else ln.text)).lower() for ln in self.lines]

    @cached_property
    def sentences(self) -> list[str]:
        return split_sentences(self.recipe.directions)

    @cached_property
    def text(self) -> str:
        return " ".join(self.recipe.directions)

    @cached_property
    def direction_words(self) -> set[str]:
        return set(words(self.text))

    @cached_property
    def listed_classes(self) -> frozenset[str]:
        """The lexicon's food classes of every ingredient line."""
        return frozenset().union(*(c for line in self.ingredients for _, c in matches(line)))

    @cached_property
    def metric(self) -> bool:
        """Most measured lines in g/kg/ml/l: a recipe from a metric kitchen (unmarked degrees are then C)."""
        units = [ln.unit for ln in self.lines if ln.unit in UNITS]
        return bool(units) and sum(u in ("g", "kg", "ml", "l", "dl") for u in units) * 2 > len(units)

    @cached_property
    def oven_minutes(self) -> int:
        """The longest time stated in a step that names the oven or baking (0: none)."""
        return max((parse_duration(s) or 0 for s in self.sentences if _OVEN_CONTEXT_RE.search(s)), default=0)

    @cached_property
    def heat_sentences(self) -> list[int]:
        """Indices of the sentences with a heating step."""
        return [i for i, s in enumerate(self.sentences) if _heats(s)]

    @cached_property
    def raw(self) -> list[tuple[str, str]]:
        """(category, ingredient line) for every line that is raw food needing cooking."""
        out = []
        ready = _words_set("ready_words")
        said_ready = self.said_ready
        for line, name in zip(self.ingredients, self.names):
            ws = words(line)
            if ready & set(ws):
                continue
            found = [(p, v) for p, v in rules().raw.find(words(name)) if v != "ready"]
            if found and not any(p in said_ready for p, _ in found):
                out.append((found[0][1], line.strip()))
        return out

    @cached_property
    def said_ready(self) -> set[str]:
        """Raw-food phrases the directions call cooked ("add 150 g of boiled chicken breast")."""
        ready = _words_set("ready_words")
        ws = words(self.text)
        out = set()
        for i, w in enumerate(ws):
            if w in ready:
                for p, v in rules().raw.find(ws[i + 1 : i + 4]):
                    if v != "ready":
                        out.add(p)
        return out

    @cached_property
    def cooked_title(self) -> bool:
        """The title names a baked or cooked dish ("Pound Cake", "Fried Onion Rings")."""
        title = " " + " ".join(words(self.recipe.title or "")) + " "
        if any(f" {' '.join(words(p))} " in title for p in _phrase_list(rules().data, "uncooked_titles")):
            return False
        return any(f" {' '.join(words(p))} " in title for p in _phrase_list(rules().data, "cooked_dish_titles"))


def _heats(sentence: str) -> bool:
    return any(v for _, v in rules().heat.find(words(sentence)))


def _check(name: str, passed: bool | None, reason: str = "", source: str = "") -> SenseCheck:
    return SenseCheck(name, KIND_OF[name], passed, reason if passed is False else "", source)


# ---------------------------------------------------------------- is it a recipe at all


def _names_something(name: str) -> bool:
    unit_words = {a for spec in UNITS.values() for a in spec[4]} | {"pcs", "pc"}
    return any(w not in unit_words for w in _LETTERS.findall(name))


_RECIPE_FORM = "a recipe names its ingredients and says what to do with them (issue 25: 60 lines of '- 10 g')"


def check_is_recipe(r: _Read) -> SenseCheck:
    named = sum(_names_something(n) for n in r.names)
    if not r.recipe.directions or not "".join(r.recipe.directions).strip():
        return _check("is_recipe", False, "not a recipe: there are no directions", _RECIPE_FORM)
    if not named:
        return _check("is_recipe", False, "not a recipe: no ingredient line names an ingredient", _RECIPE_FORM)
    if named * 2 < len(r.names):
        return _check(
            "is_recipe",
            False,
            source=_RECIPE_FORM,
            reason=f"not a recipe: {len(r.names) - named} of {len(r.names)} ingredient lines name no ingredient",
        )
    return _check("is_recipe", True)


# ---------------------------------------------------------------- food safety

_CAT_WORDS = {
    "poultry": "raw poultry",
    "ground_meat": "raw ground meat",
    "whole_meat": "raw meat",
    "fish": "raw fish or seafood",
    "egg": "raw eggs",
    "flour": "raw flour",
}


def check_raw_food(r: _Read) -> SenseCheck:
    if not r.raw:
        return _check("raw_food", None)
    if r.heat_sentences:
        return _check("raw_food", True)
    raw = [(c, line) for c, line in r.raw if not (c in ("egg", "flour") and r.cooked_title)]
    if not raw:
        return _check("raw_food", True)
    cat, line = raw[0]
    if cat == "flour":
        why = f"{_CAT_WORDS[cat]} ({line!r}) is eaten without baking or cooking: flour is a raw food"
        src = rules().source("fda_flour")
    else:
        f = rules().data["safe_minimum_f"][cat]
        why = (
            f"{_CAT_WORDS[cat]} ({line!r}) is served without any cooking step; "
            f"it must reach {f} °F / {round((f - 32) * 5 / 9)} °C inside"
        )
        src = rules().source("fsis_temps") + ("; " + rules().source("fsis_raw_eggs") if cat == "egg" else "")
    return _check("raw_food", False, why, src)


_INTERNAL_RE = re.compile(
    r"\b(?:internal(?:\s+temp(?:erature)?)?|(?:meat|instant[- ]read|food)?\s*thermometer|registers|reads)\b"
    r"[^.;]{0,60}?\b(\d{2,3})\s*(?:-|to|–)?\s*(\d{2,3})?\s*(?:°|º|˚|degrees?\b|deg\b\.?)?\s*(F|C|fahrenheit|celsius)?\b",
    re.I,
)
_NOT_INTERNAL_RE = re.compile(
    r"\b(oven|candy|deep[- ]fat|oil|syrup|sugar|fat|water)\s+thermometer|\boil\b|\bsyrup\b", re.I
)


def check_internal_temperature(r: _Read) -> SenseCheck:
    minimum = rules().data["safe_minimum_f"]
    stated = []
    for s in r.sentences:
        if _NOT_INTERNAL_RE.search(s):
            continue
        for m in _INTERNAL_RE.finditer(s):
            value = max(int(m.group(1)), int(m.group(2) or 0))
            unit = (m.group(3) or "").upper()[:1] or ("C" if r.metric and value < 100 else "F")
            f = value if unit == "F" else value * 9 / 5 + 32
            if 100 <= f <= 212:  # above boiling it is no internal temperature (oil, candy)
                # the raw foods of this recipe that the sentence names, else all of them ("roast" is a verb here)
                recipe_cats = {c for c, _ in r.raw if c in minimum}
                cats = {v for _, v in rules().raw.find(words(s))} & recipe_cats or recipe_cats
                if cats:
                    stated.append((f, min(minimum[c] for c in cats), s, cats))
    if not stated:
        return _check("internal_temperature", None)
    low = [x for x in stated if x[0] < x[1]]
    if not low:
        return _check("internal_temperature", True)
    f, need, s, cats = low[0]
    what = _CAT_WORDS[sorted(cats, key=lambda c: minimum[c])[0]].removeprefix("raw ")
    why = (
        f"{what} is taken to {f:.0f} °F inside ({s!r}); the safe minimum is {need} °F / {round((need - 32) * 5 / 9)} °C"
    )
    return _check("internal_temperature", False, why, rules().source("fsis_temps"))


_HOURS_RE = re.compile(r"\b(\d+)\s*(?:to|-|–)?\s*(\d+)?\s*(?:hours?|hrs?)\b", re.I)


def check_food_left_out(r: _Read) -> SenseCheck:
    h = rules().data["holding"]
    perishable = [line for c, line in r.raw if c in h["perishable"]]
    rice = _phrase_re("holding", "perishable_phrases")
    perishable += [line for line in r.ingredients if rice.search(line)]
    if not perishable:
        return _check("food_left_out", None)
    for s in r.sentences:
        if not _phrase_re("holding", "out_phrases").search(s) or _phrase_re("holding", "cold_words").search(s):
            continue
        hours = max((int(m.group(2) or m.group(1)) for m in _HOURS_RE.finditer(s)), default=0)
        if hours > h["max_hours_out"] or _phrase_re("holding", "long_phrases").search(s):
            why = f"perishable food ({perishable[0]!r}) is left out of the fridge too long: {s!r}; refrigerate within 2 hours"
            return _check("food_left_out", False, why, rules().source("fsis_two_hours"))
    return _check("food_left_out", True)


# ---------------------------------------------------------------- oven temperature

_TEMP_RE = re.compile(
    r"(?<![\d/.])(\d{2,4})\s*(?:°|º|˚|degrees?\b|deg\b\.?)\s*(F|C|fahrenheit|celsius|centigrade)?(?![a-z])"
    r"|(?<![\d/.])(\d{3,4})\s*(F|C|fahrenheit|celsius|centigrade)\b"
    # "to 360": a bare figure, unless a unit follows (then the alternatives above read it, unit and all)
    r"|\b(?:at|to|oven|on)\s+(\d{3})\b(?!\s*(?:g\b|ml|grams|x\b|-inch|inch|minutes|min|hours|°|º|˚|deg|F\b|C\b|"
    r"fahrenheit|celsius|centigrade))",
    re.I,
)
_OVEN_CONTEXT_RE = re.compile(r"\b(oven|bake|baking|baked|preheat|pre-heat|roast|roasting|broil)", re.I)


def oven_temperatures(r: _Read) -> list[tuple[float, str, str, int]]:
    """(°C, unit as written or "", sentence, position) of every oven temperature in the directions."""
    out = []
    not_oven = _phrase_re("oven", "not_oven")
    for s in r.sentences:
        if not _OVEN_CONTEXT_RE.search(s):
            continue
        for m in _TEMP_RE.finditer(s):
            if not_oven.search(s[max(0, m.start() - 40) : m.start()]):
                continue
            value = int(m.group(1) or m.group(3) or m.group(5))
            unit = (m.group(2) or m.group(4) or "").upper()[:1]
            as_unit = unit or ("C" if r.metric else "F")  # unmarked degrees: the recipe's system
            c = value if as_unit == "C" else (value - 32) * 5 / 9
            out.append((c, unit, s, m.start()))
    return out


def check_oven_temperature(r: _Read) -> SenseCheck:
    o = rules().data["oven"]
    temps = oven_temperatures(r)
    if not temps:
        return _check("oven_temperature", None)
    src = rules().source("oven_range")
    low_ok = _phrase_re("oven", "low_ok_words")
    for c, _unit, s, _pos in temps:
        if c > o["max_c"]:
            return _check("oven_temperature", False, f"no home oven bakes at {c:.0f} °C: {s!r}", src)
        if low_ok.search(s):
            continue
        if c < o["min_c"]:
            return _check("oven_temperature", False, f"{c:.0f} °C is too cool to bake or roast: {s!r}", src)
        minutes = parse_duration(s) or r.oven_minutes
        if c < o["slow_below_c"] and minutes < o["slow_min_minutes"]:
            why = f"{c:.0f} °C is a slow oven, but the step takes {minutes or 'no stated'} minutes: {s!r}"
            return _check("oven_temperature", False, why, src)
    for a, b in zip(temps, temps[1:]):  # "350°F (180°C)": a stated pair must agree
        if a[2] is b[2] and {a[1], b[1]} == {"F", "C"} and abs(a[0] - b[0]) > o["pair_tolerance_c"]:
            return _check("oven_temperature", False, f"the °F and °C figures disagree: {a[2]!r}", src)
    return _check("oven_temperature", True)


# ---------------------------------------------------------------- amounts


def _density(name: str) -> float:
    for word, g_per_ml in rules().data["amounts"]["density_g_per_ml"].items():
        if word in name:
            return g_per_ml
    return 1.0


_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(oz|ounce|g|gram|ml|lb)", re.I)


def grams(line: Line, name: str) -> float | None:
    """An estimate of the line's weight in grams (None when it has no amount)."""
    if not line.scalable:
        return None
    n = float(line.high or line.low)
    a = rules().data["amounts"]
    if line.unit in UNITS:
        base = n * factor(line.unit)
        return base * (_density(name) if UNITS[line.unit][0] == "volume" else 1.0)
    if line.size:
        m = _SIZE_RE.search(line.size)
        if m:
            u = {"ounce": "oz", "gram": "g"}.get(m.group(2).lower(), m.group(2).lower())
            return n * float(m.group(1)) * factor(u) * (_density(name) if u == "ml" else 1.0)
    if line.unit in a["small_count_g"]:
        return n * a["small_count_g"][line.unit]
    first = words(name)[:1]
    if line.unit is None and first and first[0] in a["small_count_g"]:  # "1/2 bushel tomatoes": no unit of quantities
        return n * a["small_count_g"][first[0]]
    if line.unit == "stick":
        return n * a["stick_g"]
    if line.unit is not None:
        return n * a["can_g"]
    return n * (a["egg_g"] if "egg" in words(name) else a["count_g"])


def _is_salt(name: str) -> bool:
    """A salt line: not salt mixed into another food ("6 c. flour with 1 tsp. salt mixed in")."""
    head = re.split(r"\bwith\b", name, maxsplit=1)[0]
    return bool(re.search(r"\bsalt\b", head)) and not _phrase_re("amounts", "salt_not").search(name)


# a step that salts the water pasta, potatoes or greens boil in ("boil 1 l of water ... add 10 g of salt"), in a
# recipe that drains it: that salt is poured off, so it is no share of the dish
_SALTED_WATER_RE = re.compile(r"^(?=.*\bwater\b)(?=.*\bboil)(?=.*\bsalt\b)", re.I | re.S)
_DRAIN_RE = re.compile(r"\bdrain", re.I)


def check_salt_amount(r: _Read) -> SenseCheck:
    a = rules().data["amounts"]
    weights = [grams(ln, n) for ln, n in zip(r.lines, r.names)]
    salt = sum(w for w, n in zip(weights, r.names) if w is not None and _is_salt(n))
    if not salt or _phrase_re("amounts", "salt_blend_titles").search(r.recipe.title or ""):
        return _check("salt_amount", None)
    if _DRAIN_RE.search(r.text) and any(_SALTED_WATER_RE.search(step) for step in r.recipe.directions):
        return _check("salt_amount", None)  # the salt seasons cooking water that is poured off
    # dishes salty by design (brines, pickles, salt dough) get a brine's limit instead of a dish's
    heavy = _phrase_re("amounts", "salt_heavy_titles").search(r.recipe.title or "")
    limit = a["salt_heavy_max_share"] if heavy else a["salt_max_share"]
    total = sum(w for w in weights if w is not None)
    share = salt / total
    if share > limit and salt >= a["salt_min_grams"]:
        why = f"about {salt:.0f} g of salt is {share:.0%} of the recipe's weight (about {total:.0f} g): far too salty"
        return _check("salt_amount", False, why, rules().source("salt_share"))
    return _check("salt_amount", True)


def _tsp(line: Line, name: str) -> float | None:
    if not line.scalable or line.unit not in UNITS:
        return None
    g = grams(line, name) or 0.0
    return g / rules().data["amounts"]["baking_powder_tsp_g"]


def check_leavening_amount(r: _Read) -> SenseCheck:
    a = rules().data["amounts"]
    flour_g = sum(
        grams(ln, n) or 0.0
        for ln, n in zip(r.lines, r.names)
        if re.search(r"\bflour\b", n) and not re.search(r"\btortilla|\bfor dusting|\bsurface\b", n)
    )
    if not flour_g:
        return _check("leavening_amount", None)
    cups = flour_g / a["flour_cup_g"]
    found = False
    for ln, n in zip(r.lines, r.names):
        for agent, key in (
            ("baking powder", "baking_powder_max_tsp_per_cup"),
            ("baking soda", "baking_soda_max_tsp_per_cup"),
        ):
            if agent in n or (
                agent == "baking soda" and re.search(r"\bsoda\b", n) and "baking powder" not in n and "club" not in n
            ):
                tsp = _tsp(ln, n)
                if tsp is None:
                    continue
                found = True
                if tsp / cups > a[key]:
                    why = f"{tsp:.1f} tsp of {agent} for about {cups:.1f} cups of flour is {tsp / cups:.1f} tsp a cup (about 1 is usual)"
                    return _check("leavening_amount", False, why, rules().source("leavening"))
                break
    return _check("leavening_amount", True if found else None)


def _whole_egg(name: str) -> bool:
    ws = set(words(name))
    return "egg" in ws and not ws & _words_set("eggs", "not_whole")


_METRIC_MASS = ("g", "kg")


def check_egg_units(r: _Read) -> SenseCheck:
    e = rules().data["eggs"]
    eggs = [(ln, n) for ln, n in zip(r.lines, r.names) if ln.scalable and _whole_egg(n)]
    if not eggs:
        return _check("egg_units", None)
    others = [ln for ln, n in zip(r.lines, r.names) if ln.unit in UNITS and not _whole_egg(n)]
    src = rules().source("weights")
    for ln, _n in eggs:
        if ln.unit in UNITS and UNITS[ln.unit][0] == "volume":
            return _check("egg_units", False, f"eggs are counted, not measured by volume: {ln.text!r}", src)
        if ln.unit in UNITS and UNITS[ln.unit][0] == "mass":
            g = float(ln.high or ln.low) * factor(ln.unit)
            if g < e["min_weighed_g"]:
                return _check("egg_units", False, f"{g:.0f} g is not an amount of egg: {ln.text!r}", src)
            # weighed eggs belong to a kitchen that weighs: grams among grams, ounces among ounces
            same_system = [o for o in others if (o.unit in _METRIC_MASS) == (ln.unit in _METRIC_MASS)]
            weighed = [o for o in same_system if UNITS[o.unit][0] == "mass"]
            if others and len(weighed) < e["weighed_share"] * len(others):
                why = f"eggs are counted in a recipe that measures otherwise: {ln.text!r} (about {g / rules().data['amounts']['egg_g']:.0f} eggs)"
                return _check("egg_units", False, why, src)
    return _check("egg_units", True)


# ---------------------------------------------------------------- ingredients and directions agree

_STEM_LEN = 5


def _stems(ws) -> set[str]:
    return {w[:_STEM_LEN] for w in ws if len(w) >= 3}


def check_ingredients_used(r: _Read) -> SenseCheck:
    """Lenient by design: RecipeNLG's home recipes say "mix together and bake" and name nothing.  It fails
    only when most lines are never named AND the directions name foods the recipe does not list (another
    dish's directions), or when the directions name nothing at all of a long list and no generic phrase."""
    u = rules().data["used"]
    if not r.names or not r.recipe.directions:
        return _check("ingredients_used", None)
    said = _stems(r.direction_words)
    skip = _words_set("used", "descriptors")
    unused = []
    for line, name in zip(r.ingredients, r.names):
        ws = [w for w in words(name) if w not in skip and len(w) >= 3]
        if ws and not _stems(ws) & said:
            unused.append(line.strip())
    if _phrase_re("used", "generic").search(r.text):
        unused = []  # "mix all ingredients", "combine remaining ingredients": every line is used
    foreign = _foreign_foods(r)
    many_unused = len(unused) >= u["min_unused"] and len(unused) > u["min_unused_share"] * len(r.names)
    if many_unused and len(foreign) >= u["min_foreign"]:
        why = (
            f"{len(unused)} of {len(r.names)} ingredients are never used, and the directions cook other food "
            f"({', '.join(sorted(foreign)[:3])}): " + ", ".join(unused[:4])
        )
        return _check("ingredients_used", False, why, "calibrated (dev) on real recipes")
    return _check("ingredients_used", True)


@lru_cache(maxsize=1)
def _food_table() -> PhraseTable:
    return PhraseTable((p, True) for p in _phrase_list(rules().data, "used", "foods"))


def _foreign_foods(r: _Read) -> set[str]:
    """Foods the directions name (lexicon class phrases and ``used.foods``) that neither the ingredient
    list nor the title names."""
    listed = _stems(words(" ".join([*r.ingredients, r.recipe.title or ""])))
    classes_listed = r.listed_classes
    ignore = _ignored_phrases()
    found = {p for p, c in matches(r.text) if c and not c <= classes_listed and tuple(p.split()) not in ignore}
    found |= {p for p, _ in _food_table().find(words(r.text))}
    return {p for p in found if not _stems(p.split()) & listed}


@lru_cache(maxsize=1)
def _ignored_phrases() -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(words(p)) for p in _phrase_list(rules().data, "listed", "ignore"))


_CLAUSE_SPLIT = re.compile(r"[,;:()]|\band\b(?=\s+(?:serve|garnish))", re.I)


def _is_remark(sentence: str) -> bool:
    """Not a step the cook follows: a serving suggestion ("Serve with sour cream") or a remark ("I frosted
    mine with ...", "It will make its own gravy", "Also great with ice cream", "Can add cooked bacon")."""
    ws = words(re.sub(r"^(?:then|now|finally|and)\s+", "", sentence.strip(), flags=re.I))
    return not ws or ws[0] in _words_set("listed", "remark_starts")


def _preparation_sentences(r: _Read) -> list[str]:
    """The sentences of the steps that make the dish: a step with an option in it ("if desired", "you may
    use", "can be covered with cheese, then heated") is left out whole, and so is every remark."""
    options = _phrase_re("listed", "option_words")
    steps = [step for step in r.recipe.directions if not options.search(step)]
    return [s for s in split_sentences(steps) if not _is_remark(s)]


def _made_in_recipe(phrase: str, listed_words: set[str]) -> bool:
    """A component the recipe makes from its own lines: gravy from listed broth, stock or drippings."""
    made = rules().data["listed"].get("made_from", {})
    return phrase in made and bool(set(words(" ".join(made[phrase]))) & listed_words)


def check_ingredients_listed(r: _Read) -> SenseCheck:
    if not r.names or not r.recipe.directions:
        return _check("ingredients_listed", None)
    # the title names the dish's main food too ("Baked Italian Chicken": "prepare chicken for baking")
    listed_words = set(words(" ".join([*r.ingredients, r.recipe.title or ""])))
    listed_classes = r.listed_classes
    ignore = _ignored_phrases()
    skip = _phrase_re("listed", "skip_clause_words")
    for s in _preparation_sentences(r):  # what a serving suggestion, an option or a remark names is no ingredient
        for clause in _CLAUSE_SPLIT.split(s):
            if skip.search(clause):
                continue
            for phrase, classes in matches(clause):
                if not classes or tuple(phrase.split()) in ignore or classes <= listed_classes:
                    continue
                if set(phrase.split()) & listed_words or _made_in_recipe(phrase, listed_words):
                    continue
                why = f"the directions use {phrase!r}, which is not in the ingredient list: {s!r}"
                return _check("ingredients_listed", False, why, "calibrated (dev) on real recipes")
    return _check("ingredients_listed", True)


# ---------------------------------------------------------------- steps


def _first_word(sentence: str) -> str:
    ws = words(
        re.sub(r"^(?:then|now|finally|next|to|and|immediately|lightly|carefully)\s+", "", sentence.strip(), flags=re.I)
    )
    return ws[0] if ws else ""


def _is_serve_step(sentence: str, o: dict) -> bool:
    """ "Serve over rice", not "serving plate" (a broken line of "remove chicken to serving plate")."""
    ws = words(sentence)
    if _first_word(sentence) not in o["serve_words"] or ws == ["serving"]:
        return False
    return not (len(ws) > 1 and ws[1] in o["serve_not_before"])


def check_step_order(r: _Read) -> SenseCheck:
    o = rules().data["order"]
    serve_at = next((i for i, s in enumerate(r.sentences) if _is_serve_step(s, o)), None)
    if serve_at is None:
        return _check("step_order", None)
    if any(i < serve_at for i in r.heat_sentences):
        return _check("step_order", True)  # the dish was cooked before it is served; a later bake is a gratin
    starts = {tuple(words(p)) for p in _phrase_list(rules().data, "order", "sub_recipe_starts")}
    anywhere = _phrase_re("order", "sub_recipe_anywhere")
    for s in r.sentences[serve_at + 1 :]:
        ws = tuple(words(s))
        if s.rstrip().endswith(":") or ws[:1] in starts or ws[:2] in starts or anywhere.search(s):
            return _check("step_order", True)  # a sauce, a note or a make-ahead tip follows: not the dish's steps
        if _first_word(s) in o["cook_starts"] or _heats(s):
            why = f"the dish is served ({r.sentences[serve_at]!r}) before it is cooked ({s!r})"
            return _check("step_order", False, why, "steps in the order a cook follows them")
    return _check("step_order", True)


# The verbs a stated time can belong to, by stem -> the key of times.max_minutes (None: no limit here).
_TIMED_VERB_RE = re.compile(
    r"\b(beat|whisk|mix|stir|blend|fold|saut|fry|frie|sear|toast|broil|microwav|cream|knead|scrambl|flip|turn|"
    r"bak|simmer|chill|refrigerat|stand|rest|marinat|soak|set|freez|cool|ris|sit|boil|cook|steep|cover|leav|stor|"
    r"keep|roast|let|process|grill|steam|poach|brown|heat|dry|drain|proof|ferment|cur|brin|melt|reduc|thicken|wait)\w*",
    re.I,
)
_STEM_KEY = {"saut": "saute", "fry": "fry", "frie": "fry", "microwav": "microwave", "scrambl": "scramble", "bak": "bake"}
_TIME_RE = re.compile(r"\b\d+(?:\s*(?:-|to|–)\s*\d+)?\s*(?:minutes?|mins?|hours?|hrs?)\b", re.I)


_NOT_ACTIONS = {
    "mixture",
    "mixtures",
    "cooker",
    "setting",
    "brownie",
    "brownies",
    "restaurant",
    "letter",
    "dryer",
    "freezer",
    "cooler",
}
# "bake, flipping halfway through, 20 to 30 minutes": the flip is an aside inside the bake (round 2, holdout)
_ASIDE_RE = re.compile(r"\s+(?:\w+\s+)?(?:halfway|once|occasionally|frequently|every|twice|often)\b", re.I)
_PARTICIPLE_NOUN_RE = re.compile(r"\s+(?:water|butter|milk|oil|liquid|mixture)\b", re.I)


def _is_action(m: re.Match, sentence: str) -> bool:
    """Not a noun ("mixture") nor a participle before a noun ("boiling water", "melted butter")."""
    word = m.group(0).lower()
    if word in _NOT_ACTIONS or _ASIDE_RE.match(sentence, m.end()):
        return False
    return not (word.endswith(("ing", "ed")) and _PARTICIPLE_NOUN_RE.match(sentence, m.end()))


def _timed_action(sentence: str) -> tuple[str | None, int | None]:
    """(the verb the first stated time belongs to, that time in minutes): the last verb before the time."""
    m = _TIME_RE.search(sentence)
    if not m:
        return None, None
    verbs = [v for v in _TIMED_VERB_RE.finditer(sentence[: m.start()]) if _is_action(v, sentence)]
    if not verbs:
        return None, None
    stem = verbs[-1].group(1).lower()
    return _STEM_KEY.get(stem, stem), parse_duration(sentence[verbs[-1].start() : m.end()])


def check_step_times(r: _Read) -> SenseCheck:
    t = rules().data["times"]
    title = set(words(r.recipe.title or ""))
    small_bake = bool(title & set(words(" ".join(t["small_bake_titles"]))))
    any_time = False
    for s in r.sentences:
        verb, minutes = _timed_action(s)
        if minutes is None:
            continue
        any_time = True
        limit = t["max_minutes"].get(verb)
        ws = set(words(s))
        if verb == "boil" and "egg" in ws:
            limit = t["egg_boil_max"]
        elif verb == "bake" and small_bake and not ws & {"overnight", "off", "dry", "meringue"}:
            limit = t["small_bake_max"]
        if limit is not None and minutes > limit:
            why = f"{minutes} minutes is far too long to {verb}: {s!r}"
            return _check("step_times", False, why, rules().source("times"))
    return _check("step_times", True if any_time else None)


# ---------------------------------------------------------------- all of them

_CHECK_FUNCS = (
    check_is_recipe,
    check_raw_food,
    check_internal_temperature,
    check_food_left_out,
    check_oven_temperature,
    check_salt_amount,
    check_leavening_amount,
    check_egg_units,
    check_ingredients_used,
    check_ingredients_listed,
    check_step_order,
    check_step_times,
)
assert tuple(f.__name__.removeprefix("check_") for f in _CHECK_FUNCS) == tuple(n for n, _ in CHECKS)


def check_kitchen_sense(recipe: Recipe) -> SenseReport:
    """Every kitchen-sense check of ``recipe``, in ``CHECKS`` order."""
    r = _Read(recipe)
    checks = tuple(f(r) for f in _CHECK_FUNCS)
    return SenseReport(checks=checks, is_recipe=checks[0].passed is True)
