"""bench/llamacpp_threads.py: the arms' order, the threads setting per context, medians, ratios, what they support."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


def fake_round(serve_load, clients: int, tokens_per_s: float) -> dict:
    """``serve_load.summarize`` of ``clients`` answers of 100 tokens whose round took 100*clients/tokens_per_s s."""
    results = [{"status": 200, "tokens": 100, "latency": 1.0, "ttft": 0.1} for _ in range(clients)]
    return {
        "clients": clients,
        **serve_load.summarize(results, 100 * clients / tokens_per_s),
        "load": {"loadavg": [1.5, 1.0, 1.0], "at": "00:00:00"},
    }


def fake_runs(serve_load, speeds: dict[str, list[float]]) -> dict:
    """Per arm, one [1-client, 4-client] pair per repeat; the 4-client round twice the 1-client speed."""
    return {
        arm: [[fake_round(serve_load, 1, x), fake_round(serve_load, 4, 2 * x)] for x in xs]
        for arm, xs in speeds.items()
    }


def test_each_repeat_runs_every_arm_and_the_first_arm_rotates(bench_module):
    lt = bench_module("llamacpp_threads")
    orders = [lt.arm_order(r) for r in range(len(lt.ARMS))]
    assert all(sorted(o) == sorted(lt.ARMS) for o in orders)
    assert sorted(o[0] for o in orders) == sorted(lt.ARMS)  # each arm leads one repeat
    assert {("chefbot", 1), ("chefbot", 2), ("bare", 1), ("bare", 2)} == set(lt.ARMS)


@pytest.mark.parametrize("per_context,clients", [(1, 1), (2, 1), (1, 4), (2, 4)])
def test_the_setting_gives_each_busy_context_its_threads(bench_module, per_context, clients):
    """The override, split by the engine's own rule among ``clients`` busy contexts, is ``per_context`` each."""
    from chefbot.generate.llamacpp_engine import LlamaCppGenerator

    lt = bench_module("llamacpp_threads")
    key, value = lt.threads_setting("engine.threads", per_context, clients).split("=")
    assert key == "engine.threads"
    decoders = [SimpleNamespace(busy=True)] * clients + [SimpleNamespace(busy=False)] * (4 - clients)
    engine = SimpleNamespace(threads=int(value), _decoders=decoders, _all_decoders=decoders)
    assert LlamaCppGenerator._share(engine) == per_context


def test_the_threads_key_follows_the_config(bench_module):
    from chefbot.config import load_config

    lt = bench_module("llamacpp_threads")
    key = lt.THREADS_KEY
    section, field = key.split(".")
    assert getattr(getattr(load_config(None, [f"{key}=3"]), section), field) == 3  # a key the config takes


def test_medians_ratios_and_what_they_support(bench_module):
    lt, sl = bench_module("llamacpp_threads"), bench_module("serve_load")
    runs = fake_runs(
        sl,
        {
            "chefbot_1": [150.0, 140.0, 160.0],
            "chefbot_2": [100.0, 120.0, 110.0],
            "bare_1": [90.0, 80.0, 95.0],
            "bare_2": [85.0, 100.0, 70.0],
        },
    )
    speed, ratios = lt.summary(runs, [(1, 1), (4, 4)])
    assert speed["chefbot_1"]["1_clients"]["tokens_per_s"] == 150.0
    assert speed["chefbot_1"]["1_clients"]["tokens_per_s_repeats"] == [150.0, 140.0, 160.0]
    assert speed["chefbot_2"]["4_clients"]["tokens_per_s"] == 220.0
    one = ratios["1_clients"]
    assert one["chefbot_1_over_chefbot_2"] == {"median": 1.36, "per_repeat": [1.5, 1.17, 1.45]}
    assert one["chefbot_1_over_bare_1"]["median"] == round(150 / 90, 2)
    chefbot = lt.verdict(one["chefbot_1_over_chefbot_2"], "1 thread", "2 threads")
    assert chefbot == "1 thread faster in all 3 repeats (1.36×)"
    # bare: 90/85 > 1, 80/100 < 1, 95/70 > 1: the repeats disagree, so no thread count is called faster
    assert lt.verdict(one["bare_1_over_bare_2"], "1 thread", "2 threads").startswith("no consistent difference")
    slower = {"median": 0.8, "per_repeat": [0.8]}
    assert lt.verdict(slower, "1 thread", "2 threads") == "2 threads faster in the one repeat (1.25×)"


def test_the_rendered_section_names_the_cpu_the_arms_and_the_findings(bench_module):
    lt, sl = bench_module("llamacpp_threads"), bench_module("serve_load")
    runs = fake_runs(
        sl, {"chefbot_1": [150.0, 140.0], "chefbot_2": [100.0, 120.0], "bare_1": [90.0, 80.0], "bare_2": [85.0, 100.0]}
    )
    speed, ratios = lt.summary(runs, [(1, 1), (4, 4)])
    cpu = {"model": "Intel(R) Xeon(R) Platinum 8481C", "arch": "x86_64", "flags": ["avx2", "avx512f"], "amx": False}
    report = {
        "machine": {"cpu": cpu["model"], "cpu_info": cpu, "cpu_cores": 2},
        "written_at": "2026-12-07T00:00:00+0000",
        "command": "python bench/llamacpp_threads.py --adapter a",
        "cpu": cpu,
        "quant": "q8_0",
        "gguf": "m.gguf",
        "repeats": 2,
        "max_tokens": 160,
        "threads_key": "engine.threads",
        "rounds": [{"clients": 1, "requests": 1}, {"clients": 4, "requests": 4}],
        "speed": speed,
        "ratios": ratios,
        "runs": runs,
    }
    text = lt.render(report)
    assert text.startswith("### Intel(R) Xeon(R) Platinum 8481C (AVX2, AVX-512), 2026-12-07")
    assert text.count("| `chefbot serve --engine llamacpp` (q8_0) |") == 4
    assert text.count("| bare llama-cpp-python") == 4
    assert "**145.0** (150.0, 140.0)" in text
    assert "1 client(s): chefbot 1 thread faster in all 2 repeats" in text
    assert "bare llama-cpp-python no consistent difference" in text


def test_doc_section_refuses_a_quick_run(bench_module):
    lt = bench_module("llamacpp_threads")
    with pytest.raises(SystemExit, match="full runs only"):
        lt.main(["--quick", "--doc-section", "llamacpp-threads"])
