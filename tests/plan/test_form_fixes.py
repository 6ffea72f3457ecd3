"""Every fix the planner suggests in an error can be made in the plan page's form (issue 25: the cook got
"set hot_hold_max_min or kind: cold" from a form that had neither).

The suggestions are read from the planner's own message strings (problem.py, explain.py, solve.py), so a
new suggestion that the form cannot make fails here; the form's inputs are read from web/plan.html and
web/plan.js (``data-field``: the meal-spec field an input sets).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from chefbot.plan import explain, problem, solve
from chefbot.plan.explain import SUGGESTED_FIXES
from chefbot.plan.schema import Kitchen

WEB = Path(__file__).resolve().parents[2] / "src" / "chefbot" / "serve" / "web"
# a meal-spec field named in a message: kitchen.ovens, cooks.available, serve_at ...
FIELD_RE = re.compile(r"\b(?:kitchen|cooks|recipes|solver)\.[a-z_]+\b|\b(?:serve_at|start_after|hot_hold_max_min)\b")


def _message_strings() -> list[str]:
    """The string pieces of the planner's error messages: every string constant of the modules that raise
    or explain ``PlanError`` (f-strings' literal parts included), docstrings and the registry left out."""
    out = []
    for module in (problem, explain, solve):
        tree = ast.parse(Path(module.__file__).read_text())
        skip = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node) is not None:
                skip.add(id(node.body[0].value))
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "SUGGESTED_FIXES" for t in node.targets):
                skip.update(id(n) for n in ast.walk(node.value))
        out += [
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip
        ]
    return out


def _form_fields() -> set[str]:
    text = (WEB / "plan.html").read_text() + (WEB / "plan.js").read_text()
    return set(re.findall(r'data-field(?:="|": ")([a-z_.]+)"', text))


def test_every_field_a_message_names_is_a_registered_fix():
    named = set()
    for s in _message_strings():
        named |= set(FIELD_RE.findall(s))
        if s.endswith("kitchen."):  # f"... (kitchen.{KITCHEN_FIELD[e]}: 0)": any field of the kitchen
            named |= {f"kitchen.{f}" for f in Kitchen.model_fields}
    registered = set(SUGGESTED_FIXES.values())
    assert named, "found no field in the planner's messages: the scan is broken"
    assert named <= registered, f"suggested in a message but not in SUGGESTED_FIXES: {sorted(named - registered)}"


def test_every_registered_fix_is_suggested_by_some_message():
    text = "\n".join(_message_strings())
    kitchen_any = "kitchen." in text  # the templated kitchen field stands for all of them
    unused = [
        words
        for words, field in SUGGESTED_FIXES.items()
        if words not in text and not (kitchen_any and field.startswith("kitchen."))
    ]
    assert unused == []


def test_the_form_has_an_input_for_every_suggested_fix():
    missing = sorted(set(SUGGESTED_FIXES.values()) - _form_fields())
    assert missing == [], f"the plan form has no input (data-field) for {missing}"


def test_the_cooks_report_fixes_are_in_the_form():
    """The two the cook could not make: a dish served cold, and a longer wait for hot food."""
    fields = _form_fields()
    assert {"recipes.kind", "recipes.hot_hold_max_min", "hot_hold_max_min", "date"} <= fields


@pytest.mark.parametrize("name", list(Kitchen.model_fields))
def test_kitchen_inputs_have_the_schemas_default_and_bounds(name):
    html = (WEB / "plan.html").read_text()
    m = re.search(rf'<input [^>]*id="{name}"[^>]*>', html)
    assert m, f"no input for kitchen.{name}"
    attrs = dict(re.findall(r'([a-z-]+)="([^"]*)"', m.group(0)))
    info = Kitchen.model_fields[name]
    bounds = {k: getattr(x, k) for x in info.metadata for k in ("ge", "le") if hasattr(x, k)}
    assert attrs["data-field"] == f"kitchen.{name}"
    assert (int(attrs["value"]), int(attrs["min"]), int(attrs["max"])) == (info.default, bounds["ge"], bounds["le"])
    js = (WEB / "plan.js").read_text()
    listed = re.search(r"const FORM_KITCHEN = \[([^\]]*)\]", js).group(1)
    assert f'"{name}"' in listed  # sent by spec() and filled by fillForm()


def test_the_plan_request_takes_what_the_form_sends():
    """POST /api/plans accepts every field the form sets (strict: an unknown key would be a 422)."""
    from chefbot.serve.schemas_kitchen import PlanCreate

    req = PlanCreate.model_validate(
        {
            "title": "Dinner",
            "date": "2030-06-01",
            "serve_at": "19:30",
            "start_after": "17:00",
            "recipes": [{"recipe_id": 1, "servings": 4, "kind": "cold", "hot_hold_max_min": 30}],
            "cooks": [{"name": "Ann", "skill": 3, "available_from": "17:00"}],
            "kitchen": {f: Kitchen.model_fields[f].default for f in Kitchen.model_fields},
            "hot_hold_max_min": 20,
            "time_limit_s": 5,
        }
    )
    assert req.date == "2030-06-01" and req.recipes[0].hot_hold_max_min == 30
