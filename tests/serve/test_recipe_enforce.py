"""POST /v1/recipes: every requested constraint checked on the answer, conflicts with the person's own
ingredients, and ``enforce``: sampled attempts until the checker passes, or the best attempt marked."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from serve_support import ScriptedGenerator, live_app, serve_cfg

CHICKEN = """# Chicken Rice

## Ingredients
- 1 lb chicken thighs
- 1 cup rice
- 1 cup wheat flour

## Directions
1. Brown the chicken in a pan for 10 minutes.
2. Simmer the rice for 15 minutes and serve."""

TOFU_FLOUR = """# Tofu Rice

## Ingredients
- 1 block tofu
- 1 cup rice
- 1 cup wheat flour

## Directions
1. Fry the tofu for 10 minutes.
2. Simmer the rice for 15 minutes and serve."""

TOFU = """# Tofu Rice

## Ingredients
- 1 block tofu
- 1 cup rice

## Directions
1. Fry the tofu for 10 minutes.
2. Simmer the rice for 15 minutes and serve."""


def post(srv, body: dict) -> dict:
    r = httpx.post(srv.url + "/v1/recipes", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def by_name(checks: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in checks}


def test_every_requested_constraint_is_checked_on_the_answer(tmp_path: Path):
    gen = ScriptedGenerator([CHICKEN])
    with live_app(serve_cfg(tmp_path), gen) as srv:
        body = post(
            srv,
            {
                "ingredients": ["rice"],
                "constraints": {"diets": ["vegetarian", "dairy-free"], "max_minutes": 15, "cuisine": "Thai"},
            },
        )
    checks = by_name(body["checks"])
    assert list(checks) == ["vegetarian", "dairy-free", "max_minutes", "cuisine"]  # the order of the request's phrases
    assert checks["vegetarian"]["satisfied"] is False
    assert checks["vegetarian"]["offending"] == ["1 lb chicken thighs"] and "poultry" in checks["vegetarian"]["detail"]
    assert checks["dairy-free"]["satisfied"] is True and checks["dairy-free"]["offending"] == []
    assert checks["max_minutes"]["satisfied"] is False and checks["max_minutes"]["minutes"] > 15
    assert checks["cuisine"]["satisfied"] is None  # "Chicken Rice" names no cuisine: unknown, not a pass
    assert body["constraints_met"] is False and body["attempts"] == 1 and body["attempt"] == 1
    assert body["conflicts"] == []  # rice breaks nothing
    assert len(gen.calls) == 1  # no enforce: one answer


def test_enforce_regenerates_sampled_until_the_checker_passes(tmp_path: Path):
    gen = ScriptedGenerator([CHICKEN, TOFU, CHICKEN])
    with live_app(serve_cfg(tmp_path, enforce_attempts=3), gen) as srv:
        body = post(
            srv, {"ingredients": "rice, tofu", "constraints": {"diets": ["vegetarian"]}, "enforce": True, "seed": 7}
        )
    assert body["attempts"] == 2 and body["attempt"] == 2 and body["constraints_met"] is True
    assert body["raw"] == TOFU and by_name(body["checks"])["vegetarian"]["satisfied"] is True
    first, second = (c["settings"] for c in gen.calls)
    assert first.get("do_sample") is not True and first["seed"] == 7  # the request as sent (greedy)
    assert second["do_sample"] is True and second["temperature"] == 0.7 and second["seed"] == 8  # sampled, new seed
    assert gen.calls[0]["messages"] == gen.calls[1]["messages"]  # the same prompt each time


def test_enforce_returns_the_best_attempt_marked_as_violating(tmp_path: Path):
    # vegetarian + gluten-free: CHICKEN breaks both, TOFU_FLOUR one; none passes within 3 attempts
    gen = ScriptedGenerator([CHICKEN, TOFU_FLOUR, CHICKEN])
    with live_app(serve_cfg(tmp_path, enforce_attempts=3), gen) as srv:
        body = post(
            srv,
            {
                "ingredients": ["rice"],
                "constraints": {"diets": ["vegetarian", "gluten-free"]},
                "enforce": True,
                "temperature": 1.2,
            },
        )
    assert body["attempts"] == 3 and len(gen.calls) == 3
    assert body["attempt"] == 2 and body["raw"] == TOFU_FLOUR and body["constraints_met"] is False
    checks = by_name(body["checks"])
    assert checks["vegetarian"]["satisfied"] is True and checks["gluten-free"]["satisfied"] is False
    assert checks["gluten-free"]["offending"] == ["1 cup wheat flour"]
    assert all(c["settings"]["temperature"] == 1.2 for c in gen.calls)  # the request's own temperature throughout


def test_enforce_is_bounded_by_config_and_needs_a_constraint(tmp_path: Path):
    gen = ScriptedGenerator([CHICKEN])
    with live_app(serve_cfg(tmp_path, enforce_attempts=2), gen) as srv:
        bounded = post(srv, {"ingredients": ["rice"], "constraints": {"diets": ["vegan"]}, "enforce": True})
        assert len(gen.calls) == 2
        nothing = post(srv, {"ingredients": ["rice"], "enforce": True})  # nothing asked: nothing to enforce
    assert bounded["attempts"] == 2 and bounded["constraints_met"] is False
    assert nothing["attempts"] == 1 and nothing["checks"] == [] and nothing["constraints_met"] is True
    assert len(gen.calls) == 3


def test_own_ingredients_that_break_a_diet_are_reported_and_substituted(tmp_path: Path):
    gen = ScriptedGenerator([TOFU])
    cfg = serve_cfg(tmp_path)
    with live_app(cfg, gen) as srv:
        body = post(srv, {"ingredients": ["chicken breast", "rice"], "constraints": {"vegetarian": True}})
    assert [c["name"] for c in body["conflicts"]] == ["vegetarian"]
    assert body["conflicts"][0]["offending"] == ["chicken breast"] and body["conflicts"][0]["satisfied"] is False
    assert body["constraints"]["diets"] == ["vegetarian"]  # the legacy boolean, folded into diets
    user = gen.calls[0]["messages"][-1]["content"]
    assert "vegetarian" in user and "Replace the chicken breast" in user
    assert by_name(body["checks"])["vegetarian"]["satisfied"] is True  # the answer substituted it


def test_stream_with_enforce_announces_each_new_attempt(tmp_path: Path):
    gen = ScriptedGenerator([CHICKEN, TOFU])
    with live_app(serve_cfg(tmp_path), gen) as srv:
        with httpx.stream(
            "POST",
            srv.url + "/v1/recipes",
            timeout=60,
            json={"ingredients": ["tofu"], "constraints": {"diets": ["vegan"]}, "enforce": True, "stream": True},
        ) as r:
            assert r.status_code == 200
            events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    parsed = [json.loads(e) for e in events[:-1]]
    retry = next(k for k, e in enumerate(parsed) if "attempt" in e and "done" not in e)
    assert "".join(e["delta"] for e in parsed[:retry]) == CHICKEN
    assert parsed[retry]["attempt"] == 2 and parsed[retry]["max_attempts"] == 3
    assert [c["name"] for c in parsed[retry]["violated"]] == ["vegan"]
    assert "".join(e["delta"] for e in parsed[retry + 1 : -1]) == TOFU
    done = parsed[-1]
    assert done["done"] is True and done["attempts"] == 2 and done["constraints_met"] is True and done["raw"] == TOFU


def test_bad_constraints_are_refused_with_the_field_named(tmp_path: Path):
    with live_app(serve_cfg(tmp_path), ScriptedGenerator([TOFU])) as srv:
        diet = httpx.post(srv.url + "/v1/recipes", json={"ingredients": ["rice"], "constraints": {"diets": ["paleo"]}})
        enforce = httpx.post(srv.url + "/v1/recipes", json={"ingredients": ["rice"], "enforce": "yes"})
    assert diet.status_code == 422 and "constraints.diets" in diet.json()["error"]["message"]
    assert enforce.status_code == 422 and enforce.json()["error"]["param"] == "enforce"
