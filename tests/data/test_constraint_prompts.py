"""Training prompts with constraints (data/constraint_prompts.py, issue 15): each recipe asks for
a deterministic random subset of its TRUE labels, the cache changes with the settings, and
prepare records label coverage for `chefbot data inspect`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from rich.console import Console

from chefbot.chat import request_messages
from chefbot.config import PromptConfig
from chefbot.cooking.recipe_constraints import RecipeConstraints, check_recipe
from chefbot.data.cache import fingerprint, read_eval_items
from chefbot.data.constraint_prompts import record_labels, sampled_constraints
from chefbot.data.inspect import print_summary
from chefbot.data.prepare import prepare
from chefbot.data.sources import resolve_data_source
from chefbot.data.tokenize import messages_for
from chefbot.recipe_format import Recipe

TEMPLATE = "The recipe must be: {constraints}."


def records(shared_dir: Path, n: int = 200) -> list[Recipe]:
    with open(shared_dir / "data" / "recipenlg" / "first_1000.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:n]
    return [
        Recipe(
            id=r["Unnamed: 0"],
            title=r["title"],
            ingredients=json.loads(r["ingredients"]),
            ner=json.loads(r["NER"]),
            directions=json.loads(r["directions"]),
        )
        for r in rows
    ]


def test_sampled_constraints_are_true_deterministic_and_follow_the_probability(shared_dir):
    recs = records(shared_dir)
    half = PromptConfig(constraints=TEMPLATE, constraint_prob=0.5)
    asked = 0
    for r in recs:
        labels = record_labels(r)
        c = sampled_constraints(r, labels, half, seed=7)
        assert c == sampled_constraints(r, labels, half, seed=7)  # the same every run
        if c is not None:
            asked += len(c.phrases())
            assert all(k.satisfied for k in check_recipe(r.title, r.ingredients, r.directions, c)), r.title
            assert set(c.diets) <= set(labels.diets)
    every = PromptConfig(constraints=TEMPLATE, constraint_prob=1.0)
    n_labels = sum(len(sampled_constraints(r, record_labels(r), every, 7).phrases()) for r in recs)
    assert 0.4 * n_labels < asked < 0.6 * n_labels  # each label kept with probability 0.5
    seeds = [[sampled_constraints(r, record_labels(r), half, s) for r in recs[:40]] for s in (7, 8)]
    assert seeds[0] != seeds[1]
    assert (
        sampled_constraints(recs[0], record_labels(recs[0]), PromptConfig(constraints=TEMPLATE, constraint_prob=0), 7)
        is None
    )


def test_labelling_time_only_where_asked_gives_the_same_prompts(shared_dir):
    """record_labels with the prompt skips the step reader for recipes whose prompt asks neither
    time nor difficulty; every prompt is the one that labelling everything gives."""
    half = PromptConfig(constraints=TEMPLATE, constraint_prob=0.5)
    skipped = 0
    for r in records(shared_dir):
        full, lean = record_labels(r), record_labels(r, half, 7)
        assert sampled_constraints(r, lean, half, 7) == sampled_constraints(r, full, half, 7)
        assert lean.diets == full.diets and lean.cuisine == full.cuisine
        if not lean.timed:
            skipped += 1
            assert lean.total_minutes is None and lean.difficulty is None
        else:
            assert (lean.total_minutes, lean.difficulty) == (full.total_minutes, full.difficulty)
    assert 20 < skipped < 80  # about 1 in 4 of 200 asks for neither at 0.5


def test_messages_for_off_is_the_reference_prompt(shared_dir):
    r = records(shared_dir, 1)[0]
    assert messages_for(r, PromptConfig(), seed=7) == messages_for(r, PromptConfig(constraint_prob=1.0), seed=7)
    on = messages_for(r, PromptConfig(constraints=TEMPLATE, constraint_prob=1.0), seed=7)
    assert "\nThe recipe must be: " in on[-1]["content"]


def test_prepare_with_constraints(make_cfg, shared_dir, qwen_tokenizer):
    src = shared_dir / "data" / "recipenlg" / "first_1000.csv"
    cfg = make_cfg(
        src,
        f"prompt.constraints={TEMPLATE}",
        "prompt.constraint_prob=0.5",
        "data.max_train=300",
        "data.val_size=20",
        "data.test_size=20",
    )
    off = make_cfg(src, "data.max_train=300", "data.val_size=20", "data.test_size=20")
    spec = resolve_data_source(str(src))
    fps = {
        fingerprint(cfg, qwen_tokenizer, spec),
        fingerprint(off, qwen_tokenizer, spec),
        fingerprint(
            cfg.model_copy(update={"prompt": cfg.prompt.model_copy(update={"constraint_prob": 0.3})}),
            qwen_tokenizer,
            spec,
        ),
    }
    assert len(fps) == 3  # the cache changes with each setting
    p = prepare(cfg, qwen_tokenizer, progress=False)
    lab = p.stats["labels"]
    assert lab["recipes"] == p.stats["kept_after_dedup"]
    # time and difficulty are computed only where a prompt asks for one (3 in 4 at 0.5: issue 25's cost)
    assert 0.6 < lab["time_labelled"] / lab["recipes"] < 0.9
    assert 0.2 < lab["diets"]["vegetarian"]["share"] < 0.9 and lab["timed"] > 0.95 * lab["time_labelled"]
    assert 0.6 < lab["prompts_with_constraints"] / lab["recipes"] < 1.0
    texts = [qwen_tokenizer.decode(row["input_ids"]) for row in p.train]
    assert sum(t.count("The recipe must be: ") for t in texts) > 100
    items = read_eval_items(p.cache_dir, "test")
    assert len(items) == 20 and all("diets" in it["labels"] for it in items)
    console = Console(record=True, width=200)
    print_summary(p, console=console)
    out = console.export_text()
    assert "labels (kept recipes)" in out and "difficulty easy / medium / hard" in out
    # without constraints: no labelling in the pass, inspect reads the held-out items' labels
    p_off = prepare(off, qwen_tokenizer, progress=False)
    assert p_off.stats["labels"] is None
    console = Console(record=True, width=200)
    print_summary(p_off, console=console)
    assert "held-out recipes only" in console.export_text()


def test_fast_encoder_equals_reference_on_constraint_prompts(qwen_tokenizer, shared_dir):
    """Pitfall 5 with constraint lines in the user turn (new text after a new line, and the
    substitution sentence): the fast batched encoder gives encode_example's ids and labels."""
    from chefbot.data.chat_encoder import ChatEncoder
    from chefbot.data.tokenize import encode_example, target_for

    on = PromptConfig(constraints=TEMPLATE, constraint_prob=0.7)
    recs = records(shared_dir, 40)
    conv = [(messages_for(r, on, seed=3), target_for(r)) for r in recs]
    conv.append((request_messages(["chicken", "rice"], on, constraints=RecipeConstraints(diets=["vegan"])), "# Rice"))
    assert sum("The recipe must be" in m[-1]["content"] for m, _ in conv) > 20
    assert "Replace the chicken with a vegan alternative." in conv[-1][0][-1]["content"]
    enc = ChatEncoder(qwen_tokenizer, 512)
    assert enc.encode_batch(conv) == [encode_example(m, t, qwen_tokenizer, 512) for m, t in conv]
    assert enc.mode == "pieces"


def test_a_draw_with_nothing_to_ask_is_none_and_asked_keys_are_plain_names(shared_dir):
    """The early return (no model built when nothing is asked) gives what building one gave:
    None exactly where the full construction would be empty; ``asked_keys`` names what is asked."""
    from chefbot.cooking.recipe_constraints import constraints_from_labels
    from chefbot.data.constraint_prompts import _SLOTS, _uniforms, asked_keys

    prompt = PromptConfig(constraints=TEMPLATE, constraint_prob=0.5)
    nones = 0
    for r in records(shared_dir):
        lab = record_labels(r)
        c = sampled_constraints(r, lab, prompt, seed=3)
        pick = dict(zip(_SLOTS, (u < 0.5 for u in _uniforms(r, 3))))
        full = constraints_from_labels(
            lab,
            diets=tuple(d for d in lab.diets if pick[d]),
            time=pick["time"],
            difficulty=pick["difficulty"],
            cuisine=pick["cuisine"],
            servings=pick["servings"],
        )
        assert (c is None) == full.is_empty()
        nones += c is None
        if c is not None:
            keys = asked_keys(c)
            assert set(keys) == set(c.diets) | {
                k for k in ("max_minutes", "difficulty", "cuisine", "servings") if getattr(c, k)
            }
    assert nones > 0 and asked_keys(None) is None
