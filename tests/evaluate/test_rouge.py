"""Our fast ROUGE equals Google's rouge-score exactly; Lsum splits sentences; empty scores zero."""

from __future__ import annotations

import json
import random

import pytest
from rouge_score import rouge_scorer

from chefbot.evaluate.rouge import lcs_length, lsum_text, rouge_items, tokens

TEXTS = [
    (
        "The cat sat on the mat. It was happy!\nThen it left.",
        "A cat sat on a mat; it was very happy. Then it ran away.",
    ),
    ("1. Preheat oven to 350°F.\n2. Mix flour and sugar.", "Preheat the oven. Mix the flour with sugars and bake."),
    ("running runs ran", "run runner running"),
    ("", "something"),
    ("something", ""),
    ("!!!", "??"),
]


def _reference(pairs, stem):
    sc = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=stem)
    out = {t: [] for t in ("rouge1", "rouge2", "rougeL", "rougeLsum")}
    for ref, pred in pairs:
        a = sc.score(ref, pred)
        b = sc.score(lsum_text(ref), lsum_text(pred))
        for t in ("rouge1", "rouge2", "rougeL"):
            out[t].append(a[t].fmeasure)
        out["rougeLsum"].append(b["rougeLsum"].fmeasure)
    return out


def _assert_same(pairs, stem):
    ours = rouge_items([r for r, _ in pairs], [p for _, p in pairs], stem)
    ref = _reference(pairs, stem)
    for t in ref:
        for k, (a, b) in enumerate(zip(ref[t], ours[t])):
            assert a == pytest.approx(b, abs=1e-12), (t, k, pairs[k])


@pytest.mark.parametrize("stem", [False, True])
def test_equal_to_rouge_score_on_small_texts(stem):
    _assert_same(TEXTS, stem)


@pytest.mark.parametrize("stem", [False, True])
def test_equal_to_rouge_score_on_reference_outputs(shared_dir, stem):
    rows = []
    base = shared_dir / "data/qwen-qlora-chef/Rouge_Scores"
    for f in sorted(base.glob("*/*.jsonl")):
        rows += [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    random.Random(int(stem)).shuffle(rows)  # 10 pairs: rouge-score itself is slow
    _assert_same([(r["reference_full"], r["prediction"]) for r in rows[:10]], stem)


def test_tokens_match_rouge_score_tokenizer():
    from rouge_score import tokenizers

    for stem in (False, True):
        tk = tokenizers.DefaultTokenizer(stem)
        for text in ["Crème brûlée: 2 cups (480ml) of cream; İstanbul-style!", "tomatoes TOMATO's stirring"]:
            assert tokens(text, stem) == tk.tokenize(text)


def test_lcs_length_bit_parallel():
    rng = random.Random(1)
    for _ in range(200):
        a = [rng.choice("abcde") for _ in range(rng.randint(0, 30))]
        b = [rng.choice("abcde") for _ in range(rng.randint(0, 30))]
        table = rouge_scorer._lcs_table(a, b)
        assert lcs_length(a, b) == table[-1][-1]


def test_lsum_needs_sentence_split():
    # Without splitting, a one-line text is a single "sentence" and Lsum degenerates to L.
    assert lsum_text("Mix it. Bake it! Serve?\nDone") == "Mix it.\nBake it!\nServe?\nDone"
    ref = "Mix the flour and water. Knead for ten minutes. Let it rest."
    pred = "Let it rest. Knead for ten minutes. Mix the flour and water."
    out = rouge_items([ref], [pred], False, ("rougeL", "rougeLsum"))
    assert out["rougeLsum"][0] == pytest.approx(1.0)
    assert out["rougeL"][0] < 0.6


def test_empty_prediction_scores_zero():
    out = rouge_items(["a real recipe"], [""], True)
    assert all(v == [0.0] for v in out.values())
