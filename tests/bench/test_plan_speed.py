"""bench/plan_speed.py --quick: both example meals solved once, feasible plans, docs untouched."""

from __future__ import annotations

import json

from plan.checker import check_plan


def _section(doc: str, name: str) -> str:
    return doc.split(f"<!-- section:{name} -->", 1)[1].split(f"<!-- end:{name} -->", 1)[0]


def test_quick_run_solves_both_meals_and_writes_quick_json(bench_module, repo_dir, tmp_path):
    ps = bench_module("plan_speed")
    doc = repo_dir / "docs" / "BENCHMARKS.md"
    before = _section(doc.read_text(encoding="utf-8"), "planner")
    results = repo_dir / "docs" / "results"
    committed = {p.name: p.stat().st_mtime_ns for p in results.glob("plan_speed*")}
    payload = ps.main(["--quick", "--out", str(tmp_path)])

    saved = json.loads((tmp_path / "plan_speed_quick.json").read_text())
    assert not (tmp_path / "plan_speed.json").exists()  # the real run's file is never written by --quick
    assert saved["quick"] is True and saved["rows"] == payload["rows"] and saved["machine"]["cpu_cores"] >= 1
    assert [r["meal"] for r in saved["rows"]] == [m for m, _ in ps.MEALS]
    for r in saved["rows"]:
        assert r["repeats"] == 1 and len(r["makespan_min"]) == len(r["status"]) == len(r["total_s"]) == 1
        assert 0 < r["time_limit_s"] <= ps.QUICK_TIME_LIMIT_S
        assert r["dishes"] >= 5 and r["tasks"] > r["dishes"] and r["cooks"] >= 2
        # times: positive, the makespan stage inside the total, the total inside the time limit (plus overhead)
        assert 0 < r["makespan_s"][0] <= r["total_s"][0] < r["time_limit_s"] + 5
        assert r["status"] == ["OPTIMAL"] or r["status"] == ["FEASIBLE"]
        assert 0 <= r["gap"][0] < 1 and r["wait_status"][0] in ("OPTIMAL", "FEASIBLE")
        assert r["hot_hold_max_min"][0] <= r["hot_hold_limit_min"]
        assert r["oven_preheats"][0] >= 1  # both meals bake
        # the plan itself: every task scheduled, and an independent checker finds no violated constraint
        plan = r["plan"]
        steps = [t for t in plan["tasks"] if t["kind"] == "step"]  # and one preheat task per oven block
        assert len(steps) == r["tasks"] and len(plan["dishes"]) == r["dishes"]
        assert len(plan["tasks"]) - len(steps) == r["oven_preheats"][0]
        assert plan["makespan_min"] == r["makespan_min"][0] > 0
        assert check_plan(plan) == []
    # the dinner is proven optimal well inside its 5 s limit (170 min since a cook turns the oven on; 166 before)
    dinner = saved["rows"][0]
    assert dinner["status"] == ["OPTIMAL"] and dinner["gap"] == [0.0]
    assert _section(doc.read_text(encoding="utf-8"), "planner") == before  # --quick leaves the docs alone
    assert {p.name: p.stat().st_mtime_ns for p in results.glob("plan_speed*")} == committed  # and publishes nothing


def test_full_run_commits_its_json_beside_the_doc(bench_module, tmp_path, monkeypatch):
    ps, common = bench_module("plan_speed"), bench_module("common")
    doc = tmp_path / "docs" / "BENCHMARKS.md"
    doc.parent.mkdir()
    doc.write_text("# B\n<!-- section:planner -->\nold\n<!-- end:planner -->\n", encoding="utf-8")
    monkeypatch.setattr(common, "BENCHMARKS_MD", doc)  # the real doc and docs/results stay as they are
    monkeypatch.setattr(ps, "MEALS", ps.MEALS[:1])  # the dinner alone: about 2 s
    ps.main(["--repeats", "1", "--out", str(tmp_path / "out")])
    section = _section(doc.read_text(encoding="utf-8"), "planner")
    assert "examples/dinner-for-six.yaml" in section
    assert section.rstrip().endswith(
        "Results: [`docs/results/plan_speed.json`](results/plan_speed.json) (the JSON this section was rendered from)."
    )
    saved = json.loads((doc.parent / "results" / "plan_speed.json").read_text())
    assert saved["quick"] is False and saved["rows"][0]["makespan_min"] and "plan" not in saved["rows"][0]
