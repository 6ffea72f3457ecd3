"""`chefbot plan` end to end, bad input without tracebacks, and the optional model mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chefbot.plan.api import plan_meal_dict
from chefbot.plan.model_assist import dumps_example, parse_model_tasks, tasks_with_model
from chefbot.recipe_format import Recipe

from .checker import check_plan
from .conftest import NOW, inline

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chefbot.cli", "plan", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_example_dinner_plans_and_writes_outputs(tmp_path):
    r = run_cli(
        str(REPO / "examples" / "dinner-for-six.yaml"),
        "--out",
        str(tmp_path),
        "--time-limit",
        "4",
        "--now",
        "2030-06-01 12:00",
    )
    assert r.returncode == 0, r.stderr
    assert "serve" in r.stdout and "Alex:" in r.stdout and "Sam:" in r.stdout
    for name in ["plan.png", "plan.html", "plan.json", "timeline.txt"]:
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "plan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "plan.html").read_text()
    assert (
        "<svg" in page and "<script" not in page and "<link" not in page and 'src="http' not in page
    )  # self-contained
    result = json.loads((tmp_path / "plan.json").read_text())
    assert check_plan(result) == []
    assert result["status"] == "OPTIMAL" and 30 <= len(result["tasks"]) <= 60
    # Sam arrives at five: none of his hands-on work is earlier
    assert all(t["start"] >= "17:00" for t in result["by_cook"]["Sam"])
    # the pork is hot at serving (19:30), the apple crisp (served cold) may be ready long before
    dishes = {d["key"].split("-")[0]: d for d in result["dishes"]}
    assert dishes["pork"]["kind"] == "hot" and dishes["pork"]["hold_min"] <= 15 and dishes["pork"]["ready"] >= "19:15"
    assert dishes["apple"]["kind"] == "cold" and dishes["roasted"]["kind"] == "cold"
    assert "Pork Tenderloin with Mustard Cream Sauce: 19:" in r.stdout and "(limit 15)" in r.stdout


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "meal.yaml"
    p.write_text(text)
    return p


GOOD = """serve_at: 19:30
recipes:
  - title: Salad
    directions: ["Wash the lettuce.", "Toss with dressing."]
cooks: [{name: Ann}]
"""


BAD_INPUTS = [
    (GOOD.replace("cooks: [{name: Ann}]", "cooks: []"), "at least one cook"),
    (GOOD + "kitchen: {burner: 4}\n", "kitchen.burner: unknown key"),
    (GOOD.replace("19:30", "'2001-05-01 19:30'"), "in the past"),
    (GOOD.replace('["Wash the lettuce.", "Toss with dressing."]', '["Serves 4."]'), "no steps I can schedule"),
    (
        GOOD.replace('"Toss with dressing."', '"Bake at 350° for 20 minutes."') + "kitchen: {ovens: 0}\n",
        "no oven in the kitchen",
    ),
    (GOOD.replace("serve_at: 19:30", "serve_at: teatime"), "serve_at"),
    ("recipes: [\n", "not valid YAML"),
    (
        GOOD.replace("  - title: Salad\n    directions", "  - title: Salad\n    ingredients: [lettuce]\n    x"),
        "unknown key",
    ),
]


CLOCK = ["--now", "2030-06-01 12:00"]  # a fixed clock: an undated 19:30 must never be "in the past" by the wall clock


@pytest.mark.parametrize("yaml_text,expected", BAD_INPUTS)
def test_bad_input_is_a_user_error_with_a_clear_message(tmp_path, yaml_text, expected):
    """In process (fast): the command raises ChefbotError, which `chefbot` prints as one line."""
    from typer.testing import CliRunner

    from chefbot.cli import app
    from chefbot.errors import ChefbotError

    result = CliRunner().invoke(app, ["plan", str(_write(tmp_path, yaml_text)), "--out", str(tmp_path / "out"), *CLOCK])
    assert isinstance(result.exception, ChefbotError), result.exception
    assert expected in str(result.exception)
    assert not (tmp_path / "out").exists()


def test_bad_input_through_the_real_command_has_no_traceback(tmp_path):
    r = run_cli(str(_write(tmp_path, BAD_INPUTS[0][0])), *CLOCK)
    assert r.returncode == 2 and "at least one cook" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_ingredient_list_without_endpoint_says_how(tmp_path):
    from typer.testing import CliRunner

    from chefbot.cli import app

    text = GOOD.replace(
        '    directions: ["Wash the lettuce.", "Toss with dressing."]', "    ingredients: [lettuce, tomato]"
    )
    result = CliRunner().invoke(app, ["plan", str(_write(tmp_path, text)), *CLOCK])
    assert "--endpoint URL --api-model NAME" in str(result.exception)


def test_unquoted_clock_time_and_overrides(tmp_path):
    from typer.testing import CliRunner

    from chefbot.cli import app

    r = CliRunner().invoke(
        app,
        [
            "plan",
            str(_write(tmp_path, GOOD)),
            "--out",
            str(tmp_path / "o"),
            "--serve-at",
            "20:15",
            "--set",
            "kitchen.ovens=2",
            "--now",
            "2030-06-01 12:00",
        ],
    )
    assert r.exit_code == 0, r.exception
    result = json.loads((tmp_path / "o" / "plan.json").read_text())
    assert result["serve_at"].endswith("20:15") and result["kitchen"]["ovens"] == 2
    assert result["date"] == "2030-06-01"  # no date in the meal: the CLI plans for today (of --now)


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["--serve-at", "19:30", "--now", "2030-06-01 22:35"],
            "serve_at: 19:30 on 2030-06-01 is in the past (now is 2030-06-01 22:35)",
        ),
        (["--date", "2030-05-31", "--now", "2030-06-01 12:00"], "serve_at: 19:30 on 2030-05-31 is in the past"),
        (["--date", "31.5.2030"], "date: Value error, '31.5.2030' is not a date; write YYYY-MM-DD"),
    ],
)
def test_the_cli_plans_for_a_day_and_refuses_the_past(tmp_path, args, expected):
    """The cook's report: "serve at 19:30" entered at 22:35 planned a dinner in the past without a word."""
    from typer.testing import CliRunner

    from chefbot.cli import app
    from chefbot.errors import ChefbotError

    r = CliRunner().invoke(app, ["plan", str(_write(tmp_path, GOOD)), "--out", str(tmp_path / "o"), *args])
    assert isinstance(r.exception, ChefbotError), r.exception
    assert expected in str(r.exception)
    ok = CliRunner().invoke(
        app,
        [
            "plan",
            str(_write(tmp_path, GOOD)),
            "--out",
            str(tmp_path / "o"),
            "--date",
            "2030-06-02",
            "--now",
            "2030-06-01 22:35",
        ],
    )
    assert ok.exit_code == 0, ok.exception
    assert json.loads((tmp_path / "o" / "plan.json").read_text())["serve_at"] == "2030-06-02T19:30"


# ------------------------------------------------------------ model-assisted mode

RECIPE = Recipe(
    title="Onion tart",
    ingredients=["1 onion"],
    directions=["Chop the onion.", "Bake at 180°C for 30 minutes."],
    source="test",
)


def test_good_model_json_is_used():
    dish, fallback = tasks_with_model(
        "tart", RECIPE, lambda messages: "Here you go:\n```json\n" + dumps_example() + "\n```"
    )
    assert fallback is None
    assert [t.duration_from for t in dish.tasks] == ["model", "model"]
    assert dish.tasks[1].after == ["tart.1"] and dish.tasks[1].oven_temp_c == 180


@pytest.mark.parametrize(
    "answer",
    [
        "I think you should chop the onion first.",  # not JSON
        '[{"text": "Chop", "verb": "chop"}]',  # missing fields
        '[{"text": "Bake", "verb": "bake", "duration_min": 30, "attended": false, "skill": 2, "equipment": ["oven"], "oven_temp_c": null, "after": []}]',
        '[{"text": "Chop", "verb": "chop", "duration_min": 5, "attended": true, "skill": 3, "equipment": ["laser"], "oven_temp_c": null, "after": []}]',
        '[{"text": "Chop", "verb": "chop", "duration_min": 5, "attended": true, "skill": 3, "equipment": [], "oven_temp_c": null, "after": [1]}]',
    ],
)
def test_bad_model_answer_falls_back_to_rules(answer):
    dish, fallback = tasks_with_model("tart", RECIPE, lambda messages: answer)
    assert fallback and "used the rules" in fallback
    assert [t.verb for t in dish.tasks] == ["chop", "bake"] and dish.tasks[0].duration_from != "model"


def test_parse_model_tasks_rejects_empty_list():
    with pytest.raises(ValueError):
        parse_model_tasks("[]", "k")


def test_model_mode_and_generated_recipe_through_the_api():
    calls = []

    def fake(messages):
        calls.append(messages)
        if "JSON" in messages[0]["content"]:
            return "not json"
        return "# Tomato Salad\n## Ingredients\n- 2 tomatoes\n## Directions\n1. Slice 2 tomatoes.\n2. Drizzle with oil."

    meal = {
        "serve_at": "19:00",
        "tasks_from": "model",
        "cooks": [{"name": "Ann"}],
        "recipes": [{"ingredients": ["tomatoes", "olive oil"]}, inline("Soup", "Simmer 20 minutes.")],
    }
    r = plan_meal_dict(meal, now=NOW, complete=fake, html=False)
    assert check_plan(r) == []
    assert r["dishes"][0]["title"] == "Tomato Salad"
    assert len(r["warnings"]) == 2 and all("used the rules" in w for w in r["warnings"])
    assert any("tomatoes, olive oil" in m[-1]["content"] for m in calls)


def test_api_result_is_json_with_html():
    meal = {
        "serve_at": "19:00",
        "cooks": [{"name": "Ann"}],
        "recipes": [inline("Soup", "Chop 2 onions.", "Simmer 20 minutes.")],
    }
    r = plan_meal_dict(meal, now=NOW)
    json.dumps(r)
    assert r["html"].startswith("<!doctype html>") and "<svg" in r["html"]
    assert [t["cook"] for t in r["by_cook"]["Ann"]] == ["Ann", "Ann"]
