"""The config system: presets validate, errors name the key, overrides apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from chefbot.config import ExperimentConfig, load_config, save_resolved
from chefbot.errors import ConfigError

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_presets_validate(path):
    cfg = load_config(path)
    assert isinstance(cfg, ExperimentConfig)


def test_reference_preset_values():
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "qwen2.5-1.5b-qlora.yaml")
    assert cfg.model.name_or_path == "Qwen/Qwen2.5-1.5B-Instruct"
    assert (cfg.quant.mode, cfg.quant.double_quant, cfg.quant.compute_dtype) == ("nf4", True, "bf16")
    assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, cfg.lora.target_modules) == (
        16,
        32,
        0.1,
        ["q_proj", "v_proj"],
    )
    t = cfg.train
    assert (t.max_steps, t.lr, t.batch_size, t.grad_accum, t.scheduler, t.warmup_steps) == (
        300,
        2e-4,
        4,
        4,
        "cosine",
        50,
    )
    assert (t.optimizer, t.gradient_checkpointing, t.eval_steps, t.save_steps) == ("paged_adamw_8bit", True, 100, 100)
    assert (cfg.data.max_length, cfg.data.val_size, cfg.data.test_size) == (512, 200, 200)


def _write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_unknown_key_named(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(_write(tmp_path, "train:\n  learning_rate: 1e-4\n"))
    msg = str(e.value)
    assert "train.learning_rate" in msg and "unknown key" in msg and str(tmp_path) in msg
    assert len(msg.splitlines()) == 1


def test_wrong_type_and_range(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.batch_size"):
        load_config(_write(tmp_path, "train:\n  batch_size: four\n"))
    with pytest.raises(ConfigError, match=r"lora\.dropout.*less than 1"):
        load_config(_write(tmp_path, "lora:\n  dropout: 1.5\n"))
    with pytest.raises(ConfigError, match=r"quant\.mode.*'nf4'"):
        load_config(_write(tmp_path, "quant:\n  mode: nf3\n"))


def test_overrides_dotted_and_typed(tmp_path):
    cfg = load_config(
        _write(tmp_path, "train:\n  lr: 1e-4\n"),
        ["train.lr=3e-4", "lora.target_modules=[q_proj,k_proj]", "train.save_total_limit=null"],
    )
    assert (
        cfg.train.lr == 3e-4 and cfg.lora.target_modules == ["q_proj", "k_proj"] and cfg.train.save_total_limit is None
    )
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["train.lr"])
    with pytest.raises(ConfigError, match="train.nope"):
        load_config(None, ["train.nope=1"])


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML.*line"):
        load_config(_write(tmp_path, "train: [1,\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(_write(tmp_path, "- a\n- b\n"))


def test_resolved_roundtrip(tmp_path):
    cfg = load_config(None, ["train.lr=1e-3", "name=x"])
    p = save_resolved(cfg, tmp_path / "out")
    again = load_config(p)
    assert again == cfg


@pytest.mark.parametrize(
    "old,new",
    [
        ("eval.engine: hf", "engine.kind"),
        ("eval.dtype: bf16", "engine.dtype"),
        ("eval.gguf_quant: q4_0", "engine.quantization"),
        ("eval.llamacpp_threads: 1", "engine.threads"),
        ("eval.endpoint: http://x/v1", "engine.endpoint"),
        ("eval.api_model: m", "engine.api_model"),
        ("eval.concurrency: 2", "engine.concurrency"),
        ("eval.generation: {max_new_tokens: 8}", "engine.generation"),
        ("serve.engine: hf", "engine.kind"),
    ],
)
def test_a_moved_key_names_its_new_home(tmp_path, old, new):
    section, rest = old.split(".", 1)
    with pytest.raises(ConfigError) as e:
        load_config(_write(tmp_path, f"{section}:\n  {rest}\n"))
    assert f"{old.split(':')[0]}: moved to {new}" in str(e.value) and str(tmp_path) in str(e.value)
    with pytest.raises(ConfigError, match=f"moved to {new}"):  # an override too, a nested one included
        load_config(None, [old.split(":")[0] + (".max_new_tokens=8" if "generation" in old else "=1")])


def test_a_removed_key_says_why():
    with pytest.raises(
        ConfigError, match=r"train\.dataloader_workers: removed: batches are built in the training process"
    ):
        load_config(None, ["train.dataloader_workers=2"])


def test_new_keys_load():
    cfg = load_config(
        None,
        [
            "engine.kind=llamacpp",
            "engine.quantization=q4_0",
            "engine.threads=1",
            "engine.generation.max_new_tokens=8",
            "engine.dtype=bf16",
        ],
    )
    e = cfg.engine
    assert (e.kind, e.quantization, e.threads, e.generation.max_new_tokens, e.dtype) == (
        "llamacpp",
        "q4_0",
        1,
        8,
        "bf16",
    )
