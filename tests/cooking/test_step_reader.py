"""The step reader reads the verb that governs a sentence, not any keyword in it (issue 25).

Each test is a failure a cook met with the keyword reader, or a rule of the gold set's
labelling (tests/data/gold_steps/README.md) written as a recipe."""

from __future__ import annotations

import pytest

from chefbot.cooking.durations import parse_duration
from chefbot.cooking.tasks import (
    STATIONS,
    find_verb,
    read_sentences,
    split_sentences,
    station_of,
    tasks_from_directions,
)


def _read(*directions: str):
    return read_sentences(list(directions))


def test_sift_with_baking_powder_is_bowl_work_not_a_bake():
    (rd,) = _read("Sift the flour, baking powder and salt into a bowl.")
    assert (rd.verb, rd.station, rd.attended, rd.oven_c) == ("sift", "bowl", True, None)
    (task,) = tasks_from_directions("d", "Cake", ["Sift the flour, baking powder and salt into a bowl."]).tasks
    assert task.equipment == ["bowl"] and task.oven_temp_c is None and task.duration_min < 10


@pytest.mark.parametrize(
    "sentence,verb",
    [
        ("Grease a baking dish", "grease"),
        ("Line a baking sheet with parchment", "line"),
        ("Whisk the eggs and melted butter", "whisk"),
        ("Stir in the baking soda dissolved in boiling water", "stir"),
        ("Top with oven-roasted peppers", "top"),
    ],
)
def test_nouns_and_adjectives_are_not_the_task(sentence, verb):
    (rd,) = _read(sentence)
    assert rd.verb == verb and rd.station not in ("oven", "burner")


def test_melted_butter_does_not_put_a_whisking_step_on_the_stove():
    rd = _read("In a large bowl, whisk the milk, egg and melted butter.")[0]
    assert rd.station == "bowl" and rd.vessel is None


def test_pancakes_cook_on_a_griddle_not_in_the_oven():
    readings = _read(
        "In a large bowl, whisk together the flour, sugar, baking powder and salt.",
        "In another bowl, whisk the milk, egg and melted butter.",
        "Heat a lightly oiled griddle over medium-high heat.",
        "Pour 1/4 cup of batter onto the griddle and cook until bubbles form, about 2 minutes per side.",
    )
    assert [r.station for r in readings] == ["bowl", "bowl", "burner", "burner"]
    assert readings[3].vessel == "pan" and readings[3].minutes == 4  # per side: twice
    dish = tasks_from_directions("p", "Pancakes", [r.text for r in readings])
    assert not any("oven" in t.equipment for t in dish.tasks)


def test_cornbread_dry_mix_is_mixed_in_a_bowl_and_only_the_bake_uses_the_oven():
    dish = tasks_from_directions(
        "c",
        "Cornbread",
        [
            "Preheat oven to 400 degrees F.",
            "Combine cornmeal, flour, sugar, baking powder and salt.",
            "Stir in milk, egg and oil just until moistened.",
            "Pour into a greased 8-inch pan.",
            "Bake 20 to 25 minutes.",
        ],
    )
    assert [(t.verb, t.equipment) for t in dish.tasks] == [
        ("combine", ["bowl"]),
        ("stir", ["bowl"]),
        ("pour", []),
        ("bake", ["oven"]),
    ]
    assert dish.tasks[-1].oven_temp_c == 205 and dish.tasks[-1].duration_min == 25


def test_when_cool_cut_reads_past_the_opener_and_waits_for_a_cooling_step():
    bars = _read("Bake at 350° for 25 minutes.", "When cool, cut into bars.")
    assert bars[1].verb == "cut" and bars[1].station == "none" and bars[1].when_cool
    dish = tasks_from_directions("b", "Bars", [r.text for r in bars])
    assert [t.verb for t in dish.tasks] == ["bake", "cool", "cut"]


def test_preheat_is_read_as_a_hands_off_oven_step_but_the_planner_derives_it():
    (rd,) = _read("Preheat the oven to 180°C.")
    assert (rd.task, rd.verb, rd.station, rd.attended, rd.oven_c) == (True, "preheat", "oven", False, 180)
    dish = tasks_from_directions("d", "Dish", ["Preheat the oven to 180°C.", "Bake 20 minutes."])
    assert [t.verb for t in dish.tasks] == ["bake"] and dish.tasks[0].oven_temp_c == 180


@pytest.mark.parametrize(
    "sentence,verb",
    [
        ("In a large bowl, mix the flour and sugar", "mix"),
        ("In a saucepan combine butter, cocoa and water", "combine"),
        ("Meanwhile, chop the onion", "chop"),
        ("With a mixer, beat the cream until stiff", "beat"),
        ("Using a knife, carefully spread the butter", "spread"),
        ("Thinly slice the cucumbers", "slice"),
        ("Let stand 10 minutes", "stand"),
        ("Allow the dough to rise in a warm place", "rise"),
        ("Bring the water to a boil", "boil"),
        ("Makes 24 cookies", None),
        ("Serve warm with ice cream", None),
    ],
)
def test_the_governing_verb(sentence, verb):
    assert find_verb(sentence) == verb or (verb is None and not _read(sentence)[0].task)


def test_adding_to_food_still_on_the_burner_holds_the_burner_and_its_pan():
    readings = _read(
        "Heat the oil in a skillet over medium heat.", "Add the garlic and cook 1 minute.", "Stir in the rice."
    )
    assert [(r.station, r.vessel) for r in readings] == [("burner", "pan")] * 3
    off = _read("Melt butter in a saucepan.", "Remove from heat.", "Stir in the vanilla.")
    assert off[2].station == "bowl"  # off the heat the mixture is worked like one in a bowl


def test_stations_from_the_words_of_the_sentence():
    cases = {
        "Beat on medium speed for 2 minutes": "mixer",
        "Puree in a blender until smooth": "blender",
        "Process in a food processor until fine": "blender",
        "Refrigerate overnight": "fridge",
        "Freeze until firm, about 2 hours": "freezer",
        "Microwave on high for 3 minutes": "microwave",
        "Cook on low in the slow cooker for 8 hours": "slow_cooker",
        "Grill over hot coals for 10 minutes per side": "grill",
        "Place in a 350° oven for 1 hour": "oven",
        "Pour into a greased microwave dish": "none",
    }
    for sentence, station in cases.items():
        assert _read(sentence)[0].station == station, sentence


def test_attended_follows_the_rules():
    assert not _read("Cover and simmer 45 minutes.")[0].attended
    assert _read("Simmer 10 minutes, stirring constantly.")[0].attended
    assert not _read("Cook the pasta according to package directions.")[0].attended
    assert _read("Saute the onion until soft, about 5 minutes.")[0].attended
    assert _read("Broil 3 minutes.")[0].attended
    assert not _read("Bake 30 minutes.")[0].attended


@pytest.mark.parametrize(
    "text,minutes",
    [
        ("Grill 5 minutes per side.", 10),
        ("Cook 3 minutes on each side.", 6),
        ("Stir in the herbs 10 minutes before serving.", None),
        ("Let sit for 10-15 minutes before serving.", 15),
        ("Chill several hours, even a day.", 180),
    ],
)
def test_stated_minutes(text, minutes):
    assert parse_duration(text) == minutes


def test_one_station_mapping_in_priority_order():
    assert STATIONS[0] == "oven" and STATIONS[-1] == "none"
    assert station_of(["bowl", "oven"]) == "oven"
    assert station_of(["pot", "burner", "bowl"]) == "burner"
    assert station_of(["bowl", "mixer"]) == "mixer"
    assert station_of([]) == "none"


def test_split_sentences_units_are_unchanged():
    """The gold set's units: split at sentence ends, ";", ", then" and line breaks."""
    assert split_sentences(["Mix well; chill. Serve cold.", "Stir, then bake\n30 minutes."]) == [
        "Mix well",
        "chill",
        "Serve cold",
        "Stir",
        "bake",
        "30 minutes",
    ]
