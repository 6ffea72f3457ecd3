"""Cook mode's live schedule: progress rows and the order-preserving re-plan when work runs late."""

from __future__ import annotations

import datetime as dt

from chefbot.kitchen.plans import live

SERVE = dt.datetime(2026, 11, 25, 19, 30)
HORIZON = 120  # the axis: minute 120 is serving time, minute 0 is 17:30


def task(tid, cook, start, end, after=(), oven=None, vessel=None, hands=None, temp=None):
    clock = lambda m: (SERVE - dt.timedelta(minutes=HORIZON - m)).strftime("%H:%M")  # noqa: E731
    return {
        "id": tid,
        "dish": tid.split(".")[0],
        "dish_title": tid.split(".")[0].title(),
        "step": int(tid.split(".")[1]),
        "text": tid,
        "cook": cook,
        "start_min": start,
        "end_min": end,
        "start": clock(start),
        "end": clock(end),
        "duration_min": end - start,
        "after": list(after),
        "oven": oven,
        "vessel": vessel,
        "hands": hands if hands is not None else [[start, end]],
        "attended": True,
        "equipment": [],
        "oven_temp_c": temp,
    }


PLAN = {
    "title": "Test",
    "serve_at": SERVE.isoformat(timespec="minutes"),
    "horizon_min": HORIZON,
    "preheat_min": 5,
    "cooks": [{"name": "Ann", "skill": 3, "available": []}, {"name": "Bo", "skill": 3, "available": []}],
    "tasks": [
        task("roast.1", "Ann", 10, 20),  # 17:40-17:50 season
        task(
            "roast.2", "Ann", 30, 90, after=["roast.1"], oven=0, hands=[[30, 32], [88, 90]], temp=200
        ),  # 18:00 into the oven
        task("salad.1", "Ann", 40, 50),  # Ann's hands are free while it roasts
        task("cake.1", "Bo", 0, 20),
        task("cake.2", "Bo", 95, 115, after=["cake.1"], oven=0, temp=175),  # same oven after the roast
        task("rice.1", "Bo", 60, 70, vessel="rice.v1"),
    ],
    "oven_segments": [
        {"oven": 0, "temp_c": 200, "start": 15, "preheat_end": 30, "end": 90, "tasks": ["roast.2"]},
        {"oven": 0, "temp_c": 175, "start": 90, "preheat_end": 95, "end": 115, "tasks": ["cake.2"]},
    ],
}


def at(minute: int) -> str:
    return (SERVE - dt.timedelta(minutes=HORIZON - minute)).isoformat()


def by_id(state):
    return {t["id"]: t for t in state["tasks"]}


def test_on_time_nothing_moves():
    state = live(PLAN, [])
    assert all(t["delay_min"] == 0 and t["status"] == "todo" for t in state["tasks"])
    assert state["delay_min"] == 0 and not state["finished"]
    assert state["cooks"]["Ann"]["current"]["id"] == "roast.1" and state["cooks"]["Ann"]["next"]["id"] == "roast.2"
    assert state["preheat"][0]["at"] == "17:45" and state["preheat"][0]["ready_iso"] == "2026-11-25T18:00"


def test_a_late_step_pushes_its_dish_its_cook_and_its_oven_but_not_the_others():
    state = by_id(live(PLAN, [{"cook": "Ann", "task_id": "roast.1", "status": "done", "at": at(35)}]))
    assert state["roast.1"]["status"] == "done" and state["roast.1"]["end"] == "18:05"
    assert state["roast.2"]["start_min"] == 35 and state["roast.2"]["delay_min"] == 5  # its dish waits
    assert state["roast.2"]["end_min"] == 95
    assert state["salad.1"]["start_min"] == 40  # Ann's next hands-on work fits after roast.2's first 2 minutes
    assert state["cake.2"]["start_min"] == 100  # the oven is busy 5 minutes longer, then preheats to 175
    assert state["cake.1"]["delay_min"] == 0 and state["rice.1"]["delay_min"] == 0  # Bo's own work is untouched


def test_the_meal_is_late_when_the_last_step_is_and_preheat_moves_too():
    state = live(PLAN, [{"cook": "Ann", "task_id": "roast.1", "status": "done", "at": at(40)}])
    assert state["delay_min"] == 5  # cake.2 now ends at 125
    assert state["preheat"][0]["at"] == "17:55"  # roast.2 starts 10 minutes late, so does its preheat


def test_finishing_early_moves_nothing_and_started_sets_the_clock():
    state = by_id(
        live(
            PLAN,
            [
                {"cook": "Ann", "task_id": "roast.1", "status": "done", "at": at(12)},
                {"cook": "Bo", "task_id": "rice.1", "status": "started", "at": at(66)},
            ],
        )
    )
    assert state["roast.2"]["start_min"] == 30
    assert state["rice.1"]["status"] == "started" and state["rice.1"]["start_min"] == 66
    assert state["rice.1"]["end_min"] == 76


def test_cook_mode_moves_on_and_finishes():
    rows = [{"cook": t["cook"], "task_id": t["id"], "status": "done", "at": at(t["end_min"])} for t in PLAN["tasks"]]
    state = live(PLAN, rows[:1])
    assert state["cooks"]["Ann"]["current"]["id"] == "roast.2" and state["cooks"]["Ann"]["done"] == 1
    state = live(PLAN, rows)
    assert state["finished"] and state["cooks"]["Bo"]["current"] is None
