"""``engine.dtype: auto`` per purpose (chefbot.model.inference_precision): bf16 for serving on a CPU with native
bf16, fp32 where exactness is the point, the training precision on a GPU."""

from __future__ import annotations

import pytest
import torch

import chefbot.model as model
from chefbot.errors import ChefbotError


@pytest.mark.parametrize(
    "native,purpose,expected",
    [
        (True, "serving", "bf16"),
        (False, "serving", "fp32"),
        (True, "exact", "fp32"),
        (False, "exact", "fp32"),
    ],
)
def test_auto_on_a_cpu(monkeypatch, native, purpose, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(model, "cpu_has_fast_bf16", lambda: native)
    assert model.inference_precision("auto", "bf16", purpose) == expected


def test_auto_on_a_gpu_is_the_training_precision_and_a_named_dtype_is_kept(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert model.inference_precision("auto", "fp16", "exact") == "fp16"
    assert model.inference_precision("auto", "bf16", "serving") == "bf16"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(model, "cpu_has_fast_bf16", lambda: True)
    assert model.inference_precision("fp32", "bf16", "serving") == "fp32"
    assert model.inference_precision("bf16", "fp32", "exact") == "bf16"
    with pytest.raises(ChefbotError, match="engine.dtype 'fp8'"):
        model.inference_precision("fp8", "fp32", "exact")
    with pytest.raises(ValueError, match="purpose"):
        model.inference_precision("auto", "fp32", "fast")


def test_serving_generates_in_bf16_and_evaluation_in_fp32_on_a_cpu_with_native_bf16(monkeypatch, tiny_qwen_dir):
    """The one factory applies the rule: the same config loads bf16 weights to serve and fp32 ones to evaluate."""
    from chefbot.config import ExperimentConfig
    from chefbot.generate import make_generator

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(model, "cpu_has_fast_bf16", lambda: True)
    cfg = ExperimentConfig.model_validate(
        {"model": {"name_or_path": str(tiny_qwen_dir)}, "engine": {"kind": "hf"}, "train": {"precision": "fp32"}}
    )
    assert make_generator(cfg, purpose="serving").model.dtype == torch.bfloat16
    assert make_generator(cfg, purpose="exact").model.dtype == torch.float32
