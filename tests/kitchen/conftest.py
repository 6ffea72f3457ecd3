"""Fixtures for the kitchen tests: a fresh kitchen DB per test, and the serving tests' helpers
(``serve_support``: the scripted fast generator and ``serve_cfg``) on the import path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))


@pytest.fixture()
def kdb(tmp_path):
    from chefbot.kitchen.db import KitchenDB

    with KitchenDB(tmp_path / "kitchen.db") as db:
        yield db
