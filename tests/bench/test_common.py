"""bench/common.py: the section rewriter and the small statistics helpers."""

from __future__ import annotations

import pytest


def test_replace_section_rewrites_only_its_block(bench_module, tmp_path):
    common = bench_module("common")
    doc = tmp_path / "B.md"
    doc.write_text(
        "# T\n<!-- section:a -->\nold a\n<!-- end:a -->\nmiddle\n<!-- section:b -->\nold b\n<!-- end:b -->\n"
    )
    common.replace_section("a", "new a\n\nline 2 with \\1 and $x", path=doc)
    text = doc.read_text()
    assert "<!-- section:a -->\nnew a\n\nline 2 with \\1 and $x\n<!-- end:a -->" in text
    assert "old a" not in text and "old b" in text and "middle" in text
    common.replace_section("a", "again", path=doc)  # idempotent structure
    assert doc.read_text().count("<!-- section:a -->") == 1


def test_replace_section_refuses_missing_or_duplicate_markers(bench_module, tmp_path):
    common = bench_module("common")
    doc = tmp_path / "B.md"
    doc.write_text("<!-- section:a -->x<!-- end:a -->")
    with pytest.raises(ValueError, match="section:zzz"):
        common.replace_section("zzz", "body", path=doc)
    doc.write_text("<!-- section:a -->x<!-- end:a --><!-- section:a -->y<!-- end:a -->")
    with pytest.raises(ValueError, match="found 2"):
        common.replace_section("a", "body", path=doc)


def test_median_spread_machine_and_json(bench_module, tmp_path):
    common = bench_module("common")
    assert common.median([3, 1, 2]) == 2
    assert common.spread([3, 1, 2]) == (1, 3)
    m = common.machine()
    assert m["cpu_cores"] >= 1 and "torch" in m
    assert "cores" in common.machine_line(m)
    path = common.write_json("x", {"value": 1}, out_dir=tmp_path)
    assert common.read_json("x", out_dir=tmp_path)["value"] == 1 and path.exists()


def test_quick_runs_get_their_own_json_name(bench_module):
    common = bench_module("common")
    assert common.run_name("plan_speed", False) == "plan_speed"
    assert common.run_name("plan_speed", True) == "plan_speed_quick"


def test_replace_section_with_results_commits_the_json_and_names_it(bench_module, tmp_path):
    common = bench_module("common")
    docs = tmp_path / "docs"
    docs.mkdir()
    doc = docs / "B.md"
    doc.write_text("<!-- section:a -->\nold\n<!-- end:a -->\n")
    run = tmp_path / "out" / "a_run.json"
    run.parent.mkdir()
    run.write_text('{"quick": false, "value": 1.5}')
    dest = common.replace_section("a", "## A\n\nvalue 1.5", path=doc, results=run, results_name="a_run")
    assert dest == docs / "results" / "a_run.json"
    assert dest.read_text() == run.read_text() + "\n"  # a copy, byte for byte (plus the final newline)
    text = doc.read_text()
    assert "value 1.5\n\nResults: [`docs/results/a_run.json`](results/a_run.json)" in text
    assert text.count("Results:") == 1
    # a payload instead of a file; the name defaults to the section's
    common.replace_section("a", "again", path=doc, results={"value": 2})
    assert (docs / "results" / "a.json").exists() and "results/a.json" in doc.read_text()


def test_quick_runs_are_never_published(bench_module, tmp_path):
    common = bench_module("common")
    doc = tmp_path / "B.md"
    doc.write_text("<!-- section:a -->\nold\n<!-- end:a -->\n")
    with pytest.raises(ValueError, match="quick"):
        common.replace_section("a", "new", path=doc, results={"quick": True, "value": 1})
    with pytest.raises(ValueError, match="quick"):
        common.publish_results("a_quick", {"value": 1}, tmp_path / "results")
    assert "old" in doc.read_text() and not (tmp_path / "results").exists()  # neither the doc nor a file changed


def test_benchmarks_doc_names_only_files_that_exist(repo_dir):
    import re

    doc = repo_dir / "docs" / "BENCHMARKS.md"
    named = {
        n
        for n in re.findall(r"docs/results/([\w.-]+\.(?:json|md))", doc.read_text(encoding="utf-8"))
        if not n.split(".")[0].isupper()
    }  # NAME.json: a placeholder in a command
    assert named, "docs/BENCHMARKS.md names no results file"
    missing = sorted(n for n in named if not (repo_dir / "docs" / "results" / n).exists())
    # gpu_train.json is named as where a future GPU run keeps its JSON
    assert [n for n in missing if n != "gpu_train.json"] == []
