"""Recipe directions -> what each sentence asks a cook to do, and the dish's schedulable tasks.

``read_sentences`` reads every sentence of a recipe's directions (``split_sentences``) into a
``SentenceReading``: whether it is a task at all, the verb that governs it, the station it
holds (``station_of``: one of ``STATIONS``), the pot or pan on the burner, the oven's
temperature, whether the cook's hands are needed the whole time, and the minutes it states.
``tasks_from_directions`` builds the planner's ``Task`` list on those readings (durations
not stated come from ``durations.yaml``); the labels (``labels.py``) work on the same
readings without building pydantic objects.  The gold set of tests/data/gold_steps/ measures
``read_sentences`` (tests/cooking/test_step_reader_gold.py, docs/PLANNER.md).

How a sentence is read (hand-written rules, one pass over its words):

* **The governing verb** is the imperative at the start of the sentence, after adverbs
  ("Gently fold"), after an opening phrase up to its comma ("In a large bowl,", "When
  cool,", "Meanwhile,", "With a mixer,", "Using a knife,"), and through "let/allow ... to",
  "bring ... to a boil" (boil) and "continue cooking" (cook).  A keyword elsewhere never
  decides it: in "Sift the flour, baking powder and salt" the verb is sift; "baking dish",
  "melted butter", "boiling water" and "oven-roasted" are nouns and adjectives.  Verbs
  joined by "and" or a comma ("Add garlic and cook 1 minute") also count for the station;
  a verb after "or" is an alternative, not a step ("in a saucepan or microwave": the first).
* **The station**: the verbs' own (``durations.yaml``), the sentence's words (a bowl, a
  saucepan or skillet, "over medium heat", "on medium speed", a blender or food processor,
  "in a 350° oven", the refrigerator, freezer, microwave, slow cooker, grill), and where the
  food already is: adding to or stirring what is still on the burner keeps the burner and
  its vessel; adding to what is in a bowl keeps the bowl; taking it off the heat, draining
  or pouring it into a baking dish ends that.  When a sentence names several, the order of
  ``STATIONS`` decides (a heat source over a bowl).  Station words in a clause about later
  ("until ready to grill") do not count; an air fryer, waffle maker or toaster is no station;
  a water bath or double boiler and deep-frying oil are a pot on the burner; a starch slurry
  is mixed in a bowl beside the pot; rinsing a blender and knife work take no station.
* **Attended**: hands-off for the oven (but broiling), any preheating, fridge, freezer,
  microwave, slow cooker (once switched on), waiting (stand, cool, rest, rise, soak,
  marinate), and on the burner boiling, simmering, poaching, steaming, cooking pasta, rice,
  potatoes, a soup or stew in liquid, or covered/on low for over 10 minutes, unless the sentence says to stir constantly or watch.
* **Minutes** (``durations.parse_duration``): ranges to their upper end, "per side" twice,
  vague times from ``durations.yaml``; only looked for when the sentence has a time unit or
  a vague-time word.

Why rules and not a parser: a parser would still need this module's cooking-verb table (the
durations, stations and skills are per cooking verb), and it would not fit the budget: data
preparation labels millions of recipes and the issue allows tens of microseconds a recipe for
all labels (docs/BENCHMARKS.md, "Labelling cost"), while a statistical tagger or parser runs a
model over every token.  No English parser ships with chefbot's environment either (NLTK is
installed without its tagger data; no spaCy model package).  So: hand-written rules over one
tokenization per sentence, with tables built once at load (``durations.rules().forms``: every
inflected form -> its verb; ``_verb_tables``), every pattern compiled once and run only when a
word it needs is in the sentence, and nothing cached by sentence text.

The preheat sentence is read as a task (verb preheat, station oven, hands-off) but
``tasks_from_directions`` emits no Task for it: it sets the recipe's oven temperature, and
the planner derives preheats from oven use (one preheat can serve several dishes).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from chefbot.cooking.durations import (
    MAX_TASK_MINUTES,
    OVEN_RANGE_C,
    oven_celsius,
    parse_duration,
    parse_number,
    rules,
    stated_oven_celsius,
)
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


# ---------------------------------------------------------------- stations

# The one place a list of equipment becomes a station: the first of these the list holds.
STATIONS = (
    "oven",
    "slow_cooker",
    "microwave",
    "grill",
    "burner",
    "fridge",
    "freezer",
    "blender",
    "mixer",
    "bowl",
    "none",
)
_PRIORITY = {s: i for i, s in enumerate(STATIONS)}


def station_of(equipment) -> str:
    """The station a step with this equipment holds: oven > slow_cooker > ... > bowl > none."""
    best = "none"
    for e in equipment:
        if e in _PRIORITY and _PRIORITY[e] < _PRIORITY[best]:
            best = e
    return best


def equipment_of(station: str, vessel: str | None) -> list[str]:
    """A station as a Task's equipment list (the planner's resources): a burner with its vessel,
    a mixer with its bowl."""
    if station == "none":
        return []
    if station == "burner":
        return sorted(["burner", vessel or "pot"])
    if station == "mixer":
        return ["bowl", "mixer"]
    return [station]


# ---------------------------------------------------------------- sentences

# Every alternative starts at a space, ";" or ",": the lookahead in front lets the engine skip
# other positions at once (the same splits, several times faster).
_SPLIT_RE = re.compile(r"(?=[\s;,])(?:(?<=[.!?])\s+(?=[A-Z(])|;\s*|,?\s+then\s+|\s*\n+\s*)")


def split_sentences(directions: list[str]) -> list[str]:
    """The units read one by one (the gold set's units, tests/data/gold_steps/sample.py)."""
    out = []
    for step in directions:
        for s in _SPLIT_RE.split(step.strip()):
            s = s.strip(" .,;-")
            if s:
                out.append(s)
    return out


@dataclass(slots=True)
class SentenceReading:
    """What one sentence of directions asks for, as ``read_sentences`` reads it."""

    text: str
    task: bool  # False: a note, serving suggestion, yield, header or fragment
    verb: str | None  # the governing verb, canonical ("boil" for "bring to a boil")
    station: str  # one of STATIONS (a best guess even when task is False)
    vessel: str | None  # "pot" or "pan" when station is burner
    oven_c: int | None  # the oven's °C for an oven step (this sentence's, else the recipe's last)
    attended: bool
    minutes: int | None  # the minutes the sentence states, None when it states none
    stated_oven_c: int | None = None  # a temperature this sentence itself states
    parallel: bool = False  # "Meanwhile, ...": may overlap the previous step
    when_cool: bool = False  # "When cool, ...": waits for the food to cool
    verb_end: int = 0  # character offset after the governing verb (for counting items)


_TOKEN_RE = re.compile(r"[a-zà-ÿ]+(?:['-][a-zà-ÿ]+)*|\d+(?:[./]\d+)?|[,;:()]")

_ADVERBS = frozenset(
    "then lightly gently slowly gradually well immediately quickly carefully thoroughly finally next now "
    "also just first again together meanwhile additionally second third lastly afterwards afterward "
    "very evenly firmly constantly generously liberally briefly simply still further".split()
)
# Words that open a phrase before the verb: "In a large bowl, mix", "When cool, cut".
_OPENERS = frozenset(
    "in into on when once after while with using as before if for during at to from by over under until "
    "working beginning starting meanwhile whilst depending".split()
)
_SUBORDINATORS = frozenset("when once after while as before if until whilst".split())
# Words after which a verb form is a noun or an adjective ("a mix", "the top").
_NOT_BEFORE_VERB = frozenset(
    "a an the of some each large small medium big this that your cake soup pancake brownie muffin gravy "
    "low high to over hot deep".split()
)
# Verb forms that after "and" or a comma are usually nouns ("sugar and cream", "juice and zest").
_NOUNISH = frozenset(
    "cream mix zest seed core pit quarter dry roast glaze butter oil top stuff set dust dot ice "
    "drop shake rest score stand sit spread pick season layer process coat water".split()
)
_NOT_A_TASK_VERB = frozenset({"serve"})
# Words that follow a verb, not a noun: "and mix together", "and cream the butter".
_AFTER_VERB = frozenset(
    "together well the it them all until in into with thoroughly gently a an for on over at lightly evenly".split()
)
_LEADS = frozenset(("let", "allow", "bring", "continue"))  # words that lead to the verb ("let it cool")
# Which of a sentence's verbs names it (the gold set's rule: "the timed clause governs"):
# a heat or waiting verb over a handling verb over a setting verb ("Increase the heat and add").
_SETTING = frozenset("increase reduce lower remove uncover flip turn return take set close open prepare".split())
_KNIFE = frozenset("chop slice dice mince cut julienne peel grate shred trim crush carve debone score".split())
_WAITING = frozenset("stand rest rise cool soak marinate sit set steep".split())
_BURNER_HANDS_OFF = frozenset("simmer boil poach steam blanch".split())
_REMOVING = frozenset("remove drain strain discard transfer take".split())
# Verbs that work on the food where it already is: still cooking on the burner, in a bowl.
# Mixing ("Mix all ingredients together") starts in a bowl even after a stovetop step.
_BURNER_CONTINUING = frozenset(
    "add stir season cover whisk pour sprinkle reduce return increase lower flip turn cook heat "
    "taste uncover skim scrape blend melt bring continue boil simmer adjust dissolve fold".split()
)
_BOWL_CONTINUING = frozenset(
    "add stir mix combine fold beat whisk pour sprinkle blend dissolve cream toss season".split()
)
_APPLIANCE_COOKING = frozenset("microwave cook heat melt simmer boil steam select slow-cook".split())
_THREE_DIGITS_RE = re.compile(r"\d\d\d")
_VESSEL_HINTS = ("pan", "pot", "skillet", "wok", "griddle", "kettle", "boiler", "dutch")
_ATTEND_WORDS = frozenset("constantly frequently continuously watch watching stirring stopping".split())
# The words _POUR_OUT_RE ends on, as tokens: it only runs when one is in the sentence.
_PLACES = frozenset(
    "pan pans dish dishes plate plates platter platters sheet sheets tin tins mold molds mould moulds glass "
    "glasses cup cups jar jars crust crusts shell shells casserole casseroles ramekin ramekins bowl bowls "
    "container containers tray trays serving loaf paper rack board towel towels foil tortilla tortillas bread "
    "toast surface counter".split()
)
# The words without which no time is stated (units and durations.yaml's vague times).
_TIME_WORDS = frozenset(
    "minute minutes min mins hour hours hr hrs second seconds sec secs day days overnight few several".split()
)
_FRESH = frozenset(("separate", "second", "clean", "small"))  # "In a separate bowl, ...": a step beside the last
_FROM_OFF = frozenset(("from", "off", "out"))
_SPECIAL_VERBS = frozenset("preheat fold blend beat prepare cook heat brown".split())
_OVEN_WORDS = frozenset(("oven", "broiler", "broil"))
_SLOW_COOKER_WORDS = frozenset(
    "slow slow-cooker crock crock-pot crockpot multicooker multi-cooker instant pressure".split()
)
_GRILL_WORDS = frozenset("grill grilling charcoal coals barbecue bbq".split())
_STOVE_WORDS = frozenset(
    "heat stove stovetop burner saucepan skillet frying wok dutch boiler griddle bring fryer deep-fry deep "
    "flame fire pan sauce saute sauté simmering boiling water fry".split()
)
_TURNING = frozenset("turn rotate flip uncover cover".split())
_PLACING = frozenset("pour spoon spread transfer turn place put press drop distribute ladle scoop".split())
_ASSEMBLY = frozenset(
    "spread layer top arrange place put lay stack fill roll wrap form shape press sprinkle garnish".split()
)
_POT_VERBS = frozenset("boil simmer poach steam blanch".split())
_PAN_VERBS = frozenset("fry saute brown sear stir-fry".split())
_HEAT_VERB_STATIONS = ("burner", "oven", "grill", "microwave", "slow_cooker")

_POT_NAMED_RE = re.compile(r"\b(?:sauce ?pans?|pots?|kettles?|dutch oven|double boiler|stock ?pots?|saucepot)\b")
_PAN_RE = re.compile(r"\b(?:skillets?|frying pans?|fry pans?|woks?|griddles?|saut[eé] pans?|pans?)\b")
_SKILLET_RE = re.compile(r"\b(?:skillets?|frying pans?|fry pans?|woks?|griddles?|saut[eé] pans?)\b")
_FAT_RE = re.compile(r"\b(?:oil|butter|oleo|margarine|fat|shortening|grease|drippings|lard|bacon)\b")
_HOT_FAT_RE = re.compile(r"\boil\b|\bfat\b|\bthermometer|\bfryer\b|\bsyrup\b|\bcandy\b")
_POUND_RE = re.compile(r"\bmallet\b|\bthickness\b|\bhammer\b|\brolling pin\b")
_BATTER_RE = re.compile(r"\bmix\b|\bbatter\b|\bdough\b")
_NOT_OVEN_PREHEAT_RE = re.compile(r"waffle|griddle|skillet|\bpan\b|fryer|\boil\b|\biron\b|grill|broiler|toaster")
_COVERING_RE = re.compile(r"\b(?:foil|lid|cover|plastic wrap|wrap|paper|towel)\b")
_ONTO_THE_PAN_RE = re.compile(r"\b(?:into|onto|in|on) the (?:hot )?(?:pan|skillet|griddle|pot|wok|frying pan)\b")
_ON_TOP_RE = re.compile(r"\bon top\b|\bover the top\b")
_TO_MIXTURE_RE = re.compile(r"\b(?:to|into|in) (?:the |this )?(?:\w+ )?mixture\b")
_TO_BOIL_RE = re.compile(r"\bto (?:a )?(?:full |rolling )?boil")
_WATER_COOK_RE = re.compile(
    r"\b(?:water|broth|stock|boiling|soup|stew|chili)\b|\b(?:pasta|noodles?|spaghetti|macaroni|rice|dumplings?)\b(?! sauce)"
)
_IN_WATER_PHRASE_RE = re.compile(
    r"\bin (?:\w+ )?(?:salted |boiling |cold |hot |lightly salted )?water\b|\bboiling water\b"
)
_COLD_WATER_RE = re.compile(r"\b(?:cold|ice|iced) water\b|\bice bath\b")
_FROM_VESSEL_RE = re.compile(r"\bfrom (?:the )?(?:\w+ )?(?:pan|pot|skillet|saucepan|water|oven|grill|heat|broth|oil)\b")
_STOVE_RE = re.compile(
    r"(?=[obigdhf])(?:"
    r"\bover (?:a )?(?:very )?(?:low|medium|med\.?|high|moderate|medium[- ]high|medium[- ]low|moderately high|"
    r"direct|hot|gentle|simmering|boiling)?\s*-?\s*(?:heat|flame|fire|burner|water)\b|\bon (?:the )?(?:stove|stovetop|burner)\b"
    r"|\bon (?:low|medium|med\.?|high|medium[- ]high|medium[- ]low)\s*-?\s*heat\b"
    r"|\b(?:in|into) (?:a |the |an )?(?:\w+ ){0,3}?(?:sauce ?pan|skillet|frying pan|wok|dutch oven|double boiler|saut[eé] pan)\b"
    r"|\bgriddle\b|\bbring\b|\bheat\b[^,]{0,20}\boil\b|\bdeep fry|\bdeep-fry|\bfryer\b)"
)
_OVEN_RE = re.compile(
    r"(?=[itoub])(?:(?<!from )(?<!from the )(?<!out of the )(?<!out of )\b(?:in|into|to|inside)\s+(?:the\s+|a\s+|an\s+)?"
    r"(?:(?:hot|preheated|pre-heated|warm|moderate|slow|heated|very hot|\d{3}\s*(?:°|º|˚|degrees?|deg\.?)?\s*[fc]?\.?)\s+)*oven\b"
    r"|\boven\s+(?:at|for)\b|\bunder (?:the |a )?(?:hot )?broiler\b|\bbroil)"
)
_AT_TEMP_RE = re.compile(r"(?=[ait])\b(?:at|in a|to)\s+\d{3}\s*(?:°|º|˚|degrees?|deg\b|f\b)|\bat \d{3}\b")
_BOWL_RE = re.compile(r"\bbowls?\b|\bmixing bowl\b")
_MIXER_RE = re.compile(
    r"\bmixers?\b|\b(?:on|at) (?:low|medium|high|medium[- ]high|medium[- ]low|slow|fast|top) speed\b"
    r"|\belectric beaters?\b|\bstand mixer\b|\bhand mixer\b|\bbeaters\b"
)
_BLENDER_RE = re.compile(r"\bblenders?\b|\bfood processors?\b|\bprocessor\b|\bimmersion blender\b")
_MICROWAVE_RE = re.compile(
    r"\b(?:in|into) (?:the |a )?microwave\b(?! (?:dish|bowl|safe|container|plate|casserole))|\bmicrowave(?:d)? "
    r"(?:on|at|for|until|uncovered|covered|\d|it|the|again|another|an|about)\b|^microwave\b"
)
_SLOW_COOKER_RE = re.compile(
    r"\bslow[- ]?cooker\b|\bcrock[- ]?pot\b|\bcrockpot\b|\bmulti-?cooker\b|\binstant pot\b|\bpressure cooker\b"
)
_GRILL_RE = re.compile(r"\bgrill\b(?! pan)|\bgrilling\b|\bcharcoal\b|\bcoals\b|\bbarbecue\b|\bbbq\b")
_ATTEND_RE = re.compile(
    r"\bconstantly\b|\bfrequently\b|\bcontinuously\b|\bwatch\w*\b|\bwithout stopping\b"
    r"|\bstirring(?!\s+(?:occasionally|now and then|once|every|from time))\b"
)
_IN_WATER_RE = re.compile(
    r"\b(?:pasta|noodles?|spaghetti|macaroni|rice|potato(?:es)?|water|broth|stock|dumplings?|beans|lentils|barley)\b"
)
_PASTA_RE = re.compile(r"\b(?:pasta|noodles?|spaghetti|macaroni|rice|potato(?:es)?|dumplings?)\b")
_COVERED_LOW_RE = re.compile(r"\bcover\w*\b|\bon low\b|\blow heat\b|\breduce\w* (?:the )?heat\b|\bsimmer")
_OFF_HEAT_RE = re.compile(r"\b(?:from|off) (?:the )?(?:heat|stove|burner|fire|oven)\b")
_POUR_OUT_RE = re.compile(
    r"(?=[io])\b(?:into|onto|in|on|over)\s+(?:a |an |the |each |two |individual |prepared |greased |lined |buttered )*"
    r"(?:[\w-]+\s+){0,5}?(?:pans?|dish(?:es)?|plates?|platters?|sheets?|tins?|molds?|moulds?|glass(?:es)?|cups?|"
    r"jars?|crusts?|shells?|casseroles?|ramekins?|bowls?|containers?|trays?|serving|loaf|paper|rack|board|"
    r"towels?|foil|tortillas?|bread|toast|surface|counter|molds?)\b"
)
_CUT_IN_RE = re.compile(r"\bcut (?:in|into (?:the )?(?:flour|dry))\b")
_FOLD_OVER_RE = re.compile(
    r"\bfold\w* (?:the |each |it |them )?(?:sides?|edges?|ends?|over|in half|corners?|top|bottom|dough|tortillas?|crepes?|paper|foil|leaf|leaves)\b"
)
# "in a saucepan or microwave", "at room temperature or in the microwave": the first way is the
# recipe's own, the microwave an alternative (the gold set's rule: the first alternative).
_OR_MICROWAVE_RE = re.compile(r"\bor (?:in |on )?(?:the |a )?microwave\b")
# A water bath or double boiler is a pot of water on the burner.
_WATER_BATH_RE = re.compile(r"\bwater bath\b|\bdouble boiler\b|\bbain[- ]marie\b")
# Countertop appliances that are none of the planner's stations (the gold set's "none"):
# an air fryer, a waffle maker, a toaster; bread is toasted in a toaster.
_COUNTERTOP_RE = re.compile(
    r"\bair[- ]?fr(?:yer|y|ied)\b|\bair grill\b|\bwaffle (?:maker|iron)\b|\btoaster\b|\bsandwich maker\b"
    r"|\btoast\w* (?:the |\d+ )?(?:\w+ )?(?:bread|slices?|buns?|english muffins?|bagels?)\b"
)
# A clause that only says what comes later ("Refrigerate until ready to grill", "... before
# frying") names no station of this step: the station words are read before it.
_LATER_CLAUSE_RE = re.compile(
    r"\b(?:until|till) (?:you are |you're )?ready\b|\buntil (?:needed|serving|using)\b"
    r"|\bbefore (?:grilling|baking|frying|cooking|serving|using|roasting)\b"
)
# A starch or gelatin mixed with water is a slurry made beside the pot (the gold set: bowl work).
_SLURRY_RE = re.compile(r"\bcorn ?starch\b|\bcornflour\b|\barrowroot\b|\bgelatine?\b")
_SLURRY_VERBS = frozenset("dissolve mix combine stir whisk blend".split())
# Food put into hot fat or boiling water goes onto the burner with it.
_INTO_HOT_RE = re.compile(r"\b(?:into|to) (?:the )?(?:hot|heated|boiling) (?:oil|fat|water)\b")
# A recipe that deep-fries: its oil is in a pot (the gold set's vessel rule), not a pan.
_DEEP_FAT_RE = re.compile(r"\bdeep[- ]?fr|\bdeep[- ]fat\b|(?<!air )\bfryer\b|\b\d+ inch(?:es)? of oil\b|\boil to \d{3}")
# Stirring or turning food that is baking or freezing ("in the middle of baking", "every 30
# minutes") happens where the food is.
_DURING_RE = re.compile(r"\bevery\b|\bhalfway\b|\bduring\b|\bmiddle of\b|\bthrough (?:the )?(?:baking|freezing)")
_SWITCH_ON_RE = re.compile(r"\bturn (?:it |the \w+ )?on\b|\bswitch (?:it )?on\b|\bmode\b|\bprogram\b")
_WHOLE_FRUIT_RE = re.compile(r"\bice\b|\bfrozen\b|\bbananas?\b|\bberries\b|\bblueberries\b|\bdates\b|\bsmoothie")
_CLEANING = frozenset(("rinse", "wash", "clean", "wipe"))
_TOOL_OPENERS = frozenset(("using", "with"))  # "Using a slotted spoon or spider, transfer": a comma ends it
_WHEN_COOL_RE = re.compile(
    r"(?:when|once|after)\s+(?:it\s+is\s+|completely\s+)?(?:cool|cooled|cooling|chilled|set|cold)\b"
)


def _tokens(sentence: str) -> list[str]:
    return _TOKEN_RE.findall(sentence.lower())


def _skip_adverbs(toks: list[str], i: int) -> int:
    n = len(toks)
    while i < n and (
        toks[i] in _ADVERBS or toks[i] == "," or (toks[i].endswith("ly") and i + 1 < n and toks[i + 1] in rules().base)
    ):
        i += 1
    return i


def _head_index(toks: list[str]) -> int:
    """Where the main clause starts: past adverbs and opening phrases."""
    i = _skip_adverbs(toks, 0)
    base = rules().base
    n = len(toks)
    for _ in range(3):
        if i >= n or toks[i] not in _OPENERS:
            return i
        # a prepositional opener ("In a saucepan combine") ends at a comma or at the first verb;
        # a subordinate one ("When the oil is hot, spoon") has its own verb, so only a comma ends it
        sub = toks[i] in _SUBORDINATORS or (toks[i] in _TOOL_OPENERS and "," in toks[i + 1 : i + 10])
        j = i + 1
        while j < n and j < i + 14 and toks[j] not in (",", ":", ";"):
            if not sub and toks[j] in base and toks[j - 1] not in _NOT_BEFORE_VERB and toks[j - 1] not in _OPENERS:
                return j
            j += 1
        if j < n and j < i + 14:
            i = _skip_adverbs(toks, j + 1)
            continue
        for k in range(i + (2 if sub else 1), n):
            if toks[k] in base and toks[k - 1] not in _NOT_BEFORE_VERB and toks[k - 1] not in _OPENERS:
                return k
        return n
    return i


def _governing(toks: list[str], i: int) -> tuple[str | None, int]:
    """(canonical verb, index of its word) of the clause starting at ``i``; (None, i) when no verb."""
    n = len(toks)
    if i >= n:
        return None, i
    r = rules()
    w = toks[i]
    if w in ("let", "allow", "leave"):
        for k in range(i + 1, min(n - 1, i + 16)):
            if toks[k] == "to" and toks[k + 1] in r.base:
                return r.base[toks[k + 1]], k + 1
        for k in range(i + 1, min(n, i + 6)):
            v = r.base.get(toks[k])
            if v and toks[k - 1] not in _NOT_BEFORE_VERB:  # "let the fries cool": fries is a noun
                return v, k
        return r.base.get(w), i
    if w == "bring":
        window = toks[i + 1 : i + 12]
        if "boil" in window or "boiling" in window or "simmer" in window:
            return ("simmer" if "simmer" in window and "boil" not in window else "boil"), i
        if "room" in window:
            return "stand", i
        return "heat", i
    if w in ("continue", "keep"):
        for k in range(i + 1, min(n, i + 4)):
            v = r.forms.get(toks[k])
            if v:
                return v, k
        return (None, i) if w == "keep" else ("cook", i)
    if w == "return" and i + 1 < n and toks[i + 1] in ("to", "the") and "boil" in toks[i + 1 : i + 5]:
        return "boil", i
    v = r.base.get(w)
    return v, i


def _conjoined(toks: list[str], i: int) -> list[str]:
    """Verbs of imperative clauses joined after the governing one ("Add garlic and cook")."""
    base = rules().base
    out = []
    n = len(toks)
    k = i + 1
    while k < n:
        if toks[k] in ("and", ",", "then", ";", ":", "("):  # not "or": the first alternative is the step
            j = _skip_adverbs(toks, k + 1)
            if j < n and toks[j] in ("then", "and"):
                j = _skip_adverbs(toks, j + 1)
            if (
                j < n
                and (toks[j] in base or toks[j] in _LEADS)
                and (toks[j] not in _NOUNISH or (j + 1 < n and toks[j + 1] in _AFTER_VERB))
            ):
                nxt = toks[j + 1] if j + 1 < n else ""
                if nxt not in ("of", "mixture", "cheese", "sauce", "pan", "dish", "whip", "cubes"):
                    v, j2 = _governing(toks, j)
                    if v:
                        out.append(v)
                        k = j2
        k += 1
    return out


@dataclass(slots=True)
class _Where:
    """Where the recipe's food is now, carried from sentence to sentence."""

    station: str = "none"
    vessel: str | None = None
    vessel_named: bool = False  # the recipe named the pot or pan (not inferred from a verb)
    covered: bool = False  # a lid is on the pot on the burner
    oven_c: int | None = None
    slow_cooker: bool = False  # the recipe cooks in a slow cooker or multicooker
    microwave: bool = False  # the recipe heats in a microwave and never on the stove
    blender: bool = False  # the recipe names a blender or food processor: its "blend" is the blender's
    deep_fat: bool = False  # the recipe deep-fries: its hot oil is in a pot


def _named_vessel(lower: str) -> str | None:
    if not any(w in lower for w in _VESSEL_HINTS):
        return None
    pan = _PAN_RE.search(lower)
    pot = _POT_NAMED_RE.search(lower)
    if pan and pot:
        return "pot" if pot.start() < pan.start() else "pan"
    if pot:
        return "pot"
    if pan:
        return "pan"
    return None


def _vessel(lower: str, verbs: list[str], where: _Where, parallel: bool) -> tuple[str, bool]:
    """(pot or pan, whether the recipe named it) for a burner step, by the gold set's rules: the
    vessel named, else pot for water, pasta, rice and potatoes, pan for frying, else the one on the
    burner already, else the verb's own."""
    carried = where.vessel if where.station == "burner" and not parallel else None
    named = _named_vessel(lower)
    in_water = "water" in lower and _IN_WATER_PHRASE_RE.search(lower) is not None
    pasta = any(v in ("cook", "boil", "simmer") for v in verbs) and _PASTA_RE.search(lower) is not None
    if (pasta or in_water) and not _SKILLET_RE.search(lower) and (in_water or named != "pan"):
        return "pot", named is not None  # pasta, rice, potatoes or vegetables cooked in water
    if named:
        return named, True
    if where.deep_fat and ("oil" in lower or "fry" in verbs):
        return "pot", False  # deep-frying oil is in a pot
    if carried and where.vessel_named:
        return carried, True
    if pasta:
        return "pot", False
    if any(v in _POT_VERBS for v in verbs):
        return "pot", False
    if any(v in _PAN_VERBS for v in verbs) or ("cook" in verbs and _FAT_RE.search(lower) and "water" not in lower):
        return "pan", False
    if carried:
        return carried, False
    if _IN_WATER_RE.search(lower):
        return "pot", False
    for v in verbs:
        for e in rules().verbs[v]["equipment"]:
            if e in VESSELS:
                return e, False
    return "pot", False


def _own_station(v: str, lower: str, where: _Where) -> str | None:
    """The station verb ``v`` holds in this sentence before context, or None for "the table's"."""
    if v == "preheat":
        if _GRILL_RE.search(lower):
            return "grill"
        if "oven" not in lower and _NOT_OVEN_PREHEAT_RE.search(lower):
            return "none"
        return "oven"
    if v == "fold" and _FOLD_OVER_RE.search(lower):
        return "none"  # folding a tortilla or the sides of a roll is assembly
    if v == "blend" and _WHOLE_FRUIT_RE.search(lower):
        return "blender"  # ice, frozen or whole fruit is blended smooth in a blender, not by hand
    if v == "blend" and not _BLENDER_RE.search(lower) and where.station != "blender" and not where.blender:
        return "bowl"  # "blend flour into sour cream": by hand
    if v == "beat" and _POUND_RE.search(lower):
        return "none"  # beating meat thin with a mallet
    if v == "prepare" and _BATTER_RE.search(lower):
        return "bowl"  # "prepare cake mix according to package directions": mixing
    if (
        v in ("cook", "heat", "brown")
        and _THREE_DIGITS_RE.search(lower)
        and _AT_TEMP_RE.search(lower)
        and not _HOT_FAT_RE.search(lower)
    ):
        return "oven"  # "Brown lightly at 350° for 20 minutes"
    return None


def _read(sentence: str, where: _Where) -> SentenceReading:
    lower = sentence.lower()
    toks = _TOKEN_RE.findall(lower)
    r = rules()
    head = _head_index(toks)
    verb, vi = _governing(toks, head)
    if verb is None and "," in toks[head : head + 12]:
        # an opening phrase of another kind: "Five minutes before it's done, add the herbs"
        verb, vi = _governing(toks, _skip_adverbs(toks, toks.index(",", head) + 1))
    first = toks[0] if toks else ""
    task = (
        verb is not None and first not in r.not_tasks and verb not in _NOT_A_TASK_VERB and not sentence.startswith('"')
    )
    verbs = [verb, *_conjoined(toks, vi)] if verb else []
    # Cheap tests first: a pattern runs only when a word it needs is in the sentence.
    ws = set(toks)
    minutes = parse_duration(sentence) if not ws.isdisjoint(_TIME_WORDS) else None
    three_digits = _THREE_DIGITS_RE.search(sentence) is not None
    stated_c = stated_oven_celsius(sentence) if three_digits or "oven" in ws else None
    parallel = first in ("meanwhile", "while") or (
        first == "in" and len(toks) > 2 and (toks[1] == "another" or (toks[1] == "a" and toks[2] in _FRESH))
    )

    # what the sentence does with the food
    off_heat = not ws.isdisjoint(_FROM_OFF) and _OFF_HEAT_RE.search(lower) is not None
    covering = verb in ("remove", "take", "uncover") and _COVERING_RE.search(lower) is not None and not off_heat
    removing = verb in _REMOVING and not covering and (verb != "remove" or not ws.isdisjoint(_FROM_OFF))
    knife_only = bool(verbs) and all(v in _KNIFE for v in verbs) and not ("cut" in ws and _CUT_IN_RE.search(lower))
    poured_out = verb in _PLACING and not ws.isdisjoint(_PLACES) and _POUR_OUT_RE.search(lower) is not None
    onto_the_pan = poured_out and where.station == "burner" and _ONTO_THE_PAN_RE.search(lower) is not None
    on_top = ("top" in ws and _ON_TOP_RE.search(lower) is not None) or "toppings" in ws
    cleaning = bool(verbs) and all(v in _CLEANING for v in verbs)  # "Rinse the blender": no station
    slurry = (
        bool(verbs)
        and "water" in ws
        and all(v in _SLURRY_VERBS for v in verbs)
        and _SLURRY_RE.search(lower) is not None
        and ws.isdisjoint(("heat", "boil", "simmer", "bring", "cook"))
    )
    countertop = (
        _COUNTERTOP_RE.search(lower) is not None if ("air" in ws or "waffle" in ws or "toast" in lower) else False
    )
    # station words in a clause about what comes later ("until ready to grill") do not count
    cue_lower = lower
    if not ws.isdisjoint(("until", "till", "before")):
        later = _LATER_CLAUSE_RE.search(lower)
        if later:
            cue_lower = lower[: later.start()]
    bowl_words = "bowl" in ws or "bowls" in ws
    # "In a deep bowl, place the cheese": an opening "In a bowl," names where the work is done
    bowl_opener = bowl_words and first == "in" and "," in toks and "bowl" in toks[: toks.index(",")]
    bowl_named = bowl_opener or (
        bowl_words
        and not knife_only
        and not poured_out
        and not removing
        and verb not in ("layer", "arrange", "top", "garnish")
    )

    # each verb's station: its own, or where the food already is
    stations: list[str] = []
    own_stations = _verb_tables()[0]
    if verb in _KNIFE:  # "Dice the tomatoes and add them to the eggs": the knife work names the step
        verbs_for_station = [verb] + [v for v in verbs[1:] if _level(v) == 2]
        bowl_named = bowl_named and len(verbs_for_station) > 1
    else:
        verbs_for_station = verbs
    # "Add the cream and remove from heat": the heat is left after the remove, not before it
    off_from = next((k for k, v in enumerate(verbs_for_station) if v in _REMOVING), 0) if off_heat else 0
    for k, v in enumerate(verbs_for_station):
        special = _own_station(v, lower, where) if v in _SPECIAL_VERBS else None
        own = special or own_stations[v]
        if onto_the_pan:
            stations.append("burner")
            continue
        if poured_out or (off_heat and k >= off_from) or bowl_named or special:
            stations.append(own)
            continue
        at = where.station
        if at == "burner" and v in _BURNER_CONTINUING:
            own = "burner" if _PRIORITY["burner"] < _PRIORITY[own] else own
        elif at == "slow_cooker" and v in _BURNER_CONTINUING:
            own = "slow_cooker"
        elif at in ("microwave", "oven", "freezer") and (
            v in _TURNING or covering or (v in ("stir", "shake", "toss") and _DURING_RE.search(lower))
        ):
            own = at  # turning the dish, or stirring what bakes or freezes ("every 30 minutes, stir")
        elif at in ("bowl", "mixer", "blender", "microwave") and v in _BOWL_CONTINUING and own in ("none", "bowl"):
            own = "none" if on_top else "blender" if at == "blender" and v in ("add", "pour", "blend") else "bowl"
        stations.append(own)
    if not verbs:
        stations.append(where.station if where.station in ("burner", "bowl") else "none")
    cues: list[str] = []
    stove = not ws.isdisjoint(_STOVE_WORDS) and _STOVE_RE.search(lower) is not None
    if not removing and not knife_only and not cleaning and not countertop:
        lower_full, lower = lower, cue_lower  # the cues read the sentence before a "later" clause
        if (
            not ws.isdisjoint(_OVEN_WORDS)
            and _OVEN_RE.search(lower)
            and "dutch oven" not in lower
            and "microwave oven" not in lower
        ):
            cues.append("oven")
        if not ws.isdisjoint(_SLOW_COOKER_WORDS) and _SLOW_COOKER_RE.search(lower):
            cues.append("slow_cooker")
        if "microwav" in lower and _MICROWAVE_RE.search(lower) and not _OR_MICROWAVE_RE.search(lower):
            cues.append("microwave")
        if verb != "preheat" and not ws.isdisjoint(_GRILL_WORDS) and _GRILL_RE.search(lower):
            cues.append("grill")
        if (stove and not off_heat) or (
            ("bath" in ws or "boiler" in ws or "bain" in lower) and _WATER_BATH_RE.search(lower)
        ):
            cues.append("burner")
        elif not ws.isdisjoint(("hot", "heated", "boiling")) and _INTO_HOT_RE.search(lower):
            cues.append("burner")  # "Place the fries into the hot oil"
        if "refrigerat" in lower or "fridge" in ws or "icebox" in ws:
            cues.append("fridge")
        if "freez" in lower and verb not in ("thaw", "stand"):
            cues.append("freezer")
        if "blender" in lower or "processor" in lower:
            cues.append("blender")
        if ("mixer" in lower or "speed" in ws or "beaters" in ws) and _MIXER_RE.search(lower):
            cues.append("mixer")
        if bowl_named or (
            "mixture" in ws
            and where.station != "burner"
            and verb in _BOWL_CONTINUING
            and verb not in _KNIFE
            and _TO_MIXTURE_RE.search(lower)
        ):
            cues.append("bowl")
        lower = lower_full
    if where.slow_cooker and not stove and any(v in ("cook", "heat", "simmer") for v in verbs):
        cues.append("slow_cooker")
    if where.microwave and not stove and any(v in ("cook", "heat", "melt") for v in verbs):
        cues.append("microwave")
    station = station_of(stations + cues)
    if countertop:
        station = "none"  # an air fryer, waffle maker or toaster is no station of the planner's
    elif slurry:
        station = "bowl"

    # attended
    waits = any(v in _WAITING for v in verbs) or (
        minutes is not None and "water" in ws and _COLD_WATER_RE.search(lower) is not None
    )
    if station == "oven":
        attended = ("broil" in lower or "broiler" in lower) and verb != "preheat"
        if covering:
            attended = False
    elif station in ("fridge", "freezer"):
        attended = False
    elif station in ("microwave", "slow_cooker"):
        # hands-off while it cooks; loading it or turning the dish is hands-on
        attended = not (
            minutes is not None or any(v in _APPLIANCE_COOKING for v in verbs) or _SWITCH_ON_RE.search(lower)
        )
    elif station == "burner":
        attended = "preheat" not in verbs
        if attended and (ws.isdisjoint(_ATTEND_WORDS) or not _ATTEND_RE.search(lower)):
            if any(v in _BURNER_HANDS_OFF for v in verbs) or (
                verb in ("cook", "heat") and _TO_BOIL_RE.search(lower) and "without" not in lower
            ):
                attended = False
            elif any(v in ("cook", "heat", "stand") for v in verbs) and (
                _WATER_COOK_RE.search(lower)
                or (minutes is not None and minutes > 10 and (where.covered or _COVERED_LOW_RE.search(lower)))
            ):
                attended = False
            elif waits or (verb == "stir" and "occasionally" in lower and where.station == "burner" and where.covered):
                # "Stir occasionally" while a covered pot simmers: still waiting
                attended = False
    elif station in ("none", "bowl"):
        attended = not waits and verb != "preheat"
    else:
        attended = True
    if verb == "preheat":
        attended = False  # an oven, grill or pan heats by itself

    vessel = None
    vessel_named = False
    if station == "burner":
        fresh = lower.startswith(("meanwhile", "in another", "in a separate", "in a second", "in a clean"))
        vessel, vessel_named = _vessel(lower, verbs or ["cook"], where, fresh)

    oven_c = None
    if station == "oven":
        oven_c = stated_c or where.oven_c
        if stated_c:
            where.oven_c = stated_c
    elif stated_c and "oven" in lower:
        where.oven_c = stated_c

    if slurry:  # made beside the pot: the food stays where it is
        task_moves = False
    else:
        task_moves = task
    _move(
        where,
        task_moves,
        station,
        vessel,
        vessel_named,
        verb,
        verbs,
        lower,
        attended,
        poured_out=poured_out,
        removing=removing,
        off_heat=off_heat,
        waits=waits,
    )
    return SentenceReading(
        text=sentence,
        task=task,
        verb=_naming_verb(verbs) if verbs else None,
        station=station,
        vessel=vessel,
        oven_c=oven_c,
        attended=attended,
        minutes=minutes,
        stated_oven_c=stated_c,
        parallel=parallel,
        when_cool=first in ("when", "once", "after") and _WHEN_COOL_RE.match(lower) is not None,
        verb_end=_verb_end(lower, toks, vi) if verb else 0,
    )


def _move(
    where: _Where,
    task: bool,
    station: str,
    vessel: str | None,
    vessel_named: bool,
    verb: str | None,
    verbs: list[str],
    lower: str,
    attended: bool,
    *,
    poured_out: bool,
    removing: bool,
    off_heat: bool,
    waits: bool,
) -> None:
    """Where the food is after this sentence."""
    if not task:
        named = _named_vessel(lower)
        if named and where.station == "burner":
            where.vessel, where.vessel_named = named, True  # "in a large skillet" split off its step
        return
    if station == "slow_cooker":
        where.slow_cooker = True
    if station != "none":
        if station == "burner":
            if where.station != "burner":
                where.covered = False
            where.covered = where.covered or "cover" in verbs or " lid" in lower
            where.vessel_named = vessel_named
        if not (station == "bowl" and where.station == "burner" and verb in _KNIFE):
            where.station, where.vessel = station, vessel
        return
    if verb == "drain" and (where.vessel == "pan" or _FAT_RE.search(lower)):
        return  # draining the fat off browned meat leaves it in the pan
    if verb == "cover" or " lid" in lower:
        where.covered = True
        return
    if poured_out:
        where.station, where.vessel = ("bowl" if _BOWL_RE.search(lower) else "none"), None
    elif removing or off_heat or waits or verb in ("cool", "drain", "stand"):
        if removing and not (off_heat or _FROM_VESSEL_RE.search(lower)) and verb != "drain":
            return  # "Remove the bay leaf": the soup stays where it is
        mixture = where.station in ("burner", "bowl", "mixer", "blender") and verb != "drain"
        where.station, where.vessel = ("bowl" if mixture else "none"), None
    elif verb in _ASSEMBLY:
        where.station, where.vessel = "none", None


@lru_cache(maxsize=1)
def _verb_tables() -> tuple[dict[str, str], dict[str, int]]:
    """Per verb of durations.yaml, built once: its own station, and its level for naming a
    sentence (0 a setting, 1 handling, 2 heat or waiting)."""
    own = {v: station_of(spec["equipment"]) for v, spec in rules().verbs.items()}
    level = {
        v: 0 if v in _SETTING else 2 if v in _WAITING or st in _HEAT_VERB_STATIONS or st in ("fridge", "freezer") else 1
        for v, st in own.items()
    }
    return own, level


def _level(verb: str) -> int:
    return _verb_tables()[1][verb]


def _naming_verb(verbs: list[str]) -> str:
    """The verb that names a sentence of several: the first of the highest level (``_SETTING``)."""
    best, best_level = verbs[0], _level(verbs[0])
    for v in verbs[1:]:
        lv = _level(v)
        if lv > best_level:
            best, best_level = v, lv
    return best


def _verb_end(lower: str, toks: list[str], vi: int) -> int:
    if vi >= len(toks):
        return 0
    at = lower.find(toks[vi])
    return at + len(toks[vi]) if at >= 0 else 0


def read_sentences(directions: list[str], ingredients: list[str] | None = None) -> list[SentenceReading]:
    """Every sentence of ``directions`` (``split_sentences``) read in order, each in the context of
    the steps before it (the module docstring says how).  ``ingredients`` is accepted for the
    planner's item counts and unused by the reading itself."""
    whole = " ".join(directions).lower()
    where = _Where(
        microwave="microwave" in _OR_MICROWAVE_RE.sub("", whole)
        and _STOVE_RE.search(whole) is None
        and _WATER_BATH_RE.search(whole) is None,
        blender=_BLENDER_RE.search(whole) is not None,
        deep_fat=_DEEP_FAT_RE.search(whole) is not None,
    )
    return [_read(s, where) for s in split_sentences(directions)]


# ---------------------------------------------------------------- items counted by prep verbs

_COUNT_AFTER_VERB_RE = re.compile(r"^\W*(?:the\s+)?(\d+)\s+[a-z]", re.I)
_MEASURE_RE = re.compile(
    r"^\s*([\d/ .]+)\s*(c\.|cups?|tsp|tbsp|teaspoons?|tablespoons?|lbs?\.?|pounds?|oz\.?|ounces?|pkg|package|cans?|jars?|boxes|box|g\b|kg|ml|l\b|qt|quarts?|pints?|sticks?|dash|pinch|bunch|heads?|cloves?)",
    re.I,
)
_LEADING_COUNT_RE = re.compile(r"^\s*(\d+(?:\s+\d+/\d+)?|\d+/\d+)\s+[a-z]", re.I)
_WORD_RE = re.compile(r"[a-zA-Z][a-zA-Z'-]*")
_STOP = frozenset("the a an and into in of with to on all them it each then half small large pieces cubes".split())


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
            q = _LEADING_COUNT_RE.match(line)
            if q:
                return max(1, math.ceil(parse_number(q.group(1))))
            return 1
    return 1


def find_verb(sentence: str) -> str | None:
    """The verb that governs one sentence read alone ("Sift the flour, baking powder and salt" -> sift)."""
    toks = _tokens(sentence)
    return _governing(toks, _head_index(toks))[0]


# ---------------------------------------------------------------- steps of one dish


@dataclass(slots=True)
class Step:
    """A task of a dish as plain data: what the labels use and what ``Task`` is built from."""

    reading: SentenceReading
    text: str
    verb: str
    minutes: int
    from_text: bool
    attended: bool
    skill: int
    station: str
    vessel: str | None
    oven_c: int | None
    after: list[int]  # indices of the steps that must finish first


_PASTRY_RE = re.compile(r"\b(pastry|pie crust|dough)\b", re.I)


def _step(rd: SentenceReading, verb: str, ingredients: list[str], after: list[int], text: str | None = None) -> Step:
    spec = rules().verbs[verb]
    minutes = rd.minutes
    from_text = minutes is not None
    if minutes is None:
        extra = 0.0
        if spec.get("per_item"):
            n = count_items(rd.text, rd.verb_end, ingredients)
            extra = spec["per_item"] * (min(n, spec.get("max_items", 12)) - 1)
        minutes = max(1, math.ceil(spec["minutes"] + extra))
    skill = int(spec["skill"])
    if verb in ("roll", "shape", "form", "fold", "press") and _PASTRY_RE.search(rd.text):
        skill = max(skill, 4)
    return Step(
        reading=rd,
        text=text or rd.text,
        verb=verb,
        minutes=minutes,
        from_text=from_text,
        attended=rd.attended,
        skill=skill,
        station=rd.station,
        vessel=rd.vessel,
        oven_c=rd.oven_c,
        after=after,
    )


_COOLED = frozenset({"cool", "chill", "refrigerate", "freeze", "stand", "set"})


def dish_steps(readings: list[SentenceReading], ingredients: list[str]) -> tuple[list[Step], list[str], int | None]:
    """(the dish's steps, the sentences that are not tasks, the recipe's oven °C from its preheat).

    The preheat is read but not a step (the planner schedules preheating from oven use); "When
    cool, ..." after a hot step adds a cooling step; "Meanwhile, ..." overlaps the step before.
    """
    steps: list[Step] = []
    dropped: list[str] = []
    preheat_c = None
    frontier: list[int] = []
    last_after: list[int] = []
    for rd in readings:
        if rd.verb == "preheat" and rd.station == "oven":
            preheat_c = rd.oven_c or rd.stated_oven_c or DEFAULT_OVEN_C
            continue
        if not rd.task:
            dropped.append(rd.text)
            continue
        if rd.when_cool and steps and steps[-1].verb not in _COOLED:
            cool = SentenceReading("Let cool", True, "cool", "none", None, None, False, None)
            steps.append(_step(cool, "cool", ingredients, list(frontier)))
            last_after, frontier = frontier, [len(steps) - 1]
        parallel = rd.parallel and bool(steps)
        after = list(last_after if parallel else frontier)
        steps.append(_step(rd, rd.verb, ingredients, after))
        new = len(steps) - 1
        if parallel:
            frontier = frontier + [new]
        else:
            last_after, frontier = after, [new]
    return steps, dropped, preheat_c


# ---------------------------------------------------------------- one dish as Tasks


@dataclass
class DishTasks:
    key: str
    title: str
    tasks: list[Task] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # sentences that are notes, not tasks
    ingredients: list[str] = field(default_factory=list)  # the recipe's lines (cook mode's amounts per step)

    @property
    def kind_guess(self) -> str:
        """hot when the dish ends with cooking; cold when it is chilled or cooled after, or never heated.

        Toasting a garnish (nuts, crumbs) does not make a dish hot: a roasted beet salad that
        cools and gets toasted walnuts on top is still a cold starter.  A baked good (bread,
        cake, cookies, ...: ``_baked_good``) whose last heat step is baking is served at room
        temperature -- cold -- unless the recipe says to eat it warm ("serve warm").
        """
        last_heat = max(
            (i for i, t in enumerate(self.tasks) if HEAT & set(t.equipment) and t.verb != "toast"), default=None
        )
        if last_heat is None:
            return "cold"
        after = self.tasks[last_heat + 1 :]
        if any(t.verb in {"chill", "refrigerate", "freeze", "cool", "set"} for t in after):
            return "cold"
        last = self.tasks[last_heat]
        if last.verb == "bake" and _baked_good(self.title, last.text) and not self._said_warm():
            return "cold"
        return "hot"

    def _said_warm(self) -> bool:
        """The recipe says to eat the dish warm, and not that room temperature will do."""
        serving = rules().serving
        text = " ".join([*(t.text for t in self.tasks), *self.dropped])
        return bool(serving["served_warm"].search(text)) and not serving["room_temperature"].search(text)


def _has_phrase(words: str, phrases: frozenset[str]) -> bool:
    return any(f" {p} " in words for p in phrases)


def _baked_good(title: str, bake_step: str) -> bool:
    """The dish is a baked good (durations.yaml ``serving``): the title or the last baking step
    names one, and the title names no hot dish ("Chicken Pot Pie", "Bread Pudding")."""
    serving = rules().serving
    title_words = " " + " ".join(_WORD_RE.findall(title.lower())) + " "
    if _has_phrase(title_words, serving["hot_dishes"]):
        return False
    step_words = " " + " ".join(_WORD_RE.findall(bake_step.lower())) + " "
    return _has_phrase(title_words, serving["baked_goods"]) or _has_phrase(step_words, serving["baked_goods"])


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
    """One recipe's directions as the planner's tasks (``read_sentences`` -> ``dish_steps``)."""
    ingredients = ingredients or []
    steps, dropped, preheat_c = dish_steps(read_sentences(directions, ingredients), ingredients)
    dish = DishTasks(key=key, title=title, dropped=dropped, ingredients=list(ingredients))
    for n, s in enumerate(steps, 1):
        equipment = equipment_of(s.station, s.vessel)
        temp = None
        if s.station == "oven":
            temp = s.oven_c or preheat_c or (oven_celsius(s.text) if s.verb == "broil" else None) or DEFAULT_OVEN_C
        dish.tasks.append(
            Task(
                id=f"{key}.{n}",
                dish=key,
                step=n,
                text=s.text,
                verb=s.verb,
                duration_min=min(s.minutes, MAX_TASK_MINUTES),
                attended=s.attended,
                skill=s.skill,
                equipment=equipment,
                oven_temp_c=temp,
                after=[f"{key}.{a + 1}" for a in s.after],
                duration_from="text" if s.from_text else "default",
            )
        )
    mark_vessels(key, dish.tasks)
    return dish


__all__ = [
    "DEFAULT_OVEN_C",
    "STATIONS",
    "STOVE",
    "DishTasks",
    "SentenceReading",
    "Step",
    "Task",
    "count_items",
    "dish_steps",
    "equipment_of",
    "find_verb",
    "mark_vessels",
    "read_sentences",
    "split_sentences",
    "station_of",
    "tasks_from_directions",
]
