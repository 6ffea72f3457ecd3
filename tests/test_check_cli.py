"""``chefbot check FILE``: the real command on recipe files in tmp_path (text and JSON), its lines, and
its exit status: 1 on a failed safety check, 0 otherwise, 2 with the file (and field) named on input it
cannot read.  The exit-1 path is tested twice: with a stubbed checker (this command's own logic, named
so) and end to end on a raw chicken salad with the real checker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sense_recipes import RAW_CHICKEN_SALAD, TEN_GRAMS
from sense_recipes import SOUND_CHICKEN_RICE as SOUND
from typer.testing import CliRunner

from chefbot.cli import app
from chefbot.cooking.kitchen_sense import CHECKS, SenseCheck, SenseReport

SRC = Path(__file__).resolve().parents[1] / "src"


def chefbot(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(SRC), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "chefbot.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_a_sound_text_recipe_prints_every_check_and_exits_0(tmp_path: Path):
    r = chefbot("check", str(write(tmp_path, "rice.md", SOUND)))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for name, kind in CHECKS:  # one line per check, with its kind
        assert any(name in line and kind in line for line in lines), (name, r.stdout)
    assert "a recipe, safe" in r.stdout and "FAIL" not in r.stdout


def test_a_json_recipe_is_read_as_a_recipe(tmp_path: Path):
    data = {
        "title": "Chicken Rice",
        "ingredients": ["1 lb chicken thighs", "1 cup rice"],
        "directions": ["Roast the chicken at 200 °C for 35 minutes, until it reaches 74 °C inside.", "Serve."],
    }
    r = chefbot("check", "--json", str(write(tmp_path, "rice.json", json.dumps(data))))
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["is_recipe"] is True and report["safe"] is True
    assert [c["name"] for c in report["checks"]] == [name for name, _ in CHECKS]


def test_a_text_that_is_not_a_recipe_is_reported_but_is_not_unsafe(tmp_path: Path):
    r = chefbot("check", str(write(tmp_path, "ten.txt", TEN_GRAMS)))
    assert r.returncode == 0, r.stderr  # implausible, not dangerous
    line = next(x for x in r.stdout.splitlines() if "is_recipe" in x)
    assert line.split()[0] == "FAIL" and "not a recipe" in line and "ingredient" in line
    assert "not a recipe" in r.stdout.splitlines()[-1]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", '{"title": "x",\n "ingredients": [1, }', "bad.json: not valid JSON"),
        ("field.json", '{"title": "x", "ingredients": "flour", "directions": []}', "field.json: ingredients:"),
        ("typo.json", '{"title": "x", "direction": ["Bake."]}', "typo.json: direction: unknown key"),
        ("list.json", '["flour"]', "list.json: a recipe in JSON is an object"),
        ("empty.md", "  \n", "empty.md: the file is empty"),
    ],
)
def test_unreadable_input_exits_2_naming_the_file_and_field(tmp_path: Path, name: str, content: str, message: str):
    r = chefbot("check", str(write(tmp_path, name, content)))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr and "Traceback" not in r.stderr


def test_a_missing_or_binary_file_exits_2(tmp_path: Path):
    missing = chefbot("check", str(tmp_path / "nope.md"))
    assert missing.returncode == 2 and "nope.md: no such file" in missing.stderr
    binary = tmp_path / "photo.jpg"
    binary.write_bytes(b"\xff\xd8\xff\xe0 not text")
    r = chefbot("check", str(binary))
    assert r.returncode == 2 and "photo.jpg: not UTF-8 text" in r.stderr


def test_a_failed_safety_check_exits_1_stubbed_checker(tmp_path: Path, monkeypatch):
    def unsafe(recipe):
        return SenseReport(
            checks=(SenseCheck("stub_cooked", "safety", False, "the chicken is never cooked", "USDA stub"),),
            is_recipe=True,
        )

    monkeypatch.setattr("chefbot.evaluate.cli_check.check_kitchen_sense", unsafe)
    r = CliRunner().invoke(app, ["check", str(write(tmp_path, "rice.md", SOUND))])
    assert r.exit_code == 1, r.output
    assert "FAIL  safety        stub_cooked: the chicken is never cooked  [source: USDA stub]" in r.output
    assert "UNSAFE" in r.output


def test_a_failed_plausibility_check_alone_exits_0_stubbed_checker(tmp_path: Path, monkeypatch):
    def odd(recipe):
        return SenseReport(
            checks=(SenseCheck("stub_salt", "plausibility", False, "100 g salt", "stub"),), is_recipe=True
        )

    monkeypatch.setattr("chefbot.evaluate.cli_check.check_kitchen_sense", odd)
    r = CliRunner().invoke(app, ["check", str(write(tmp_path, "rice.md", SOUND))])
    assert r.exit_code == 0 and "FAIL  plausibility  stub_salt: 100 g salt" in r.output


def test_a_raw_chicken_salad_exits_1(tmp_path: Path):
    r = chefbot("check", str(write(tmp_path, "salad.md", RAW_CHICKEN_SALAD)))
    assert r.returncode == 1, r.stdout
    assert any(x.split()[:2] == ["FAIL", "safety"] for x in r.stdout.splitlines())
