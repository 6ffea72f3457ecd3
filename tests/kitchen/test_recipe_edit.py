"""Editing a recipe (versions, 409 on a stale edit, history and restore), tags and categories, and full-text
search (FTS5: stems, prefixes, hostile queries), through the library and the API; backups carry them."""

from __future__ import annotations

import sqlite3

import pytest
from test_kitchen_api import make_client

from chefbot.kitchen.backup import export_db, import_file, snapshot
from chefbot.kitchen.db import KitchenDB
from chefbot.kitchen.library import (
    RecipeError,
    StaleVersion,
    check_tags,
    fts_query,
    recipe_versions,
    restore_version,
    save_recipe,
    search_recipes,
    update_recipe,
)

CHILI = {
    "title": "Chili con carne",
    "servings": 4,
    "ingredients": ["500 g minced beef", "2 tomatoes, diced", "1 tsp chili powder"],
    "directions": ["Brown the beef.", "Add the tomatoes and simmer 30 minutes."],
    "tags": ["Dinner", "  Spicy   food ", "dinner"],
    "category": "Mains",
}


@pytest.fixture()
def client(tmp_path):
    with make_client(tmp_path / "kitchen.db") as c:
        yield c


def edit(recipe: dict, **changes) -> dict:
    fields = ("version", "title", "servings", "ingredients", "directions", "tags", "category")
    return {**{k: recipe[k] for k in fields}, **changes}


def test_two_concurrent_edits_one_gets_409_and_nothing_is_overwritten(client):
    saved = client.post("/api/recipes", json=CHILI).json()
    assert (saved["version"], saved["tags"], saved["category"]) == (1, ["dinner", "spicy food"], "Mains")
    rid = saved["id"]
    first = client.put(f"/api/recipes/{rid}", json=edit(saved, servings=8, title="Chili for a crowd"))
    assert first.status_code == 200, first.text
    assert (first.json()["version"], first.json()["servings"], first.json()["base_servings"]) == (2, 8, 8)
    second = client.put(f"/api/recipes/{rid}", json=edit(saved, directions=["Cook it all."]))  # read at version 1
    assert second.status_code == 409
    err = second.json()["error"]
    assert (err["code"], err["param"]) == ("stale_version", "version")
    assert "at version 2, not 1" in err["message"]
    now = client.get(f"/api/recipes/{rid}").json()
    assert (now["title"], now["servings"], now["directions"], now["version"]) == (
        "Chili for a crowd",
        8,
        CHILI["directions"],
        2,
    )


def test_history_lists_previous_versions_and_restore_is_a_new_version(client):
    saved = client.post("/api/recipes", json=CHILI).json()
    rid = saved["id"]
    v2 = client.put(f"/api/recipes/{rid}", json=edit(saved, tags=["quick"], category=None)).json()
    client.put(f"/api/recipes/{rid}", json=edit(v2, title="Chili v3"))
    history = client.get(f"/api/recipes/{rid}/versions").json()
    assert history["version"] == 3
    assert [(v["version"], v["title"], v["tags"]) for v in history["data"]] == [
        (2, "Chili con carne", ["quick"]),
        (1, "Chili con carne", ["dinner", "spicy food"]),
    ]
    restored = client.post(f"/api/recipes/{rid}/versions/1/restore")
    assert restored.status_code == 200, restored.text
    r = restored.json()
    assert (r["version"], r["title"], r["tags"], r["category"]) == (
        4,
        "Chili con carne",
        ["dinner", "spicy food"],
        "Mains",
    )
    assert [v["version"] for v in client.get(f"/api/recipes/{rid}/versions").json()["data"]] == [3, 2, 1]
    missing = client.post(f"/api/recipes/{rid}/versions/9/restore")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "recipe_version_not_found")
    assert client.get("/api/recipes/999/versions").status_code == 404
    assert client.put("/api/recipes/999", json=edit(r)).status_code == 404
    assert client.delete(f"/api/recipes/{rid}").status_code == 200  # versions go with the recipe (cascade)


def test_tags_and_categories_filter_and_hostile_ones_are_refused_naming_the_field(client):
    a = client.post("/api/recipes", json=CHILI).json()
    b = client.post("/api/recipes", json={**CHILI, "title": "Tomato salad", "tags": ["Quick"], "category": "sides"})
    b = b.json()
    ids = lambda **q: [x["id"] for x in client.get("/api/recipes", params=q).json()["data"]]  # noqa: E731
    assert ids(tag="DINNER") == [a["id"]]
    assert ids(tag="quick") == [b["id"]]
    assert ids(category="SIDES") == [b["id"]]
    assert ids(tag="spicy  food", category="mains") == [a["id"]]
    assert ids(tag="nothing") == []
    listed = client.get("/api/recipes", params={"tag": "quick"}).json()["data"][0]
    assert (listed["tags"], listed["category"], listed["version"]) == (["quick"], "sides", 1)
    for body, field in [
        ({**CHILI, "tags": ["ok", "<script>"]}, "tags.1"),
        ({**CHILI, "tags": ['say "hi"']}, "tags.0"),
        ({**CHILI, "tags": ["a\x00b"]}, "tags.0"),
        ({**CHILI, "category": "Mains; DROP TABLE recipes"}, "category"),
        ({**CHILI, "tags": ["x" * 41]}, "tags.0"),
    ]:
        r = client.post("/api/recipes", json=body)
        assert r.status_code == 400, (body, r.text)
        assert (r.json()["error"]["code"], r.json()["error"]["param"]) == ("bad_recipe", field)
    r = client.put(f"/api/recipes/{a['id']}", json=edit(a, tags=["fine", "no,commas"]))
    assert (r.status_code, r.json()["error"]["param"]) == (400, "tags.1")
    r = client.get("/api/recipes", params={"tag": "<b>"})
    assert (r.status_code, r.json()["error"]["param"]) == (400, "tag")
    assert client.get("/api/recipes").json()["total"] == 2  # nothing refused was stored


def test_check_tags_normalizes_and_limits():
    assert check_tags([" Crème  Brûlée ", "crème brûlée", "", "Kid's 5-min"]) == ["crème brûlée", "kid's 5-min"]
    with pytest.raises(RecipeError, match="at most 20"):
        check_tags([f"t{i}" for i in range(21)])
    with pytest.raises(RecipeError) as e:
        check_tags("dinner")
    assert e.value.field == "tags"


def test_search_stems_prefixes_and_covers_directions_and_tags(kdb):
    chili = save_recipe(kdb, "Chili con carne", ["2 tomatoes"], ["Brown the beef, then bake."], tags=["weeknight"])
    jam = save_recipe(kdb, "Chilli jam", ["6 red chillies"], ["Boil until thick."])
    creme = save_recipe(kdb, "Crème brûlée", ["4 egg yolks"], ["Caramelize the sugar."])

    def found(q):
        return {r["id"] for r in search_recipes(kdb, q)["data"]}

    assert found("tomato") == {chili["id"]}  # porter: tomatoes -> tomato
    assert found("baking") == {chili["id"]}  # porter: baking -> bake, in the directions
    assert found("weeknight") == {chili["id"]}  # tags are indexed
    assert found("creme brulee") == {creme["id"]}  # diacritics folded
    assert found("chil") == {chili["id"], jam["id"]}  # every word a prefix
    # Porter keeps the spellings apart (stems "chilli" and "chili"): the exact word finds only its own spelling.
    assert found("chilli") == {jam["id"]}
    assert found("chili") == {chili["id"]}
    assert found("chil beef") == {chili["id"]}  # every word required
    updated = update_recipe(kdb, jam["id"], 1, "Pepper jam", ["6 red peppers"], ["Boil."], 4)
    assert found("chil") == {chili["id"]} and found("pepper") == {updated["id"]}  # the index follows the edit


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '"chili',
        "chili NEAR(beef)",
        "NEAR(",
        "chili OR",
        "AND",
        "NOT chili",
        "title:chili",
        "*",
        "chi*li",
        "^chili",
        "{title}: x",
        "(",
        "chili)",
        "'; DROP TABLE recipes; --",
        "\x00",
        "_",
        "-chili",
    ],
)
def test_hostile_queries_never_break_the_fts_syntax(kdb, q):
    save_recipe(kdb, "Chili con carne", ["2 tomatoes"], ["Simmer."])
    out = search_recipes(kdb, q)  # no sqlite3.OperationalError
    assert out["total"] in (0, 1)
    match = fts_query(q)
    assert match is None or all(part.startswith('"') and part.endswith('"*') for part in match.split())


def test_stale_version_carries_the_current_recipe(kdb):
    r = save_recipe(kdb, "Soup", ["1 onion"], ["Simmer."])
    update_recipe(kdb, r["id"], 1, "Soup", ["2 onions"], ["Simmer."], 6)
    with pytest.raises(StaleVersion) as e:
        update_recipe(kdb, r["id"], 1, "Soup!", ["1 onion"], ["Simmer."], 4)
    assert (e.value.current["version"], e.value.current["servings"]) == (2, 6)
    assert [v["version"] for v in recipe_versions(kdb, r["id"])["data"]] == [1]


def test_backup_round_trips_versions_tags_and_the_search_index(tmp_path):
    with KitchenDB(tmp_path / "a.db") as a:
        r = save_recipe(a, "Chili", ["1 tsp chili powder"], ["Simmer."], tags=["dinner"], category="Mains")
        update_recipe(a, r["id"], 1, "Chili", ["2 tsp chili powder"], ["Simmer."], 8, ["dinner", "spicy"], "Mains")
        restore_version(a, r["id"], 1)
        export_db(a, tmp_path / "backup.json")
        before = snapshot(a)["recipes"]
    with KitchenDB(tmp_path / "b.db") as b:
        assert import_file(b, tmp_path / "backup.json")["recipes"] == 1
        after = snapshot(b)["recipes"]
        assert import_file(b, tmp_path / "backup.json")["recipes"] == 0  # importing twice adds nothing
        assert [r["id"] for r in search_recipes(b, "powder", tag="dinner", category="mains")["data"]] == [
            after[0]["id"]
        ]
    strip = lambda rows: [{k: v for k, v in x.items() if k != "id"} for x in rows]  # noqa: E731
    assert strip(after) == strip(before)
    assert after[0]["version"] == 3 and [v["version"] for v in after[0]["versions"]] == [1, 2]
    assert after[0]["versions"][1]["tags"] == ["dinner", "spicy"]


def test_the_fts_index_is_in_the_same_transaction_as_the_row(kdb):
    r = save_recipe(kdb, "Soup", ["1 onion"], ["Simmer."])
    with pytest.raises(sqlite3.IntegrityError), kdb.write() as c:
        c.execute("UPDATE recipes SET title = 'Leek soup' WHERE id = ?", (r["id"],))
        c.execute(
            "INSERT INTO recipe_versions (recipe_id, version, title, servings, ingredients, directions, "
            "saved_at) VALUES (?, 0, 'x', 1, '[]', '[]', 'T')",
            (r["id"],),
        )  # CHECK (version >= 1) fails
    assert search_recipes(kdb, "leek")["total"] == 0 and search_recipes(kdb, "soup")["total"] == 1
    assert kdb.conn.execute("INSERT INTO recipes_fts (recipes_fts) VALUES ('integrity-check')") is not None
