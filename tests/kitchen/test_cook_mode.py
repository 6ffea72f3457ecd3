"""Cook mode's amounts per step, one recipe cooked through the planner, the lock on a step that waits, and
the installable app's files (manifest, service worker, icons): unit tests and the API through TestClient."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from test_cook_browser import CHILI
from test_kitchen_api import make_client

from chefbot.cooking.step_amounts import line_items, step_amounts

pytest.importorskip("ortools")

LINES = [
    "1.25 kg ground beef",
    "1 cup beef broth",
    "2 cloves garlic, minced",
    "1 (14 oz) can diced tomatoes",
    "salt and pepper to taste",
    "1 cup sugar",
    "1/2 cup brown sugar",
    "1 green bell pepper, chopped",
    "3 tbsp olive oil",
    "2 tbsp vegetable oil",
    "2 large eggs, beaten",
]


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("Add the beef and cook until browned.", ["1.25 kg ground beef"]),  # the head noun, unique
        ("Pour in the beef broth.", ["1 cup beef broth"]),  # "beef" here belongs to the longer item
        ("Stir in the brown sugar.", ["1/2 cup brown sugar"]),  # not "sugar" inside it
        ("Stir in the sugar.", []),  # "sugar" or "brown sugar": not guessed
        ("Heat the oil in a pan.", []),  # olive or vegetable: not guessed
        ("Heat the olive oil.", ["3 tbsp olive oil"]),
        ("Chop the bell pepper.", ["1 green bell pepper, chopped"]),  # the item's last two words
        ("Chop the pepper.", []),  # bell pepper, or the pepper of "salt and pepper": not guessed
        ("Season with salt and pepper.", ["salt and pepper to taste"]),
        ("Beat the eggs.", ["2 large eggs, beaten"]),  # plural and singular by their stems
        ("Add garlic and tomatoes; simmer 20 minutes.", ["2 cloves garlic, minced", "1 (14 oz) can diced tomatoes"]),
        ("Add the remaining ingredients.", []),
        ("Let cool", []),
    ],
)
def test_step_amounts_names_only_the_lines_a_step_uses(step, expected):
    assert step_amounts(step, LINES) == expected


def test_line_items_split_a_line_that_names_two_things():
    assert line_items("salt and pepper to taste") == [("salt",), ("pepper",)]
    assert line_items("2 1/2 (14 oz) cans diced tomatoes") == [("tomato",)]
    assert step_amounts("Add the beef.", []) == [] and step_amounts("", LINES) == []


@pytest.fixture()
def client(tmp_path):
    with make_client(tmp_path / "kitchen.db") as c:
        yield c


def test_cook_one_recipe_now_with_amounts_at_its_servings(client):
    rid = client.post("/api/recipes", json=CHILI).json()["id"]
    before = dt.datetime.now().replace(second=0, microsecond=0)
    r = client.post(f"/api/recipes/{rid}/cook", json={"servings": 10})
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["title"] == "Beef chili" and list(plan["cooks"]) == ["Cook"]
    assert plan["request"]["recipes"] == [{"recipe_id": rid, "servings": 10}]
    steps = {t["text"]: t for t in plan["tasks"] if t["kind"] == "step"}
    # scaled from 4 to 10 servings by quantities.scale_line, and only the lines each step names
    assert steps["Brown the beef in a skillet over medium heat for 8 minutes"]["amounts"] == ["1.25 kg ground beef"]
    assert steps["Add the onion and the beef broth and simmer for 15 minutes"]["amounts"] == [
        "2 1/2 onions",
        "5 cups beef broth",
    ]
    assert steps["Season with salt"]["amounts"] == ["2 1/2 tsp salt"]
    # starting now: the first step within two minutes, the meal ready when the steps are done
    first = min(dt.datetime.fromisoformat(t["start_iso"]) for t in plan["tasks"])
    assert before <= first <= before + dt.timedelta(minutes=3), (before, first)
    assert plan["plan"]["date"] is not None
    assert client.get(f"/api/plans/{plan['id']}").json()["tasks"] == plan["tasks"]  # saved like any plan


def test_cook_one_recipe_refusals(client):
    assert client.post("/api/recipes/999/cook", json={}).json()["error"]["code"] == "recipe_not_found"
    rid = client.post("/api/recipes", json=CHILI).json()["id"]
    r = client.post(f"/api/recipes/{rid}/cook", json={"skill": 1})  # dicing needs skill 3
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_meal_spec", r.text
    assert "skill" in r.json()["error"]["message"]
    r = client.post(f"/api/recipes/{rid}/cook", json={"serve_at": "23:58", "cook": "Kim"})  # a time of its own
    assert r.status_code == 201 and list(r.json()["cooks"]) == ["Kim"]
    assert r.json()["serve_at"].endswith("23:58")
    assert client.post(f"/api/recipes/{rid}/cook", json={"servings": 0}).status_code == 422


def test_a_step_cannot_start_before_the_step_it_waits_for(client):
    rid = client.post("/api/recipes", json=CHILI).json()["id"]
    plan = client.post(f"/api/recipes/{rid}/cook", json={}).json()
    steps = sorted((t for t in plan["tasks"] if t["kind"] == "step"), key=lambda t: t["step"])
    first, second = steps[0], steps[1]
    assert first["id"] in second["after"]
    url = f"/api/plans/{plan['id']}/progress"
    for status in ("started", "done"):
        r = client.post(url, json={"cook": "Cook", "task_id": second["id"], "status": status})
        assert r.status_code == 409, r.text
        err = r.json()["error"]
        assert (err["code"], err["param"]) == ("step_waits", "task_id")
        assert f"Beef chili step {first['step']} (Cook)" in err["message"]
    assert client.get(f"/api/plans/{plan['id']}").json()["progress"] == []  # nothing stored
    assert client.post(url, json={"cook": "Cook", "task_id": first["id"]}).status_code == 200
    assert client.post(url, json={"cook": "Cook", "task_id": second["id"], "status": "started"}).status_code == 200
    assert client.post(url, json={"cook": "Cook", "task_id": first["id"]}).status_code == 200  # a repeat: harmless


def test_the_app_is_installable(client):
    from PIL import Image

    from chefbot.serve.routes_web import PAGES, STATIC_FILES
    from chefbot.serve.routes_webapp import SHELL, THEME_COLOR, web_version

    page = client.get("/cook").text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    theme = re.search(r'<meta name="theme-color" content="([^"]+)">', page).group(1)
    r = client.get("/manifest.webmanifest")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/manifest+json")
    m = r.json()
    assert m["display"] == "standalone" and m["start_url"] in PAGES and m["scope"] == "/"
    assert m["theme_color"] == THEME_COLOR == theme  # one colour: the page's and the manifest's
    assert m["name"] and m["short_name"]
    sizes = set()
    for icon in m["icons"]:
        r = client.get(icon["src"])
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        img = Image.open(io.BytesIO(r.content))
        assert f"{img.width}x{img.height}" == icon["sizes"] and img.format == "PNG"
        sizes.add(img.width)
        # maskable: the middle 80% holds the drawing, the corners are the theme colour (the mask may cut them)
        assert img.convert("RGB").getpixel((1, 1)) == Image.new("RGB", (1, 1), THEME_COLOR).getpixel((0, 0))
        assert img.convert("RGB").getpixel((img.width // 2, img.height // 2)) == (255, 255, 255)
    assert {192, 512} <= sizes and {i["purpose"] for i in m["icons"]} == {"any", "maskable"}
    assert client.get("/icons/64.png").status_code == 404

    r = client.get("/sw.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["service-worker-allowed"] == "/" and r.headers["cache-control"] == "no-cache"
    sw = r.text
    assert "@VERSION@" not in sw and "@SHELL@" not in sw
    assert f"const VERSION = {json.dumps(web_version())};" in sw
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", sw).group(1))
    assert shell == list(SHELL) and "/cook" in shell
    assert set(PAGES) <= set(shell) and {f"/static/{n}" for n in STATIC_FILES} <= set(shell)
    for path in shell:  # everything the worker caches at install is served, without a key
        assert client.get(path).status_code == 200, path


def test_the_service_worker_version_follows_the_files(monkeypatch, tmp_path):
    from chefbot.serve import routes_webapp

    for name in ("a.js", "sw.js"):
        (tmp_path / name).write_text("one")
    monkeypatch.setattr(routes_webapp, "WEB_DIR", tmp_path)
    routes_webapp.web_version.cache_clear()
    try:
        v1 = routes_webapp.web_version()
        (tmp_path / "a.js").write_text("two")
        routes_webapp.web_version.cache_clear()
        assert routes_webapp.web_version() != v1
    finally:
        routes_webapp.web_version.cache_clear()
