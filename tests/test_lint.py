"""Pyflakes' checks over the code (undefined names, unused or shadowed imports, bad f-strings) and
syntax errors, through ruff.  Moving imports around (as the layering work did) is exactly how an
undefined name slips into a branch no other test runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_pyflakes_clean():
    if (
        shutil.which("ruff") is None
        and subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True).returncode != 0
    ):
        pytest.skip("ruff is not installed (it is in the test extra: pip install -e '.[test]')")
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--select",
            "F,E9",
            "--output-format",
            "concise",
            "src",
            "tests",
            "bench",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stdout + p.stderr


def test_test_modules_have_unique_names():
    """The test folders have no __init__.py, so pytest imports each test file by its bare name:
    two files called test_memory.py in different folders stop the whole run at collection."""
    names: dict[str, list[str]] = {}
    for p in (REPO / "tests").rglob("*.py"):
        names.setdefault(p.name, []).append(str(p.relative_to(REPO)))
    clashes = {n: ps for n, ps in names.items() if len(ps) > 1 and n not in ("conftest.py", "__init__.py")}
    assert not clashes, clashes
