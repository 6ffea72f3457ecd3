"""Merge into an unquantized base (pitfall 10), stop ids on export (pitfall 3), offline errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from train_support import make_cfg


@pytest.fixture(scope="module")
def trained_adapter(tiny_model_dir, tmp_path_factory) -> tuple[Path, object]:
    """An adapter whose effect is large enough to see: random B (not the zero init), nf4-trained config."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("adapter")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    peft = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    peft.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    # quant.mode=nf4: the training ran on 4-bit weights, yet the merge must use an unquantized base.
    cfg = make_cfg(tiny_model_dir, Path("unused.jsonl"), out.parent / "run", "quant.mode=nf4")
    return out, cfg


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_merged_matches_adapter_and_differs_from_base(trained_adapter, tmp_path, dtype):
    from chefbot.train.merge import merge_adapter

    adapter, cfg = trained_adapter
    r = merge_adapter(cfg, adapter, tmp_path / "merged", check_prompts=2, dtype=dtype)
    assert r["max_abs_logit_diff"] <= r["tolerance"]
    # The fine-tuning survived the merge: the saved model is far from the base...
    assert r["merged_vs_base_max_abs_logit_diff"] > 20 * r["max_abs_logit_diff"]
    assert r["adapter_vs_base_max_abs_logit_diff"] > 0.1
    merged = tmp_path / "merged"
    cfg_json = json.loads((merged / "config.json").read_text())
    assert "quantization_config" not in cfg_json  # never a 4-bit merge
    gen = json.loads((merged / "generation_config.json").read_text())
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(merged)
    assert tok.eos_token_id in gen["eos_token_id"] and (merged / "chat_template.jinja").exists()


def test_merged_qwen_stops_on_both_ids(trained_adapter, tmp_path, qwen_tokenizer):
    """Qwen: config.json says <|endoftext|>, the tokenizer <|im_end|>; the export names both."""
    from chefbot.train.merge import merge_adapter

    adapter, cfg = trained_adapter
    if len(qwen_tokenizer) != json.loads((Path(cfg.model.name_or_path) / "config.json").read_text())["vocab_size"]:
        pytest.skip("tiny model is not the Qwen one")
    merge_adapter(cfg, adapter, tmp_path / "m", check_prompts=1, dtype="fp32")
    gen = json.loads((tmp_path / "m" / "generation_config.json").read_text())
    assert {151645, 151643} <= set(gen["eos_token_id"])
    # Generation with the merged model stops at <|im_end|> when the model emits it.
    from transformers import AutoModelForCausalLM, GenerationConfig

    model = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    with torch.no_grad():
        model.lm_head.weight.zero_()  # tied: also zeroes the input embeddings; fine for this check
        model.lm_head.bias = None
    bias = torch.zeros(model.config.vocab_size)
    bias[151645] = 10.0
    model.get_output_embeddings().register_forward_hook(lambda m, i, o: o + bias)
    out = model.generate(
        torch.tensor([[100, 200]]),
        generation_config=GenerationConfig.from_pretrained(tmp_path / "m"),
        max_new_tokens=20,
    )
    assert out.shape[1] == 3 and int(out[0, -1]) == 151645


def _cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, HF_HUB_OFFLINE="1", CHEFBOT_NO_PROGRESS="1")
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "chefbot.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_push_offline_fails_before_training(tmp_path, tiny_model_dir):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"output_dir: {tmp_path / 'run'}\nmodel:\n  name_or_path: {tiny_model_dir}\ntrain:\n  push_to_hub: me/chefbot\n"
    )
    p = _cli("train", str(cfg), "--push")
    assert p.returncode != 0
    assert "HF_HUB_OFFLINE" in p.stderr and "Traceback" not in p.stderr
    assert len([x for x in p.stderr.strip().splitlines() if x.strip()]) <= 3  # one message (soft-wrapped at most)
    assert not (tmp_path / "run").exists()  # nothing started


def test_offline_unknown_hub_model_is_one_clear_line(tmp_path):
    from chefbot.config import load_config
    from chefbot.errors import ChefbotError
    from chefbot.model import load_tokenizer

    cfg = load_config(None, ["model.name_or_path=nobody-xyz/not-a-model-123"])
    with pytest.raises(ChefbotError, match="not in the local Hugging Face cache.*model.name_or_path=/path") as e:
        load_tokenizer(cfg.model)
    assert "\n" not in str(e.value)
