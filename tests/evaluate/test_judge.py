"""Pairwise judge: both orders asked, position bias cancels, counts with intervals."""

from __future__ import annotations

import json

import httpx
import openai

from chefbot.evaluate.judge import item_outcome, judge_files, parse_verdict
from chefbot.evaluate.predictions import write_predictions


def rows(model: str, preds: list[str]) -> list[dict]:
    return [
        {
            "id": f"r{k}",
            "inputs": {"ner": ["egg", "flour"], "title": "T"},
            "reference": "ref",
            "prediction": p,
            "model": model,
            "settings": {},
        }
        for k, p in enumerate(preds)
    ]


def test_verdict_parsing_and_outcomes():
    assert parse_verdict("A") == "A" and parse_verdict(" **B**.") == "B" and parse_verdict("tie") == "TIE"
    assert parse_verdict("I cannot decide") is None
    # Strict forms only: a final VERDICT line, a bare verdict, or JSON; prose is unparsable.
    assert parse_verdict("Both use eggs; B is clearer.\nVERDICT: B") == "B"
    assert parse_verdict("**Verdict:** tie") == "TIE" and parse_verdict('{"verdict": "a"}') == "A"
    assert parse_verdict("As a chef, I prefer B") is None
    assert parse_verdict("A is better") is None and parse_verdict("VERDICT: B\nActually, A.") is None
    assert item_outcome("B", "A") == 1.0  # B wins shown second and shown first
    assert item_outcome("A", "A") == 0.5  # always the first-shown recipe: position bias -> tie
    assert item_outcome("B", "TIE") == 1.0 and item_outcome("A", "B") == 0.0 and item_outcome(None, "A") is None


def test_judge_against_fake_server(tmp_path):
    """The fake judge prefers the recipe containing 'GOOD'; when neither, it always says A (pure position bias)."""
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        user = body["messages"][-1]["content"]
        seen.append(user)
        a_part, b_part = user.split("[Recipe B]")
        verdict = "A" if "GOOD" in a_part else "B" if "GOOD" in b_part else "A"
        return httpx.Response(
            200,
            json={
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": verdict}, "finish_reason": "stop"}
                ],
            },
        )

    client = openai.OpenAI(
        base_url="http://judge.test/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl"
    write_predictions(a, rows("base", ["plain", "plain", "GOOD", "plain"]))
    write_predictions(b, rows("tuned", ["GOOD", "GOOD", "plain", "plain"]))
    res = judge_files(
        a, b, "http://judge.test/v1", "judge-model", tmp_path / "out", client=client, cache_dir=tmp_path / "cache"
    )
    assert len(seen) == 8  # every item asked in both orders
    assert (res["wins"], res["ties"], res["losses"], res["n"]) == (2, 1, 1, 4)  # item 4: bias only -> tie
    assert res["win_rate"]["mean"] == (2 + 0.5) / 4 and res["win_rate"]["low"] <= res["win_rate"]["mean"]
    assert 0 < res["shares"]["wins"]["low"] < 0.5 < res["shares"]["wins"]["high"]
    assert res["position_consistency"] == 0.75
    assert res["a"] == "base" and res["b"] == "tuned" and res["judge_model"] == "judge-model"
    md = (tmp_path / "out" / "judge.md").read_text()
    assert "| wins | 2 (50.0%" in md and "| unparsable replies | 0 of 8" in md
    assert res["unparsable"] == 0
    # rerun: answered from the cache
    judge_files(
        a, b, "http://judge.test/v1", "judge-model", tmp_path / "out", client=client, cache_dir=tmp_path / "cache"
    )
    assert len(seen) == 8


def test_unparsable_replies_are_counted_not_guessed(tmp_path):
    replies = iter(["VERDICT: B", "As a chef, I prefer B", "VERDICT: A", "VERDICT: B"])

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(
            200,
            json={
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": next(replies)}, "finish_reason": "stop"}
                ],
            },
        )

    client = openai.OpenAI(
        base_url="http://judge.test/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_predictions(a, rows("base", ["x", "y"]))
    write_predictions(b, rows("tuned", ["x2", "y2"]))
    res = judge_files(a, b, "http://judge.test/v1", "j", tmp_path / "out", client=client, cache_dir=None, concurrency=1)
    assert res["unparsable"] == 1 and res["invalid"] == 1 and res["n_judged"] == 1
    assert "| unparsable replies | 1 of 4" in (tmp_path / "out" / "judge.md").read_text()
