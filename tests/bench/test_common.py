"""bench/common.py: the section rewriter and the small statistics helpers."""

from __future__ import annotations

import pytest


def test_replace_section_rewrites_only_its_block(bench_module, tmp_path):
    common = bench_module("common")
    doc = tmp_path / "B.md"
    doc.write_text("# T\n<!-- section:a -->\nold a\n<!-- end:a -->\nmiddle\n<!-- section:b -->\nold b\n<!-- end:b -->\n")
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
