"""Saved shopping lists over HTTP: made from recipes or a plan, own items, ticks kept on the server and shared
between two devices, a stale version refused, every refusal naming its field; and the backup round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_support import FastGenerator, serve_cfg

from chefbot.kitchen import saved_lists
from chefbot.kitchen.backup import export_db, import_file, snapshot
from chefbot.kitchen.db import KitchenDB
from chefbot.kitchen.library import save_recipe
from chefbot.serve.app import create_app

CHILI = {
    "title": "Chili",
    "servings": 4,
    "ingredients": ["5 (14 oz) cans diced tomatoes, drained", "5 eggs", "1 tsp salt", "1 1/4 cups milk"],
    "directions": ["Cook."],
}
SALAD = {"title": "Salad", "servings": 2, "ingredients": ["4 eggs", "salt and pepper to taste"], "directions": ["Mix."]}


@pytest.fixture()
def app(tmp_path):
    cfg = serve_cfg(Path("unused"))
    cfg.kitchen.db_path = str(tmp_path / "kitchen.db")
    return create_app(cfg, FastGenerator())


@pytest.fixture()
def phones(app):
    """Two devices of one household on the same server."""
    with TestClient(app) as a, TestClient(app) as b:
        yield a, b


def items(saved: dict) -> dict[str, dict]:
    return {i["text"]: {**i, "aisle": a["aisle"]} for a in saved["aisles"] for i in a["items"]}


def make_list(client, **extra) -> dict:
    ids = [client.post("/api/recipes", json=r).json()["id"] for r in (CHILI, SALAD)]
    body = {"recipes": [{"recipe_id": ids[0], "servings": 2}, {"recipe_id": ids[1]}], **extra}
    r = client.post("/api/shopping-lists", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_list_is_saved_with_the_arithmetic_and_own_items(phones):
    a, _ = phones
    saved = make_list(a, own=["dish soap", "2 lemons"])
    got = items(saved)
    assert saved["title"] == "For Chili, Salad" and saved["version"] == 1 and saved["checked"] == 0
    assert got["7 eggs (need 6 1/2)"]["aisle"] == "Dairy & eggs"
    assert got["3 (14 oz) cans diced tomatoes (need 2 1/2 cans)"]["aisle"] == "Canned & jars"
    assert got["2 lemons"]["own"] and got["2 lemons"]["aisle"] == "Produce"
    assert got["dish soap"]["own"] and got["dish soap"]["aisle"] == "Other"
    assert [t for t in got if t.startswith("1/2 tsp salt")] == ["1/2 tsp salt (to taste)"]  # salt once
    assert got["7 eggs (need 6 1/2)"]["lines"] == ["2 1/2 eggs", "4 eggs"]
    assert a.get(f"/api/shopping-lists/{saved['id']}").json() == saved  # kept: a reload shows the same list


def test_two_devices_see_each_others_ticks_and_a_tick_is_idempotent(phones):
    a, b = phones
    saved = make_list(a)
    lid = saved["id"]
    eggs = items(saved)["7 eggs (need 6 1/2)"]["id"]
    cans = items(saved)["3 (14 oz) cans diced tomatoes (need 2 1/2 cans)"]["id"]
    r = a.put(f"/api/shopping-lists/{lid}/items/{eggs}", json={"checked": True, "by": "Alex"})
    assert r.status_code == 200 and r.json()["version"] == 2
    r = b.put(f"/api/shopping-lists/{lid}/items/{cans}", json={"checked": True, "by": "Sam"})
    assert r.status_code == 200 and r.json()["version"] == 3
    seen_by_a = items(a.get(f"/api/shopping-lists/{lid}").json())
    assert seen_by_a["7 eggs (need 6 1/2)"]["checked_by"] == "Alex"
    assert seen_by_a["3 (14 oz) cans diced tomatoes (need 2 1/2 cans)"]["checked_by"] == "Sam"
    # the same tick again (a retry, the other phone) changes nothing, not even the version
    again = b.put(f"/api/shopping-lists/{lid}/items/{eggs}", json={"checked": True, "by": "Sam"}).json()
    assert again["version"] == 3 and items(again)["7 eggs (need 6 1/2)"]["checked_by"] == "Alex"
    assert again["checked"] == 2 and a.get("/api/shopping-lists").json()["data"][0]["checked"] == 2
    undone = a.put(f"/api/shopping-lists/{lid}/items/{eggs}", json={"checked": False}).json()
    assert not items(undone)["7 eggs (need 6 1/2)"]["checked"] and undone["version"] == 4


def test_own_items_are_added_and_removed(phones):
    a, b = phones
    lid = make_list(a)["id"]
    r = b.post(f"/api/shopping-lists/{lid}/items", json={"text": "1 (15 oz) can black beans"})
    assert r.status_code == 201
    beans = items(r.json())["1 (15 oz) can black beans"]
    assert beans["own"] and beans["aisle"] == "Canned & jars"
    r = a.delete(f"/api/shopping-lists/{lid}/items/{beans['id']}")
    assert r.status_code == 200 and "1 (15 oz) can black beans" not in items(r.json())
    r = a.delete(f"/api/shopping-lists/{lid}/items/{beans['id']}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "shopping_item_not_found"
    assert r.json()["error"]["param"] == "item_id"


def test_a_stale_version_is_409_with_the_current_one(phones):
    a, b = phones
    saved = make_list(a)
    lid, seen = saved["id"], saved["version"]
    eggs = items(saved)["7 eggs (need 6 1/2)"]["id"]
    b.put(f"/api/shopping-lists/{lid}/items/{eggs}", json={"checked": True})  # the other phone, meanwhile
    r = a.post(f"/api/shopping-lists/{lid}/clear-checked", json={"version": seen})
    assert r.status_code == 409 and r.json()["error"]["code"] == "stale_version"
    assert r.json()["error"]["param"] == "version" and "at version 2, not 1" in r.json()["error"]["message"]
    assert items(a.get(f"/api/shopping-lists/{lid}").json())["7 eggs (need 6 1/2)"]["checked"]  # nothing removed
    r = a.post(f"/api/shopping-lists/{lid}/clear-checked", json={"version": 2})
    assert r.status_code == 200 and "7 eggs (need 6 1/2)" not in items(r.json())
    r = a.patch(f"/api/shopping-lists/{lid}", json={"title": "Saturday", "version": 2})
    assert r.status_code == 409
    r = a.patch(f"/api/shopping-lists/{lid}", json={"title": "Saturday", "version": 3})
    assert r.status_code == 200 and r.json()["title"] == "Saturday" and r.json()["version"] == 4


@pytest.mark.parametrize(
    "method, path, body, status, param, code",
    [
        ("get", "/api/shopping-lists/999", None, 404, "list_id", "shopping_list_not_found"),
        ("put", "/api/shopping-lists/999/items/1", {"checked": True}, 404, "list_id", "shopping_list_not_found"),
        ("put", "/api/shopping-lists/{lid}/items/999", {"checked": True}, 404, "item_id", "shopping_item_not_found"),
        ("post", "/api/shopping-lists/999/items", {"text": "milk"}, 404, "list_id", "shopping_list_not_found"),
        ("delete", "/api/shopping-lists/999", None, 404, "list_id", "shopping_list_not_found"),
        ("post", "/api/shopping-lists", {"recipes": [{"recipe_id": 999}]}, 404, "recipes.0.recipe_id", None),
        ("post", "/api/shopping-lists", {"plan_id": 999}, 404, "plan_id", "plan_not_found"),
        ("put", "/api/shopping-lists/{lid}/items/1", {"checked": "yes"}, 422, "checked", None),
        ("put", "/api/shopping-lists/{lid}/items/1", {"checked": True, "tick": 1}, 422, "tick", None),
        ("post", "/api/shopping-lists/{lid}/items", {"text": ""}, 422, "text", None),
        ("post", "/api/shopping-lists/{lid}/items", {"text": "milk\x00"}, 400, "text", "kitchen_error"),
        ("patch", "/api/shopping-lists/{lid}", {"title": "x"}, 422, "version", None),
        ("post", "/api/shopping-lists/{lid}/clear-checked", {"version": 0}, 422, "version", None),
    ],
)
def test_refusals_name_their_field(phones, method, path, body, status, param, code):
    a, _ = phones
    lid = a.post("/api/shopping-lists", json={"own": ["milk"]}).json()["id"]
    r = a.request(method.upper(), path.format(lid=lid), **({"json": body} if body is not None else {}))
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["param"] == param and err["message"]
    if code:
        assert err["code"] == code


def test_a_list_from_a_saved_plan(phones):
    """A plan's recipes at the plan's servings (a real plan, by the planner with a short time limit)."""
    a, _ = phones
    boil = ["Boil the eggs for 10 minutes.", "Peel and slice the eggs."]
    ids = [a.post("/api/recipes", json={**r, "directions": boil}).json()["id"] for r in (CHILI, SALAD)]
    form = {
        "serve_at": "23:59",
        "recipes": [{"recipe_id": ids[0], "servings": 8}, {"recipe_id": ids[1]}],
        "cooks": [{"name": "Alex"}],
        "time_limit_s": 1,
    }
    r = a.post("/api/plans", json=form)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    r = a.post("/api/shopping-lists", json={"plan_id": pid})
    assert r.status_code == 201, r.text
    got = items(r.json())
    assert got["14 eggs"]["recipes"] == ids  # 10 + 4
    assert "10 (14 oz) cans diced tomatoes" in got and "2 1/2 cups milk" in got
    a.delete(f"/api/recipes/{ids[1]}")
    r = a.post("/api/shopping-lists", json={"plan_id": pid})
    assert r.status_code == 404 and "no longer in the library" in r.json()["error"]["message"]


def test_backup_round_trips_lists_ticks_and_own_items(tmp_path):
    with KitchenDB(tmp_path / "a.db") as db:
        rid = save_recipe(db, "Chili", CHILI["ingredients"], ["Cook."], 4)["id"]
        saved = saved_lists.create_list(db, "Week 49", [(rid, 2)], own=["dish soap"])
        eggs = items(saved)["3 eggs (need 2 1/2)"]["id"]
        saved_lists.set_checked(db, saved["id"], eggs, True, "Alex")
        export_db(db, tmp_path / "backup.json")
        before = snapshot(db)["shopping_lists"]
    assert len(before) == 1 and {i["text"] for i in before[0]["items"]} >= {"dish soap", "3 eggs (need 2 1/2)"}
    with KitchenDB(tmp_path / "b.db") as db:
        added = import_file(db, tmp_path / "backup.json")
        assert added["shopping_lists"] == 1
        again = import_file(db, tmp_path / "backup.json")  # the same backup twice adds nothing
        assert again["shopping_lists"] == 0 and again["skipped"] >= 1
        after = snapshot(db)["shopping_lists"]

    def content(rows):
        return [{k: v for k, v in r.items() if k != "id"} for r in rows]

    assert content(after) == content(before)
    restored = items(saved_lists.get_list(KitchenDB(tmp_path / "b.db"), after[0]["id"]))
    assert restored["3 eggs (need 2 1/2)"]["checked_by"] == "Alex" and restored["dish soap"]["own"]


def test_a_bad_list_in_a_backup_is_named(tmp_path):
    import json

    from chefbot.kitchen.backup import BackupError

    with KitchenDB(tmp_path / "a.db") as db:
        saved_lists.create_list(db, "L", [], own=["milk"])
        export_db(db, tmp_path / "backup.json")
    data = json.loads((tmp_path / "backup.json").read_text())
    data["shopping_lists"][0]["items"][0]["checked"] = "yes"
    (tmp_path / "backup.json").write_text(json.dumps(data))
    with KitchenDB(tmp_path / "b.db") as db, pytest.raises(BackupError) as e:
        import_file(db, tmp_path / "backup.json")
    assert "shopping_lists[0].items.0.checked" in str(e.value)
