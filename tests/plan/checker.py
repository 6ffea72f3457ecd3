"""An independent plan checker: re-derives every constraint from the plan's JSON.

It shares no code with the solver on purpose: a bug in the model should show up here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict

CAPACITY_KEY = {
    "burner": "burners",
    "pan": "pans",
    "pot": "pots",
    "mixer": "mixers",
    "bowl": "bowls",
    "blender": "blenders",
    "microwave": "microwaves",
    "slow_cooker": "slow_cookers",
    "grill": "grills",
    "fridge": "fridge",
    "freezer": "freezer",
}


HEAT = {"oven", "burner", "microwave", "slow_cooker", "grill"}
COOLING = {"cool", "chill", "refrigerate", "freeze", "set"}
ICE = re.compile(r"\bice(?:d)?[- ]?(?:cold )?(?:water|bath)\b|\bcold water\b", re.I)


def _peak(intervals: list[tuple[int, int]]) -> int:
    events = sorted(
        [(a, 1) for a, b in intervals if b > a] + [(b, -1) for a, b in intervals if b > a], key=lambda e: (e[0], e[1])
    )
    cur = best = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def check_plan(result: dict, start_after: str | None = None) -> list[str]:
    """Every violated constraint, as a sentence; an empty list means the plan is valid."""
    bad: list[str] = []
    H = result["horizon_min"]
    P = result["preheat_min"]
    kitchen = result["kitchen"]
    tasks = {t["id"]: t for t in result["tasks"]}
    cooks = {c["name"]: c for c in result["cooks"]}
    serve = dt.datetime.fromisoformat(result["serve_at"])

    def minute(clock: str) -> int:
        h, m = map(int, clock.split(":"))
        when = dt.datetime.combine(serve.date(), dt.time(h, m))
        return H - int((serve - when).total_seconds() // 60)

    earliest = minute(start_after) if start_after else 0
    for t in tasks.values():
        if t["end_min"] - t["start_min"] != t["duration_min"]:
            bad.append(f"{t['id']}: length {t['end_min'] - t['start_min']} != duration {t['duration_min']}")
        if t["start_min"] < earliest or t["end_min"] > H:
            bad.append(f"{t['id']}: outside [{earliest}, {H}]")
        for a in t["after"]:
            if tasks[a]["end_min"] > t["start_min"]:
                bad.append(f"precedence: {a} ends {tasks[a]['end_min']} after {t['id']} starts {t['start_min']}")
        cook = cooks.get(t["cook"])
        if cook is None:
            bad.append(f"{t['id']}: unknown cook {t['cook']}")
        elif cook["skill"] < t["skill"]:
            bad.append(f"skill: {t['cook']} ({cook['skill']}) does {t['id']} needing {t['skill']}")
        for a, b in t["hands"]:
            if not (t["start_min"] <= a < b <= t["end_min"]):
                bad.append(f"{t['id']}: hands {a}-{b} outside the task")
        if t["attended"] and sum(b - a for a, b in t["hands"]) != t["duration_min"]:
            bad.append(f"{t['id']}: attended but hands cover only part of it")

    # one thing at a time per cook, and only within the cook's windows
    for name, cook in cooks.items():
        hands = sorted((a, b, t["id"]) for t in tasks.values() if t["cook"] == name for a, b in t["hands"])
        for (a1, b1, i1), (a2, b2, i2) in zip(hands, hands[1:]):
            if a2 < b1:
                bad.append(f"cook {name}: {i1} and {i2} overlap ({a1}-{b1}, {a2}-{b2})")
        if cook["available"]:
            windows = []
            for w in cook["available"]:
                x, y = w.split("-")
                windows.append((minute(x.strip()), minute(y.strip())))
            for a, b, i in hands:
                if not any(x <= a and b <= y for x, y in windows):
                    bad.append(f"cook {name}: {i} at {a}-{b} outside the windows {cook['available']}")

    # equipment: a vessel is held from its first to its last task
    users: dict[str, list[tuple[int, int]]] = defaultdict(list)
    vessels: dict[str, list[dict]] = defaultdict(list)
    for t in tasks.values():
        if t["vessel"]:
            vessels[t["vessel"]].append(t)
        for e in t["equipment"]:
            if e in CAPACITY_KEY and not (t["vessel"] and e in {"burner", "pot", "pan"}):
                users[e].append((t["start_min"], t["end_min"]))
    for v, ts in vessels.items():
        span = (min(t["start_min"] for t in ts), max(t["end_min"] for t in ts))
        for e in {e for t in ts for e in t["equipment"]} & {"burner", "pot", "pan"}:
            users[e].append(span)
    for e, ivs in users.items():
        cap = kitchen[CAPACITY_KEY[e]]
        if _peak(ivs) > cap:
            bad.append(f"equipment: {_peak(ivs)} {e}s in use at once, kitchen has {cap}")

    # ovens: one temperature at a time including the preheat, racks respected
    by_oven: dict[int, list[dict]] = defaultdict(list)
    for t in tasks.values():
        if "oven" in t["equipment"]:
            if t["oven"] is None or not 0 <= t["oven"] < kitchen["ovens"] or t["oven_temp_c"] is None:
                bad.append(f"{t['id']}: bakes without a valid oven/temperature")
                continue
            if t["start_min"] - P < earliest:
                bad.append(f"{t['id']}: no time to preheat before it")
            by_oven[t["oven"]].append(t)
    for o, ts in by_oven.items():
        if _peak([(t["start_min"], t["end_min"]) for t in ts]) > kitchen["oven_racks"]:
            bad.append(f"oven {o}: more dishes than racks")
        for i, a in enumerate(ts):
            for b in ts[i + 1 :]:
                if a["oven_temp_c"] != b["oven_temp_c"] and _overlap(
                    (a["start_min"] - P, a["end_min"]), (b["start_min"] - P, b["end_min"])
                ):
                    bad.append(
                        f"oven {o}: {a['id']} at {a['oven_temp_c']} °C and {b['id']} at {b['oven_temp_c']} °C overlap"
                    )

    # oven blocks as reported: every baking task inside one block at its temperature, one
    # preheat of P minutes per block, blocks apart, and no preheat where the oven was still hot
    segments: dict[int, list[dict]] = defaultdict(list)
    for seg in result["oven_segments"]:
        segments[seg["oven"]].append(seg)
        if seg["preheat_end"] - seg["start"] != P:
            bad.append(
                f"oven {seg['oven']}: block at {seg['temp_c']} °C has a {seg['preheat_end'] - seg['start']}-minute preheat"
            )
        if seg["start"] < earliest:
            bad.append(f"oven {seg['oven']}: preheat at {seg['start']} before the kitchen is free")
    for t in (t for ts in by_oven.values() for t in ts):
        homes = [s for s in segments[t["oven"]] if t["id"] in s["tasks"]]
        if (
            len(homes) != 1
            or homes[0]["temp_c"] != t["oven_temp_c"]
            or not (homes[0]["preheat_end"] <= t["start_min"] and t["end_min"] <= homes[0]["end"])
        ):
            bad.append(f"{t['id']}: not inside exactly one oven block at {t['oven_temp_c']} °C")
    for o, segs in segments.items():
        segs.sort(key=lambda s: s["start"])
        for a, b in zip(segs, segs[1:]):
            if b["start"] < a["end"]:
                bad.append(f"oven {o}: blocks at {a['temp_c']} °C and {b['temp_c']} °C overlap")
            elif a["temp_c"] == b["temp_c"] and b["preheat_end"] - a["end"] < P:
                bad.append(
                    f"oven {o}: needless preheat at {b['start']}, still hot at {a['temp_c']} °C since {a['end']}"
                )

    # preheats: each oven block's preheat is one task of a cook, at the block's start, for its oven and
    # temperature (its hands, windows and overlaps are checked with every other task above)
    preheats = [t for t in tasks.values() if t.get("kind") == "preheat"]
    for seg in result["oven_segments"]:
        mine = [
            t
            for t in preheats
            if t["preheat_oven"] == seg["oven"]
            and t["start_min"] == seg["start"]
            and t["preheat_temp_c"] == seg["temp_c"]
        ]
        if len(mine) != 1:
            bad.append(f"oven {seg['oven']}: block at {seg['temp_c']} °C has {len(mine)} preheat tasks, not 1")
    if len(preheats) != len(result["oven_segments"]):
        bad.append(f"{len(preheats)} preheat tasks for {len(result['oven_segments'])} oven blocks")

    # vessels: the hand-overs reported are exactly the changes of cook between consecutive steps of a vessel
    changes = []
    for v, ts in vessels.items():
        ts = sorted(ts, key=lambda t: t["start_min"])
        changes += [(a["id"], b["id"]) for a, b in zip(ts, ts[1:]) if a["cook"] != b["cook"]]
    reported = [(h["from_task"], h["to_task"]) for h in result.get("handovers", [])]
    if sorted(changes) != sorted(reported):
        bad.append(f"hand-overs: reported {reported}, re-derived {changes}")

    # hot dishes: from every heating step, some path to the plate that never cools the food on
    # purpose sits idle at most the dish's limit; resting, slicing... are work, not idle
    succ: dict[str, list[str]] = defaultdict(list)
    for t in tasks.values():
        for a in t["after"]:
            succ[a].append(t["id"])

    def idles(tid: str) -> list[int]:
        """Idle minutes on every non-cooling path from the end of ``tid`` to serving."""
        if not succ[tid]:
            return [H - tasks[tid]["end_min"]]
        out = []
        for n in succ[tid]:
            nt = tasks[n]
            if not (set(nt["equipment"]) & HEAT) and (nt["verb"] in COOLING or ICE.search(nt["text"])):
                continue
            gap = nt["start_min"] - tasks[tid]["end_min"]
            out += [gap + rest for rest in idles(n)]
        return out

    for d in result["dishes"]:
        if d["kind"] != "hot":
            continue
        limit = d["hot_hold_max_min"]
        mine = [t for t in tasks.values() if t["dish"] == d["key"]]
        worst = H - max(t["end_min"] for t in mine)
        for t in mine:
            if set(t["equipment"]) & HEAT:
                paths = idles(t["id"])
                if paths:
                    worst = max(worst, min(paths))
        if worst > limit:
            bad.append(f"hot hold: '{d['title']}' sits {worst} min off the heat, limit {limit}")
        if d["hold_min"] != worst:
            bad.append(f"hot hold: '{d['title']}' reported {d['hold_min']} min, re-derived {worst}")
    return bad
