"""bench/run_all.py: finds the scripts, passes --quick, skips scripts that lack it."""

from __future__ import annotations

import subprocess


def test_run_all_quick_runs_each_script_once(bench_module, monkeypatch, tmp_path):
    run_all = bench_module("run_all")
    (tmp_path / "common.py").write_text("")
    (tmp_path / "run_all.py").write_text("")
    (tmp_path / "fast.py").write_text('p.add_argument("--quick")\n')
    (tmp_path / "slow_only.py").write_text("no quick option here\n")
    (tmp_path / "broken.py").write_text('p.add_argument("--quick")\n')
    monkeypatch.setattr(run_all, "BENCH", tmp_path)
    calls = []

    def fake_run(cmd, cwd, env):
        calls.append(cmd[1:])
        return subprocess.CompletedProcess(cmd, 1 if "broken" in cmd[1] else 0)

    monkeypatch.setattr(run_all.subprocess, "run", fake_run)
    assert run_all.main([]) == 1  # broken.py failed
    assert sorted(c[0].rsplit("/", 1)[-1] for c in calls) == ["broken.py", "fast.py"]
    assert all(c[1:] == ["--quick"] for c in calls)
    calls.clear()
    assert run_all.main(["--full", "--only", "slow_only"]) == 0
    assert calls == [[str(tmp_path / "slow_only.py")]]
