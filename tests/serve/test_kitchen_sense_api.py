"""POST /v1/recipes answers with kitchen sense (``cooking/kitchen_sense.py``) beside the constraint checks,
and ``enforce`` retries on a failed safety check.

Two kinds of test: the ones that stub ``check_kitchen_sense`` (named ``..._stubbed_checker``) test this
layer's own logic (retry, ranking, the reasons in the answer) with a checker that fails on demand; the
end-to-end ones run the real checker on real bad answers (the raw chicken salad, sixty lines of "- 10 g")."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sense_recipes import RAW_CHICKEN_SALAD, TEN_GRAMS
from sense_recipes import SOUND_CHICKEN_RICE as COOKED
from serve_support import ScriptedGenerator, live_app, serve_cfg

from chefbot.cooking import kitchen_sense
from chefbot.cooking.kitchen_sense import SenseCheck, SenseReport


def post(srv, body: dict) -> dict:
    r = httpx.post(srv.url + "/v1/recipes", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def _unsafe_when_titled_raw(recipe) -> SenseReport:
    """A stand-in checker: a recipe whose title starts with "Raw" fails one safety check."""
    raw = (recipe.title or "").startswith("Raw")
    check = SenseCheck(
        "stub_safety", "safety", not raw, "raw chicken is served without cooking" if raw else "", "stub source"
    )
    plaus = SenseCheck("stub_plausibility", "plausibility", False, "an odd amount", "stub source")
    return SenseReport(checks=(check, plaus), is_recipe=True)


@pytest.fixture
def stubbed_checker(monkeypatch):
    monkeypatch.setattr("chefbot.serve.recipes.check_kitchen_sense", _unsafe_when_titled_raw)


def test_every_answer_carries_the_real_kitchen_sense_checks(tmp_path: Path):
    with live_app(serve_cfg(tmp_path), ScriptedGenerator([COOKED, TEN_GRAMS])) as srv:
        good = post(srv, {"ingredients": ["chicken", "rice"]})
        junk = post(srv, {"ingredients": ["chicken", "rice"]})
    for body in (good, junk):
        ks = body["kitchen_sense"]
        assert [c["name"] for c in ks["checks"]] == [name for name, _ in kitchen_sense.CHECKS]
        assert [c["kind"] for c in ks["checks"]] == [kind for _, kind in kitchen_sense.CHECKS]
    assert good["kitchen_sense"]["is_recipe"] is True and good["kitchen_sense"]["safe"] is True
    assert all(c["passed"] is not False for c in good["kitchen_sense"]["checks"])
    # sixty lines of "- 10 g": not a recipe; the reason is the checker's own, shown to the cook
    assert junk["kitchen_sense"]["is_recipe"] is False
    is_recipe = next(c for c in junk["kitchen_sense"]["checks"] if c["name"] == "is_recipe")
    assert (
        is_recipe["passed"] is False
        and is_recipe["reason"].startswith("not a recipe")
        and "ingredient" in is_recipe["reason"]
    )


def test_the_response_schema_documents_kitchen_sense(tmp_path: Path):
    with live_app(serve_cfg(tmp_path), ScriptedGenerator([COOKED])) as srv:
        doc = httpx.get(srv.url + "/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "kitchen_sense" in schemas["RecipeResponse"]["required"]
    assert set(schemas["KitchenSense"]["properties"]) == {"is_recipe", "safe", "checks"}
    assert set(schemas["SenseCheckResult"]["properties"]) == {"name", "kind", "passed", "reason", "source"}
    assert "unsafe" in schemas["RecipeRetry"]["properties"]


def test_enforce_retries_on_a_failed_safety_check_stubbed_checker(tmp_path: Path, stubbed_checker):
    gen = ScriptedGenerator([COOKED.replace("# Chicken", "# Raw Chicken"), COOKED])
    with live_app(serve_cfg(tmp_path, enforce_attempts=3), gen) as srv:
        body = post(srv, {"ingredients": ["chicken", "rice"], "enforce": True, "seed": 3})
    # no constraint was asked: safety alone made the second attempt
    assert len(gen.calls) == 2 and gen.calls[1]["settings"]["do_sample"] is True
    assert body["attempts"] == 2 and body["attempt"] == 2 and body["raw"] == COOKED
    assert body["kitchen_sense"]["safe"] is True and body["constraints_met"] is True
    [why] = body["retries"]  # the answer says why it retried
    assert why["attempt"] == 1 and why["violated"] == []
    assert [(c["name"], c["reason"]) for c in why["unsafe"]] == [
        ("stub_safety", "raw chicken is served without cooking")
    ]


def test_a_failed_plausibility_check_is_shown_not_retried_stubbed_checker(tmp_path: Path, stubbed_checker):
    gen = ScriptedGenerator([COOKED])
    with live_app(serve_cfg(tmp_path, enforce_attempts=3), gen) as srv:
        body = post(srv, {"ingredients": ["chicken"], "enforce": True})
    assert len(gen.calls) == 1 and body["retries"] == []
    plaus = next(c for c in body["kitchen_sense"]["checks"] if c["kind"] == "plausibility")
    assert plaus["passed"] is False and plaus["reason"] == "an odd amount"


def test_without_enforce_an_unsafe_answer_is_returned_marked_stubbed_checker(tmp_path: Path, stubbed_checker):
    gen = ScriptedGenerator([COOKED.replace("# Chicken", "# Raw Chicken")])
    with live_app(serve_cfg(tmp_path), gen) as srv:
        body = post(srv, {"ingredients": ["chicken"]})
    assert len(gen.calls) == 1 and body["attempts"] == 1 and body["retries"] == []
    assert body["kitchen_sense"]["safe"] is False


def test_enforce_prefers_a_safe_answer_to_one_that_meets_the_constraints_stubbed_checker(
    tmp_path: Path, stubbed_checker
):
    # attempt 1: vegetarian but unsafe; attempt 2: safe but with chicken; none passes both
    veg_raw = "# Raw Tofu Rice\n\n## Ingredients\n- 1 block tofu\n- 1 cup rice\n\n## Directions\n1. Slice the tofu.\n2. Serve on the rice."
    gen = ScriptedGenerator([veg_raw, COOKED])
    with live_app(serve_cfg(tmp_path, enforce_attempts=2), gen) as srv:
        body = post(srv, {"ingredients": ["rice"], "constraints": {"diets": ["vegetarian"]}, "enforce": True})
    assert body["attempts"] == 2 and body["attempt"] == 2 and body["raw"] == COOKED
    assert body["kitchen_sense"]["safe"] is True and body["constraints_met"] is False
    assert [c["name"] for c in body["retries"][0]["unsafe"]] == ["stub_safety"]


def test_a_stream_announces_a_retry_on_safety_stubbed_checker(tmp_path: Path, stubbed_checker):
    gen = ScriptedGenerator([COOKED.replace("# Chicken", "# Raw Chicken"), COOKED])
    with live_app(serve_cfg(tmp_path), gen) as srv:
        with httpx.stream(
            "POST",
            srv.url + "/v1/recipes",
            timeout=60,
            json={"ingredients": ["chicken"], "enforce": True, "stream": True},
        ) as r:
            events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    retry = next(e for e in events if "attempt" in e and "done" not in e)
    assert retry["attempt"] == 2 and retry["violated"] == []
    assert [c["reason"] for c in retry["unsafe"]] == ["raw chicken is served without cooking"]
    done = events[-1]
    assert done["done"] is True and done["kitchen_sense"]["safe"] is True and len(done["retries"]) == 1


def test_a_raw_chicken_salad_is_unsafe_and_enforce_cooks_it(tmp_path: Path):
    gen = ScriptedGenerator([RAW_CHICKEN_SALAD, RAW_CHICKEN_SALAD, COOKED])  # plain: 1; enforced: 2, 3
    with live_app(serve_cfg(tmp_path, enforce_attempts=3), gen) as srv:
        plain = post(srv, {"ingredients": ["chicken", "eggs", "feta"]})
        enforced = post(srv, {"ingredients": ["chicken", "eggs", "feta"], "enforce": True})
    assert plain["kitchen_sense"]["safe"] is False and plain["kitchen_sense"]["is_recipe"] is True
    failed = [c for c in plain["kitchen_sense"]["checks"] if c["passed"] is False and c["kind"] == "safety"]
    assert failed and all(c["reason"] and c["source"] for c in failed)
    assert enforced["raw"] == COOKED and enforced["kitchen_sense"]["safe"] is True
    assert enforced["retries"][0]["unsafe"]
