"""Semantic refusals are documented as such: every route that answers 400 to a request its schema accepts
(a pasted text with no ingredient line, an unplannable meal, a tasting model that is not configured, ...)
says so in its OpenAPI ``responses``, and a client (or a fuzzer) can tell them from schema violations."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_support import FastGenerator, serve_cfg

pytest.importorskip("ortools")

SEMANTIC = {  # route -> error codes its 400 description must name
    ("post", "/v1/chat/completions"): ["invalid_messages"],
    ("post", "/v1/completions"): ["empty_prompt"],
    ("post", "/v1/recipes"): ["invalid_messages"],
    ("post", "/v1/plan"): ["bad_meal_spec", "no feasible"],
    ("post", "/api/recipes"): ["bad_recipe", "no ingredient line"],
    ("put", "/api/recipes/{recipe_id}"): ["bad_recipe"],
    ("get", "/api/recipes"): ["bad_recipe", "category"],
    ("post", "/api/shopping-list"): ["kitchen_error"],
    ("post", "/api/plans"): ["bad_meal_spec"],
    ("post", "/api/recipes/{recipe_id}/cook"): ["bad_meal_spec"],
    ("post", "/api/plans/{plan_id}/progress"): ["unknown_cook", "bad_progress"],
    ("post", "/api/tastings/pair"): ["unknown_tasting_model", "kitchen.tasting_models"],
    ("post", "/api/tastings"): ["kitchen_error", "bad_vote"],
    ("put", "/api/tastings"): ["kitchen_error", "bad_vote"],
    ("post", "/api/recipes/{recipe_id}/notes"): ["bad_rating", "control character"],
    ("put", "/api/notes/{note_id}"): ["bad_rating"],
    ("put", "/api/recipes/{recipe_id}/rating"): ["JSON text"],
    ("post", "/api/recipes/{recipe_id}/photos"): ["bad_image"],
    ("post", "/api/tokens"): ["bad_account"],
    ("post", "/api/login"): ["invalid_login", "JSON text"],
    ("post", "/api/shopping-lists"): ["kitchen_error", "control character"],
    ("patch", "/api/shopping-lists/{list_id}"): ["kitchen_error"],
    ("post", "/api/shopping-lists/{list_id}/clear-checked"): ["kitchen_error"],
    ("post", "/api/shopping-lists/{list_id}/items"): ["kitchen_error", "control character"],
    ("put", "/api/shopping-lists/{list_id}/items/{item_id}"): ["kitchen_error"],
    ("get", "/api/calendar"): ["bad_calendar"],
    ("post", "/api/calendar"): ["bad_calendar"],
    ("patch", "/api/calendar/{entry_id}"): ["bad_calendar"],
    ("get", "/api/calendar/plan-form"): ["bad_calendar"],
    ("post", "/api/calendar/shopping-list"): ["bad_calendar"],
}


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    from chefbot.serve.app import create_app

    cfg = serve_cfg(Path("unused"))
    cfg.kitchen.db_path = str(tmp_path_factory.mktemp("kitchen") / "kitchen.db")
    with TestClient(create_app(cfg, FastGenerator())) as c:
        return c.get("/openapi.json").json()


def test_every_400_is_described_as_a_semantic_refusal(doc):
    answering_400 = {(m, p) for p, item in doc["paths"].items() for m, op in item.items() if "400" in op["responses"]}
    assert answering_400 == set(SEMANTIC)
    for (method, path), codes in SEMANTIC.items():
        entry = doc["paths"][path][method]["responses"]["400"]
        assert entry["description"].startswith("semantic refusal"), (path, entry["description"])
        for code in codes:
            assert code in entry["description"], (path, code)
        assert entry["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")


def test_the_refusals_described_are_the_ones_given(tmp_path):
    """The three the fuzzer met: each a schema-valid request, each a 400 with the documented code."""
    from chefbot.serve.app import create_app

    cfg = serve_cfg(Path("unused"), plan_time_limit_s=1)
    cfg.kitchen.db_path = str(tmp_path / "kitchen.db")
    with TestClient(create_app(cfg, FastGenerator())) as c:
        r = c.post("/api/recipes", json={"text": "just some words\nand more words"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_recipe", r.text
        meal = {
            "serve_at": "19:00",
            "cooks": [{"name": "Ann"}],
            "recipes": [{"title": "Air", "ingredients": ["air"], "directions": ["Admire it."]}],
        }
        r = c.post("/v1/plan", json=meal)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_meal_spec", r.text
        r = c.post("/api/tastings/pair", json={"ingredients": ["rice"], "a": {"model": "elsewhere"}})
        assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_tasting_model", r.text
