"""A recipe (``Recipe``, the one type of every layer) and its text format: how a recipe is
written as the assistant's answer, and how any model's answer is read back into title,
ingredients and directions.

One module for the type and both directions so that training targets, evaluation checks,
the planner, the kitchen and the server's structured ``/v1/recipes`` answer can never
disagree about what a recipe is or how it is written.

The parser is deliberately lenient: it must read base models' markdown, the
reference project's ``[ DIRECTIONS ]`` blocks and plain "Ingredients:" headings,
because evaluation parses outputs of models that were never taught our format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from chefbot.errors import DataError

INGREDIENTS_HEADING = "Ingredients"
DIRECTIONS_HEADING = "Directions"


@dataclass(kw_only=True)
class Recipe:
    """A recipe: title, servings, ingredient lines and direction steps, plus where it came from.

    Every layer uses this type: data records (``data.readers``), the planner's dishes
    (``plan.recipes``), the kitchen's library (``kitchen.library``) and the parser's result
    (``ParsedRecipe``).  Text becomes a recipe only through ``parse_recipe``, a recipe becomes
    text only through ``render`` (``render_recipe``).

    A plain dataclass, not a pydantic model: data preparation builds one per row of 2.23M, and a
    pydantic model of these fields costs 5 to 8 us to build (``model_construct`` no less) against
    0.3 to 1.4 us here (2-core machine, idle and loaded), 4 to 7% of preparation's 108 us of CPU a
    row (docs/BENCHMARKS.md) for validating cells the readers have already cleaned.  Input from users
    (recipe files, request bodies) goes through ``Recipe.validate``: pydantic's validation of this
    same dataclass, which names the field that is wrong.
    """

    # Unknown keys are refused by ``validate`` (a typo such as "direction" is an error, not ignored).
    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")

    title: str | None = None  # None: the text had no title (the parser); readers use "" for a missing one
    servings: Annotated[int | None, Field(ge=1)] = None
    ingredients: list[str] = field(default_factory=list)  # lines as written: "2 cups flour"
    directions: list[str] = field(default_factory=list)  # one step each, without numbers
    # Provenance: none of it changes what the recipe says.
    id: str | None = None  # the source's id of the recipe ("recipenlg:12")
    source: str = ""  # where it came from, in words: a dataset's source column, a file, "written by the model"
    link: str | None = None  # the web page it was collected from
    ner: list[str] = field(default_factory=list)  # ingredient names without quantities (RecipeNLG's NER column)

    @staticmethod
    def validate(data: Any, where: str) -> Recipe:
        """A recipe from user input (a mapping from YAML/JSON); DataError naming ``where`` and the field otherwise."""
        try:
            return _RECIPE_ADAPTER.validate_python(data)
        except ValidationError as e:
            err = e.errors(include_url=False)[0]
            field_name = ".".join(str(p) for p in err.get("loc", ()))
            problem = "unknown key" if err.get("type") == "unexpected_keyword_argument" else err.get("msg", "invalid")
            raise DataError(f"{where}: {field_name}: {problem}" if field_name else f"{where}: {problem}") from None

    def render(self) -> str:
        """The recipe in chefbot's text format (``render_recipe``), as the model learns to write it."""
        return render_recipe(self.title or "", self.ingredients, self.directions)


def render_recipe(title: str, ingredients: list[str], directions: list[str]) -> str:
    """The assistant target: a titled recipe with an ingredient list and numbered steps."""
    lines = [f"# {title.strip()}", "", f"## {INGREDIENTS_HEADING}"]
    lines += [f"- {i.strip()}" for i in ingredients if i.strip()]
    lines += ["", f"## {DIRECTIONS_HEADING}"]
    lines += [f"{n}. {d.strip()}" for n, d in enumerate((d for d in directions if d.strip()), 1)]
    return "\n".join(lines)


# A heading line: optional markdown/brackets/bold around a word, optional colon.
_DECOR = r"[\s#*_\[\]=:>-]*"
_ING_RE = re.compile(
    rf"^{_DECOR}(ingredients?|what you('| wi)ll need|you will need)\b{_DECOR}(?:\(.*\))?{_DECOR}$", re.I
)
_DIR_RE = re.compile(
    rf"^{_DECOR}(directions?|instructions?|steps?|method|preparation|procedure|how to make( it)?)\b{_DECOR}(?:\(.*\))?{_DECOR}$",
    re.I,
)
_OTHER_HEAD_RE = re.compile(r"^\s*(#{1,6}\s+\S.*|\*\*[^*]+\*\*:?\s*|\[\s*[A-Z][A-Z ]+\s*\]|[A-Z][A-Za-z ]{2,30}:)\s*$")
_NUMBERED_RE = re.compile(r"^\s*(?:step\s*)?(\d{1,3})\s*[.):]\s*(.+)$", re.I)
_BULLET_RE = re.compile(r"^\s*(?:[-*\u2022+]|\d{1,3}[.)])\s+(.+)$")
_TITLE_PREFIX_RE = re.compile(r"^\s*(?:#{1,6}\s*|\*\*|title\s*:\s*|recipe\s*:\s*|\[\s*)", re.I)


@dataclass(kw_only=True)
class ParsedRecipe(Recipe):
    """A ``Recipe`` read from text, plus what the text's form showed (numbered steps)."""

    numbered: bool = False  # directions were written as a numbered list

    @property
    def well_formed(self) -> bool:
        """Title, at least one ingredient and at least one numbered direction."""
        return bool(self.title) and bool(self.ingredients) and bool(self.directions) and self.numbered

    def to_dict(self) -> dict:
        return {
            "title": self.title,
            "ingredients": list(self.ingredients),
            "directions": list(self.directions),
            "numbered": self.numbered,
            "well_formed": self.well_formed,
        }


# Built once, at import: a TypeAdapter compiles its validator.
_RECIPE_ADAPTER = TypeAdapter(Recipe)


def _clean_title(line: str) -> str:
    t = _TITLE_PREFIX_RE.sub("", line.strip())
    return t.strip(" *#[]:").strip()


def parse_recipe(text: str) -> ParsedRecipe:
    """Read a recipe back from free text; missing parts stay empty rather than raising."""
    out = ParsedRecipe()
    section: str | None = None
    numbered_steps = 0
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line:
            continue
        if _ING_RE.match(line):
            section = "ing"
            continue
        if _DIR_RE.match(line):
            section = "dir"
            continue
        if section is None:
            if out.title is None and not _BULLET_RE.match(line):
                title = _clean_title(line)
                # A chatty preamble ("Certainly! Here's a recipe for:") is not a title.
                if title and not title.endswith(":") and len(title) <= 120:
                    out.title = title
            continue
        if section == "ing":
            m = _BULLET_RE.match(line)
            if m:
                out.ingredients.append(m.group(1).strip())
            elif _OTHER_HEAD_RE.match(line):
                section = "other"
            else:
                out.ingredients.append(line)
        elif section == "dir":
            m = _NUMBERED_RE.match(line)
            if m:
                numbered_steps += 1
                out.directions.append(m.group(2).strip())
                continue
            b = _BULLET_RE.match(line)
            if b:
                out.directions.append(b.group(1).strip())
            elif _OTHER_HEAD_RE.match(line) and out.directions:
                section = "other"  # e.g. "Notes:" after the steps
            elif out.directions and not _OTHER_HEAD_RE.match(line):
                out.directions.append(line)
    out.numbered = numbered_steps > 0 and numbered_steps >= len(out.directions) / 2
    return out


def directions_text(text: str) -> str:
    """The directions section alone, one step per line (for directions-only ROUGE).

    Falls back to the whole text when no directions heading is found, so a model
    that writes steps without a heading is not scored as empty.
    """
    parsed = parse_recipe(text)
    if parsed.directions:
        return "\n".join(parsed.directions)
    return (text or "").strip()
