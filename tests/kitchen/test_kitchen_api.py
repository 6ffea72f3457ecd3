"""The kitchen API end to end through FastAPI's TestClient, with the serving tests' scripted generator."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_support import SHORT_RECIPE, FastGenerator, live_app, serve_cfg

from chefbot.serve.app import create_app

RECIPES = [
    {
        "title": "Roast chicken",
        "servings": 4,
        "ingredients": ["1 whole chicken", "2 tbsp butter", "1 lemon"],
        "directions": [
            "Preheat oven to 425 degrees.",
            "Rub the chicken with butter and lemon.",
            "Roast the chicken for 60 minutes.",
            "Rest 10 minutes and carve.",
        ],
    },
    {
        "title": "Lemon rice",
        "servings": 4,
        "ingredients": ["2 cups rice", "4 cups water", "1 lemon", "2 eggs"],
        "directions": ["Bring the water to a boil in a pot.", "Add rice and simmer 20 minutes.", "Stir in lemon zest."],
    },
    {
        "title": "Green salad",
        "servings": 4,
        "ingredients": ["1 lettuce", "2 tomatoes", "3 eggs"],
        "directions": ["Wash the lettuce.", "Slice the tomatoes.", "Toss with dressing."],
    },
]


def make_client(db: Path, tasting_models: dict | None = None, **serve) -> TestClient:
    cfg = serve_cfg(Path("unused"), plan_time_limit_s=2, **serve)
    cfg.kitchen.db_path = str(db)
    cfg.kitchen.tasting_models = tasting_models or {}
    return TestClient(create_app(cfg, FastGenerator()))


@pytest.fixture()
def client(tmp_path):
    with make_client(tmp_path / "kitchen.db") as c:
        yield c


def test_save_scale_search_delete(client):
    r = client.post(
        "/api/recipes",
        json={
            "title": "Pancakes",
            "servings": 4,
            "ingredients": ["2 cups flour", "2 eggs"],
            "directions": ["Mix.", "Fry."],
        },
    )
    assert r.status_code == 201
    rid = r.json()["id"]
    scaled = client.get(f"/api/recipes/{rid}", params={"servings": 8}).json()
    assert scaled["ingredients"] == ["4 cups flour", "4 eggs"] and scaled["servings"] == 8
    assert client.get("/api/recipes", params={"q": "flour"}).json()["data"][0]["id"] == rid
    assert client.get("/api/recipes", params={"q": "caviar"}).json() == {"object": "list", "total": 0, "data": []}
    assert client.delete(f"/api/recipes/{rid}").json() == {"id": rid, "object": "recipe", "deleted": True}
    r = client.get(f"/api/recipes/{rid}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "recipe_not_found"


def test_a_generated_answer_is_saved_with_what_wrote_it(client):
    answer = client.post("/v1/recipes", json={"ingredients": ["rice", "egg"], "temperature": 0}).json()
    r = client.post(
        "/api/recipes",
        json={
            "text": answer["raw"],
            "servings": 2,
            "source": {"kind": "generated", "settings": {"temperature": 0}, "ingredients_given": ["rice", "egg"]},
        },
    )
    assert r.status_code == 201
    saved = r.json()
    assert saved["title"] == "Rice Bowl" and saved["ingredients"] == ["1 cup rice", "1 egg"]
    assert saved["source"]["model"] == "chefbot" and saved["source"]["base_model"] == "unused"
    assert saved["source"]["settings"] == {"temperature": 0}


@pytest.mark.parametrize(
    "body, status, param, code",
    [
        ({"text": "just some words"}, 400, "ingredients", "bad_recipe"),
        ({"text": SHORT_RECIPE, "title": "x"}, 422, "body", "value_error"),
        ({"title": "x", "ingredients": ["1 egg"]}, 422, "body", "value_error"),
        (
            {"title": "x", "ingredients": ["1 egg"], "directions": ["Boil."], "serving": 3},
            422,
            "serving",
            "extra_forbidden",
        ),
        (
            {"title": "x", "ingredients": ["1 egg"], "directions": ["Boil."], "servings": "3"},
            422,
            "servings",
            "int_type",
        ),
        (
            {"title": "x", "ingredients": [" "], "directions": ["Boil."]},
            422,
            "ingredients.0",
            "string_pattern_mismatch",
        ),
        (
            {"title": "x", "ingredients": ["1 egg"], "directions": ["Boil."], "servings": 101},
            422,
            "servings",
            "less_than_equal",
        ),
    ],
)
def test_bad_recipes_are_refused_naming_the_field(client, body, status, param, code):
    r = client.post("/api/recipes", json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["param"] == param and r.json()["error"]["code"] == code
    assert client.get("/api/recipes").json()["total"] == 0


def test_shopping_list_merges_eggs_across_recipes(client):
    ids = [client.post("/api/recipes", json=r).json()["id"] for r in RECIPES]
    r = client.post("/api/shopping-list", json={"items": [{"recipe_id": ids[1], "servings": 8}, {"recipe_id": ids[2]}]})
    assert r.status_code == 200
    got = {i["name"]: i for a in r.json()["aisles"] for i in a["items"]}
    assert got["eggs"]["text"] == "7 eggs" and got["eggs"]["recipes"] == [ids[1], ids[2]]
    assert got["lemons"]["text"] == "2 lemons"
    assert [i["name"] for i in r.json()["pantry"]] == ["water"]
    r = client.post("/api/shopping-list", json={"items": [{"recipe_id": ids[0]}, {"recipe_id": 999}]})
    assert r.status_code == 404 and r.json()["error"]["param"] == "items.1.recipe_id"


def test_plan_by_form_then_cook_mode(client):
    ids = [client.post("/api/recipes", json=r).json()["id"] for r in RECIPES]
    form = {
        "title": "Dinner",
        "serve_at": "19:30",
        "recipes": [{"recipe_id": i} for i in ids],
        "cooks": [{"name": "Alex", "skill": 4}, {"name": "Sam", "skill": 2, "available_from": "17:00"}],
        "kitchen": {"ovens": 1, "burners": 4, "pans": 2},
    }
    r = client.post("/api/plans", json=form)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["plan"]["html"].startswith("<!DOCTYPE html>") or "<svg" in plan["plan"]["html"]
    steps = [t for t in plan["tasks"] if t["kind"] != "preheat"]  # a preheat is a cook's task too (issue 25)
    assert {t["dish_title"] for t in steps} == {"Roast chicken", "Lemon rice", "Green salad"}
    assert [(t["cook"] in ("Alex", "Sam"), t["preheat_temp_c"]) for t in plan["tasks"] if t["kind"] == "preheat"] == [
        (True, 220)
    ]
    assert set(plan["cooks"]) == {"Alex", "Sam"} and plan["delay_min"] == 0
    assert plan["preheat"] and plan["preheat"][0]["temp_c"] == 220
    assert client.get("/api/plans").json()["data"][0]["id"] == plan["id"]

    first = steps[0]
    late = dt.datetime.fromisoformat(first["end_iso"]) + dt.timedelta(minutes=25)
    body = {"cook": first["cook"], "task_id": first["id"], "status": "done", "at": late.isoformat()}
    r = client.post(f"/api/plans/{plan['id']}/progress", json=body)
    assert r.status_code == 200
    after = r.json()
    done = next(t for t in after["tasks"] if t["id"] == first["id"])
    assert done["status"] == "done" and done["done_at"] == late.isoformat()
    nxt = [t for t in after["tasks"] if first["id"] in t["after"]]
    assert nxt and all(t["delay_min"] >= 20 for t in nxt)  # what waits for it moved on with it
    assert after["cooks"][first["cook"]]["current"]["id"] != first["id"]
    again = client.post(
        f"/api/plans/{plan['id']}/progress", json={**body, "at": (late + dt.timedelta(hours=1)).isoformat()}
    )
    assert again.json()["tasks"] == after["tasks"]  # a repeated "done" changes nothing
    assert len(client.get(f"/api/plans/{plan['id']}").json()["progress"]) == 1

    for body, status, code in [
        ({**body, "cook": "Zed"}, 400, "unknown_cook"),
        ({**body, "task_id": "nope"}, 404, "task_not_found"),
        ({**body, "at": "yesterday"}, 400, "bad_progress"),
    ]:
        r = client.post(f"/api/plans/{plan['id']}/progress", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert client.post("/api/plans/999/progress", json=body).status_code == 404


def test_a_plan_that_cannot_be_made_says_why(client):
    rid = client.post("/api/recipes", json=RECIPES[0]).json()["id"]
    r = client.post(
        "/api/plans",
        json={
            "serve_at": "19:30",
            "recipes": [{"recipe_id": rid}],
            "cooks": [{"name": "Alex"}],
            "kitchen": {"ovens": 0},
        },
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_meal_spec"
    assert "oven" in r.json()["error"]["message"]
    r = client.post(
        "/api/plans", json={"serve_at": "19:30", "recipes": [{"recipe_id": rid + 5}], "cooks": [{"name": "Alex"}]}
    )
    assert r.status_code == 404 and r.json()["error"]["param"] == "recipes.0.recipe_id"
    assert client.get("/api/plans").json()["data"] == []


def test_blind_tasting(client):
    r = client.post(
        "/api/tastings/pair",
        json={"ingredients": ["rice", "egg"], "a": {"temperature": 0}, "b": {"temperature": 0.8, "seed": 3}},
    )
    assert r.status_code == 201
    pair = r.json()
    assert [a["label"] for a in pair["answers"]] == ["A", "B"]
    assert pair["answers"][0]["recipe"]["title"] == "Rice Bowl"
    assert "temperature" not in str(pair)  # the sides stay hidden
    r = client.post("/api/tastings", json={"pair_id": pair["pair_id"], "choice": "B", "rater": "Kim", "note": "nicer"})
    assert r.status_code == 201 and not r.json()["changed"]
    assert "temperature" not in r.text and "revealed" not in r.json()  # a vote reveals nothing
    # the voter changes their mind before the reveal: the same vote, changed (POST or PUT)
    r = client.put("/api/tastings", json={"pair_id": pair["pair_id"], "choice": "A", "rater": "Kim", "note": "nicer"})
    assert r.status_code == 200 and r.json()["changed"] and r.json()["choice"] == "A"
    r = client.post(f"/api/tastings/{pair['pair_id']}/reveal")
    assert r.status_code == 200
    revealed = r.json()["revealed"]
    assert {revealed["A"].get("temperature"), revealed["B"].get("temperature")} == {0, 0.8}
    assert [(v["rater"], v["choice"]) for v in r.json()["votes"]] == [("Kim", "A")]
    assert client.post(f"/api/tastings/{pair['pair_id']}/reveal").json() == r.json()  # revealing again: the same
    r = client.post("/api/tastings", json={"pair_id": pair["pair_id"], "choice": "B", "rater": "Kim"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "revealed"
    r = client.post("/api/tastings", json={"pair_id": pair["pair_id"], "choice": "B", "rater": "Lou"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "revealed"  # nobody votes on a revealed pair
    assert client.post("/api/tastings/999/reveal").status_code == 404
    assert client.post("/api/tastings", json={"pair_id": 999, "choice": "B", "rater": "Kim"}).status_code == 404
    r = client.post("/api/tastings", json={"pair_id": pair["pair_id"], "choice": "C", "rater": "Lou"})
    assert r.status_code == 422 and r.json()["error"]["param"] == "choice"
    summary = client.get("/api/tastings/summary").json()
    [comp] = summary["comparisons"]
    assert (
        summary["n"] == 1
        and comp["overall"]["wins"][
            revealed["A"]["model"]
            + " temperature="
            + f"{revealed['A']['temperature']:g}"
            + (" seed=3" if revealed["A"].get("seed") else "")
        ]
        == 1
    )
    r = client.post("/api/tastings/pair", json={"ingredients": ["rice"], "b": {"model": "gpt-9"}})
    assert r.status_code == 400 and r.json()["error"]["param"] == "b.model"
    r = client.post("/api/tastings/pair", json={"ingredients": [" "]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "empty_ingredients"


def test_a_tasting_against_another_server(tmp_path):
    """The other side is a second chefbot server (as for base vs adapter), reached over HTTP."""
    with live_app(serve_cfg(Path("other")), FastGenerator()) as other:
        models = {
            "other": {"endpoint": other.url + "/v1", "model": "chefbot"},
            "gone": {"endpoint": "http://127.0.0.1:9/v1", "model": "chefbot"},
        }  # nothing listens on port 9
        with make_client(tmp_path / "k.db", tasting_models=models) as c:
            r = c.post("/api/tastings/pair", json={"ingredients": ["rice"], "a": {"model": "other"}})
            assert r.status_code == 201, r.text
            assert all(a["recipe"]["title"] == "Rice Bowl" for a in r.json()["answers"])
            r = c.post("/api/tastings", json={"pair_id": r.json()["pair_id"], "choice": "tie", "rater": "Kim"})
            r = c.post(f"/api/tastings/{r.json()['pair_id']}/reveal")
            assert {s["model"] for s in r.json()["revealed"].values()} == {"other", "served"}
            r = c.post("/api/tastings/pair", json={"ingredients": ["rice"], "b": {"model": "gone"}})
            assert r.status_code == 502 and r.json()["error"]["code"] == "tasting_model_failed"
            assert r.json()["error"]["param"] == "b.model"


def test_keys_guard_the_kitchen_too(tmp_path):
    with make_client(tmp_path / "k.db", api_keys=["sesame"]) as c:
        assert c.get("/api/recipes").status_code == 401
        assert c.get("/api/recipes", headers={"Authorization": "Bearer sesame"}).status_code == 200
        doc = c.get("/openapi.json").json()
        assert "401" in doc["paths"]["/api/recipes"]["get"]["responses"]


def test_the_library_survives_a_server_restart(tmp_path):
    with make_client(tmp_path / "k.db") as c:
        rid = c.post("/api/recipes", json=RECIPES[2]).json()["id"]
    with make_client(tmp_path / "k.db") as c:  # a new app (a new process would read the same file)
        assert c.get(f"/api/recipes/{rid}").json()["title"] == "Green salad"


def test_no_kitchen_request_no_file(tmp_path):
    with make_client(tmp_path / "k.db") as c:
        assert c.get("/health").status_code == 200
    assert not (tmp_path / "k.db").exists()


# -- rows written by older versions or by hand: a list never fails because of one ---------------------------
def plant(db: Path, sql: str, *args) -> int:
    import sqlite3

    with sqlite3.connect(db) as c:
        return c.execute(sql, args).lastrowid


PLAN_SQL = (
    "INSERT INTO plans (title, serve_at, request, plan, created_at) VALUES ('Meal', '2026-11-25T19:30', '{}', ?, ?)"
)


def test_a_bad_recipe_row_is_reported_not_a_500_for_the_list(client, tmp_path):
    good = client.post("/api/recipes", json=RECIPES[0]).json()["id"]
    bad = plant(
        tmp_path / "kitchen.db",
        "INSERT INTO recipes (title, servings, ingredients, directions, source, "
        "created_at, updated_at) VALUES ('Odd', 4, '[\"1 egg\"]', '[\"Boil.\"]', '\"pasted\"', ?, ?)",
        "2026-11-25T10:00:00",
        "2026-11-25T10:00:00",
    )
    r = client.get("/api/recipes")
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["data"]] == [good]
    [u] = r.json()["unreadable"]
    assert u["id"] == bad and u["field"] == "source"
    r = client.get(f"/api/recipes/{bad}")
    assert r.status_code == 500 and r.json()["error"]["code"] == "unreadable_row"
    assert r.json()["error"]["param"] == "source" and "recipe" in r.json()["error"]["message"]
    r = client.post("/api/shopping-list", json={"items": [{"recipe_id": bad}]})
    assert r.status_code == 500 and r.json()["error"]["code"] == "unreadable_row"
    assert client.delete(f"/api/recipes/{bad}").status_code == 200  # and it can be removed


@pytest.mark.parametrize(
    "plan, progress_at, field",
    [
        ({}, None, "plan.serve_at"),
        (None, "garbage", "progress.0.at"),
    ],
)
def test_a_bad_plan_row_is_reported_not_a_500_for_the_list(client, tmp_path, plan, progress_at, field):
    import json

    from test_kitchen_library import small_plan

    client.get("/api/plans")  # the DB exists
    db = tmp_path / "kitchen.db"
    good = plant(db, PLAN_SQL, json.dumps(small_plan()), "2026-11-25T10:00:00")
    bad = plant(db, PLAN_SQL, json.dumps(small_plan() if plan is None else plan), "2026-11-25T10:00:01")
    if progress_at:
        plant(
            db,
            "INSERT INTO plan_progress (plan_id, task_id, cook, status, at) VALUES (?, 'soup.1', 'Kim', 'done', ?)",
            bad,
            progress_at,
        )
    r = client.get("/api/plans")
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()["data"]] == [good]
    assert [(u["id"], u["field"]) for u in r.json()["unreadable"]] == [(bad, field)]
    r = client.get(f"/api/plans/{bad}")
    assert r.status_code == 500 and r.json()["error"]["code"] == "unreadable_row"
    r = client.post(f"/api/plans/{bad}/progress", json={"cook": "Kim", "task_id": "soup.1"})
    assert r.status_code == 500 and r.json()["error"]["param"] == field


def test_a_bad_tasting_side_is_reported_not_a_500_for_the_summary(client, tmp_path):
    pair = client.post("/api/tastings/pair", json={"ingredients": ["rice"]}).json()["pair_id"]
    client.post("/api/tastings", json={"pair_id": pair, "choice": "A", "rater": "Kim"})
    db = tmp_path / "kitchen.db"
    bad = plant(
        db,
        "INSERT INTO tasting_pairs (ingredients, side_a, side_b, answer_a, answer_b, created_at) VALUES "
        '(\'[]\', \'{"model": "served", "temperature": "hot"}\', \'{"model": "base"}\', \'a\', \'b\', ?)',
        "2026-11-25T10:00:00",
    )
    plant(
        db,
        "INSERT INTO tastings (pair_id, choice, rater, created_at) VALUES (?, 'B', 'Lou', ?)",
        bad,
        "2026-11-25T10:00:00",
    )
    r = client.get("/api/tastings/summary")
    assert r.status_code == 200, r.text
    assert r.json()["n"] == 1 and r.json()["unreadable"][0]["field"] == "side_a.temperature"


# -- titles and lines: one normalization; what normalizes to nothing is a 400/422 naming the field, never a 500 ----
@pytest.mark.parametrize(
    "title, status, code",
    [
        ("\u200b\u200b", 422, "string_pattern_mismatch"),  # only zero-width characters: nothing visible
        ("\ufeff\u2060 \u200d", 422, "string_pattern_mismatch"),
        ("\x00", 422, "string_pattern_mismatch"),
        ("\x00Pancakes", 400, "bad_recipe"),  # SQLite's length() stops at a NUL: was a 500 IntegrityError
        ("Pan\x00cakes", 400, "bad_recipe"),
    ],
)
def test_a_title_that_is_empty_or_holds_a_nul_is_refused_naming_it(client, title, status, code):
    r = client.post("/api/recipes", json={**RECIPES[0], "title": title})
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    assert r.json()["error"]["param"] == "title"
    assert client.get("/api/recipes").json()["total"] == 0


def test_titles_and_lines_are_normalized_in_one_place(client):
    r = client.post(
        "/api/recipes",
        json={**RECIPES[0], "title": "\u200b Pancakes \ufeff", "ingredients": ["\u200b2 eggs ", "1 cup milk"]},
    )
    assert r.status_code == 201 and r.json()["title"] == "Pancakes" and r.json()["ingredients"][0] == "2 eggs"
    r = client.post("/api/recipes", json={**RECIPES[0], "ingredients": ["1 egg", "\u200b"]})
    assert r.status_code == 422 and r.json()["error"]["param"] == "ingredients.1"
    r = client.post("/api/recipes", json={**RECIPES[0], "ingredients": ["1 egg", "2\x00 cups"]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "ingredients.1"
    r = client.post("/api/tastings", json={"pair_id": 1, "choice": "A", "rater": "Kim\x00"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "rater"


def test_pasted_text_has_the_same_title_limit(client):
    import json

    row = {"title": "T" * 201, "ingredients": ["1 egg"], "directions": ["Boil."]}  # a RecipeNLG row
    r = client.post("/api/recipes", json={"text": json.dumps(row)})
    assert (
        r.status_code == 400 and r.json()["error"]["param"] == "title" and "at most 200" in r.json()["error"]["message"]
    )
    r = client.post("/api/recipes", json={"text": json.dumps({**row, "title": "T" * 200})})
    assert r.status_code == 201 and len(r.json()["title"]) == 200
    client.delete(f"/api/recipes/{r.json()['id']}")
    r = client.post("/api/recipes", json={"text": "# \u200b\n\n## Ingredients\n- 1 egg\n\n## Directions\n1. Boil.\n"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "title"
    r = client.post(
        "/api/recipes", json={"text": '{"title": "Tea", "ingredients": ["\\u200b", " "], "directions": ["Steep."]}'}
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "ingredients"
    assert client.get("/api/recipes").json()["total"] == 0


def test_a_nul_in_the_query_matches_nothing(client):
    for r in RECIPES:
        client.post("/api/recipes", json=r)
    for q in ("\x00", "egg\x00", "\x00 lemon"):
        r = client.get("/api/recipes", params={"q": q})
        assert r.status_code == 200 and r.json()["total"] == 0, q
    assert client.get("/api/recipes", params={"q": "lemon"}).json()["total"] == 2


def test_a_plan_form_has_a_day_and_each_dish_its_hold(client):
    """Issue 25: the form's date is checked against the server's now, and a dish's own hold reaches the planner."""
    ids = [client.post("/api/recipes", json=r).json()["id"] for r in RECIPES]
    form = {"serve_at": "19:30", "recipes": [{"recipe_id": i} for i in ids], "cooks": [{"name": "Alex", "skill": 4}]}
    r = client.post("/api/plans", json={**form, "date": "2001-05-01"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_meal_spec"
    msg = r.json()["error"]["message"]
    assert msg.startswith("serve_at: 19:30 on 2001-05-01 is in the past (now is "), msg
    later = (dt.date.today() + dt.timedelta(days=2)).isoformat()  # a day that is ahead whatever the clock
    form["recipes"][0]["hot_hold_max_min"] = 40
    r = client.post("/api/plans", json={**form, "date": later, "time_limit_s": 2})
    assert r.status_code == 201, r.text
    plan = r.json()["plan"]
    assert plan["date"] == later and plan["serve_at"] == f"{later}T19:30"
    assert plan["dishes"][0]["hot_hold_max_min"] == 40 and plan["dishes"][1]["hot_hold_max_min"] == 15
    assert client.post("/api/plans", json={**form, "date": "24.12.2026"}).status_code == 422  # the field's pattern
