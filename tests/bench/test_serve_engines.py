"""bench/serve_engines.py: the CPU record and the per-CPU subsection it renders into docs/BENCHMARKS.md."""

from __future__ import annotations

import pytest


def fake_report(hf: float, llamacpp: float, bare: float) -> dict:
    def row(x: float) -> dict:
        return {
            "tokens_per_s": x,
            "tokens_per_s_repeats": [x, x],
            "ttft_p50_s": 0.1,
            "latency_p50_s": 1.0,
            "latency_p95_s": 1.2,
            "mean_tokens_per_answer": 150.0,
        }

    speed = {
        e: {"1_clients": row(x), "4_clients": row(x * 2)}
        for e, x in (("hf", hf), ("llamacpp", llamacpp), ("bare", bare))
    }
    ratios = {
        k: {
            "llamacpp_over_hf": round(llamacpp / hf, 2),
            "llamacpp_over_bare": round(llamacpp / bare, 2),
            "per_repeat_llamacpp_over_hf": [round(llamacpp / hf, 2)] * 2,
            "per_repeat_llamacpp_over_bare": [round(llamacpp / bare, 2)] * 2,
        }
        for k in ("1_clients", "4_clients")
    }
    load = {"loadavg": [1.0, 1.0, 1.0], "at": "00:00:00"}
    cpu = {
        "model": "Intel(R) Xeon(R) Platinum 8481C",
        "arch": "x86_64",
        "flags": ["amx_int8", "amx_tile", "avx2", "avx512_vnni", "avx512f"],
        "amx": True,
    }
    return {
        "machine": {"cpu": cpu["model"], "cpu_info": cpu, "cpu_cores": 2, "llama_cpp": {"build": "abc"}},
        "written_at": "2026-12-07T00:00:00+0000",
        "command": "python bench/serve_engines.py --name x",
        "quick": False,
        "cpu": cpu,
        "quant": "q8_0",
        "gguf": "model-q8_0-1.gguf",
        "bare_threads": 2,
        "repeats": 2,
        "max_tokens": 160,
        "rounds": [{"clients": 1, "requests": 4}, {"clients": 4, "requests": 8}],
        "speed": speed,
        "ratios": ratios,
        "runs": {"hf": [[{"load": load}]]},
        "load_after": load,
        "llamacpp_overrides": [],
        "llama_cpp_system_info": {"llama_cpp_python": "0.3.36", "system_info": "CPU : AVX2 = 1 | AVX512 = 1 |"},
        "llamacpp_probe": {"ok": True, "seconds": 0.9},
    }


def test_the_rendered_subsection_names_the_cpu_and_the_reason_below_5x(bench_module):
    se = bench_module("serve_engines")
    text = se.render(fake_report(hf=20.0, llamacpp=60.0, bare=64.0))
    assert text.startswith("### Intel(R) Xeon(R) Platinum 8481C (AVX2, AVX-512, AVX512-VNNI, AMX), 2026-12-07")
    assert "`amx_int8 amx_tile avx2 avx512_vnni avx512f`" in text and "AVX2 = 1" in text and "build `abc`" in text
    assert "≥ 0.9× bare met" in text and "below 5× hf because llama.cpp itself is" in text and "only 3.20×" in text
    fast = se.render(fake_report(hf=20.0, llamacpp=140.0, bare=90.0))
    assert "≥ 5× hf met" in fast and "below 5×" not in fast
    slow = se.render(fake_report(hf=20.0, llamacpp=60.0, bare=140.0))
    assert "≥ 0.9× bare **not met**" in slow and "to investigate" in slow


def test_a_cpu_block_is_rewritten_beside_the_other_cpus_run(bench_module, tmp_path):
    common, se = bench_module("common"), bench_module("serve_engines")
    doc = tmp_path / "docs" / "BENCHMARKS.md"
    doc.parent.mkdir()
    doc.write_text(
        "<!-- section:serving-engines -->\n## Serving engines\n\n<!-- section:serving-engines-intel-amx -->\n"
        "to be measured\n<!-- end:serving-engines-intel-amx -->\n\n### AMD EPYC\n148.5 tokens/s\n"
        "<!-- end:serving-engines -->\n"
    )
    report = fake_report(hf=20.0, llamacpp=60.0, bare=64.0)
    common.replace_section(
        "serving-engines-intel-amx", se.render(report), path=doc, results=report, results_name="serve_engines_intel_amx"
    )
    text = doc.read_text()
    assert "to be measured" not in text and "### AMD EPYC\n148.5 tokens/s" in text and "Platinum 8481C" in text
    assert (tmp_path / "docs" / "results" / "serve_engines_intel_amx.json").exists()
    assert text.count("<!-- section:serving-engines") == 2


def test_doc_section_refuses_a_quick_run(bench_module):
    se = bench_module("serve_engines")
    with pytest.raises(SystemExit, match="full runs only"):
        se.main(["--quick", "--doc-section", "serving-engines-intel-amx"])


def test_every_benchmark_json_records_the_cpu(bench_module, tmp_path):
    import json

    common = bench_module("common")
    path = common.write_json("x", {"value": 1}, out_dir=tmp_path)
    m = json.loads(path.read_text())["machine"]
    assert m["cpu"] == m["cpu_info"]["model"] and isinstance(m["cpu_info"]["flags"], list)
    assert set(m["cpu_info"]) == {"model", "arch", "flags", "amx"}
    assert common.cpu_features(m["cpu_info"]) in common.machine_line(m)
