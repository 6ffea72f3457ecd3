"""The meal calendar in a real headless Chromium at a phone's width (calendar_check.js drives it): two recipes
added to a day's dinner by the form, the week shows them, "Plan this dinner" opens the planner with its form
filled from the calendar, and "Make the week's list" saves the list the API then serves. In CI a missing
browser is a failure with the reason; elsewhere the test skips."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import httpx
from serve_support import FastGenerator, browser_env, live_app, serve_cfg

from chefbot.kitchen.calendar import week_of

HERE = Path(__file__).resolve().parent
DISHES = [
    {"title": "Chili", "servings": 4, "ingredients": ["2 cans beans", "1 onion"], "directions": ["Simmer."]},
    {"title": "Salad", "servings": 2, "ingredients": ["1 lettuce", "2 eggs"], "directions": ["Mix."]},
]


def test_calendar_on_a_phone(repo_dir, tmp_path):
    env = browser_env(repo_dir)
    cfg = serve_cfg(tmp_path / "no-model")
    cfg.kitchen.db_path = str(tmp_path / "kitchen.db")
    day = dt.date.today() + dt.timedelta(days=7)
    with live_app(cfg, FastGenerator()) as srv, httpx.Client(base_url=srv.url, timeout=30) as api:
        ids = [api.post("/api/recipes", json=r).json()["id"] for r in DISHES]
        spec = tmp_path / "calendar_spec.json"
        spec.write_text(
            json.dumps(
                {
                    "url": srv.url,
                    "week": week_of(day),
                    "day": day.isoformat(),
                    "dishes": [[ids[0], "Chili", 6], [ids[1], "Salad", 2]],
                    "out_dir": str(tmp_path),
                }
            )
        )
        r = subprocess.run(
            ["node", str(HERE / "calendar_check.js"), str(spec)], env=env, capture_output=True, text=True, timeout=300
        )
        assert r.returncode == 0, f"calendar_check.js failed:\n{r.stderr[-3000:]}"
        page = json.loads(r.stdout.strip().splitlines()[-1])
        list_id = int(page["list_href"].rsplit("=", 1)[1])
        saved = api.get(f"/api/shopping-lists/{list_id}").json()
        week = api.get("/api/calendar", params={"week": week_of(day)}).json()
    assert page["page_errors"] == []
    assert "Calendar" in page["nav"] and page["page_width"] <= 390
    assert [e.split(" · ")[0] for e in page["day_entries"]] == ["Chili", "Salad"]
    assert page["planner_url"].endswith(f"/plan?day={day.isoformat()}&meal=dinner")
    assert page["planner_date"] == day.isoformat() and page["planner_title"].startswith("Dinner, ")
    assert sorted(page["planner_dishes"]) == [[ids[0], 6], [ids[1], 2]]
    assert saved["recipes"] == [
        {"id": ids[0], "title": "Chili", "servings": 6},
        {"id": ids[1], "title": "Salad", "servings": 2},
    ]
    assert week["total"] == 2 and (tmp_path / "calendar-week.png").exists()
