"""Fixtures for the data pipeline tests."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"


@pytest.fixture(scope="session")
def data_fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def qwen_copy(qwen_tokenizer_dir):
    """A fresh Qwen2.5 tokenizer to modify (faster than deep-copying the shared one)."""
    from transformers import AutoTokenizer

    return lambda: AutoTokenizer.from_pretrained(str(qwen_tokenizer_dir))


@pytest.fixture
def make_cfg(tmp_path, qwen_tokenizer_dir):
    """An ExperimentConfig for a small prepare run, caching under tmp_path."""
    from chefbot.config import load_config

    def make(source: str | Path, *overrides: str):
        return load_config(
            None,
            [
                f"data.source={source}",
                f"data.cache_dir={tmp_path / 'cache'}",
                f"model.tokenizer={qwen_tokenizer_dir}",
                "data.num_proc=1",
                "data.val_size=1",
                "data.test_size=1",
                "data.max_length=256",
                *overrides,
            ],
        )

    return make
