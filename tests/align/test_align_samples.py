"""Sampling saves each request's answers as they come, and a killed run resumes without resampling them."""

from __future__ import annotations

import json

import pytest

from chefbot.align.samples import check_settings, read_done, sample_answers
from chefbot.errors import ChefbotError
from chefbot.generate import Completion

RECIPE = "# Soup\n\n## Ingredients\n- 1 onion\n\n## Directions\n1. Simmer the onion in water for 20 minutes."


class FakeGenerator:
    """Answers every prompt with a text naming the prompt and the seed; counts what it was asked."""

    def __init__(self):
        self.asked: list[tuple[str, int]] = []

    def generate(self, batch, settings_override=None, on_result=None, cancel=None):
        seed = settings_override["seed"]
        self.asked += [(m[-1]["content"], seed) for m in batch]
        return [Completion(f"{RECIPE}\n{m[-1]['content']} {seed}", "stop", 5, 9) for m in batch]

    def describe(self, settings_override=None):
        return {"backend": "fake"}


def requests(n: int) -> list[dict]:
    return [
        {"id": f"r{i}", "messages": [{"role": "user", "content": f"q{i}"}], "constraints": {}, "ner": ["onion"]}
        for i in range(n)
    ]


def test_sampling_resumes_without_resampling(tmp_path):
    out = tmp_path / "samples.jsonl"
    first = FakeGenerator()
    rows, described = sample_answers(lambda: first, requests(3), out, k=2, seed=10, batch=2)
    assert described == {"backend": "fake"}
    assert first.asked == [("q0", 10), ("q1", 10), ("q0", 11), ("q1", 11), ("q2", 10), ("q2", 11)]
    assert [a["seed"] for a in rows[0]["answers"]] == [10, 11]
    assert rows[0]["answers"][0]["score"]["form"] == 1.0  # scored as they come
    # a kill while writing the third line leaves it cut short; the next run drops it and samples only that one
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:2]) + lines[2][:40])
    second = FakeGenerator()
    rows2, _ = sample_answers(lambda: second, requests(4), out, k=2, seed=10, batch=2)
    assert sorted({q for q, _ in second.asked}) == ["q2", "q3"]
    assert [r["id"] for r in rows2] == ["r0", "r1", "r2", "r3"]
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["r0", "r1", "r2", "r3"]
    # everything done: no generator is made at all
    rows3, described3 = sample_answers(lambda: pytest.fail("made a generator"), requests(4), out, k=2, seed=10)
    assert rows3 == rows2 and described3 is None
    assert len(read_done(out)) == 4


def test_other_settings_are_refused_on_resume(tmp_path):
    path = tmp_path / "samples_settings.json"
    check_settings(path, {"temperature": 0.9, "adapter": {"sha": "a"}})
    check_settings(path, {"temperature": 0.9, "adapter": {"sha": "a"}})  # the same: fine
    with pytest.raises(ChefbotError, match=r"samples_settings.json.*other settings \(adapter\)"):
        check_settings(path, {"temperature": 0.9, "adapter": {"sha": "b"}})
