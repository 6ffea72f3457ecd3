"""A recipe rewritten by rule for a diet it breaks: ``substitute(recipe, diet) -> Substituted``.

The swaps and the source of each cooking fact are in ``substitutions.yaml``; this module
reads them and applies them.  An ingredient line that breaks the diet is swapped only when
a swap's ``classes`` cover everything it breaks and its dish conditions hold; otherwise the
recipe is refused with a reason, never guessed.  A swap rewrites:

* the ingredient line, amount converted (``quantities.parse_line`` / ``format_line``;
  ``best_unit`` writes 6 tbsp rather than 3/8 cup): 2 eggs -> 2 tbsp ground flaxseed and
  6 tbsp water; 1/2 cup butter -> 6 tbsp vegetable oil;
* every mention in the directions, amounts included ("add 10 g of butter" -> "add 8 g of
  oil"), and the title ("Chicken Soup" -> "Chickpea Soup").  Mentions are found with the
  lexicon's own phrases (``lexicon.lexicon().table``): a longer lexicon phrase that holds a
  swapped word wins and is kept ("peanut butter", "coconut milk", "vegetable broth",
  "eggplant" is a word of its own), as the diet checker reads it.

The result must meet the diet by the one checker (``recipe_constraints.check_recipe``), name
no forbidden food in its directions or title (the lexicon again), and pass kitchen sense
(``kitchen_sense.check_kitchen_sense``: safe and no plausibility check failed); otherwise it
is refused and the reason says which.  ``Substituted.code`` is a short reason key for counting.

No library does this: recipe-adaptation tools are models, not rules with sources.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cache
from importlib import resources

import yaml

from chefbot.cooking.kitchen_sense import check_kitchen_sense
from chefbot.cooking.kitchen_sense import rules as sense_rules
from chefbot.cooking.lexicon import DIETS, PhraseTable, classify, diets_of, lexicon, matches, words
from chefbot.cooking.quantities import (
    UNITS,
    Line,
    best_unit,
    factor,
    format_amount,
    format_line,
    parse_line,
    round_count,
    unit_name,
)
from chefbot.cooking.recipe_constraints import RecipeConstraints, check_recipe
from chefbot.errors import ConfigError
from chefbot.recipe_format import Recipe

SUBS_FILE = "substitutions.yaml"
KINDS = ("same", "ratio", "mass", "per_450g", "per_egg")

# Reason codes (``Substituted.code``) of a refusal, for the data statistics.
NO_RULE = "no rule"  # an ingredient breaks the diet and no swap covers it
REFUSED = "refused by a swap's limits"  # the dish is one where the swap fails (an omelette, yeast bread)
NO_AMOUNT = "amount not convertible"  # a swap that converts amounts found none it can read
DIET_CHECK = "diet check failed"
MENTION_LEFT = "a forbidden food still named"
KITCHEN_SENSE = "kitchen sense failed"
MEETS_DIET = "already meets the diet"


@dataclass(frozen=True)
class Swap:
    name: str
    classes: frozenset[str]
    match: tuple[str, ...]
    to: str
    noun: str
    title: str
    kind: str
    source: str
    dish: tuple[str, ...] = ()
    refuse: tuple[str, ...] = ()
    near: tuple[str, ...] = ()  # names of sentence word lists (meat_sentence_refuse, ...)
    factor: Fraction = Fraction(1)
    cups: Fraction = Fraction(0)
    parts: tuple[tuple[str, Fraction], ...] = ()
    extra: tuple[str, Fraction] | None = None
    step: str = ""
    mentions: tuple[str, ...] = ()  # more words the directions and title may use for it ("the meat")
    verbs: tuple[tuple[str, str], ...] = ()  # verbs renamed in a sentence naming it ("melt" -> "heat" for oil)

    @property
    def phrases(self) -> tuple[str, ...]:
        return self.match + self.mentions


@dataclass(frozen=True)
class Substituted:
    """What ``substitute`` made: the new recipe, or None with the reason (and its ``code``)."""

    diet: str
    recipe: Recipe | None
    swaps: tuple[str, ...] = ()  # "1 cup milk -> 1 cup soy milk (milk to soy milk)"
    reason: str = ""
    code: str = ""  # "" when built


@dataclass(frozen=True)
class Rules:
    swaps: tuple[Swap, ...]
    table: PhraseTable  # swap phrases (value: indices of swaps) and the lexicon's phrases (value: ())
    sentence_words: dict[str, tuple[str, ...]]
    sources: dict[str, str]


def _strings(where: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{SUBS_FILE}: {where}: expected a list of words, got {value!r}")
    return tuple(value)


def build_rules(data: dict) -> Rules:
    """Validate the YAML and index it; a mistake names its swap and key."""
    sources = data.get("sources")
    if not isinstance(sources, dict):
        raise ConfigError(f"{SUBS_FILE}: the section 'sources' is missing or not a mapping")
    lists = {
        k.removesuffix("_sentence_refuse"): _strings(k, v) for k, v in data.items() if k.endswith("_sentence_refuse")
    }
    swaps = []
    for i, s in enumerate(data.get("swaps") or []):
        where = f"swaps[{i}] ({s.get('name', '?')})"
        missing = [k for k in ("name", "classes", "match", "to", "noun", "title", "amount", "source") if k not in s]
        if missing:
            raise ConfigError(f"{SUBS_FILE}: {where}: missing key {missing[0]!r}")
        if s["source"] not in sources:
            raise ConfigError(f"{SUBS_FILE}: {where}: source {s['source']!r} is not in 'sources'")
        amount = s["amount"]
        if amount.get("kind") not in KINDS:
            raise ConfigError(f"{SUBS_FILE}: {where}: amount.kind must be one of {', '.join(KINDS)}")
        for n in s.get("near", []):
            if n not in lists:
                raise ConfigError(f"{SUBS_FILE}: {where}: near {n!r} has no '{n}_sentence_refuse' list")
        extra = s.get("extra")
        swaps.append(
            Swap(
                name=s["name"],
                classes=frozenset(_strings(f"{where}: classes", s["classes"])),
                match=_strings(f"{where}: match", s["match"]),
                to=s["to"],
                noun=s["noun"],
                title=s["title"],
                kind=amount["kind"],
                source=s["source"],
                dish=_strings(f"{where}: dish", s.get("dish", [])),
                refuse=_strings(f"{where}: refuse", s.get("refuse", [])),
                near=_strings(f"{where}: near", s.get("near", [])),
                factor=Fraction(str(amount.get("factor", 1))),
                cups=Fraction(str(amount.get("cups", 0))),
                parts=tuple((p, Fraction(str(n))) for p, n in amount.get("parts", [])),
                extra=(extra[0], Fraction(str(extra[1]))) if extra else None,
                step=s.get("step", ""),
                mentions=_strings(f"{where}: mentions", s.get("mentions", [])),
                verbs=tuple((str(k), str(v)) for k, v in (s.get("verbs") or {}).items()),
            )
        )
    entries: dict[tuple[str, ...], tuple[int, ...]] = {k: () for k in lexicon().table.table}
    for i, sw in enumerate(swaps):
        for phrase in sw.match:
            key = tuple(words(phrase))
            entries[key] = (*entries.get(key, ()), i)
    table = PhraseTable((" ".join(k), v) for k, v in entries.items())
    return Rules(tuple(swaps), table, lists, {k: " ".join(str(v).split()) for k, v in sources.items()})


@cache
def rules() -> Rules:
    text = resources.files("chefbot.cooking").joinpath(SUBS_FILE).read_text(encoding="utf-8")
    return build_rules(yaml.safe_load(text))


def substitutions_identity() -> str:
    """A hash of the swap table and the checks a built recipe must pass (for the data cache's fingerprint)."""
    h = hashlib.sha256()
    for name in (SUBS_FILE, "kitchen_sense.yaml", "ingredients.yaml"):
        h.update(resources.files("chefbot.cooking").joinpath(name).read_bytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- finding mentions in text


def _word_re(word: str) -> str:
    """A lexicon word (singular) as a regex of its written forms: "egg" -> eggs, "cherry" -> cherries."""
    if word.endswith("y") and len(word) > 4:
        return rf"{word[:-1]}(?:y|ies)"
    return rf"{re.escape(word)}(?:s|es)?"


def _phrase_re(key: tuple[str, ...]) -> str:
    return r"[\s-]+".join(_word_re(w) for w in key)


@cache
def _mention_re(swap_ids: tuple[int, ...]) -> re.Pattern:
    """Every phrase of these swaps and every longer lexicon phrase that holds one of their words,
    longest first; group ``amt`` an amount right before it ("10 g of ")."""
    r = rules()
    own = {tuple(words(p)) for i in swap_ids for p in r.swaps[i].phrases}
    own_words = {w for k in own for w in k}
    keep = {k for k in r.table.table if k not in own and len(k) > 1 and own_words & set(k)}
    alts = sorted(own | keep, key=lambda k: (-len(k), -len(" ".join(k))))
    body = "|".join(f"(?P<{'s' if k in own else 'k'}{n}>{_phrase_re(k)})" for n, k in enumerate(alts))
    amount = r"(?P<amt>\d+(?:[.,/]\d+)?(?:\s+\d+/\d+)?\s*(?:[A-Za-z]+\.?\s+)?(?:of\s+)?(?:the\s+)?)?"
    return re.compile(rf"(?<![A-Za-z]){amount}(?:{body})(?![A-Za-z])", re.I)


# ---------------------------------------------------------------- amounts


def _volume_line(base_ml: float, metric: bool, name: str) -> Line:
    value, unit = best_unit(base_ml, "ml" if metric else "tbsp")
    return Line("", value, None, unit, "", name)


def _converted(line: Line, sw: Swap) -> list[Line] | None:
    """The swap's new line(s) for ``line`` (amount converted), or None when the amount cannot be converted."""
    metric = line.unit in ("g", "kg", "ml", "l", "dl")
    if sw.kind == "same":
        out = [replace(line, rest=sw.to, text="")]
        if sw.extra and line.scalable and line.unit in UNITS and UNITS[line.unit][0] == "volume":
            cups = float(line.low) * factor(line.unit) / factor("cup")
            out.append(_volume_line(cups * float(sw.extra[1]) * factor("tsp"), metric, sw.extra[0]))
        elif sw.extra:
            return None  # the extra is measured per cup: a weighed or counted buttermilk has no volume
        return out
    if not line.scalable:
        return [line] if sw.kind == "ratio" else None  # "butter for greasing": no amount to convert
    if sw.kind == "ratio":
        if line.unit == "stick":  # a stick of butter is 1/2 cup (source butter_oil)
            line = replace(line, low=line.low / 2, high=line.high / 2 if line.high else None, unit="cup")
        if line.unit not in UNITS or line.high is not None:
            return None
        value, unit = best_unit(float(line.low * sw.factor) * factor(line.unit), line.unit)
        return [Line("", value, None, unit, "", sw.to)]
    if line.unit not in UNITS or UNITS[line.unit][0] != "mass" or line.high is not None:
        return None  # meat swaps go by weight: "2 chicken breasts" has none
    grams = float(line.low) * factor(line.unit)
    if sw.kind == "mass":
        return [Line("", line.low, None, line.unit, "", sw.to)]
    if sw.kind == "per_450g":
        return [_volume_line(grams / 450 * float(sw.cups) * factor("cup"), metric, sw.to)]
    raise AssertionError(sw.kind)  # per_egg goes through _egg_lines


def _egg_lines(line: Line, sw: Swap) -> list[Line] | None:
    """Eggs counted ("2 eggs") or weighed ("120 g eggs", at kitchen_sense.yaml's egg_g a large egg)."""
    if not line.scalable or line.high is not None:
        return None
    if line.unit is None:
        eggs = line.low
    elif line.unit in UNITS and UNITS[line.unit][0] == "mass":
        eggs = round_count(Fraction(float(line.low) * factor(line.unit) / sense_rules().data["amounts"]["egg_g"]))
    else:
        return None
    return [_volume_line(float(eggs * n) * factor("tbsp"), False, part) for part, n in sw.parts]


def _new_lines(line: Line, sw: Swap) -> list[Line] | None:
    return _egg_lines(line, sw) if sw.kind == "per_egg" else _converted(line, sw)


def _amount_text(line: Line) -> str:
    parts = [format_amount(line.low, line.unit), unit_name(line.unit, line.low)]
    return " ".join(p for p in parts if p)


# ---------------------------------------------------------------- the rewrite


def _swap_found(line: str, forbidden: frozenset[str], text_words: set[str]) -> tuple[int | None, str]:
    """(the swap for this line, "") or (None, why not)."""
    r = rules()
    chosen: set[int] = set()
    for phrase, ids in r.table.find(words(line)):
        classes = classify(phrase) & forbidden
        if not classes:
            continue
        fits = [i for i in ids if classes <= r.swaps[i].classes and _dish_fits(r.swaps[i], text_words)]
        if not fits:
            return None, f"no swap for {phrase!r} ({', '.join(sorted(classes))}) in this dish"
        chosen.add(fits[0])
    if len(chosen) != 1:
        return None, f"{line!r} names {len(chosen)} foods to swap" if chosen else f"no swap found in {line!r}"
    return chosen.pop(), ""


def _has(text_words: set[str], phrase: str) -> bool:
    ws = words(phrase)
    return bool(ws) and all(w in text_words for w in ws)


def _dish_fits(sw: Swap, text_words: set[str]) -> bool:
    return not sw.dish or any(_has(text_words, d) for d in sw.dish)


def _phrase_in(text: str, phrase: str) -> bool:
    ws = words(text)
    key = words(phrase)
    return any(ws[i : i + len(key)] == key for i in range(len(ws) - len(key) + 1))


def _refusal(sw: Swap, recipe: Recipe) -> str:
    """Why this swap is dishonest in this recipe ("" when it is not)."""
    whole = " ".join([recipe.title or "", *recipe.directions])
    for phrase in sw.refuse:
        if _phrase_in(whole, phrase):
            return f"{sw.name}: not where the recipe says {phrase!r} ({rules().sources[sw.source][:60]}...)"
    near = [w for n in sw.near for w in rules().sentence_words[n]]
    if near:
        pattern = _mention_re(_ids_of(sw))
        for d in recipe.directions:
            for sentence in re.split(r"(?<=[.!?;])\s+", d):
                if any(m.lastgroup and m.lastgroup.startswith("s") for m in pattern.finditer(sentence)):
                    bad = next((w for w in near if _phrase_in(sentence, w)), None)
                    if bad:
                        return f"{sw.name}: the step {sentence!r} treats it as meat ({bad!r})"
    return ""


def _ids_of(sw: Swap) -> tuple[int, ...]:
    return (rules().swaps.index(sw),)


def _cased(old: str, new: str) -> str:
    if old[:1].isupper():
        return (
            " ".join(w[:1].upper() + w[1:] for w in new.split(" "))
            if old.istitle() or old.isupper()
            else new[:1].upper() + new[1:]
        )
    return new


def _rewrite_text(text: str, used: list[Swap], *, title: bool, name: str = "") -> str | None:
    """Every mention of a used swap's phrases renamed (amounts converted); None when an amount cannot be.
    ``name``: the new name instead of the swap's noun (an ingredient line's)."""
    failed = False

    def one(m: re.Match) -> str:
        nonlocal failed
        group = next(g for g in m.groupdict() if g != "amt" and m.group(g) is not None)
        if group.startswith("k"):
            return m.group(0)
        phrase = m.group(group)
        sw = next(s for s in used if tuple(words(phrase)) in {tuple(words(p)) for p in s.phrases})
        new = _cased(phrase, name or (sw.title if title else sw.noun))
        amt = m.group("amt") or ""
        if not amt or sw.kind in ("same", "mass"):
            return amt + new
        if sw.kind == "per_egg":
            return "the " + new
        parsed = parse_line(amt + phrase)
        lines = _converted(parsed, sw) if parsed.scalable else None
        if not lines:
            failed = True
            return m.group(0)
        of = " of " if re.search(r"\bof\s", amt) else " "
        return _amount_text(lines[0]) + of + new

    ids = tuple(rules().swaps.index(s) for s in used)
    out = _mention_re(ids).sub(one, text)
    if failed:
        return None
    for sw in used:
        if sw.verbs and not title:
            out = " ".join(_renamed_verbs(sentence, sw) for sentence in re.split(r"(?<=[.!?;])\s+", out))
    return out


def _renamed_verbs(sentence: str, sw: Swap) -> str:
    if not re.search(rf"\b{re.escape(sw.noun)}\b", sentence, re.I):
        return sentence
    for old, new in sw.verbs:
        sentence = re.sub(rf"\b{old}\b", lambda m, new=new: _cased(m.group(0), new), sentence, flags=re.I)
    return sentence


def _forbidden_named(text: str, forbidden: frozenset[str]) -> str:
    for phrase, classes in matches(text):
        if classes & forbidden:
            return phrase
    return ""


def substitute(recipe: Recipe, diet: str) -> Substituted:
    """``recipe`` rewritten to meet ``diet`` by the swaps of ``substitutions.yaml``, or why not."""
    if diet not in DIETS:
        raise ValueError(f"unknown diet {diet!r}; diets are {', '.join(DIETS)}")
    if diet in diets_of(recipe.ingredients):
        return Substituted(diet, None, reason=f"the recipe already meets {diet}", code=MEETS_DIET)
    r = rules()
    forbidden = lexicon().diets[diet]
    text_words = set(words(" ".join([recipe.title or "", *recipe.directions])))
    new_ingredients: list[str] = []
    used: list[Swap] = []
    done: list[str] = []
    for text in recipe.ingredients:
        bad = frozenset().union(*(c for _, c in matches(text))) & forbidden
        if not bad:
            new_ingredients.append(text)
            continue
        i, why = _swap_found(text, forbidden, text_words)
        if i is None:
            return Substituted(diet, None, reason=why, code=NO_RULE)
        sw = r.swaps[i]
        lines = _new_lines(parse_line(text), sw)
        if lines is None:
            return Substituted(diet, None, reason=f"{sw.name}: cannot convert the amount of {text!r}", code=NO_AMOUNT)
        if sw not in used:
            used.append(sw)
        # a line with no amount ("butter for greasing") keeps its words around the new name
        written = [
            format_line(ln) if ln.scalable else _rewrite_text(text, [sw], title=False, name=sw.to) for ln in lines
        ]
        new_ingredients += written
        done.append(f"{text} -> {'; '.join(written)} ({sw.name})")
    for sw in used:
        why = _refusal(sw, recipe)
        if why:
            return Substituted(diet, None, reason=why, code=REFUSED)
    directions = []
    for d in recipe.directions:
        new = _rewrite_text(d, used, title=False)
        if new is None:
            return Substituted(diet, None, reason=f"cannot convert an amount in the step {d!r}", code=NO_AMOUNT)
        directions.append(new)
    directions = [sw.step for sw in used if sw.step] + directions
    title = _rewrite_text(recipe.title or "", used, title=True) or recipe.title
    new = Recipe(
        title=title,
        servings=recipe.servings,
        ingredients=new_ingredients,
        directions=directions,
        id=recipe.id,
        source=recipe.source,
        link=recipe.link,
        ner=_new_ner(recipe.ner, used),
    )
    return _verified(Substituted(diet, new, tuple(done)), forbidden)


def _new_ner(ner: list[str], used: list[Swap]) -> list[str]:
    out: list[str] = []
    for name in ner:
        rewritten = _rewrite_text(name, used, title=False) or name
        for sw in used:
            if rewritten.strip().lower() == sw.noun:
                rewritten = sw.to
        out.append(rewritten)
    return list(dict.fromkeys(out))


def _verified(s: Substituted, forbidden: frozenset[str]) -> Substituted:
    """The built recipe against the diet checker, the lexicon (title and directions) and kitchen sense."""
    rec = s.recipe
    assert rec is not None
    check = check_recipe(rec.title or "", rec.ingredients, rec.directions, RecipeConstraints(diets=[s.diet]))[0]
    if check.satisfied is not True:
        return replace(s, recipe=None, reason=f"the diet check: {check.detail}", code=DIET_CHECK)
    for text in [rec.title or "", *rec.directions]:
        left = _forbidden_named(text, forbidden)
        if left:
            return replace(s, recipe=None, reason=f"{left!r} is still named in {text!r}", code=MENTION_LEFT)
    report = check_kitchen_sense(rec)
    failed = report.failures
    if failed or not report.is_recipe:
        names = ", ".join(c.name for c in failed) or "is_recipe"
        return replace(s, recipe=None, reason=f"kitchen sense: {names}", code=f"{KITCHEN_SENSE}: {names}")
    return s
