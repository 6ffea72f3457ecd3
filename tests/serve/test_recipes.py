"""POST /v1/recipes: the prompt sent, the structured answer, the checks, streaming."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from serve_support import ContractDouble, live_app, serve_cfg

from chefbot.generate import Completion

RECIPE = """# Bacon Fried Rice

## Ingredients
- 2 cups cooked rice
- 4 slices bacon
- 2 eggs

## Directions
1. Fry the bacon for 10 minutes.
2. Add the rice and stir for 5 minutes.
3. Scramble in the eggs and serve."""


class FixedText(ContractDouble):
    """A generator double that always writes RECIPE and remembers the prompts it was given."""

    backend = "fixed"

    def __init__(self) -> None:
        self.prompts: list[list[dict]] = []

    def generate(self, batch, settings_override=None, on_result=None, cancel=None):
        self.prompts += [list(m) for m in batch]
        return [Completion(RECIPE, "stop", 20, 40) for _ in batch]

    def stream(self, messages, settings_override=None):
        self.prompts.append(list(messages))

        class Handle:
            completion = None

            def __iter__(self):
                yield from RECIPE.splitlines(keepends=True)
                self.completion = Completion(RECIPE, "stop", 20, 40)

            def cancel(self):
                pass

        return Handle()


def test_structured_recipe_with_constraint_checks(tmp_path: Path):
    gen = FixedText()
    with live_app(serve_cfg(tmp_path), gen) as srv:
        r = httpx.post(
            srv.url + "/v1/recipes",
            json={"ingredients": "rice\nbacon, eggs", "constraints": {"vegetarian": True, "max_minutes": 10}},
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ingredients_given"] == ["rice", "bacon", "eggs"]
    assert body["recipe"]["title"] == "Bacon Fried Rice"
    assert body["recipe"]["ingredients"] == ["2 cups cooked rice", "4 slices bacon", "2 eggs"]
    assert [s["number"] for s in body["recipe"]["steps"]] == [1, 2, 3]
    assert body["recipe"]["steps"][0]["text"] == "Fry the bacon for 10 minutes."
    assert body["well_formed"] is True and body["valid"] is False
    assert "not vegetarian: mentions '4 slices bacon' (meat)" in body["problems"]
    # the planner's task model: 10 + 5 minutes stated, plus scrambling, over the 10 allowed
    assert "not ready in 10 minutes: about 25 minutes (hands-on 25), over 10" in body["problems"]
    assert body["minutes_stated"] == 15
    checks = {c["name"]: c for c in body["checks"]}
    assert checks["vegetarian"]["satisfied"] is False and checks["vegetarian"]["offending"] == ["4 slices bacon"]
    assert checks["max_minutes"]["satisfied"] is False and checks["max_minutes"]["minutes"] == 25
    assert body["constraints"]["diets"] == ["vegetarian"]  # the legacy boolean, folded into diets
    assert body["raw"] == RECIPE and body["finish_reason"] == "stop"
    # the training prompt (so a tuned model sees what it learned), plus the constraints
    user = gen.prompts[0][-1]["content"]
    assert user.startswith("Include ingredients: rice, bacon, eggs")
    assert "vegetarian" in user and "10 minutes" in user


def test_recipe_stream_ends_with_the_structured_recipe(tmp_path: Path):
    with live_app(serve_cfg(tmp_path), FixedText()) as srv:
        with httpx.stream("POST", srv.url + "/v1/recipes", json={"ingredients": ["rice"], "stream": True}) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    parsed = [json.loads(e) for e in events[:-1]]
    assert "".join(e["delta"] for e in parsed if "delta" in e) == RECIPE
    done = parsed[-1]
    assert done["done"] is True and done["valid"] is True and len(done["recipe"]["steps"]) == 3


def test_plan_endpoint_wraps_the_planner(tmp_path: Path):
    meal = {
        "title": "Quick",
        "serve_at": "19:00",
        "cooks": [{"name": "Alex"}],
        "recipes": [
            {
                "title": "Pasta",
                "ingredients": ["spaghetti"],
                "directions": ["Boil water in a pot.", "Cook the spaghetti for 10 minutes."],
            }
        ],
    }
    with live_app(serve_cfg(tmp_path), FixedText()) as srv:
        ok = httpx.post(srv.url + "/v1/plan", json=meal, timeout=60)
        bad = httpx.post(srv.url + "/v1/plan", json={**meal, "cooks": []}, timeout=60)
    assert ok.status_code == 200, ok.text
    assert "html" in ok.json()
    assert bad.status_code == 400 and "cooks" in bad.json()["error"]["message"]
