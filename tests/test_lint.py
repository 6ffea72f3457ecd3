"""ruff over the code: its checks (pyproject.toml's [tool.ruff.lint]: pyflakes' undefined names and unused or
shadowed imports, syntax errors, import order, pyupgrade) and its layout (ruff format, 120 columns).  Moving
imports around (as the layering work did) is exactly how an undefined name slips into a branch no other test
runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def ruff(*args: str) -> subprocess.CompletedProcess:
    if subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True).returncode != 0:
        pytest.skip("ruff is not installed (it is in the test extra: pip install -e '.[test]')")
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", *PATHS], cwd=REPO, capture_output=True, text=True
    )


PATHS = ("src", "tests", "bench", "tools")


def test_ruff_check_clean():
    """The rules pyproject.toml's [tool.ruff.lint] selects: pyflakes (undefined names, unused or shadowed imports),
    syntax errors, import order and pyupgrade."""
    p = ruff("check", "--output-format", "concise")
    assert p.returncode == 0, p.stdout + p.stderr


def test_ruff_format_clean():
    """One layout (ruff format, 120 columns): a diff shows what changed, not how someone wraps lines."""
    p = ruff("format", "--check")
    assert p.returncode == 0, p.stdout + p.stderr + "\nrun: .venv/bin/python -m ruff format src tests bench tools"


def test_test_modules_have_unique_names():
    """The test folders have no __init__.py, so pytest imports each test file by its bare name:
    two files called test_memory.py in different folders stop the whole run at collection."""
    names: dict[str, list[str]] = {}
    for p in (REPO / "tests").rglob("*.py"):
        names.setdefault(p.name, []).append(str(p.relative_to(REPO)))
    clashes = {n: ps for n, ps in names.items() if len(ps) > 1 and n not in ("conftest.py", "__init__.py")}
    assert not clashes, clashes
