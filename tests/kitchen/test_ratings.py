"""Ratings and notes per person (issue 28, part 2; docs/KITCHEN.md "Ratings and notes"): one changeable 1-5 rating per
person and recipe, notes of one's own that only their author changes, the library's mean, count and own rating, a sort
by rating, a refusal for a request that is nobody, and backups that keep them linked to their people and recipes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_support import FastGenerator, serve_cfg

from chefbot.kitchen import people, ratings
from chefbot.kitchen.backup import export_db, import_file
from chefbot.kitchen.db import MIGRATIONS, RATINGS_SCHEMA, KitchenDB, NotFound
from chefbot.kitchen.library import delete_recipe, save_recipe, search_recipes
from chefbot.serve.app import create_app

PW = "correct horse battery"


@pytest.fixture
def household(tmp_path):
    """A kitchen DB with Ann and Bo, two recipes and a token each; (path, ids, tokens)."""
    path = tmp_path / "kitchen.db"
    with KitchenDB(path) as db:
        ids = {n: people.add_person(db, n, PW)["id"] for n in ("Ann", "Bo")}
        tokens = {n: people.create_token(db, pid, "test")["token"] for n, pid in ids.items()}
        recipes = {t: save_recipe(db, t, ["1 egg"], ["Boil."], 2)["id"] for t in ("Egg", "Toast")}
    return path, ids | recipes, tokens


def make_app(path: Path, **serve):
    cfg = serve_cfg(Path("unused"), **serve)
    cfg.kitchen.db_path = str(path)
    return create_app(cfg, FastGenerator())


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_the_step_is_found_by_its_table_and_cascades(household):
    path, ids, _ = household
    assert any("CREATE TABLE recipe_notes" in s for s in MIGRATIONS[RATINGS_SCHEMA - 1])
    with KitchenDB(path) as db:
        ratings.rate(db, ids["Egg"], ids["Ann"], 4)
        ratings.add_note(db, ids["Egg"], ids["Ann"], "less salt")
        ratings.rate(db, ids["Toast"], ids["Bo"], 2)
        delete_recipe(db, ids["Egg"])  # the recipe's ratings and notes go with it
        assert db.conn.execute("SELECT count(*) FROM recipe_ratings").fetchone()[0] == 1
        assert db.conn.execute("SELECT count(*) FROM recipe_notes").fetchone()[0] == 0
        people.remove_person(db, "Bo")  # and a person's
        assert db.conn.execute("SELECT count(*) FROM recipe_ratings").fetchone()[0] == 0


def test_one_rating_per_person_changeable_and_the_household_mean(household):
    path, ids, _ = household
    with KitchenDB(path) as db:
        assert ratings.rate(db, ids["Egg"], ids["Ann"], 5)["rating_count"] == 1
        out = ratings.rate(db, ids["Egg"], ids["Ann"], 3)  # changed, not a second rating
        assert (out["rating_mean"], out["rating_count"], out["my_rating"]) == (3, 1, 3)
        out = ratings.rate(db, ids["Egg"], ids["Bo"], 4)
        assert (out["rating_mean"], out["rating_count"], out["my_rating"]) == (3.5, 2, 4)
        assert ratings.summary(db, ids["Egg"], ids["Ann"])["my_rating"] == 3
        assert ratings.summary(db, ids["Toast"], ids["Ann"]) == {
            "rating_mean": None,
            "rating_count": 0,
            "my_rating": None,
        }
        assert ratings.unrate(db, ids["Egg"], ids["Bo"])["rating_count"] == 1
        with pytest.raises(ratings.RatingError, match="1 to 5"):
            ratings.rate(db, ids["Egg"], ids["Ann"], 6)
        with pytest.raises(NotFound):
            ratings.rate(db, 999, ids["Ann"], 3)
        # the library sorts by the mean: rated first, best first, unrated last
        ratings.rate(db, ids["Toast"], ids["Bo"], 5)
        assert [r["title"] for r in search_recipes(db, sort="rating")["data"]] == ["Toast", "Egg"]
        ratings.rate(db, ids["Egg"], ids["Bo"], 5)
        ratings.rate(db, ids["Egg"], ids["Ann"], 5)  # both 5: the one more people rated first
        assert [r["title"] for r in search_recipes(db, sort="rating")["data"]] == ["Egg", "Toast"]


def test_notes_are_their_authors(household):
    path, ids, _ = household
    with KitchenDB(path) as db:
        note = ratings.add_note(db, ids["Egg"], ids["Ann"], "  less salt\nnext time ")
        assert note["text"] == "less salt\nnext time" and note["person"] == "Ann" and note["mine"]
        ratings.add_note(db, ids["Egg"], ids["Ann"], "serve with toast")  # several per person
        with pytest.raises(ratings.NotAuthor):
            ratings.edit_note(db, note["id"], ids["Bo"], "mine now")
        with pytest.raises(ratings.NotAuthor):
            ratings.delete_note(db, note["id"], ids["Bo"])
        assert ratings.edit_note(db, note["id"], ids["Ann"], "less salt")["text"] == "less salt"
        with pytest.raises(ratings.RatingError, match="control character"):
            ratings.add_note(db, ids["Egg"], ids["Ann"], "bad\x00")
        seen = ratings.recipe_notes(db, ids["Egg"], ids["Bo"])["data"]
        assert [(n["person"], n["text"], n["mine"]) for n in seen] == [
            ("Ann", "less salt", False),
            ("Ann", "serve with toast", False),
        ]
        ratings.delete_note(db, note["id"], ids["Ann"])
        with pytest.raises(NotFound):
            ratings.delete_note(db, note["id"], ids["Ann"])


def test_the_api_rates_and_notes_as_the_caller(household):
    path, ids, tokens = household
    ann, bo = bearer(tokens["Ann"]), bearer(tokens["Bo"])
    with TestClient(make_app(path)) as c:
        r = c.put(f"/api/recipes/{ids['Egg']}/rating", json={"stars": 4}, headers=ann)
        assert r.status_code == 200 and r.json()["my_rating"] == 4
        c.put(f"/api/recipes/{ids['Egg']}/rating", json={"stars": 2}, headers=bo)
        got = c.get(f"/api/recipes/{ids['Egg']}", headers=ann).json()
        assert (got["rating_mean"], got["rating_count"], got["my_rating"]) == (3, 2, 4)
        listed = c.get("/api/recipes?sort=rating", headers=bo).json()["data"]
        assert [(r["title"], r["rating_count"], r["my_rating"]) for r in listed] == [("Egg", 2, 2), ("Toast", 0, None)]
        assert c.put(f"/api/recipes/{ids['Egg']}/rating", json={"stars": 0}, headers=ann).status_code == 422
        assert c.get("/api/recipes?sort=stars", headers=ann).status_code == 422
        assert c.put("/api/recipes/999/rating", json={"stars": 3}, headers=ann).status_code == 404
        r = c.delete(f"/api/recipes/{ids['Egg']}/rating", headers=bo)
        assert r.status_code == 200 and r.json()["rating_count"] == 1 and r.json()["my_rating"] is None

        r = c.post(f"/api/recipes/{ids['Egg']}/notes", json={"text": "less salt"}, headers=ann)
        assert r.status_code == 201 and r.json()["person"] == "Ann"
        note = r.json()["id"]
        r = c.put(f"/api/notes/{note}", json={"text": "mine now"}, headers=bo)
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_author"
        assert c.delete(f"/api/notes/{note}", headers=bo).status_code == 403
        assert c.put(f"/api/notes/{note}", json={"text": "no salt"}, headers=ann).json()["text"] == "no salt"
        r = c.post(f"/api/recipes/{ids['Egg']}/notes", json={"text": "bad\x00"}, headers=ann)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_rating"
        notes = c.get(f"/api/recipes/{ids['Egg']}/notes", headers=bo).json()["data"]
        assert [(n["text"], n["mine"]) for n in notes] == [("no salt", False)]
        assert c.delete(f"/api/notes/{note}", headers=ann).json()["deleted"] is True
        assert c.get(f"/api/recipes/{ids['Egg']}/notes", headers=ann).json()["data"] == []
        assert c.delete(f"/api/notes/{note}", headers=ann).status_code == 404


def test_a_request_that_is_nobody_cannot_rate(household, tmp_path):
    path, ids, _ = household
    with TestClient(make_app(path, api_keys=["sesame"])) as c:  # a config key: scripts, no person
        r = c.put(f"/api/recipes/{ids['Egg']}/rating", json={"stars": 4}, headers=bearer("sesame"))
        assert r.status_code == 403 and r.json()["error"]["code"] == "person_required"
        assert "ratings and notes belong to a person" in r.json()["error"]["message"]
        r = c.post(f"/api/recipes/{ids['Egg']}/notes", json={"text": "x"}, headers=bearer("sesame"))
        assert r.status_code == 403
        assert c.get(f"/api/recipes/{ids['Egg']}", headers=bearer("sesame")).json()["my_rating"] is None
    with TestClient(make_app(path)) as c:  # accounts exist: not logged in is 401
        assert c.put(f"/api/recipes/{ids['Egg']}/rating", json={"stars": 4}).status_code == 401
    with TestClient(make_app(tmp_path / "open.db")) as c:  # an open server without accounts: nobody to rate as
        rid = c.post("/api/recipes", json={"title": "Egg", "ingredients": ["1 egg"], "directions": ["Boil."]}).json()
        r = c.put(f"/api/recipes/{rid['id']}/rating", json={"stars": 4})
        assert r.status_code == 403 and r.json()["error"]["code"] == "person_required"


def test_backup_round_trip_links_ratings_and_notes_to_people_and_recipes(household, tmp_path):
    path, ids, _ = household
    with KitchenDB(path) as db:
        ratings.rate(db, ids["Toast"], ids["Ann"], 5)
        ratings.rate(db, ids["Toast"], ids["Bo"], 3)
        ratings.add_note(db, ids["Toast"], ids["Bo"], "more butter")
        export_db(db, tmp_path / "backup.json")
    data = json.loads((tmp_path / "backup.json").read_text())
    assert "correct horse" not in json.dumps(data)  # passwords never in clear: argon2id hashes only
    assert all(p["password_hash"].startswith("$argon2id$") for p in data["people"])
    toast = next(r for r in data["recipes"] if r["title"] == "Toast")
    assert {(x["person"], x["stars"]) for x in toast["ratings"]} == {("Ann", 5), ("Bo", 3)}
    with KitchenDB(tmp_path / "b.db") as b:
        other = save_recipe(b, "Soup", ["1 leek"], ["Simmer."], 2)["id"]  # the restored recipes get new ids
        added = import_file(b, tmp_path / "backup.json")
        assert added["people"] == 2 and added["recipes"] == 2
        assert import_file(b, tmp_path / "backup.json")["recipes"] == 0  # twice: nothing more
        ann = people.check_login(b, "Ann", PW)["id"]
        [toast_id] = [r["id"] for r in search_recipes(b, "toast")["data"]]
        assert toast_id != ids["Toast"] and other not in (toast_id,)
        assert ratings.summary(b, toast_id, ann) == {"rating_mean": 4, "rating_count": 2, "my_rating": 5}
        notes = ratings.recipe_notes(b, toast_id, ann)["data"]
        assert [(n["person"], n["text"]) for n in notes] == [("Bo", "more butter")]  # not doubled by the 2nd import
        export_db(b, tmp_path / "again.json")
    again = json.loads((tmp_path / "again.json").read_text())
    toast2 = next(r for r in again["recipes"] if r["title"] == "Toast")
    assert (toast2["ratings"], toast2["notes"]) == (toast["ratings"], toast["notes"])


def test_the_recipe_pages_carry_the_ratings_box(household):
    path, ids, tokens = household
    with TestClient(make_app(path)) as c:
        page = c.get(f"/library/{ids['Egg']}", headers=bearer(tokens["Ann"]))
        assert page.status_code == 200
        assert f'data-ratings-recipe="{ids["Egg"]}"' in page.text and "/static/ratings.js" in page.text
        library = c.get("/library")  # the page itself is open; its data needs a login
        assert 'id="v-ratings"' in library.text and 'value="rating"' in library.text
        assert "/static/ratings.js" in library.text
        assert c.get("/static/ratings.js").status_code == 200
