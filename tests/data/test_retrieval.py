"""Grounding retrieval (data/retrieval.py): the index finds the obvious recipe, keeps targets, their
near-duplicates and held-out recipes out of prompts, survives hostile query text, and caps the block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grounding_corpus import DISHES, write_corpus

from chefbot.chat import reference_text, references_block, request_messages
from chefbot.config import GroundingConfig, load_config
from chefbot.data.retrieval import (
    CorpusIndex,
    Hit,
    bm25_search,
    exclusion_keys,
    fts_query,
    grounded_messages,
    memory_index,
    merge_hits,
    open_index,
)
from chefbot.recipe_format import Recipe


@pytest.fixture
def cfg(tmp_path):
    src = write_corpus(tmp_path / "corpus.jsonl")
    return load_config(
        None,
        [
            f"data.source={src}",
            f"data.cache_dir={tmp_path / 'cache'}",
            "data.val_size=2",
            "data.test_size=2",
            "grounding.enabled=true",
            "grounding.k=3",
        ],
    )


@pytest.fixture
def index(cfg):
    idx = open_index(cfg, progress=False)
    yield idx
    idx.close()


def titles(hits: list[Hit]) -> list[str]:
    return [h.recipe.title for h in hits]


def test_finds_the_obvious_recipe_and_caches_the_index(cfg, index):
    assert titles(index.search("avocado, lime, cilantro", 1)) == ["Guacamole"]
    assert titles(index.search("lentils coconut milk", 1)) == ["Lentil Curry"]
    assert len(index) == len(DISHES)
    again = open_index(cfg, progress=False)  # built once: the same file, not rebuilt
    assert again.path == index.path and again.meta == index.meta


def test_the_target_and_its_near_duplicates_are_never_retrieved(index):
    keys = exclusion_keys("Spinach Feta Omelette", ["eggs", "spinach", "feta", "onion"])
    found = titles(index.search("eggs, spinach, feta, onion", 10, exclude=keys))
    assert found, "other recipes still match"
    assert not {"Spinach Feta Omelette", "Omelette Feta Spinach", "Greek Egg Bake"} & set(found)
    # without the exclusion all three are the best matches
    assert {"Spinach Feta Omelette", "Greek Egg Bake"} <= set(titles(index.search("eggs, spinach, feta, onion", 3)))


def test_training_prompts_never_show_held_out_recipes(cfg, index):
    splits = dict(index.db.execute("SELECT split, count(*) FROM recipes GROUP BY split").fetchall())
    assert splits["test"] == 2 and splits["validation"] == 2
    held = {
        t for (t,) in index.db.execute("SELECT json_extract(record, '$.title') FROM recipes WHERE split != 'train'")
    }
    for title, ner in DISHES:
        msgs, refs = grounded_messages(cfg, index, ner, title, exclude_keys=exclusion_keys(title, ner))
        assert not held & {r.title for r in refs}, title
        assert all(r.title != title for r in refs)
        if refs:
            assert cfg.grounding.intro in msgs[-1]["content"]


def test_the_held_out_split_matches_prepare(cfg, index):
    """The index's test split is prepare's: the same recipes, by the same hash split."""
    from chefbot.data.prepare import load_eval_items

    items = load_eval_items(cfg.model_copy(update={"grounding": GroundingConfig()}), "test")
    in_index = {
        json.loads(r)["id"] for (r,) in index.db.execute("SELECT record FROM recipes WHERE split = 'test'").fetchall()
    }
    assert {it["id"] for it in items} == in_index


HOSTILE = [
    "",
    "   ",
    '"',
    '""""',
    "'; DROP TABLE recipes; --",
    "NEAR(eggs spinach)",
    "eggs AND OR NOT",
    "title:eggs",
    "^eggs*",
    "(((",
    "eggs - spinach + {feta}",
    "crème brûlée, jalapeño, 豆腐, 🍳",
    "\x00\x01 eggs",
    "_ __ ___",
    "a" * 5000,
    " ".join(f"w{i}" for i in range(500)),
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_query_text_never_errors(index, text):
    hits = index.search(text, 3)
    assert isinstance(hits, list) and len(hits) <= 3
    q = fts_query(text)
    assert q is None or all(part.startswith('"') and part.endswith('"') for part in q.split(" OR "))


def test_prompt_block_is_capped():
    long = Recipe(
        title="Very Long Stew",
        ingredients=[f"{i} cups of something rather long" for i in range(40)],
        directions=["Stir the pot slowly and patiently. " * 30],
    )
    g = GroundingConfig(enabled=True, k=3, max_chars=120)
    assert len(reference_text(long, 120)) <= 120
    block = references_block([long] * 3, g)
    assert block.startswith(g.intro)
    assert len(block) <= len(g.intro) + 3 * (120 + 4)
    short = Recipe(title="Toast", ingredients=["1 slice bread"], directions=["Toast it."])
    assert reference_text(short, 120) == "Toast: 1 slice bread. Steps: Toast it."


def test_grounding_off_leaves_the_prompt_unchanged(cfg, index):
    off = cfg.model_copy(update={"grounding": GroundingConfig()})
    msgs, refs = grounded_messages(off, index, ["eggs", "spinach"], "Omelette")
    assert refs == [] and msgs == request_messages(["eggs", "spinach"], off.prompt, title="Omelette")


def test_library_hits_merge_with_the_corpus(index):
    mine = Recipe(
        title="Grandma's Guacamole",
        ingredients=["2 avocados", "1 lime", "cilantro", "onion"],
        directions=["Mash."],
        id="library:7",
        source="library",
    )
    db = memory_index([mine])
    lib = bm25_search(db, "avocado, lime, cilantro, onion", 3)
    corpus = index.search("avocado, lime, cilantro, onion", 3)
    merged = merge_hits("avocado, lime, cilantro, onion", 3, lib, corpus)
    assert len(merged) == 3
    assert {h.recipe.id for h in merged[:2]} == {"library:7", "t:8"}  # both cover every word of the request
    assert bm25_search(db, '"NEAR( ^', 3) == []


def test_index_file_is_read_only_and_named_by_corpus(cfg, index, tmp_path):
    assert index.path.name.startswith("retrieval-") and index.path.parent == Path(cfg.data.cache_dir)
    assert not list(index.path.parent.glob(".*.tmp"))  # written through a temporary file, renamed
    other = load_config(None, [*_overrides(cfg), "data.seed=5"])
    assert open_index(other, progress=False).path != index.path  # another split: another index
    with pytest.raises(Exception):
        CorpusIndex(index.path).db.execute("DELETE FROM recipes")


def _overrides(cfg) -> list[str]:
    return [
        f"data.source={cfg.data.source}",
        f"data.cache_dir={cfg.data.cache_dir}",
        "data.val_size=2",
        "data.test_size=2",
    ]


def test_prepare_grounds_training_and_held_out_prompts(make_cfg, qwen_tokenizer, tmp_path):
    """grounding.enabled: training rows hold retrieved recipes, never a held-out one nor the row's own
    recipe; held-out items name the recipes their prompt was given; off, no prompt has a block."""
    from chefbot.data.prepare import load_eval_items, prepare

    src = write_corpus(tmp_path / "c.jsonl")
    cfg = make_cfg(src, "data.val_size=2", "data.test_size=2", "data.max_length=512", "grounding.enabled=true")
    p = prepare(cfg, qwen_tokenizer, progress=False)
    index = open_index(cfg, progress=False)
    held = {
        t for (t,) in index.db.execute("SELECT json_extract(record, '$.title') FROM recipes WHERE split != 'train'")
    }
    texts = [qwen_tokenizer.decode(row["input_ids"]) for row in p.train]
    blocks = [
        b.split(cfg.grounding.intro, 1)[1].split("<|im_end|>", 1)[0]
        for t in texts
        for b in [t]
        if cfg.grounding.intro in t
    ]
    assert blocks, "training prompts hold retrieved recipes"
    for block in blocks:
        for title in held:
            assert f". {title}:" not in block, title
    items = load_eval_items(cfg, "test")
    for it in items:
        refs = {r["title"] for r in it["references"]}
        assert it["title"] not in refs and not (held & refs)
        assert all(f"{r}:" in it["messages"][-1]["content"] for r in refs)
    off = make_cfg(src, "data.val_size=2", "data.test_size=2", "data.max_length=512")
    assert all(cfg.grounding.intro not in it["messages"][-1]["content"] for it in load_eval_items(off, "test"))
    assert prepare(off, qwen_tokenizer, progress=False).cache_dir != p.cache_dir  # grounding is in the key


def test_constraint_requests_keep_the_items_grounding(cfg, index):
    """evaluate/constraint_eval.py builds its requests from a held-out item with the recipes that item's
    prompt was given (``item_references``), so a grounded own-label request is the item's own prompt."""
    from chefbot.cooking.recipe_constraints import RecipeConstraints
    from chefbot.data.records import to_record
    from chefbot.evaluate.constraint_eval import constraint_items

    c = cfg.model_copy(update={"prompt": cfg.prompt.model_copy(update={"constraints": "Must be: {constraints}."})})
    title, ner = "Tomato Soup", ["tomato", "onion", "garlic", "stock"]
    cf = RecipeConstraints(diets=["vegan"])
    msgs, refs = grounded_messages(c, index, ner, title, cf, exclude_keys=exclusion_keys(title, ner))
    assert refs and all(r.title != title for r in refs)
    item = {
        "id": "t:4",
        "title": title,
        "ner": ner,
        "messages": msgs,
        "reference": Recipe(title=title, ingredients=["1 cup chicken stock"], directions=["Simmer."]).render(),
        "references": [to_record(r) for r in refs],
        "labels": None,
    }
    asks = constraint_items(
        c.model_copy(update={"eval": c.eval.model_copy(update={"counterfactual_items": 1})}), [item], []
    )
    assert asks and all(f"{r.title}:" in a["messages"][-1]["content"] for a in asks for r in refs)
