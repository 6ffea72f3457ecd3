"""The reward of hand-written answers (the checkers decide, a short answer cannot win) and the pairs."""

from __future__ import annotations

import pytest

from chefbot.align.reward import build_pairs, reward_components

ASKED = ["eggs", "spinach", "feta", "onion"]

# issue 26's first complaint: a raw-egg "salad", whisked and chilled, never cooked
RAW_EGG_SALAD = """# Spinach Feta Egg Salad

## Ingredients
- 4 eggs
- 2 cups spinach
- 100 g feta
- 1 onion

## Directions
1. Whisk the eggs with the feta.
2. Toss the spinach and onion with the egg mixture.
3. Chill for 1 hour and serve."""

FRITTATA = """# Spinach Feta Frittata

## Ingredients
- 4 eggs
- 2 cups spinach
- 100 g feta
- 1 onion

## Directions
1. Cook the onion in a pan over medium heat for 5 minutes.
2. Add the spinach and cook for 2 minutes until wilted.
3. Pour in the beaten eggs with the feta and cook for 8 minutes until set, then serve."""

TOFU_SCRAMBLE = """# Spinach Tofu Scramble

## Ingredients
- 400 g firm tofu
- 2 cups spinach
- 1 onion
- 1 tbsp olive oil

## Directions
1. Cook the onion in the olive oil in a pan over medium heat for 5 minutes.
2. Crumble in the tofu and cook for 5 minutes.
3. Add the spinach and cook for 2 minutes until wilted, then serve."""

TWO_LINES = "# Frittata\n1. Cook the eggs with the spinach."


def request(*diets: str) -> dict:
    return {"constraints": {"diets": list(diets)}, "ner": ASKED, "source_steps": 4}


def test_a_raw_egg_salad_loses_to_a_cooked_dish():
    raw, cooked = (
        reward_components(RAW_EGG_SALAD, request("vegetarian")),
        reward_components(FRITTATA, request("vegetarian")),
    )
    assert raw["sense"] == 0 and "raw_food" in raw["failed_sense"]
    assert cooked["sense"] == 1 and cooked["constraints"] == 1 and cooked["form"] == 1
    assert raw["reward"] < cooked["reward"] == 1.0


def test_a_vegan_request_answered_with_eggs_loses():
    eggs, tofu = reward_components(FRITTATA, request("vegan")), reward_components(TOFU_SCRAMBLE, request("vegan"))
    assert eggs["constraints"] == 0 and eggs["failed_constraints"] == ["vegan"]
    assert tofu["constraints"] == 1
    assert eggs["reward"] < tofu["reward"]


def test_a_two_line_answer_loses_to_a_complete_one():
    short, full = reward_components(TWO_LINES, request()), reward_components(FRITTATA, request())
    assert short["completeness"] == 0  # no ingredient list at all
    assert short["reward"] < full["reward"]
    # the length control does not reward length for its own sake: past the request's needs it is 1
    longer = FRITTATA.replace("- 1 onion", "- 1 onion\n- 1 pinch salt\n- 1 pinch pepper")
    assert reward_components(longer, request())["completeness"] == full["completeness"] == 1.0


def test_a_short_but_clean_answer_is_scaled_down_by_completeness():
    one_step = FRITTATA.split("2. ")[0]  # title, ingredients and one step: nothing the checkers reject
    r = reward_components(one_step, request("vegetarian"))
    assert r["constraints"] == 1 and r["form"] == 1
    assert r["completeness"] == pytest.approx(1 / 3)
    assert r["reward"] < reward_components(FRITTATA, request("vegetarian"))["reward"]


def _row(rid: str, rewards: list[float]) -> dict:
    return {
        "id": rid,
        "messages": [{"role": "user", "content": rid}],
        "answers": [{"text": f"{rid}-{i}", "score": {"reward": r}} for i, r in enumerate(rewards)],
    }


def test_pairs_take_best_and_worst_above_the_margin():
    rows = [_row("a", [0.2, 0.9, 0.5, 0.1]), _row("b", [0.5, 0.55]), _row("c", [0.7, 0.7]), _row("d", [0.3, 0.8, 0.8])]
    pairs, counts = build_pairs(rows, min_margin=0.2)
    assert [(p["id"], p["chosen"], p["rejected"]) for p in pairs] == [("a", "a-1", "a-3"), ("d", "d-1", "d-0")]
    assert counts == {"requests": 4, "pairs": 2, "below_margin": 2}
    assert pairs[0]["prompt"] == rows[0]["messages"] and pairs[0]["chosen_reward"] == 0.9
    # margin 0: a request whose answers all tie still gives no pair (nothing to prefer)
    assert [p["id"] for p in build_pairs(rows, min_margin=0.0)[0]] == ["a", "b", "d"]
