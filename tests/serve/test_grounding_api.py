"""/v1/recipes with grounding.enabled: the prompt holds the retrieved recipes (corpus and kitchen library),
and the answer names them as its sources; off, no block and no sources."""

from __future__ import annotations

import json

import httpx
from grounding_corpus import grounded_cfg
from serve_support import live_app
from test_recipes import FixedText

from chefbot.kitchen.db import KitchenDB
from chefbot.kitchen.library import save_recipe


def test_answer_names_the_recipes_its_prompt_was_given(tmp_path):
    cfg = grounded_cfg(tmp_path)
    db = KitchenDB(cfg.kitchen.db_path)
    saved = save_recipe(db, "Grandma's Guacamole", ["2 avocados", "1 lime", "cilantro"], ["Mash it all."])
    db.close()
    gen = FixedText()
    with live_app(cfg, gen) as srv:
        r = httpx.post(srv.url + "/v1/recipes", json={"ingredients": "avocado, lime, cilantro, onion"})
    assert r.status_code == 200, r.text
    sources = r.json()["sources"]
    assert {s["title"] for s in sources} == {"Guacamole", "Grandma's Guacamole"}
    mine = next(s for s in sources if s["kind"] == "library")
    assert mine["library_id"] == saved["id"] and mine["id"] == f"library:{saved['id']}"
    corpus = next(s for s in sources if s["kind"] == "corpus")
    assert corpus["id"] == "t:8" and corpus["source"] == "test"
    user = gen.prompts[-1][-1]["content"]
    assert cfg.grounding.intro in user
    assert all(f"{s['title']}:" in user for s in sources)  # the sources are exactly what the prompt was given


def test_no_grounding_no_sources(tmp_path):
    cfg = grounded_cfg(tmp_path)
    cfg.grounding.enabled = False
    gen = FixedText()
    with live_app(cfg, gen) as srv:
        r = httpx.post(srv.url + "/v1/recipes", json={"ingredients": "avocado, lime"})
    assert r.status_code == 200 and r.json()["sources"] == []
    assert cfg.grounding.intro not in gen.prompts[-1][-1]["content"]


def test_streamed_answer_carries_the_sources(tmp_path):
    cfg = grounded_cfg(tmp_path)
    with live_app(cfg, FixedText()) as srv:
        with httpx.stream("POST", srv.url + "/v1/recipes", json={"ingredients": "lentils", "stream": True}) as r:
            events = [line[6:] for line in r.iter_lines() if line.startswith("data: ") and "done" in line]
    done = json.loads(events[-1])
    assert [s["title"] for s in done["sources"]][:1] == ["Lentil Curry"]


def test_page_lists_the_sources(tmp_path):
    """The page's script shows them under the answer (a plain check of the served page and script; the
    browser harness covers the rest of the page)."""
    cfg = grounded_cfg(tmp_path)
    with live_app(cfg, FixedText()) as srv:
        page = httpx.get(srv.url + "/").text
        script = httpx.get(srv.url + "/static/app.js")
    assert 'id="r-sources"' in page and 'id="r-sources-list"' in page
    assert script.status_code == 200 and "showSources(res.sources" in script.text
