"""The web page in a real headless Chromium (Debian's chromium + playwright-core from npm,
installed by `make setup-browser`).  In CI a missing browser is a failure with the reason;
elsewhere the test skips."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from sense_recipes import RAW_CHICKEN_SALAD, TEN_GRAMS
from serve_support import CHROMIUM, FastGenerator, Wrapped, browser_problem, live_app, serve_cfg

HERE = Path(__file__).resolve().parent


class _PacedHandle:
    """A stream handle that delivers each delta after a short pause, so the page is seen
    mid-stream even on a fast machine (the tiny model otherwise finishes in milliseconds)."""

    def __init__(self, handle, pause_s: float) -> None:
        self._handle, self._pause = handle, pause_s

    def __iter__(self):
        return self

    def __next__(self) -> str:
        delta = next(self._handle)
        time.sleep(self._pause)
        return delta

    def __getattr__(self, name):
        return getattr(self._handle, name)


class _PacedGenerator(Wrapped):
    def __init__(self, generator, pause_s: float = 0.05) -> None:
        super().__init__(generator)
        self._pause = pause_s

    def stream_from_ids(self, prompt, settings_override=None):
        return _PacedHandle(self.inner.stream_from_ids(prompt, settings_override), self._pause)


def test_page_streams_a_recipe_in_headless_chromium(repo_dir, babbler_dir, babbler_generator, tmp_path):
    problem = browser_problem(repo_dir)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run: {problem}")
        pytest.skip(problem)
    cfg = serve_cfg(babbler_dir, max_tokens_cap=40)
    shot = tmp_path / "web.png"
    env = dict(os.environ, NODE_PATH=str(repo_dir / ".cache" / "browser" / "node_modules"), CHROMIUM=CHROMIUM)
    with live_app(cfg, _PacedGenerator(babbler_generator)) as srv:
        r = subprocess.run(
            ["node", str(HERE / "web_check.js"), srv.url + "/", str(shot), "rice\nlemon\ngarlic", "90000"],
            env=env,
            capture_output=True,
            text=True,
            timeout=150,
        )
        sched = srv.app.state.scheduler
        assert r.returncode == 0, f"web_check.js failed:\n{r.stderr[-3000:]}"
        page = json.loads(r.stdout.strip().splitlines()[-1])
        assert sched.stats.answered >= 1
    assert page["page_errors"] == []
    assert page["status"].startswith("Done: 40 tokens"), page["status"]  # capped by serve.max_tokens_cap
    assert len(page["output"].split()) >= 5  # the streamed words are on the page
    assert page["partial_length"] < len(page["output"])  # text appeared before the stream had ended
    # the form's constraints reached the server and each came back checked, with its mark and reason
    assert [c["name"] for c in page["checks"]] == ["vegetarian", "nut-free", "max_minutes", "difficulty"], page[
        "checks"
    ]
    for c in page["checks"]:  # random words: no ingredient list, no steps to time, so the checker cannot tell
        assert c["cls"] == "unknown" and c["text"].startswith("? "), c
    assert "no ingredient list" in page["checks"][0]["text"]
    assert page["status"].endswith("No constraint broken; the checker cannot tell for 4 (?)."), page["status"]
    assert page["copy_enabled"] and page["download_enabled"]
    # one planner (/plan): the page links to it and every other page, and has no planner of its own
    assert page["nav"] == ["*Write", "Library", "Calendar", "Plan", "Cook", "Tasting"], page["nav"]
    assert page["plan_panel"] == 0 and page["key_field_visible"]
    assert shot.exists() and shot.stat().st_size > 5000
    print(f"screenshot: {shot}")


EASY_TOFU = """# Tofu Rice Bowl

## Ingredients
- 1 block tofu
- 1 cup rice

## Directions
1. Simmer the rice for 15 minutes.
2. Stir in the tofu and serve."""

CHICKEN_RICE = (
    EASY_TOFU.replace("Tofu", "Chicken")
    .replace("1 block tofu", "1 lb chicken thighs")
    .replace("the tofu", "the chicken")
)


def test_page_enforces_constraints_and_marks_each_check(repo_dir, tmp_path):
    """The enforce box: the first answer breaks "vegetarian", the page says a new attempt started, and
    the second answer's checks are all shown as met."""
    from serve_support import ScriptedGenerator

    problem = browser_problem(repo_dir)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run: {problem}")
        pytest.skip(problem)
    gen = ScriptedGenerator([CHICKEN_RICE, EASY_TOFU])
    env = dict(os.environ, NODE_PATH=str(repo_dir / ".cache" / "browser" / "node_modules"), CHROMIUM=CHROMIUM)
    with live_app(serve_cfg(tmp_path), gen) as srv:
        r = subprocess.run(
            [
                "node",
                str(HERE / "web_check.js"),
                srv.url + "/",
                str(tmp_path / "enforce.png"),
                "tofu, rice",
                "90000",
                "enforce",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=150,
        )
    assert r.returncode == 0, f"web_check.js failed:\n{r.stderr[-3000:]}"
    page = json.loads(r.stdout.strip().splitlines()[-1])
    assert page["page_errors"] == []
    assert len(gen.calls) == 2 and gen.calls[1]["settings"]["do_sample"] is True  # the page asked to enforce
    assert page["status"].endswith("Constraints met after 2 attempts."), page["status"]
    assert [(c["name"], c["cls"]) for c in page["checks"]] == [
        ("vegetarian", "ok"),
        ("nut-free", "ok"),
        ("max_minutes", "ok"),
        ("difficulty", "ok"),
    ]
    assert page["checks"][2]["text"].startswith("✓ ready in 45 minutes: about")
    assert page["title"] == "Tofu Rice Bowl" and page["output"] == EASY_TOFU


# -- the recipe page's kitchen sense: the warning block and no "Save to library" for a non-recipe --------


def _recipe_page(repo_dir, tmp_path, texts: list[str], cfg=None) -> dict:
    """The recipe page in Chromium against a server whose generator answers ``texts``: what it showed."""
    from serve_support import ScriptedGenerator

    problem = browser_problem(repo_dir)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run: {problem}")
        pytest.skip(problem)
    env = dict(os.environ, NODE_PATH=str(repo_dir / ".cache" / "browser" / "node_modules"), CHROMIUM=CHROMIUM)
    with live_app(cfg or serve_cfg(tmp_path), ScriptedGenerator(texts)) as srv:
        r = subprocess.run(
            ["node", str(HERE / "web_check.js"), srv.url + "/", str(tmp_path / "sense.png"), "chicken", "90000"],
            env=env,
            capture_output=True,
            text=True,
            timeout=150,
        )
    assert r.returncode == 0, f"web_check.js failed:\n{r.stderr[-3000:]}"
    page = json.loads(r.stdout.strip().splitlines()[-1])
    assert page["page_errors"] == []
    return page


def test_page_offers_no_save_for_a_text_that_is_not_a_recipe(repo_dir, tmp_path):
    page = _recipe_page(repo_dir, tmp_path, [TEN_GRAMS])
    assert page["sense_visible"] and page["sense_title"] == "This text is not a recipe."
    assert [(i["name"], i["cls"]) for i in page["sense_items"]] == [("is_recipe", "plausibility")]
    assert "not a recipe" in page["sense_items"][0]["text"]
    assert not page["save_visible"] and page["save_note_visible"]  # no Save, and the page says why
    assert page["copy_enabled"] and page["download_enabled"]  # the cook can still copy the text


def test_page_offers_save_and_no_warning_for_a_sound_recipe(repo_dir, tmp_path):
    page = _recipe_page(repo_dir, tmp_path, [EASY_TOFU])
    assert not page["sense_visible"] and page["sense_items"] == []
    assert page["save_visible"] and not page["save_note_visible"]
    assert not page["sources_visible"] and page["sources"] == []  # grounding off: no sources block


def test_page_lists_the_grounding_sources_under_the_answer(repo_dir, tmp_path):
    from grounding_corpus import grounded_cfg

    page = _recipe_page(repo_dir, tmp_path, [EASY_TOFU], cfg=grounded_cfg(tmp_path))
    assert page["sources_visible"]
    assert page["sources"][0]["id"] == "t:0" and page["sources"][0]["text"].startswith("Chicken Fried Rice (test, t:0)")


def _unsafe_stub(recipe):
    """A stand-in checker that fails one plausibility and one safety check, plausibility listed first."""
    from chefbot.cooking.kitchen_sense import SenseCheck, SenseReport

    return SenseReport(
        checks=(
            SenseCheck("stub_amounts", "plausibility", False, "100 g salt for 2 servings", "stub"),
            SenseCheck("stub_cooked", "safety", False, "the chicken is never cooked", "stub"),
        ),
        is_recipe=True,
    )


def test_page_warns_on_an_unsafe_recipe_safety_first_stubbed_checker(repo_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("chefbot.serve.recipes.check_kitchen_sense", _unsafe_stub)
    page = _recipe_page(repo_dir, tmp_path, [EASY_TOFU])
    assert page["sense_visible"] and "unsafe" in page["sense_class"].split()
    assert page["sense_title"] == "Warning: this recipe may not be safe to follow."
    assert [(i["name"], i["text"]) for i in page["sense_items"]] == [
        ("stub_cooked", "Unsafe: the chicken is never cooked"),
        ("stub_amounts", "Odd: 100 g salt for 2 servings"),
    ]
    assert page["save_visible"]  # a recipe, if an unsafe one: the cook may fix and keep it
    assert page["status"].endswith("Unsafe: see the warning."), page["status"]


def test_page_warns_on_a_raw_chicken_salad(repo_dir, tmp_path):
    page = _recipe_page(repo_dir, tmp_path, [RAW_CHICKEN_SALAD])
    assert page["sense_visible"] and "unsafe" in page["sense_class"].split()
    assert page["sense_items"] and page["sense_items"][0]["cls"] == "safety"


# -- the planner page (issue 25): every fix the planner suggests is made in the form ----------------------
PLAN_DISHES = [
    {
        "title": "Roast chicken",
        "servings": 4,
        "ingredients": ["1 whole chicken", "2 tbsp butter"],
        "directions": ["Preheat oven to 425 degrees.", "Rub the chicken with butter.", "Roast the chicken for 40 minutes.",
                       "Rest 10 minutes and carve."],
    },
    {
        "title": "Potato casserole",
        "servings": 6,
        "ingredients": ["6 potatoes", "1 cup cream", "1 cup cheese"],
        "directions": ["Slice the potatoes.", "Layer the potatoes with cream and cheese in a baking dish.",
                       "Bake at 350 degrees for 50 minutes."],
    },
]  # fmt: skip


def test_plan_page_refusal_names_a_fix_the_form_makes(repo_dir, tmp_path):
    """Two hot dishes for one oven at two temperatures: refused, naming hot_hold_max_min on the recipe; the
    casserole allowed 90 minutes' wait in the form plans, a cook owns each preheat; a serving time an hour ago is
    refused naming serve_at and now."""
    import httpx

    from chefbot.plan.explain import SUGGESTED_FIXES

    problem = browser_problem(repo_dir)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run: {problem}")
        pytest.skip(problem)
    cfg = serve_cfg(tmp_path / "no-model")
    cfg.kitchen.db_path = str(tmp_path / "kitchen.db")
    spec = tmp_path / "plan_spec.json"
    spec.write_text(
        json.dumps(
            {
                "timeout_ms": 90000,
                "dishes": ["Roast chicken", "Potato casserole"],
                "meal_hold": 15,  # the cook's own wait for the meal: wins over the oven-finished default
                "fix_dish": "Potato casserole",
                "fix_hold": 90,
                "out_dir": str(tmp_path),
            }
        )
    )
    env = dict(os.environ, NODE_PATH=str(repo_dir / ".cache" / "browser" / "node_modules"), CHROMIUM=CHROMIUM)
    with live_app(cfg, FastGenerator()) as srv, httpx.Client(base_url=srv.url, timeout=30) as api:
        for recipe in PLAN_DISHES:
            assert api.post("/api/recipes", json=recipe).status_code == 201
        spec.write_text(json.dumps({**json.loads(spec.read_text()), "url": srv.url}))
        page = run_check("plan_check.js", spec, env)
        saved = api.get(f"/api/plans/{page['plan_id']}").json()
    assert page["page_errors"] == []
    assert page["default_hold"] == ""  # the meal's wait is empty: schema.HOLD_DEFAULT_MIN by how each dish ends
    assert page["default_date"] == page["browser_today"]  # the form's day: the browser's today
    assert set(SUGGESTED_FIXES.values()) <= set(page["fields"])  # an input for every fix, in the live page
    refused = page["refused"]
    assert "kind: cold" in refused and "hot_hold_max_min" in refused, refused
    assert page["fixed_status"] == "" and page["sent"]["date"] == page["serve"]["date"]
    assert sorted(str(x.get("hot_hold_max_min")) for x in page["sent"]["recipes"]) == ["90", "None"]
    holds = {d["title"]: d["hot_hold_max_min"] for d in saved["plan"]["dishes"]}
    assert holds == {"Roast chicken": 15, "Potato casserole": 90}
    assert saved["plan"]["date"] == page["serve"]["date"]
    preheats = [t for t in saved["plan"]["tasks"] if t["kind"] == "preheat"]
    assert len(preheats) == 2 and sorted(page["preheat_bars"]) == sorted(t["id"] for t in preheats)
    assert sum("Preheat the oven to" in x for x in page["cook_items"]) == 2
    assert f"on {page['serve']['date']}" in page["summary"]
    assert "is in the past (now is" in page["past"] and page["past"].count("serve_at") >= 1, page["past"]


def run_check(script: str, spec: Path, env: dict) -> dict:
    """Run a node check script on its spec file; the one JSON line it prints (what the page showed)."""
    r = subprocess.run(["node", str(HERE / script), str(spec)], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{script} failed:\n{r.stderr[-3000:]}"
    return json.loads(r.stdout.strip().splitlines()[-1])


STEW = {
    "title": "Chicken and eggs",
    "servings": 2,
    "ingredients": ["200 g chicken fillet", "1 tbsp olive oil", "1 tsp salt", "pepper to taste"],
    "directions": ["Brown the chicken.", "Simmer for 20 minutes.", "Season and serve."],
}


def test_library_edit_form_saves_reloads_and_shows_a_stale_edit(repo_dir, tmp_path):
    """The Edit form as a cook uses it: servings and a step changed, saved, seen after a reload; then another tab
    saves first and this tab's save shows the 409 message, with the form on the other tab's version.  The recipe
    view's nutrition (SR28 per serving, the lines not counted) is read on the way."""
    import httpx
    from serve_support import browser_env

    env = browser_env(repo_dir)
    cfg = serve_cfg(tmp_path / "no-model")
    cfg.kitchen.db_path = str(tmp_path / "kitchen.db")
    with live_app(cfg, FastGenerator()) as srv, httpx.Client(base_url=srv.url, timeout=60) as api:
        rid = api.post("/api/recipes", json=STEW).json()["id"]
        nutrition = api.get(f"/api/recipes/{rid}/nutrition")
        spec = tmp_path / "edit_spec.json"
        new_step = "Simmer for 25 minutes, lid on."
        spec.write_text(
            json.dumps(
                {
                    "url": srv.url,
                    "recipe_id": rid,
                    "servings": 6,
                    "step": [1, new_step],
                    "other_title": "Chicken and eggs, the other tab's",
                    "out_dir": str(tmp_path),
                }
            )
        )
        page = run_check("edit_check.js", spec, env)
        final = api.get(f"/api/recipes/{rid}").json()
    assert page["page_errors"] == []
    # the edit, after a reload
    assert page["saved_status"].startswith('Saved "Chicken and eggs" (version 2)')
    assert page["reloaded"]["servings"] == "6" and "version 2" in page["reloaded"]["meta"]
    assert page["reloaded"]["directions"] == [STEW["directions"][0], new_step, STEW["directions"][2]]
    # the stale edit: refused with the 409 message, nothing overwritten, the form on the other tab's version
    stale = page["stale"]
    assert "Error 409" in stale["status"] and "is at version 3, not 2" in stale["status"] and stale["status_is_error"]
    assert stale["form_open"] and stale["form_title"] == "Chicken and eggs, the other tab's"
    assert stale["form_servings"] == "6" and "version 3" in stale["meta"]
    assert (final["version"], final["title"], final["servings"]) == (3, "Chicken and eggs, the other tab's", 6)
    # the nutrition view: the API's figures per serving of the 2 servings it was read at, the table named
    n = page["nutrition"]
    if nutrition.status_code == 503:
        assert n["source"].startswith("No nutrition figures") and n["rows"] == []
    else:
        body = nutrition.json()
        assert n["heading"] == "Nutrition per serving (2 servings)"
        assert n["rows"][0] == f"Energy{body['per_serving']['energy_kcal']:.0f} kcal"
        assert n["rows"][-1] == f"Salt{body['per_serving']['salt_g']:.1f} g"
        assert n["unmatched"] == "Not counted: pepper to taste (no amount)." and "SR28" in n["source"]
