"""bench/run_all.py: finds the scripts, passes --quick, skips scripts that lack it, flags doc rewrites."""

from __future__ import annotations

import subprocess


def test_run_all_quick_runs_each_script_once(bench_module, monkeypatch, tmp_path, capsys):
    run_all = bench_module("run_all")
    (tmp_path / "common.py").write_text("")
    (tmp_path / "run_all.py").write_text("")
    (tmp_path / "fast.py").write_text('p.add_argument("--quick")\n')
    (tmp_path / "slow_only.py").write_text("no quick option here\n")
    (tmp_path / "broken.py").write_text('p.add_argument("--quick")\n')
    (tmp_path / "rude.py").write_text('p.add_argument("--quick")\n')
    docs = tmp_path / "BENCHMARKS.md"
    docs.write_text("real numbers\n")
    monkeypatch.setattr(run_all, "BENCH", tmp_path)
    monkeypatch.setattr(run_all, "DOCS", docs)
    calls = []

    def fake_run(cmd, cwd, env):
        calls.append(cmd[1:])
        if "rude" in cmd[1]:  # a script that rewrites the docs in a quick run
            docs.write_text("quick numbers\n")
        return subprocess.CompletedProcess(cmd, 1 if "broken" in cmd[1] else 0)

    monkeypatch.setattr(run_all.subprocess, "run", fake_run)
    assert run_all.main([]) == 1  # broken.py failed
    assert sorted(c[0].rsplit("/", 1)[-1] for c in calls) == ["broken.py", "fast.py", "rude.py"]
    assert all(c[1:] == ["--quick"] for c in calls)
    out = capsys.readouterr().out
    assert "slow_only.py: skipped" in out
    assert "WARNING: rude.py --quick changed BENCHMARKS.md" in out
    assert [line for line in out.splitlines() if "changed docs/BENCHMARKS.md!" in line][0].startswith("rude.py")
    calls.clear()
    assert run_all.main(["--full", "--only", "slow_only"]) == 0
    assert calls == [[str(tmp_path / "slow_only.py")]]


def test_every_bench_script_except_data_prep_takes_quick(bench_module):
    """The three that lacked it (plan_speed, score_speed, serve_load) now run in `make bench`."""
    run_all = bench_module("run_all")
    lacking = [p.name for p in run_all.scripts() if '"--quick"' not in p.read_text(encoding="utf-8")]
    assert set(lacking) <= {"data_prep_scale.py"}, lacking
    names = {p.name for p in run_all.scripts()}
    assert {"plan_speed.py", "score_speed.py", "serve_load.py", "generation_speed.py", "gpu_train.py"} <= names
