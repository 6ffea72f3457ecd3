"""``chefbot library export/import/add`` and ``chefbot eval tastings`` (Wilson intervals per rater and overall)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from chefbot.cli import app
from chefbot.evaluate.stats import wilson_interval
from chefbot.evaluate.tastings import tasting_report
from chefbot.kitchen.db import KitchenDB
from chefbot.kitchen.library import save_recipe, search_recipes
from chefbot.kitchen.tastings import save_pair, tally, vote, votes

runner = CliRunner()


def cast(db: KitchenDB) -> None:
    """10 pairs of tuned vs base, shown in both orders; Kim prefers tuned 4 of 5, Lou 2 of 5 with a tie."""
    tuned, base = {"model": "served"}, {"model": "base"}
    choices = {
        "Kim": ["tuned", "tuned", "tuned", "tuned", "base"],
        "Lou": ["tuned", "base", "tie", "tuned", "both_bad"],
    }
    for rater, picks in choices.items():
        for i, pick in enumerate(picks):
            flip = i % 2 == 1
            pid = save_pair(db, ["rice"], *((base, tuned) if flip else (tuned, base)), f"{rater}{i}a", f"{rater}{i}b")
            if pick in ("tie", "both_bad"):
                choice = pick
            else:
                choice = "A" if (pick == "tuned") != flip else "B"
            vote(db, pid, choice, rater)


def test_win_rates_per_rater_and_overall_with_wilson_intervals(tmp_path):
    with KitchenDB(tmp_path / "k.db") as db:
        cast(db)
        report = tasting_report(tally(votes(db)))
    [c] = report["comparisons"]
    assert c["sides"] == ["base", "served"] and c["n"] == 10
    overall = c["overall"]
    assert overall["wins"] == {"base": 2, "served": 6} and overall["tie"] == 1 and overall["both_bad"] == 1
    w = wilson_interval(6, 10)
    assert overall["win_rate"]["served"] == {"rate": 0.6, "low": w["low"], "high": w["high"]}
    assert c["per_rater"]["Kim"]["wins"] == {"base": 1, "served": 4}
    assert c["per_rater"]["Lou"]["win_rate"]["served"]["rate"] == pytest.approx(0.4)
    assert overall["tie_rate"] == 0.1


def test_eval_tastings_command(tmp_path):
    with KitchenDB(tmp_path / "k.db") as db:
        cast(db)
    r = runner.invoke(app, ["eval", "tastings", "--db", str(tmp_path / "k.db"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["comparisons"][0]["overall"]["wins"]["served"] == 6
    r = runner.invoke(app, ["eval", "tastings", "--db", str(tmp_path / "k.db")])
    assert r.exit_code == 0 and "base vs served: 10 votes" in r.output and "Kim" in r.output


def test_library_commands(tmp_path):
    recipe = tmp_path / "soup.md"
    recipe.write_text("# Soup\n\n## Ingredients\n- 1 onion\n\n## Directions\n1. Simmer 20 minutes.\n")
    a, b = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    assert runner.invoke(app, ["library", "add", str(recipe), "--db", a, "--servings", "2"]).exit_code == 0
    r = runner.invoke(app, ["library", "export", str(tmp_path / "backup.json"), "--db", a])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "backup.json").read_text())["recipes"][0]["source"] == {
        "kind": "file",
        "file": str(recipe),
    }
    assert runner.invoke(app, ["library", "import", str(tmp_path / "backup.json"), "--db", b]).exit_code == 0
    with KitchenDB(b) as db:
        [found] = search_recipes(db, "onion")["data"]
        assert found["title"] == "Soup" and found["servings"] == 2


def test_a_bad_file_adds_nothing(tmp_path):
    good, bad = tmp_path / "good.md", tmp_path / "bad.md"
    good.write_text("# Soup\n\n## Ingredients\n- 1 onion\n\n## Directions\n1. Simmer.\n")
    bad.write_text("# Nothing here\n")
    with KitchenDB(tmp_path / "k.db") as db:
        save_recipe(db, "Kept", ["1 egg"], ["Boil."], 1)
    r = runner.invoke(app, ["library", "add", str(good), str(bad), "--db", str(tmp_path / "k.db")])
    assert r.exit_code != 0 and "bad.md: recipe 1: the recipe has no ingredient lines" in str(r.exception)
    with KitchenDB(tmp_path / "k.db") as db:
        assert [x["title"] for x in search_recipes(db)["data"]] == ["Kept"]


# -- every failure of `chefbot library ...` is one line naming the file or field, exit 1 or 2 -----------------
def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    from test_kitchen_faults import chefbot, one_line

    code, err = chefbot(monkeypatch, capsys, *args)
    return code, (one_line(err) if code else err)


def backup_with(tmp_path, **recipe) -> str:
    row = {
        "title": "Soup",
        "servings": 2,
        "ingredients": ["1 onion"],
        "directions": ["Simmer."],
        "source": {"kind": "manual"},
        "created_at": "2026-11-25T10:00:00",
        **recipe,
    }
    path = tmp_path / "b.json"
    path.write_text(
        json.dumps(
            {
                "format": "chefbot-kitchen",
                "version": 1,
                "recipes": [row, {**row, "title": "Stew", "ingredients": ["1 leek"]}],
                "plans": [],
                "tasting_pairs": [],
            }
        )
    )
    return str(path)


def test_import_errors_are_one_line(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "k.db")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)  # json's RecursionError
    code, line = run_cli(monkeypatch, capsys, "library", "import", str(deep), "--db", db)
    assert code == 1 and str(deep) in line and "nested too deeply" in line
    path = backup_with(tmp_path, ingredients=[None, 0, "2 cups flour"])  # was a TypeError
    code, line = run_cli(monkeypatch, capsys, "library", "import", path, "--db", db)
    assert code == 1 and "recipes[0].ingredients.0" in line and "nothing imported" in line and "--skip-bad" in line
    code, out = run_cli(monkeypatch, capsys, "library", "import", path, "--db", db, "--skip-bad")
    assert code == 0 and "1 recipes" in out and "1 bad rows skipped" in out and "recipes[0].ingredients.0" in out
    with KitchenDB(db) as kdb:
        assert [r["title"] for r in search_recipes(kdb)["data"]] == ["Stew"]


def test_export_errors_are_one_line(tmp_path, monkeypatch, capsys):
    db = str(tmp_path / "k.db")
    with KitchenDB(db) as kdb:
        save_recipe(kdb, "Kept", ["1 egg"], ["Boil."], 1)
    (tmp_path / "out").mkdir()
    code, line = run_cli(monkeypatch, capsys, "library", "export", str(tmp_path / "out"), "--db", db)
    assert code == 1 and f"{tmp_path / 'out'} is a folder" in line
    (tmp_path / "file").write_text("x")
    code, line = run_cli(
        monkeypatch,
        capsys,
        "library",
        "export",
        str(tmp_path / "b.json"),
        "--db",
        str(tmp_path / "file" / "sub" / "k.db"),
    )
    assert code == 1 and f"cannot create its folder {tmp_path / 'file' / 'sub'}" in line
    code, line = run_cli(monkeypatch, capsys, "library", "export", str(tmp_path / "b.json"), "--db", str(tmp_path))
    assert code == 2 and "is a folder" in line
