"""Recipe directions -> schedulable tasks, by rules (no model needed).

Each sentence of the directions becomes at most one task: its duration (a time named in
the text, read by ``durations.parse_duration``, else a default by verb and quantity from
``durations.yaml``), the equipment it holds, the oven temperature, whether it needs hands
the whole time, the skill it needs, and which earlier tasks it must follow.  No NLP
library parses cooking directions into these facts, hence the hand-written rules; every
table they use lives in ``durations.yaml``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from chefbot.cooking.durations import MAX_TASK_MINUTES, OVEN_RANGE_C, oven_celsius, parse_duration, parse_number, rules
from chefbot.cooking.equipment import HEAT, STOVE, VESSELS, Equipment

DEFAULT_OVEN_C = 175  # "moderate oven", and the temperature when a recipe names none


class Task(BaseModel):
    """One step of one dish; the same schema validates a model's JSON answer."""

    model_config = ConfigDict(extra="forbid")

    id: str
    dish: str  # the dish key
    step: int = Field(ge=1)  # the position among the dish's tasks
    text: str
    verb: str
    duration_min: int = Field(ge=1, le=MAX_TASK_MINUTES)
    attended: bool  # False: hands only to start and finish (bake, simmer, chill)
    skill: int = Field(ge=1, le=5)
    equipment: list[Equipment] = Field(default_factory=list)
    oven_temp_c: int | None = Field(None, ge=OVEN_RANGE_C[0], le=OVEN_RANGE_C[1])
    after: list[str] = Field(default_factory=list)  # ids of tasks that must finish first
    vessel: str | None = None  # tasks sharing it keep one burner+pot/pan from the first to the last
    duration_from: str = "default"  # "text", "default" or "model"


# ---------------------------------------------------------------- sentences and verbs

_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])|;\s*|,?\s+then\s+|\s*\n+\s*")
_CLAUSE_RE = re.compile(r",\s*|\s+or\s+|\(|\)|:\s*")
_ADVERBS = {
    "then",
    "lightly",
    "gently",
    "slowly",
    "gradually",
    "well",
    "immediately",
    "quickly",
    "carefully",
    "thoroughly",
    "finally",
    "next",
    "now",
    "also",
    "just",
    "first",
    "again",
    "together",
    "continue",
    "to",
}
_PARALLEL_RE = re.compile(r"^(meanwhile|while\b|in (?:another|a separate|a second|a clean|a small) )", re.I)
_WHEN_COOL_RE = re.compile(
    r"^(when|once|after)\s+(?:it\s+is\s+|completely\s+)?(cool|cooled|cooling|chilled|set)\b", re.I
)
_PREHEAT_RE = re.compile(r"\b(pre-?heat(?:ed)?|heat|set|turn on)\b[^.]*\boven\b", re.I)
_STOVE_CUE_RE = re.compile(
    r"\bover (?:low|medium|med\.?|high|moderate|medium-high|medium-low|direct|hot)?\s*-?\s*(?:heat|flame)\b|\bon (?:the )?(?:stove|stovetop)\b",
    re.I,
)
_POT_RE = re.compile(r"\b(sauce ?pan|pot|kettle|dutch oven|double boiler|stock ?pot|water)\b", re.I)
_PAN_RE = re.compile(r"\b(skillet|frying pan|fry pan|wok|griddle)\b", re.I)
_CONTINUATION = {
    "add",
    "stir",
    "season",
    "cover",
    "whisk",
    "reduce",
    "return",
    "dissolve",
    "sprinkle",
    "pour",
    "mix",
    "combine",
}
_WORD_RE = re.compile(r"[a-zA-Z][a-zA-Z'-]*")


def split_sentences(directions: list[str]) -> list[str]:
    out = []
    for step in directions:
        for s in _SPLIT_RE.split(step.strip()):
            s = s.strip(" .,;-")
            if s:
                out.append(s)
    return out


def _canonical(word: str) -> str | None:
    r = rules()
    w = word.lower().strip("'")
    w = r.synonyms.get(w, w)
    if w in r.verbs:
        return w
    for suffix, repl in (("ing", ""), ("ing", "e"), ("s", ""), ("es", ""), ("ed", ""), ("ed", "e"), ("d", "")):
        if w.endswith(suffix) and len(w) > len(suffix) + 2:
            base = w[: -len(suffix)] + repl
            base = r.synonyms.get(base, base)
            if base in r.verbs:
                return base
    return None


def find_verb(sentence: str) -> str | None:
    """The verb that decides the task: clause-initial verbs first, the highest rank wins."""
    text = re.sub(r"\bset aside\b|\bthe rest\b|\bon top\b|\bto taste\b", " ", sentence, flags=re.I)
    text = re.sub(
        r"\b(let|allow)\s+(?:\w+\s+){0,2}?(?:to\s+)?(?=\w)", " , ", text, flags=re.I
    )  # "let stand" -> "stand"
    candidates: list[tuple[int, int, str]] = []
    pos = 0
    for clause in _CLAUSE_RE.split(text):
        # "Mix soup and cream together": after "and" only a cooking verb starts a new action.
        for part_no, part in enumerate(re.split(r"\s+and\s+", clause or "")):
            pos += 1
            words = _WORD_RE.findall(part)
            while words and words[0].lower() in _ADVERBS:
                words.pop(0)
            v = _canonical(words[0]) if words else None
            if v and (part_no == 0 or rules().verbs[v]["rank"] >= 3):
                candidates.append((rules().verbs[v]["rank"], -pos, v))
    if not candidates:  # fall back to any known verb in the sentence
        for pos, w in enumerate(_WORD_RE.findall(text)):
            v = _canonical(w)
            if v and v not in {"top", "line", "turn", "set", "rest", "cream", "stand", "sit"}:
                candidates.append((rules().verbs[v]["rank"], -pos, v))
    return max(candidates)[2] if candidates else None


_COUNT_AFTER_VERB_RE = re.compile(r"^\W*(?:the\s+)?(\d+)\s+[a-z]", re.I)
_MEASURE_RE = re.compile(
    r"^\s*([\d/ .]+)\s*(c\.|cups?|tsp|tbsp|teaspoons?|tablespoons?|lbs?\.?|pounds?|oz\.?|ounces?|pkg|package|cans?|jars?|boxes|box|g\b|kg|ml|l\b|qt|quarts?|pints?|sticks?|dash|pinch|bunch|heads?|cloves?)",
    re.I,
)
_STOP = {
    "the",
    "a",
    "an",
    "and",
    "into",
    "in",
    "of",
    "with",
    "to",
    "on",
    "all",
    "them",
    "it",
    "each",
    "then",
    "half",
    "small",
    "large",
    "pieces",
    "cubes",
}


def count_items(sentence: str, verb_word_end: int, ingredients: list[str]) -> int:
    """How many things a prep verb works on: "peel 6 potatoes" -> 6, or the ingredient line's count."""
    rest = sentence[verb_word_end:]
    m = _COUNT_AFTER_VERB_RE.match(rest)
    if m:
        return int(m.group(1))
    nouns = [w.lower().rstrip("s") for w in _WORD_RE.findall(rest)[:4] if len(w) > 3 and w.lower() not in _STOP]
    for line in ingredients:
        low = line.lower()
        if any(n in low for n in nouns):
            if _MEASURE_RE.match(line):
                return 1  # "2 lb. potatoes": a weight, not a count
            q = re.match(r"^\s*(\d+(?:\s+\d+/\d+)?|\d+/\d+)\s+[a-z]", line, re.I)
            if q:
                return max(1, math.ceil(parse_number(q.group(1))))
            return 1
    return 1


# ---------------------------------------------------------------- one dish


@dataclass
class DishTasks:
    key: str
    title: str
    tasks: list[Task] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # sentences that are notes, not tasks

    @property
    def kind_guess(self) -> str:
        """hot when the dish ends with cooking; cold when it is chilled or cooled after, or never heated.

        Toasting a garnish (nuts, crumbs) does not make a dish hot: a roasted beet salad that
        cools and gets toasted walnuts on top is still a cold starter.
        """
        last_heat = max(
            (i for i, t in enumerate(self.tasks) if HEAT & set(t.equipment) and t.verb != "toast"), default=None
        )
        if last_heat is None:
            return "cold"
        after = self.tasks[last_heat + 1 :]
        return "cold" if any(t.verb in {"chill", "refrigerate", "freeze", "cool", "set"} for t in after) else "hot"


def _is_note(sentence: str) -> bool:
    words = _WORD_RE.findall(sentence)
    return not words or re.sub(r"'s$", "", words[0].lower()) in rules().not_tasks or sentence.lstrip().startswith('"')


_SLOW_COOKER_RE = re.compile(r"slow cooker|crock ?pot|crock-pot", re.I)
_HEAT_VERBS = {"cook", "heat", "simmer", "boil", "slow-cook", "stand"}


def _task_from_sentence(
    sentence: str, verb: str, ingredients: list[str], recipe_oven_c: int | None, slow_cooker_recipe: bool = False
) -> dict:
    spec = rules().verbs[verb]
    lower = sentence.lower()
    minutes = parse_duration(sentence)
    duration_from = "text"
    if minutes is None:
        duration_from = "default"
        extra = 0.0
        if spec.get("per_item"):
            m = re.search(rf"\b{verb[:4]}\w*", sentence, re.I)
            n = count_items(sentence, m.end() if m else 0, ingredients)
            extra = spec["per_item"] * (min(n, spec.get("max_items", 12)) - 1)
        minutes = max(1, math.ceil(spec["minutes"] + extra))
    equipment = list(spec["equipment"])
    attended = bool(spec["attended"])
    skill = int(spec["skill"])
    temp = None
    if _SLOW_COOKER_RE.search(sentence) or (slow_cooker_recipe and verb in _HEAT_VERBS and "burner" in equipment):
        # the crock is held from filling to serving; only heating is hands-off
        equipment = ["slow_cooker"]
        attended = attended and verb not in _HEAT_VERBS
    elif "oven" in equipment or (
        verb in {"cook", "heat"} and re.search(r"\b(?<!dutch )oven\b", lower) and oven_celsius(sentence)
    ):
        equipment = ["oven"]
        temp = oven_celsius(sentence) or recipe_oven_c or DEFAULT_OVEN_C
        attended = verb == "broil"
    elif verb == "microwave" or ("microwave" in lower and verb in _HEAT_VERBS | {"melt"}):
        equipment, attended = ["microwave"], False
    elif "burner" in equipment or _STOVE_CUE_RE.search(sentence):
        vessel = "pot" if _POT_RE.search(sentence) else "pan" if _PAN_RE.search(sentence) else None
        if vessel is None:
            vessel = next((e for e in equipment if e in VESSELS), "pot")
        equipment = [e for e in equipment if e not in STOVE] + ["burner", vessel]
        if re.search(r"\bconstantly\b|\bstirring\b|\bwatch\b", lower):
            attended = True
        elif minutes > 20 and verb not in {"caramelize"}:
            attended = False  # nobody stands over a pot for an hour
    if re.search(r"\b(electric )?mixer\b", lower) and "mixer" not in equipment:
        equipment += ["mixer", "bowl"] if "bowl" not in equipment else ["mixer"]
    if re.search(r"\bblender\b|\bfood processor\b", lower) and "blender" not in equipment:
        equipment.append("blender")
    if re.search(r"\b(pastry|pie crust|dough)\b", lower) and verb in {"roll", "shape", "form", "fold", "press"}:
        skill = max(skill, 4)
    return dict(
        verb=verb,
        duration_min=minutes,
        attended=attended,
        skill=skill,
        equipment=sorted(set(equipment)),
        oven_temp_c=temp,
        duration_from=duration_from,
    )


def mark_vessels(key: str, tasks: list[Task]) -> None:
    """Consecutive stovetop steps of a dish keep their pot or pan on the burner between steps."""
    runs: list[list[Task]] = []
    current: list[Task] = []
    pending: list[Task] = []
    kind = None
    for t in tasks:
        stove = [e for e in t.equipment if e in VESSELS]
        chained = current and t.after == [(pending or current)[-1].id]
        if stove and "burner" in t.equipment and (not current or (chained and stove[0] == kind)):
            current += pending + [t]
            pending = []
            kind = stove[0]
        elif current and chained and t.verb in _CONTINUATION and not (set(t.equipment) - {"bowl"}):
            pending.append(t)
        else:
            if len(current) > 1:
                runs.append(current)
            current, pending, kind = ([t], [], stove[0]) if stove and "burner" in t.equipment else ([], [], None)
    if len(current) > 1:
        runs.append(current)
    for i, run in enumerate(runs, 1):
        kind = next(e for e in run[0].equipment if e in VESSELS)
        for t in run:
            t.vessel = f"{key}.v{i}"
            t.equipment = sorted((set(t.equipment) - VESSELS - {"bowl"}) | {"burner", kind})


def tasks_from_directions(
    key: str, title: str, directions: list[str], ingredients: list[str] | None = None
) -> DishTasks:
    """Rule-based analysis of one recipe's directions."""
    ingredients = ingredients or []
    dish = DishTasks(key=key, title=title)
    recipe_oven_c = None
    slow_cooker = any(_SLOW_COOKER_RE.search(d) for d in directions)
    frontier: list[str] = []  # tasks the next sequential step waits for
    last_after: list[str] = []  # what the previous step waited for (a parallel step shares it)
    for sentence in split_sentences(directions):
        if _PREHEAT_RE.search(sentence) and not re.search(r"\b(bake|roast|cook|place|put)\b", sentence, re.I):
            recipe_oven_c = oven_celsius(sentence) or DEFAULT_OVEN_C  # the solver schedules preheating itself
            continue
        if _is_note(sentence):
            dish.dropped.append(sentence)
            continue
        verb = find_verb(sentence)
        if verb is None:
            dish.dropped.append(sentence)
            continue
        if (
            _WHEN_COOL_RE.match(sentence)
            and dish.tasks
            and dish.tasks[-1].verb not in {"cool", "chill", "refrigerate", "freeze", "stand", "set"}
        ):
            # "When cool, cut into squares" after baking: the cooling is a step of its own.
            _append(
                dish, "Let cool", dict(_task_from_sentence("Let cool", "cool", ingredients, None)), frontier, frontier
            )
            last_after, frontier = frontier, [dish.tasks[-1].id]
        facts = _task_from_sentence(sentence, verb, ingredients, recipe_oven_c, slow_cooker)
        if facts["oven_temp_c"] and verb != "broil":
            recipe_oven_c = facts["oven_temp_c"]
        parallel = bool(_PARALLEL_RE.match(sentence)) and dish.tasks
        after = last_after if parallel else frontier
        _append(dish, sentence, facts, after, frontier)
        new_id = dish.tasks[-1].id
        if parallel:
            frontier = frontier + [new_id]
        else:
            last_after, frontier = after, [new_id]
    mark_vessels(key, dish.tasks)
    return dish


def _append(dish: DishTasks, text: str, facts: dict, after: list[str], _frontier: list[str]) -> None:
    n = len(dish.tasks) + 1
    dish.tasks.append(Task(id=f"{dish.key}.{n}", dish=dish.key, step=n, text=text, after=list(after), **facts))
