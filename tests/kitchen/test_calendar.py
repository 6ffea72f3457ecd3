"""The meal calendar over HTTP: the week view by day and meal, ISO week edges, moves, a recipe deleted from
the library (the entry says so, never a 500), the week's saved shopping list (equal to ``list_for_recipes`` of
the week's recipes), a day's dinner handed to the multi-cook planner, and the backup round trip."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_support import FastGenerator, serve_cfg

from chefbot.kitchen.backup import export_db, import_file
from chefbot.kitchen.calendar import get_week, week_of, week_start
from chefbot.kitchen.db import KitchenDB
from chefbot.kitchen.library import save_recipe
from chefbot.kitchen.shopping import library_wanted, list_for_recipes
from chefbot.serve.app import create_app
from chefbot.serve.routes_plan import planner_installed

CHILI = {
    "title": "Chili",
    "servings": 4,
    "ingredients": ["5 (14 oz) cans diced tomatoes, drained", "5 eggs", "1 tsp salt", "1 1/4 cups milk"],
    "directions": ["Simmer the tomatoes for 20 minutes.", "Stir in the milk."],
}
SALAD = {
    "title": "Salad",
    "servings": 2,
    "ingredients": ["4 eggs", "salt and pepper to taste"],
    "directions": ["Boil the eggs for 10 minutes.", "Mix."],
}
OATS = {"title": "Oats", "servings": 1, "ingredients": ["1/2 cup oats", "1 cup milk"], "directions": ["Cook."]}


@pytest.fixture()
def db_path(tmp_path):
    return tmp_path / "kitchen.db"


@pytest.fixture()
def client(db_path):
    cfg = serve_cfg(Path("unused"))
    cfg.kitchen.db_path = str(db_path)
    with TestClient(create_app(cfg, FastGenerator())) as c:
        yield c


def recipes(client) -> dict[str, int]:
    return {r["title"]: client.post("/api/recipes", json=r).json()["id"] for r in (CHILI, SALAD, OATS)}


def add(client, date: str, meal: str, recipe_id: int, servings: int | None = None) -> dict:
    body = {"date": date, "meal": meal, "recipe_id": recipe_id, **({"servings": servings} if servings else {})}
    r = client.post("/api/calendar", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def slots(week: dict) -> list[tuple[str, str, list[str]]]:
    """(date, meal, titles) of every meal that has entries, in the order the week shows them."""
    return [(d["date"], m["meal"], [e["title"] for e in m["entries"]]) for d in week["days"] for m in d["meals"]]


def test_the_week_by_day_and_meal(client):
    ids = recipes(client)
    add(client, "2026-12-08", "Dinner", ids["Chili"], 6)  # a Tuesday; "Dinner" is the standard meal
    add(client, "2026-12-08", "Picnic", ids["Salad"])  # the cook's own meal comes after dinner
    add(client, "2026-12-08", "breakfast", ids["Oats"])
    add(client, "2026-12-13", "lunch", ids["Salad"])  # Sunday: still this week
    add(client, "2026-12-14", "lunch", ids["Salad"])  # next Monday: next week
    week = client.get("/api/calendar", params={"week": "2026-W50"}).json()
    assert (week["start"], week["end"], week["previous"], week["next"]) == (
        "2026-12-07",
        "2026-12-13",
        "2026-W49",
        "2026-W51",
    )
    assert [d["weekday"] for d in week["days"]][:2] == ["Monday", "Tuesday"] and len(week["days"]) == 7
    assert slots(week) == [
        ("2026-12-08", "breakfast", ["Oats"]),
        ("2026-12-08", "dinner", ["Chili"]),
        ("2026-12-08", "Picnic", ["Salad"]),
        ("2026-12-13", "lunch", ["Salad"]),
    ]
    dinner = week["days"][1]["meals"][1]["entries"][0]
    assert dinner["servings"] == 6 and dinner["in_library"] and dinner["recipe_id"] == ids["Chili"]
    assert week["days"][1]["meals"][0]["entries"][0]["servings"] == 1  # default: the recipe's own
    assert week["total"] == 4 and week["left_library"] == 0
    assert client.get("/api/calendar").json()["week"] == week_of(dt.date.today())  # default: this week


@pytest.mark.parametrize(
    ("week", "start", "end"),
    [
        ("2026-W53", "2026-12-28", "2027-01-03"),  # 2026 has 53 ISO weeks (it starts on a Thursday)
        ("2026-W01", "2025-12-29", "2026-01-04"),  # week 1 begins in the year before
        ("2020-W53", "2020-12-28", "2021-01-03"),  # a leap year that starts on a Wednesday
    ],
)
def test_iso_week_edges(week, start, end):
    monday = week_start(week)
    assert (monday.isoformat(), (monday + dt.timedelta(days=6)).isoformat()) == (start, end)
    assert week_of(dt.date.fromisoformat(end)) == week == week_of(monday)


def test_week_53_shows_new_year_and_a_missing_week_is_refused(client):
    ids = recipes(client)
    add(client, "2027-01-01", "dinner", ids["Chili"])
    week = client.get("/api/calendar", params={"week": "2026-W53"}).json()
    assert slots(week) == [("2027-01-01", "dinner", ["Chili"])]
    assert slots(client.get("/api/calendar", params={"week": "2027-W01"}).json()) == []
    r = client.get("/api/calendar", params={"week": "2025-W53"})  # 2025 has 52 weeks: not moved to 2026-W01
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_calendar"
    assert r.json()["error"]["param"] == "week" and "2025-W53 does not exist" in r.json()["error"]["message"]
    for bad in ("2026-W5", "2026W05", "2026-05"):
        assert client.get("/api/calendar", params={"week": bad}).status_code == 422
    assert client.get("/api/calendar", params={"week": "2026-W00"}).status_code == 400
    first = client.get("/api/calendar", params={"week": "0001-W01"}).json()  # the calendar's first week
    assert (first["start"], first["previous"], first["next"]) == ("0001-01-01", None, "0001-W02")
    assert client.get("/api/calendar", params={"week": "9999-W52"}).status_code == 400  # it ends in year 10000


def test_move_and_remove(client):
    ids = recipes(client)
    entry = add(client, "2026-12-08", "dinner", ids["Chili"])
    moved = client.patch(f"/api/calendar/{entry['id']}", json={"date": "2026-12-09", "meal": "LUNCH"}).json()
    assert (moved["date"], moved["meal"], moved["servings"]) == ("2026-12-09", "lunch", 4)
    assert client.patch(f"/api/calendar/{entry['id']}", json={"servings": 8}).json()["servings"] == 8
    assert client.patch(f"/api/calendar/{entry['id']}", json={}).status_code == 422
    assert client.patch(f"/api/calendar/{entry['id']}", json={"date": "2026-02-30"}).status_code == 400
    r = client.post("/api/calendar", json={"date": "2026-12-08", "meal": "dinner", "recipe_id": 999})
    assert r.status_code == 404 and r.json()["error"]["param"] == "recipe_id"
    assert client.post("/api/calendar", json={"date": "2026-12-08", "meal": "a\x00b", "recipe_id": 1}).status_code in (
        400,
        422,
    )
    assert client.delete(f"/api/calendar/{entry['id']}").json()["deleted"] is True
    r = client.delete(f"/api/calendar/{entry['id']}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "calendar_entry_not_found"
    assert client.get("/api/calendar", params={"week": "2026-W50"}).json()["total"] == 0


def test_a_recipe_deleted_from_the_library_is_named_not_a_500(client):
    ids = recipes(client)
    add(client, "2026-12-08", "dinner", ids["Chili"])
    add(client, "2026-12-08", "dinner", ids["Salad"])
    assert client.delete(f"/api/recipes/{ids['Chili']}").status_code == 200
    r = client.get("/api/calendar", params={"week": "2026-W50"})
    assert r.status_code == 200
    gone, kept = r.json()["days"][1]["meals"][0]["entries"]
    assert (gone["title"], gone["in_library"], gone["recipe_id"]) == ("Chili", False, None)
    assert gone["note"] == "Chili is no longer in the library" and kept["in_library"]
    assert r.json()["left_library"] == 1
    made = client.post("/api/calendar/shopping-list", params={"week": "2026-W50"})
    assert made.status_code == 201 and [e["title"] for e in made.json()["left_out"]] == ["Chili"]
    assert made.json()["shopping_list"]["recipes"] == [{"id": ids["Salad"], "title": "Salad", "servings": 2}]
    form = client.get("/api/calendar/plan-form", params={"date": "2026-12-08"}).json()
    assert form["form"]["recipes"] == [{"recipe_id": ids["Salad"], "servings": 2}]
    assert [e["title"] for e in form["left_out"]] == ["Chili"]
    client.delete(f"/api/recipes/{ids['Salad']}")
    r = client.post("/api/calendar/shopping-list", params={"week": "2026-W50"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "week"
    r = client.get("/api/calendar/plan-form", params={"date": "2026-12-08"})
    assert r.status_code == 404 and r.json()["error"]["param"] == "date"


def test_the_weeks_list_is_list_for_recipes_of_the_weeks_recipes(client, db_path):
    ids = recipes(client)
    add(client, "2026-12-07", "dinner", ids["Chili"], 2)
    add(client, "2026-12-10", "dinner", ids["Chili"])  # the same recipe on two days: its lines add up
    add(client, "2026-12-10", "lunch", ids["Salad"])
    add(client, "2026-12-14", "dinner", ids["Oats"])  # next week: not on this list
    r = client.post("/api/calendar/shopping-list", params={"week": "2026-W50"}, json={"title": "Our week"})
    assert r.status_code == 201, r.text
    saved = r.json()["shopping_list"]
    with KitchenDB(db_path) as db:
        expected = list_for_recipes(library_wanted(db, [(ids["Chili"], 2), (ids["Salad"], None), (ids["Chili"], 4)]))
    want = [(a["aisle"], [i["text"] for i in a["items"]]) for a in expected["aisles"]]
    want += [("Pantry staples", [i["text"] for i in expected["pantry"]])]
    assert [(a["aisle"], [i["text"] for i in a["items"]]) for a in saved["aisles"]] == want
    assert "6 eggs (need 5 1/2)" not in str(want) and any("eggs" in t for _, ts in want for t in ts)
    assert saved["title"] == "Our week" and r.json()["left_out"] == []
    assert client.get(f"/api/shopping-lists/{saved['id']}").json()["total"] == saved["total"]  # a saved list
    default = client.post("/api/calendar/shopping-list", params={"week": "2026-W50"}).json()
    assert default["shopping_list"]["title"] == "Week 2026-W50 (07 Dec - 13 Dec)"


@pytest.mark.skipif(not planner_installed(), reason="the meal planner (OR-Tools) is not installed")
def test_a_days_dinner_opens_in_the_planner(client):
    ids = recipes(client)
    day = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    add(client, day, "dinner", ids["Chili"], 2)
    add(client, day, "dinner", ids["Chili"], 4)  # twice: one dish for 6
    add(client, day, "dinner", ids["Salad"])
    add(client, day, "lunch", ids["Oats"])  # not dinner
    got = client.get("/api/calendar/plan-form", params={"date": day}).json()
    assert got["form"]["recipes"] == [
        {"recipe_id": ids["Chili"], "servings": 6},
        {"recipe_id": ids["Salad"], "servings": 2},
    ]
    assert got["form"]["date"] == day and got["form"]["title"].startswith("Dinner, ")
    assert got["planner"] == f"/plan?day={day}&meal=dinner"
    body = {**got["form"], "serve_at": "19:00", "cooks": [{"name": "Alex", "skill": 5}]}
    r = client.post("/api/plans", json=body)  # the planner page's one path
    assert r.status_code == 201, r.text
    assert {t["dish_title"] for t in r.json()["tasks"] if t["kind"] != "preheat"} == {"Chili", "Salad"}
    lunch = client.get("/api/calendar/plan-form", params={"date": day, "meal": "Lunch"}).json()
    assert lunch["form"]["recipes"] == [{"recipe_id": ids["Oats"], "servings": 1}]


def test_backup_round_trip(client, db_path, tmp_path):
    ids = recipes(client)
    add(client, "2026-12-08", "dinner", ids["Chili"], 6)
    add(client, "2026-12-09", "Picnic", ids["Salad"])
    add(client, "2026-12-10", "lunch", ids["Oats"])
    client.delete(f"/api/recipes/{ids['Oats']}")  # its entry stays, out of the library
    with KitchenDB(db_path) as db:
        counts = export_db(db, tmp_path / "backup.json")
        before = get_week(db, "2026-W50")
    assert counts["calendar"] == 3
    with KitchenDB(tmp_path / "other.db") as other:
        save_recipe(other, "Toast", ["1 slice bread"], ["Toast it."], 1)  # so the imported ids differ
        added = import_file(other, tmp_path / "backup.json")
        assert added["calendar"] == 3 and added["recipes"] == 2
        after = get_week(other, "2026-W50")
        assert import_file(other, tmp_path / "backup.json")["calendar"] == 0  # twice adds nothing
        assert get_week(other, "2026-W50")["total"] == 3

    def shown(week: dict) -> list[tuple]:
        return [
            (e["date"], e["meal"], e["title"], e["servings"], e["in_library"])
            for d in week["days"]
            for m in d["meals"]
            for e in m["entries"]
        ]

    assert shown(after) == shown(before)
    assert [x[-1] for x in shown(after)] == [True, True, False]  # mapped to the new ids, Oats still gone
