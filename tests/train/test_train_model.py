"""Model loading (chefbot.model): sources, checksums, precision, bad input."""

from __future__ import annotations

import pytest

from chefbot.config import ModelConfig, load_config
from chefbot.errors import ChefbotError


def test_sha256_mismatch_is_refused(tmp_path):
    from chefbot.model import check_sha256, sha256_file

    f = tmp_path / "m.gguf"
    f.write_bytes(b"not a model")
    check_sha256(f, sha256_file(f))
    with pytest.raises(ChefbotError, match="sha256 is .* expected"):
        check_sha256(f, "0" * 64)


def test_shipped_gguf_checksum_is_known(smollm2_gguf):
    from chefbot.model import KNOWN_SHA256, sha256_file

    assert sha256_file(smollm2_gguf) == KNOWN_SHA256[smollm2_gguf.name]


def test_bad_sources_give_one_line(tmp_path):
    from chefbot.model import resolve_source

    for name, msg in [
        ("pkg:no-such-dist-xyz/model.gguf", "not installed"),
        (str(tmp_path / "missing.gguf"), "not found"),
        (str(tmp_path), "no config.json"),
        ("./not/here", "neither an existing path nor a hub id"),
    ]:
        with pytest.raises(ChefbotError, match=msg) as e:
            resolve_source(ModelConfig(name_or_path=name))
        assert "\n" not in str(e.value)


def test_precision_choices():
    import torch

    from chefbot.generate.engine_probe import cpu_info
    from chefbot.model import cpu_has_fast_bf16, resolve_dtype

    if not torch.cuda.is_available():
        assert resolve_dtype("auto") == (torch.bfloat16 if cpu_has_fast_bf16() else torch.float32)
        # this CPU's own feature bits (Linux's /proc/cpuinfo) agree: bf16 only with the instructions that multiply it
        flags = set(cpu_info()["flags"])
        if flags:
            assert cpu_has_fast_bf16() == bool(flags & {"avx512_bf16", "amx_bf16", "amx_tile"})
        with pytest.raises(ChefbotError, match="fp16 needs a GPU"):
            resolve_dtype("fp16")
    assert resolve_dtype("fp32") == torch.float32


def test_emulated_bf16_is_not_fast_bf16(monkeypatch):
    """oneDNN reports bf16 "supported" on any AVX-512 CPU (it emulates it there, matmuls about 4x slower than
    fp32): an Intel Xeon without AVX512-BF16 trained the quickstart in bf16 at 15 s a step instead of
    fp32's 5.5.  Only the CPU's feature bits count (torch.cpu)."""
    import torch

    import chefbot.model as model_module

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    for bf16, amx, fast in [(False, False, False), (True, False, True), (False, True, True)]:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=bf16: v, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v, raising=False)
        assert model_module.cpu_has_fast_bf16() is fast
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    assert model_module.cpu_has_fast_bf16() is False  # a torch without the helpers: fp32, never the slow choice


def test_4bit_without_bitsandbytes_is_a_clear_error(monkeypatch):
    import builtins

    from chefbot.model import quantization_config

    real_import = builtins.__import__

    def no_bnb(name, *a, **k):
        if name == "bitsandbytes":
            raise ImportError("no bitsandbytes")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_bnb)
    with pytest.raises(ChefbotError, match="needs bitsandbytes.*quant.mode=none"):
        quantization_config(load_config(None, ["quant.mode=nf4"]).quant)
