"""The llamacpp engine's probe (``chefbot.generate.engine_probe``): never load an engine that crashes.

A native llama.cpp build segfaulted at its first forward pass on Intel Xeons with AMX (issue 23).  The
machine these tests were written on has no AMX, so the crash is forced: the probe's child command is
replaced by one that prints a line and kills itself with SIGSEGV.  Then ``auto`` must fall back to the
hf engine with one warning naming the signal and the last line, ``--engine llamacpp`` (serve and chat)
must exit 2 with that reason, and the verdict is cached per library build, CPU and GGUF.  With the real
llama-cpp-python (``make setup-llamacpp``; these tests run after its background build in ``make test``)
a passing probe runs in a child process once and is then read from its cache.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from serve_support import FastGenerator, serve_cfg

pytestmark = pytest.mark.llamacpp  # `make test` runs these once its background build of llama-cpp-python is done

CRASH = (
    "import os, signal, sys; print('load_tensors: AMX model buffer size = 1.23 MiB', file=sys.stderr, flush=True); "
    "os.kill(os.getpid(), signal.SIGSEGV)"
)


def need_llama_cpp() -> None:
    from chefbot.generate import llamacpp_available
    from chefbot.generate.llamacpp_engine import INSTALL_HINT

    if not llamacpp_available():
        if os.environ.get("CI"):
            pytest.fail(f"llama-cpp-python is not installed: {INSTALL_HINT}")
        pytest.skip(INSTALL_HINT)


@pytest.fixture
def probe_calls(monkeypatch):
    """Every probe child started (its command), through the real subprocess.run."""
    import chefbot.generate.engine_probe as ep

    calls: list[list[str]] = []
    real = subprocess.run

    def spy(cmd, *a, **kw):
        calls.append(list(cmd))
        return real(cmd, *a, **kw)

    monkeypatch.setattr(ep.subprocess, "run", spy)
    return calls


@pytest.fixture
def crashing_probe(monkeypatch, probe_calls):
    """A probe child that crashes as llama.cpp did on the AMX machine; llama-cpp-python counts as installed."""
    import torch

    import chefbot.generate as g
    import chefbot.generate.engine_probe as ep

    monkeypatch.setattr(ep, "probe_command", lambda gguf, threads, tokens: [sys.executable, "-c", CRASH])
    monkeypatch.setattr(
        ep,
        "library_identity",
        lambda: {"llama_cpp_python": "0.3.36", "libs": [{"name": "lib/libggml-cpu.so", "size": 1, "mtime_ns": 1}]},
    )
    monkeypatch.setattr(g, "llamacpp_available", lambda: True)
    monkeypatch.setattr(g, "vllm_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))  # restored afterwards
    return probe_calls


@pytest.fixture
def tiny_cfg(stopper_dir, tmp_path):
    cfg = serve_cfg(stopper_dir)
    cfg.model.cache_dir = str(tmp_path / "cache")
    return cfg


# ---------------------------------------------------------------------------------------------
# the record: CPU model and flags, the cache key
# ---------------------------------------------------------------------------------------------


def test_cpu_info_keeps_the_flags_that_decide_the_kernels(monkeypatch, tmp_path):
    import chefbot.generate.engine_probe as ep

    fake = tmp_path / "cpuinfo"
    fake.write_text(
        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Platinum 8481C CPU\n"
        "flags\t\t: fpu sse2 sse4_2 avx avx2 fma f16c avx512f avx512_vnni avx512_bf16 avx512_fp16 amx_bf16 "
        "amx_tile amx_int8 avx_vnni hypervisor pdpe1gb\n\nprocessor\t: 1\nmodel name\t: other\n"
    )
    monkeypatch.setattr(ep, "CPUINFO", fake)
    ep._read_cpu_info.cache_clear()
    try:
        info = ep.cpu_info()
    finally:
        ep._read_cpu_info.cache_clear()
    assert info["model"] == "Intel(R) Xeon(R) Platinum 8481C CPU" and info["amx"] is True
    assert info["flags"] == [
        "amx_bf16",
        "amx_int8",
        "amx_tile",
        "avx",
        "avx2",
        "avx512_bf16",
        "avx512_fp16",
        "avx512_vnni",
        "avx512f",
        "avx_vnni",
        "f16c",
        "fma",
        "sse4_2",
    ]
    real = ep.cpu_info()  # this machine: a copy each call, so a caller cannot change what /health reports
    real["flags"].append("x")
    assert "x" not in ep.cpu_info()["flags"]


def test_the_cache_key_changes_with_the_cpu_the_library_and_the_gguf(tmp_path):
    from chefbot.generate.engine_probe import probe_key

    gguf = tmp_path / "model-q8_0-abc.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 64)
    lib = {"llama_cpp_python": "0.3.36", "libs": [{"name": "lib/libggml-cpu.so", "size": 100, "mtime_ns": 1}]}
    cpu = {"model": "Intel Xeon", "arch": "x86_64", "flags": ["avx2", "avx512f"], "amx": False}
    key = probe_key(gguf, lib, cpu)
    assert probe_key(gguf, lib, dict(cpu)) == key and len(key) == 16
    assert probe_key(gguf, lib, {**cpu, "flags": ["amx_int8", "amx_tile", "avx2", "avx512f"], "amx": True}) != key
    assert probe_key(gguf, lib, {**cpu, "model": "AMD EPYC"}) != key
    assert probe_key(gguf, {**lib, "llama_cpp_python": "0.3.37"}, cpu) != key
    rebuilt = {**lib, "libs": [{"name": "lib/libggml-cpu.so", "size": 100, "mtime_ns": 2}]}
    assert probe_key(gguf, rebuilt, cpu) != key  # `make setup-llamacpp` with other flags: probed again
    os.utime(gguf, ns=(1, 1))
    assert probe_key(gguf, lib, cpu) != key
    other = tmp_path / "model-q4_0-def.gguf"
    other.write_bytes(gguf.read_bytes())
    os.utime(other, ns=(1, 1))
    assert probe_key(other, lib, cpu) != probe_key(gguf, lib, cpu)


def test_health_reports_the_cpu(stopper_dir):
    from fastapi.testclient import TestClient

    from chefbot.generate import cpu_info
    from chefbot.serve.app import create_app

    with TestClient(create_app(serve_cfg(stopper_dir), FastGenerator())) as client:
        h = client.get("/health").json()
    assert h["cpu"] == cpu_info() and h["cpu"]["model"] and isinstance(h["cpu"]["flags"], list)
    assert set(h["cpu"]) == {"model", "arch", "flags", "amx"}


# ---------------------------------------------------------------------------------------------
# a crashing engine: forced
# ---------------------------------------------------------------------------------------------


def test_a_crash_in_the_probe_is_a_cached_verdict_with_the_signal_and_last_line(crashing_probe, tmp_path):
    from chefbot.generate.engine_probe import probe_llamacpp

    gguf = tmp_path / "model-q8_0-abc.gguf"
    gguf.write_bytes(b"GGUF")
    v = probe_llamacpp(gguf, 2)
    assert not v.ok and not v.cached and v.returncode == -signal.SIGSEGV and len(crashing_probe) == 1
    assert "SIGSEGV" in v.reason and "load_tensors: AMX model buffer size = 1.23 MiB" in v.reason
    assert "make setup-llamacpp" in v.reason  # AMX named in the output: the fix is named too
    again = probe_llamacpp(gguf, 2)
    assert again.cached and not again.ok and again.reason == v.reason and len(crashing_probe) == 1
    assert again.cache_file == str(tmp_path / "engine-probe" / f"{v.key}.json")
    assert not [p for p in (tmp_path / "engine-probe").iterdir() if p.suffix != ".json"]  # written atomically


def test_a_timeout_or_sigkill_is_not_cached(monkeypatch, probe_calls, tmp_path):
    import chefbot.generate.engine_probe as ep

    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(ep, "probe_command", lambda *a: [sys.executable, "-c", "import time; time.sleep(30)"])
    v = ep.probe_llamacpp(gguf, 1, timeout_s=1)
    assert not v.ok and "did not finish in 1 s" in v.reason and v.cache_file is None
    monkeypatch.setattr(ep, "probe_command", lambda *a: [sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"])
    v = ep.probe_llamacpp(gguf, 1)
    assert not v.ok and "SIGKILL" in v.reason and v.cache_file is None
    assert not (tmp_path / "engine-probe").exists() and len(probe_calls) == 2


def test_auto_falls_back_to_hf_with_one_warning(crashing_probe, tiny_cfg, capsys):
    from chefbot.generate import make_generator

    gen = make_generator(tiny_cfg, None, purpose="serving")
    err = capsys.readouterr().err
    assert gen.backend == "hf" and len(crashing_probe) == 1
    assert err.count("warning:") == 1 and "SIGSEGV" in err and "AMX model buffer" in err and "hf engine" in err
    gen = make_generator(tiny_cfg, None, purpose="serving")  # the cached verdict: no second child, the same one warning
    err = capsys.readouterr().err
    assert gen.backend == "hf" and len(crashing_probe) == 1 and err.count("warning:") == 1 and "SIGSEGV" in err
    hf = tiny_cfg.model_copy(update={"engine": tiny_cfg.engine.model_copy(update={"kind": "hf"})})
    assert make_generator(hf, None, purpose="serving").backend == "hf"  # an explicit hf never probes
    assert "warning" not in capsys.readouterr().err and len(crashing_probe) == 1


@pytest.mark.parametrize("command", ["serve", "chat"])
def test_engine_llamacpp_exits_2_with_the_reason(crashing_probe, stopper_dir, tmp_path, monkeypatch, capsys, command):
    import chefbot.cli

    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: t\nmodel:\n  name_or_path: {stopper_dir}\n  cache_dir: {tmp_path / 'cache'}\n"
        "train:\n  precision: fp32\n"
    )
    args = [command, str(config), "--engine", "llamacpp"] + (
        ["--db", str(tmp_path / "k.db")] if command == "serve" else []
    )
    monkeypatch.setattr(sys, "argv", ["chefbot", *args])
    with pytest.raises(SystemExit) as e:
        chefbot.cli.main()
    err = " ".join(capsys.readouterr().err.split())
    assert e.value.code == 2 and len(crashing_probe) == 1
    assert "does not run on this machine" in err and "SIGSEGV" in err and "AMX model buffer" in err
    assert "--engine hf" in err and "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# the real engine
# ---------------------------------------------------------------------------------------------


def test_a_passing_probe_runs_in_a_child_once_then_the_engine_loads(tiny_cfg, probe_calls):
    need_llama_cpp()
    from chefbot.generate import LlamaCppGenerator
    from chefbot.generate.engine_probe import PROBE_SCRIPT, probe_llamacpp
    from chefbot.generate.gguf import cached_gguf
    from chefbot.generate.llamacpp_engine import probe_engine

    gguf = cached_gguf(tiny_cfg, None, "q8_0")
    v = probe_llamacpp(gguf, 1)
    assert v.ok, v.reason
    assert not v.cached and len(probe_calls) == 1 and probe_calls[0][:3] == [sys.executable, "-c", PROBE_SCRIPT]
    assert v.library and v.library["llama_cpp_python"] and any("ggml" in x["name"] for x in v.library["libs"])
    again = probe_engine(tiny_cfg, quant="q8_0")  # the cached verdict: no second child
    assert again.ok and again.cached and len(probe_calls) == 1
    gen = LlamaCppGenerator.from_config(tiny_cfg, quant="q8_0", contexts=1)
    try:
        assert gen.generate([[{"role": "user", "content": "Rice?"}]])[0].text == "Chop the rice"
    finally:
        gen.close()
    assert len(probe_calls) == 1
    os.utime(gguf)  # another GGUF file (here: its mtime): probed again
    assert probe_llamacpp(gguf, 1).ok and len(probe_calls) == 2


def test_serving_with_llamacpp_probes_and_fingerprints_once(tiny_cfg, probe_calls, monkeypatch):
    """`chefbot serve --engine llamacpp` hashes the weights into the GGUF's fingerprint and asks the probe once per
    start, not once to choose the engine and again to load it (the base's weights are hashed by content: seconds
    for a 1.5B model)."""
    need_llama_cpp()
    import chefbot.generate.gguf as gguf_module
    from chefbot.generate import make_generator

    fingerprints = []
    real = gguf_module.gguf_fingerprint
    monkeypatch.setattr(gguf_module, "gguf_fingerprint", lambda *a: fingerprints.append(a) or real(*a))
    cfg = tiny_cfg.model_copy(
        update={"engine": tiny_cfg.engine.model_copy(update={"kind": "llamacpp", "quantization": "q8_0"})}
    )
    gen = make_generator(cfg, None, purpose="serving")
    try:
        assert gen.backend == "llamacpp" and len(fingerprints) == 1 and len(probe_calls) <= 1
    finally:
        gen.close()


def test_this_build_has_no_amx():
    """`make setup-llamacpp` compiles llama.cpp without its AMX path, on every x86 CPU (docs/SERVING.md)."""
    need_llama_cpp()
    r = subprocess.run(
        [sys.executable, "-c", "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "AMX" not in r.stdout, r.stdout
