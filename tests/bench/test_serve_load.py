"""bench/serve_load.py --quick: the real `chefbot serve` on loopback, every request accounted for.

The model is the tiny random Qwen2 of tests/conftest.py (same code path as the quickstart
model, seconds instead of a minute on 2 busy cores).
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.shared  # the tiny model uses the real Qwen2.5 tokenizer from ../shared


def test_quick_run_answers_every_request(bench_module, tiny_qwen_dir, tmp_path):
    sl = bench_module("serve_load")
    out = tmp_path / "serve_load_quick.json"
    report = sl.main(["--quick", "--override", f"model.name_or_path={tiny_qwen_dir}", "--out", str(out)])

    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(report))
    assert (tmp_path / "serve_load_quick.server.log").stat().st_size > 0
    assert saved["quick"] is True and saved["clients"] == 2 and saved["max_tokens"] == 8 and saved["mode"] == "mixed"
    assert saved["startup_s"] > 0 and saved["max_concurrency"] >= 1 and saved["capacity"] >= saved["max_concurrency"]
    s = saved["summary"]
    # nothing lost or refused at this load: 4 sent, 4 answered
    assert (s["sent"], s["answered"], s["rejected"], s["failed"]) == (4, 4, 0, 0)
    reqs = saved["requests"]
    assert sorted(r["i"] for r in reqs) == [0, 1, 2, 3] and all(r["status"] == 200 for r in reqs)
    assert all(1 <= r["tokens"] <= 8 for r in reqs)
    assert s["completion_tokens"] == sum(r["tokens"] for r in reqs)
    assert all(0 < r["latency"] <= s["wall_s"] for r in reqs)
    streamed = [r for r in reqs if r["stream"]]
    assert 0 < len(streamed) < 4  # mixed mode, seed 0: both kinds
    assert all(0 < r["ttft"] <= r["latency"] for r in streamed if "ttft" in r)
    assert s["ttft_n"] == sum("ttft" in r for r in streamed) >= 1
    assert 0 < s["latency_p50_s"] <= s["latency_p95_s"] <= s["wall_s"]
    assert s["tokens_per_s"] > 0
    # the server counted them too: the warm-up request plus the four
    assert saved["server"]["answered"] == 5 and saved["server"]["failed"] == 0
    m = saved["memory"]  # the server's resident memory, sampled from warm-up to the end
    assert m["samples"] >= 2 and m["rss_start_mb"] > 50 and m["rss_max_mb"] >= max(m["rss_start_mb"], m["rss_end_mb"])
    assert len(m["series"]) == m["samples"]


def test_latency_interval_resamples_requests_through_the_one_resampler(bench_module):
    """bootstrap_ci draws its resamples with stats.resample_indices: seeded, within the data, around the median."""
    sl = bench_module("serve_load")
    lat = [0.1 * k for k in range(1, 41)]
    low, high = sl.bootstrap_ci(lat, 50, n=500, seed=1)
    assert min(lat) <= low <= sl.pct(lat, 50) <= high <= max(lat) and low < high
    assert sl.bootstrap_ci(lat, 50, n=500, seed=1) == [low, high]
    assert sl.bootstrap_ci([0.3] * 5, 95) == [0.3, 0.3] and sl.bootstrap_ci([0.3], 50) is None
