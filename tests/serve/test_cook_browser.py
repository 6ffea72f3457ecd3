"""Cook mode on a phone in a real headless Chromium (cook_check.js drives it): "Cook this" on a library recipe
at 10 servings shows each step's scaled amounts; a timer holds the screen awake (asked again after the
browser drops the lock) and beeps when it runs out; in a dinner for two, a step that waits for the other
cook's step is locked until that one is done; the service worker registers, and with the server stopped the
cook page reloads from it and still takes a "Done" into its queue; the print view shows the recipe alone.
In CI a missing browser is a failure with the reason; elsewhere the test skips."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from serve_support import CHROMIUM, FastGenerator, browser_problem, live_app, serve_cfg

pytest.importorskip("ortools")

HERE = Path(__file__).resolve().parent
CHILI = {
    "title": "Beef chili",
    "servings": 4,
    "ingredients": ["500 g ground beef", "1 onion", "2 cups beef broth", "1 tsp salt"],
    "directions": [
        "Dice the onion.",
        "Brown the beef in a skillet over medium heat for 8 minutes.",
        "Add the onion and the beef broth and simmer for 15 minutes.",
        "Season with salt.",
    ],
}
DIP = {  # dicing needs skill 3 (Alex), stirring skill 1: the planner gives it to Sam, after Alex's step
    "title": "Onion dip",
    "servings": 4,
    "ingredients": ["2 onions", "2 cups Greek yogurt", "salt to taste"],
    "directions": ["Dice the onions.", "Stir the onions into the yogurt.", "Season with salt."],
}


def test_cook_mode_on_a_phone(repo_dir, tmp_path):
    problem = browser_problem(repo_dir)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run: {problem}")
        pytest.skip(problem)
    cfg = serve_cfg(tmp_path / "no-model", plan_time_limit_s=2)
    cfg.kitchen.db_path = str(tmp_path / "kitchen.db")
    shots = tmp_path / "shots"
    shots.mkdir()
    env = dict(os.environ, NODE_PATH=str(repo_dir / ".cache" / "browser" / "node_modules"), CHROMIUM=CHROMIUM)
    with live_app(cfg, FastGenerator()) as srv:
        with httpx.Client(base_url=srv.url, timeout=60) as api:
            rid = api.post("/api/recipes", json=CHILI).json()["id"]
            dip = api.post("/api/recipes", json=DIP).json()["id"]
            serve_at = (dt.datetime.now() + dt.timedelta(hours=2)).strftime("%H:%M")
            form = {
                "title": "Dip for two",
                "serve_at": serve_at,
                "recipes": [{"recipe_id": dip}],
                "cooks": [{"name": "Alex", "skill": 3}, {"name": "Sam", "skill": 1}],
            }
            dinner = api.post("/api/plans", json=form).json()
            tasks = {t["id"]: t for t in dinner["tasks"]}
            stir = next(t for t in tasks.values() if t["text"].startswith("Stir"))
            assert stir["cook"] == "Sam" and tasks[stir["after"][0]]["cook"] == "Alex", dinner["tasks"]
            scenario = {
                "url": srv.url,
                "out_dir": str(shots),
                "timeout_ms": 60000,
                "recipe_id": rid,
                "servings": 10,
                "dinner_plan_id": dinner["id"],
                "waiting_cook": "Sam",
                "first_cook": "Alex",
            }
            spec = tmp_path / "scenario.json"
            spec.write_text(json.dumps(scenario))
            proc = subprocess.Popen(
                ["node", str(HERE / "cook_check.js"), str(spec)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            lines = []
            for line in proc.stdout:  # until the script asks for the server to stop (or ends, failing)
                lines.append(line)
                if line.strip() == "STOP THE SERVER":
                    break
            cooked = api.get("/api/plans").json()["data"][0]
            one = api.get(f"/api/plans/{cooked['id']}").json()
            after_dinner = api.get(f"/api/plans/{dinner['id']}").json()
    # the server is stopped here
    try:
        rest, err = proc.communicate("stopped\n", timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, err = proc.communicate()
    assert proc.returncode == 0, f"cook_check.js failed:\n{err[-4000:]}"
    page = json.loads((rest or "".join(lines)).strip().splitlines()[-1])
    assert page["page_errors"] == []

    # print: the recipe alone, on a page of its own
    pr = page["print"]
    assert (pr["nav"], pr["footer"], pr["buttons"], pr["forms"], pr["library_list"]) == (False,) * 5, pr
    assert pr["recipe"] and pr["ingredients"] == 4 and pr["break_after"] == "page", pr
    assert pr["servings"] == "4"  # the servings printed (the scale form's field, its button left out)

    # "Cook this" at 10 servings: one cook, the recipe's steps with their amounts scaled from 4 to 10
    assert page["cook_url"] == f"/cook?plan={one['id']}&cook=Cook"
    assert one["request"]["recipes"] == [{"recipe_id": rid, "servings": 10}] and list(one["cooks"]) == ["Cook"]
    by_id = {t["id"]: t for t in one["tasks"]}
    now, nxt = page["now"], page["next"]
    assert now["text"] == "Dice the onion" and now["amounts"] == ["2 1/2 onions"] == by_id[now["task"]]["amounts"]
    assert nxt["text"].startswith("Brown the beef") and nxt["amounts"] == ["1.25 kg ground beef"], nxt
    assert nxt["waits"] == "waits for: step 1"  # the next step waits for this one
    assert now["waits"] == "" and not now["start_disabled"] and not now["done_disabled"]

    # the timer: wake lock held, asked again after the browser dropped it; at the end three beeps and a vibration
    assert page["wake_started"]["requests"] == 1 and page["wake_started"]["wake"] == "held"
    assert page["wake_again"]["requests"] == 2 and page["wake_again"]["releases"] == 1
    up = page["time_up"]
    assert up["beeps"] == "1" and up["oscillators"] == 3 and up["vibrations"] == 1, up
    assert page["countdown"].startswith("time is up")

    # the dinner: Sam's step waits for Alex's, locked (buttons disabled) until Alex marks it done
    locked, unlocked = page["locked"], page["unlocked"]
    assert locked["task"] == stir["id"] == unlocked["task"]
    assert locked["waits"] == "waits for: step 1 (Alex)" and locked["start_disabled"] and locked["done_disabled"]
    assert page["first_cook_step"] == stir["after"][0]
    assert unlocked["waits"] == "" and not unlocked["start_disabled"] and not unlocked["done_disabled"]
    assert [(p["cook"], p["task_id"]) for p in after_dinner["progress"]] == [("Alex", stir["after"][0])]

    # the service worker, then the cook page with the server stopped: from the worker, the plan kept, Done queued
    sw = page["sw"]
    assert sw["scope"] == srv.url + "/" and sw["script"] == srv.url + "/sw.js" and sw["controlled"]
    assert any(c.startswith("chefbot-shell-") for c in sw["caches"])
    off = page["offline"]
    assert off["from_service_worker"] and off["status"] == 200 and off["view"], off
    assert off["now"]["task"] == page["online_now"]["task"] and off["now"]["amounts"] == page["online_now"]["amounts"]
    assert "1 update waiting" in off["after_done"] and off["now_after_done"] != off["now"]["task"]
    if os.environ.get("CHEFBOT_COOK_SHOTS"):  # keep the screenshots (docs/KITCHEN.md)
        import shutil

        shutil.copytree(shots, os.environ["CHEFBOT_COOK_SHOTS"], dirs_exist_ok=True)
    for name in ("cook-print.png", "cook-one-recipe.png", "cook-locked.png", "cook-offline-reload.png"):
        assert (shots / name).stat().st_size > 5000, name
